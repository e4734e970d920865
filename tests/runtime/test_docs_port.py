"""`lakehouse docs` with its port taken: a clear error before dbt runs, not a traceback after."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse import dbt_runner
from lakehouse.cli import app
from lakehouse.settings import Settings


def _one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def generate_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """Stands in for `dbt docs generate` (minutes on a real lake) and records each call."""
    calls: list[Settings] = []

    def fake_generate(settings: Settings) -> Path:
        calls.append(settings)
        return tmp_path

    monkeypatch.setattr(dbt_runner, "docs_generate", fake_generate)
    return calls


def test_docs_on_a_busy_port_fail_before_generating(generate_calls: list[Settings]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = CliRunner().invoke(app, ["docs", "--port", str(port)])

    assert result.exit_code == 1, result.output
    output = _one_line(result.output)
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} (" in output
    assert f"`lakehouse docs --port {port + 1}`" in output and "--no-serve" in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert generate_calls == []


def test_docs_without_serving_ignore_the_busy_port(generate_calls: list[Settings]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = CliRunner().invoke(app, ["docs", "--port", str(port), "--no-serve"])

    assert result.exit_code == 0, result.output
    assert len(generate_calls) == 1


def test_a_port_taken_while_generating_is_reported_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    taken: list[socket.socket] = []

    def generate_while_something_takes_the_port(settings: Settings) -> Path:
        taken.append(socket.create_server(("127.0.0.1", port)))
        return tmp_path

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free again once this block ends
    monkeypatch.setattr(dbt_runner, "docs_generate", generate_while_something_takes_the_port)
    try:
        result = CliRunner().invoke(app, ["docs", "--port", str(port)])
    finally:
        for sock in taken:
            sock.close()

    assert taken, "the generate step did not run"
    assert result.exit_code == 1, result.output
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} (" in _one_line(
        result.output
    )
