"""SQL sessions through spark_thrift/client.py (bronze registration, publish, the Thrift gold
reader) on the real Thrift Server: a statement may run longer than THRIFT_STALL_TIMEOUT_S,
because it is polled, while a server that stops answering mid-statement, or dies, ends the call
with a clear error instead of holding it (and the locks its caller holds) for ever or ending it
with a bare transport error.

`reflect('java.lang.Thread', 'sleep', ...)` makes a statement that takes a known time without
load on the 2 cores. The server is suspended with SIGSTOP (as Ctrl-Z, a paused container or a
JVM stuck in garbage collection look from outside) and always resumed before the test ends; it
is killed only when it is the test's own (`own_thrift`)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from process_support import resumed_at_exit, service_pid

from lakehouse import services
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError, port_open
from spark_thrift import client, launcher

pytestmark = pytest.mark.services


def _sleep_statement(seconds: int) -> str:
    # A constant, not input: the statement's duration is the test's own parameter.
    return f"SELECT reflect('java.lang.Thread', 'sleep', CAST({seconds * 1000} AS BIGINT))"


@pytest.mark.timeout(180)
def test_a_statement_may_run_longer_than_the_stall_timeout(thrift: Settings) -> None:
    # The server holds each poll up to 5 s, so 10 s (the setting's floor) is the tightest limit
    # that real sessions meet; the statement runs 14 s.
    settings = thrift.model_copy(update={"thrift_stall_timeout_s": 10.0})

    # Thread.sleep returns nothing, which reflect() renders as the string "null".
    assert client.query(_sleep_statement(14), settings=settings) == [("null",)]


class _PollWatch:
    """Stands for the `time` module in spark_thrift.client, whose cursor sleeps only between
    polls of a statement the server reported running: the first sleep says it runs."""

    monotonic = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.running = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.running.set()
        time.sleep(seconds)


def _query(settings: Settings, sql: str) -> None:
    client.query(sql, settings=settings)


def _wrapped_by_the_caller(settings: Settings, sql: str) -> None:
    """A session that turns any failure into an error of its own (as ml/gold_reader.py does)
    and closes its cursor in `finally`, as every caller does."""
    with client.connect(settings) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
        except Exception as exc:
            raise RuntimeError("the caller's own error") from exc
        finally:
            cursor.close()


def _start_session(settings: Settings, session, watch: _PollWatch) -> tuple[
    threading.Thread, list[BaseException]
]:
    """Run `session` on a 60 s statement in a thread; returns once the server reports it
    running. The thread's error, if any, lands in the list."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            session(settings, _sleep_statement(60))
        except BaseException as exc:  # reported through `outcome`
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert watch.running.wait(timeout=60), f"the statement never ran: {outcome}"
    return worker, outcome


@pytest.mark.timeout(240)
@pytest.mark.parametrize("session", [_query, _wrapped_by_the_caller])
def test_a_server_suspended_mid_statement_ends_the_call_with_the_fix(
    thrift: Settings, monkeypatch: pytest.MonkeyPatch, session
) -> None:
    settings = thrift.model_copy(update={"thrift_stall_timeout_s": 10.0})
    pid = service_pid(settings, "thrift")
    watch = _PollWatch()
    monkeypatch.setattr(client, "time", watch)
    with resumed_at_exit(pid):
        worker, outcome = _start_session(settings, session, watch)
        os.kill(pid, signal.SIGSTOP)
        worker.join(timeout=120)
    assert not worker.is_alive(), "the call kept waiting on the suspended server"
    (error,) = outcome
    assert isinstance(error, ServiceError), error
    assert str(error).startswith(
        f"The Spark Thrift Server at 127.0.0.1:{settings.thrift_port} accepts connections but did"
        " not answer within 10 s (THRIFT_STALL_TIMEOUT_S): it is stuck or suspended"
    )
    assert client.is_healthy(settings), "the server did not answer again once resumed"


@pytest.mark.timeout(120)
def test_a_failed_statement_raises_sparks_error_and_the_session_goes_on(thrift: Settings) -> None:
    from pyhive.exc import OperationalError

    with client.connect(thrift) as conn:
        cursor = conn.cursor()
        try:
            with pytest.raises(OperationalError) as raised:
                cursor.execute("SELECT * FROM default.no_such_table_in_this_test")
            assert "[TABLE_OR_VIEW_NOT_FOUND]" in str(raised.value)
            cursor.execute("SELECT 1 + 1")
            assert cursor.fetchall() == [(2,)]
        finally:
            cursor.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("session", [_query, _wrapped_by_the_caller])
def test_a_server_killed_mid_statement_ends_the_call_and_a_restart_clears_its_leftovers(
    own_thrift: Settings, monkeypatch: pytest.MonkeyPatch, session
) -> None:
    settings = own_thrift
    worker, outcome = _session_running(settings, monkeypatch, session)
    scratch = launcher.local_dir(settings)
    left_by_killed = set(scratch.iterdir())
    # A killed server's scratch space: Spark's block manager folder and its copy of the jars.
    assert {path.name.split("-")[0] for path in left_by_killed} >= {"blockmgr", "spark"}

    os.kill(service_pid(settings, "thrift"), signal.SIGKILL)
    assert str(_error_of(worker, outcome, "killed")) == _went_away(settings)
    # SIGKILL skips Spark's shutdown hooks: the folders stay until the next start clears them.
    assert all(path.exists() for path in left_by_killed)

    (service,) = services.select(settings, ["thrift"])
    services.start(service)
    assert not any(path.exists() for path in left_by_killed)
    assert client.query("SELECT 1 + 1", settings=settings) == [(2,)]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("session", [_query, _wrapped_by_the_caller])
def test_a_server_stopped_mid_statement_ends_the_call_with_the_same_error(
    own_thrift: Settings, monkeypatch: pytest.MonkeyPatch, session
) -> None:
    # `lakehouse services down` from another terminal. The server stops its Spark session first
    # and, until its port closes, fails what it is asked with "stopped SparkContext" errors.
    settings = own_thrift
    worker, outcome = _session_running(settings, monkeypatch, session)

    (service,) = services.select(settings, ["thrift"])
    assert services.stop(service) == "Spark Thrift Server (Delta): stopped"
    assert str(_error_of(worker, outcome, "stopped")) == _went_away(settings)


def _session_running(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, session
) -> tuple[threading.Thread, list[BaseException]]:
    """`session` on a 60 s statement in a thread, once the server reports it running."""
    watch = _PollWatch()
    monkeypatch.setattr(client, "time", watch)
    return _start_session(settings, session, watch)


def _error_of(worker: threading.Thread, outcome: list[BaseException], how: str) -> ServiceError:
    """The session's error once its server was lost (`how`): it must end, with a ServiceError."""
    worker.join(timeout=60)
    assert not worker.is_alive(), f"the call kept waiting on the {how} server"
    (error,) = outcome
    assert isinstance(error, ServiceError), error
    return error


def _went_away(settings: Settings) -> str:
    log = settings.log_dir / "thrift.log"
    return (
        f"The Spark Thrift Server at 127.0.0.1:{settings.thrift_port} went away: it was stopped"
        " (`lakehouse services down`, a signal) or crashed (out of memory, killed). Look at its"
        f" log ({log} when `lakehouse services up` started it), start it again (`lakehouse"
        " services up`), then run the command again."
    )


@pytest.mark.timeout(180)
def test_a_session_whose_server_dies_after_its_last_result_ends_quietly(
    own_thrift: Settings,
) -> None:
    settings = own_thrift
    with client.connect(settings) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 + 1")
        assert cursor.fetchall() == [(2,)]
        os.kill(service_pid(settings, "thrift"), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while port_open(settings.thrift_host, settings.thrift_port):
            assert time.monotonic() < deadline, "the killed server still holds its port"
            time.sleep(0.1)
        cursor.close()  # the work was done: closing on a dead server is no error
    assert client.lost(conn) == client.GONE
    # The next call reports the server.
    with pytest.raises(ServiceError) as raised:
        client.query("SELECT 1", settings=settings)
    assert "Start it with `lakehouse services up`" in str(raised.value)
