"""SQL sessions through spark_thrift/client.py (bronze registration, publish, the Thrift gold
reader) on the real Thrift Server: a statement may run longer than THRIFT_STALL_TIMEOUT_S,
because it is polled, while a server that stops answering mid-statement ends the call with a
clear error instead of holding it (and the locks its caller holds) for ever.

`reflect('java.lang.Thread', 'sleep', ...)` makes a statement that takes a known time without
load on the 2 cores. The server is suspended with SIGSTOP (as Ctrl-Z, a paused container or a
JVM stuck in garbage collection look from outside) and always resumed before the test ends."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from process_support import resumed_at_exit, service_pid

from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError
from spark_thrift import client

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


@pytest.mark.timeout(240)
@pytest.mark.parametrize("session", [_query, _wrapped_by_the_caller])
def test_a_server_suspended_mid_statement_ends_the_call_with_the_fix(
    thrift: Settings, monkeypatch: pytest.MonkeyPatch, session
) -> None:
    settings = thrift.model_copy(update={"thrift_stall_timeout_s": 10.0})
    pid = service_pid(settings, "thrift")
    watch = _PollWatch()
    monkeypatch.setattr(client, "time", watch)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            session(settings, _sleep_statement(60))
        except BaseException as exc:  # reported through `outcome`
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    with resumed_at_exit(pid):
        worker.start()
        assert watch.running.wait(timeout=60), f"the statement never ran: {outcome}"
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
