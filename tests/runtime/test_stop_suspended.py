"""`services down` stops a suspended server cleanly: a process stopped with Ctrl-Z or
`kill -STOP` (or a paused container) holds SIGTERM until it runs again, so without a SIGCONT it
was only SIGKILLed at the timeout, skipping its shutdown (FerretDB closing its databases, the
Thrift Server its metastore)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from lakehouse.supervisor import ManagedProcess

# Writes `ready` once its handler is installed, and `terminated` from the SIGTERM handler: the
# file tells a clean shutdown from a SIGKILL.
_SERVER = """
import pathlib, signal, sys, time
here = pathlib.Path(sys.argv[1])
def on_term(signum, frame):
    (here / "terminated").write_text("SIGTERM handled")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
(here / "ready").write_text("")
while True:
    time.sleep(0.1)
"""


def _wait_for(path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def _wait_until_stopped(proc: psutil.Process, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while proc.status() != psutil.STATUS_STOPPED:
        assert time.monotonic() < deadline, "the process was never suspended"
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_a_suspended_process_gets_its_sigterm(tmp_path: Path) -> None:
    process = ManagedProcess("server", tmp_path / "server.pid", tmp_path / "server.log")
    proc = process.start([sys.executable, "-c", _SERVER, str(tmp_path)], env={}, cwd=tmp_path)
    try:
        _wait_for(tmp_path / "ready")
        os.kill(proc.pid, signal.SIGSTOP)
        _wait_until_stopped(proc)

        assert process.stop(timeout_s=20) is True

        assert (tmp_path / "terminated").read_text() == "SIGTERM handled"
        assert not proc.is_running()
        assert not process.pid_file.exists()
    finally:
        if proc.is_running():
            proc.kill()
