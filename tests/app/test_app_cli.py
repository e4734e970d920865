"""`lakehouse app`: the command line it runs, and a clear error when the port is taken."""

from __future__ import annotations

import socket

from lake_support import environment
from typer.testing import CliRunner

from app.cli import streamlit_command
from lakehouse.cli import app


def test_streamlit_command_is_local_and_headless():
    command = streamlit_command("127.0.0.1", 8599)
    joined = " ".join(command)
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4].endswith("app/streamlit_app.py")
    assert "--server.address 127.0.0.1" in joined and "--server.port 8599" in joined
    assert "--server.headless true" in joined
    assert "--browser.gatherUsageStats false" in joined


def test_busy_port_is_reported(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with environment(APP_PORT=str(port), DATA_DIR=str(tmp_path)):
            result = CliRunner().invoke(app, ["app"])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.output
