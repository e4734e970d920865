"""A Thrift Server that stops answering or dies during a dbt command ends it with one clear
error, instead of holding it (and the lake and pipeline locks) for ever, or failing every node in
flight with a bare transport error and no word on why.

The session's real Thrift Server is suspended with SIGSTOP, as Ctrl-Z or `docker compose pause`
would, or as a JVM stuck in garbage collection looks from outside: the kernel still accepts
connections, nothing answers. It is always resumed before the test ends. Without the probe in
`require_thrift` and the stall timeout (lakehouse/dbt_connections.py) both builds below waited
for ever; the pytest timeouts turn that into a failure. A server of the test's own is killed,
or stopped as `lakehouse services down` stops it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import dbt_catalogue as cat
import pytest
from dbt_fixtures import write_and_register
from process_support import resumed_at_exit, service_pid
from typer.testing import CliRunner

from lakehouse import dbt_runner, services
from lakehouse.cli import app
from lakehouse.dbt_runner import Progress
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError, port_open
from spark_thrift.client import is_healthy, query

pytestmark = pytest.mark.services


@pytest.mark.timeout(300)
def test_transform_refuses_a_suspended_server_at_once(thrift: Settings) -> None:
    pid = service_pid(thrift, "thrift")
    with resumed_at_exit(pid):
        os.kill(pid, signal.SIGSTOP)
        result = CliRunner().invoke(app, ["transform"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert (
        f"error: The Spark Thrift Server at 127.0.0.1:{thrift.thrift_port} accepts connections"
        " but did not answer within 10 s: it is stuck or suspended"
    ) in output
    assert "Traceback" not in output
    assert is_healthy(thrift), "the server did not answer again once resumed"


@pytest.mark.timeout(600)
def test_a_server_that_stops_answering_mid_build_stops_the_build(
    thrift: Settings, tmp_path: Path
) -> None:
    # A lake of its own, in the default schemas (this module's metastore starts empty).
    settings = thrift.model_copy(
        update={"lake_root": str(tmp_path / "lake"), "thrift_stall_timeout_s": 20.0}
    )
    write_and_register(settings, cat.first_batch())
    pid = service_pid(settings, "thrift")
    suspend = _AfterFirstModel(lambda: os.kill(pid, signal.SIGSTOP))

    with resumed_at_exit(pid), pytest.raises(ServiceError) as raised:
        dbt_runner.build(settings, register_sources=False, unit_tests=False, on_progress=suspend)

    message = str(raised.value)
    assert message.startswith(
        f"The Spark Thrift Server at 127.0.0.1:{settings.thrift_port} stopped answering: no reply"
        " within 20 s (THRIFT_STALL_TIMEOUT_S)."
    )
    assert "the models it finished are kept, the rest did not run" in message
    # dbt's own record of the build: what ran before the stall succeeded, every node that failed
    # failed for the stall, and most of the build never ran.
    _assert_stopped_after(settings, suspend.first, "stopped answering (no reply within 20 s)")

    # Resumed, the server answers, and the build goes on from there.
    assert is_healthy(settings)
    _assert_kept_and_the_next_build_completes(settings, suspend.first)


def _killed(service: services.Service) -> None:
    process = service.process.running_process()
    assert process is not None, "the test's server is not running"
    os.kill(process.pid, signal.SIGKILL)


def _stopped(service: services.Service) -> None:
    # `lakehouse services down` from another terminal: the server stops its Spark session first
    # and, until its port closes, fails what it is asked with "stopped SparkContext" errors.
    services.stop(service)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("lose", [_killed, _stopped])
def test_a_server_killed_or_stopped_mid_build_stops_the_build_with_the_fix(
    own_thrift: Settings, lose: Callable[[services.Service], None]
) -> None:
    settings = own_thrift
    write_and_register(settings, cat.first_batch())
    (service,) = services.select(settings, ["thrift"])
    lost = _AfterFirstModel(lambda: lose(service))

    with pytest.raises(ServiceError) as raised:
        dbt_runner.build(settings, register_sources=False, unit_tests=False, on_progress=lost)

    log = settings.log_dir / "thrift.log"
    assert str(raised.value) == (
        f"The Spark Thrift Server at 127.0.0.1:{settings.thrift_port} went away: it was stopped"
        " (`lakehouse services down`, a signal) or crashed (out of memory, killed). dbt stopped:"
        " the models it finished are kept, the rest did not run. Look at its log"
        f" ({log} when `lakehouse services up` started it), start it again (`lakehouse services"
        " up`), then run the command again."
    )
    # Every failed node names the loss: none with the server's shutdown errors (Java stack
    # traces hundreds of lines long) or a bare transport error.
    _assert_stopped_after(settings, lost.first, "went away (stopped or crashed): build stopped")

    services.start(service)
    _assert_kept_and_the_next_build_completes(settings, lost.first)


@pytest.mark.timeout(300)
def test_a_server_lost_after_the_last_statement_leaves_the_build_complete(
    own_thrift: Settings,
) -> None:
    """After the last node dbt opens one more connection (for its end-of-run hooks): a server
    killed by then fails only that, which dbt shrugs off. The build's work is done, so it is
    complete; the next command finds the server gone."""
    settings = own_thrift
    write_and_register(settings, cat.first_batch())
    (service,) = services.select(settings, ["thrift"])
    lost = _AfterFirstModel(lambda: _killed(service))

    summary = dbt_runner.build(
        settings, register_sources=False, unit_tests=False,
        select=["stg_spotify__artists"], exclude=["resource_type:test"], on_progress=lost,
    )

    assert lost.first == "stg_spotify__artists"
    assert summary.success
    assert [(n.name, n.status) for n in summary.nodes] == [("stg_spotify__artists", "success")]
    assert not port_open(settings.thrift_host, settings.thrift_port)


class _AfterFirstModel:
    """A dbt progress callback that does `action` to the server once the first model succeeds,
    and remembers which model that was."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        self._finished: list[str] = []
        self._lock = threading.Lock()  # dbt reports from its worker threads

    def __call__(self, event: Progress) -> None:
        if event.done and event.resource_type == "model" and event.status == "success":
            with self._lock:
                if not self._finished:
                    self._action()
                self._finished.append(event.name)

    @property
    def first(self) -> str:
        assert self._finished, "no model finished, so the server was never touched"
        return self._finished[0]


def _assert_stopped_after(settings: Settings, first: str, reason: str) -> None:
    """dbt's own record of the build: the model finished before the server was lost succeeded,
    every node that failed failed for that reason, and most of the build never ran."""
    results = json.loads(
        (dbt_runner.target_dir(settings) / "run_results.json").read_text(encoding="utf-8")
    )["results"]
    failed = [r for r in results if r["status"] in ("error", "fail")]
    assert failed, "no node failed, so the server was never found lost"
    assert all(reason in (r["message"] or "") for r in failed), [r["message"] for r in failed]
    succeeded = {r["unique_id"].split(".")[-1] for r in results if r["status"] == "success"}
    assert first in succeeded
    assert len(succeeded) < 23


def _assert_kept_and_the_next_build_completes(settings: Settings, first: str) -> None:
    assert any(
        query(f"SHOW TABLES IN {schema} LIKE %(name)s", {"name": first}, settings=settings)
        for schema in ("silver", "gold")
    )
    summary = dbt_runner.build(settings, register_sources=False, unit_tests=False)
    assert summary.success, [n for n in summary.nodes if n.status not in ("success", "pass")]
    assert summary.models_passed == 23
