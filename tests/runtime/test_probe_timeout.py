"""The Thrift health probe gives up on a server that accepts connections but never answers.

A listening socket nobody accepts from is such a server: the kernel completes the TCP handshake
(so `port_open` says yes) and queues what the client sends, and no reply ever comes, exactly as
with a JVM stuck in garbage collection or a server stopped with Ctrl-Z. Without a socket timeout
the probe blocked for ever; the pytest timeouts below turn such a hang into a failure."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lakehouse.settings import Settings
from lakehouse.supervisor import ManagedProcess, ServiceError, wait_until_healthy
from spark_thrift import client


@pytest.fixture
def silent_port() -> Iterator[int]:
    """The port of a server that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield listener.getsockname()[1]
    # Closing the listener resets the connections still queued on it.


@pytest.fixture
def silent_settings(settings: Settings, silent_port: int) -> Settings:
    return settings.model_copy(update={"thrift_host": "127.0.0.1", "thrift_port": silent_port})


def _stand_in_server(tmp_path: Path, port: int) -> tuple[ManagedProcess, psutil.Process]:
    """A live process recorded as the Thrift Server at 127.0.0.1:`port`: what plays its port
    (a silent listener, or nothing) is up to the test."""
    process = ManagedProcess("thrift", tmp_path / "thrift.pid", tmp_path / "thrift.log")
    proc = process.start(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={},
        cwd=tmp_path,
        address=f"127.0.0.1:{port}",
    )
    return process, proc


@pytest.mark.timeout(60)
def test_the_probe_gives_up_on_a_server_that_never_answers(silent_settings: Settings) -> None:
    problem = client.health_problem(silent_settings, timeout_s=0.5)

    assert problem.startswith(
        f"The Spark Thrift Server at 127.0.0.1:{silent_settings.thrift_port} accepts connections"
        " but did not answer within 0.5 s"
    )
    assert "lakehouse services down" in problem
    assert client.is_healthy(silent_settings, timeout_s=0.5) is False


@pytest.mark.timeout(60)
def test_statements_wait_the_stall_timeout_not_the_probe_timeout(
    silent_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real sessions are bounded by THRIFT_STALL_TIMEOUT_S (their statements are polled, so a
    long one never makes one answer long), not by the probe's short limit."""
    monkeypatch.setattr(client, "PROBE_TIMEOUT_S", 0.2)
    stalled = silent_settings.model_copy(update={"thrift_stall_timeout_s": 1.5})

    with pytest.raises(ServiceError) as raised:
        client.query("SELECT 1", settings=stalled)

    assert str(raised.value).startswith(
        f"The Spark Thrift Server at 127.0.0.1:{stalled.thrift_port} accepts connections but did"
        " not answer within 1.5 s (THRIFT_STALL_TIMEOUT_S): it is stuck or suspended"
    )


@pytest.mark.timeout(60)
def test_wait_until_healthy_says_the_server_accepts_but_does_not_answer(
    silent_settings: Settings, tmp_path: Path
) -> None:
    port = silent_settings.thrift_port
    process, proc = _stand_in_server(tmp_path, port)
    try:
        with pytest.raises(ServiceError) as raised:
            wait_until_healthy(
                process,
                proc,
                lambda: client.is_healthy(silent_settings, timeout_s=0.3),
                timeout_s=2,
                what="Spark Thrift Server (Delta)",
            )
    finally:
        process.stop(timeout_s=5)
    message = str(raised.value)
    assert message.startswith(
        f"Spark Thrift Server (Delta) accepts connections on 127.0.0.1:{port} but did not answer"
        " its health check within 2 s, so it was stopped."
    )
    assert "stuck or suspended" in message and "start it again" in message
    assert process.running_process() is None and not proc.is_running()


@pytest.mark.timeout(60)
def test_a_server_that_never_listened_keeps_the_plain_message(
    tmp_path: Path,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        closed_port = held.getsockname()[1]  # free again once this block ends
    process, proc = _stand_in_server(tmp_path, closed_port)
    try:
        with pytest.raises(ServiceError) as raised:
            wait_until_healthy(process, proc, lambda: False, timeout_s=1, what="The server")
    finally:
        process.stop(timeout_s=5)
    assert str(raised.value).startswith("The server did not answer within 1 s and was stopped.")


def test_a_write_that_timed_out_counts_as_a_timeout() -> None:
    """Thrift reports a read timeout as TIMED_OUT but a write timeout as an "unexpected
    exception" wrapping the socket's TimeoutError; a refused connection is no timeout."""
    from thrift.transport.TTransport import TTransportException

    assert client.timed_out(TTransportException(TTransportException.TIMED_OUT, "read timeout"))
    assert client.timed_out(
        TTransportException(message="unexpected exception", inner=TimeoutError("timed out"))
    )
    assert not client.timed_out(
        TTransportException(TTransportException.NOT_OPEN, "refused", inner=ConnectionRefusedError())
    )
    assert not client.timed_out(TimeoutError("not a Thrift error"))


def test_a_transport_error_means_the_server_is_gone_only_once_its_port_is_closed() -> None:
    """lost_cause: a timeout is a stall; a reset or closed connection is a gone server only when
    nothing accepts connections at its address any more; any other error is neither."""
    from pyhive.exc import OperationalError
    from thrift.transport.TTransport import TTransportException

    def reset() -> Exception:
        return TTransportException(message="unexpected exception", inner=ConnectionResetError())

    def closed() -> Exception:
        return TTransportException(TTransportException.END_OF_FILE, "TSocket read 0 bytes")

    timeout = TTransportException(TTransportException.TIMED_OUT, "read timeout")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        # Still listening: a dropped connection alone (a proxy, a restart) is not a gone server.
        assert client.lost_cause(reset(), "127.0.0.1", port) == ""
        assert client.lost_cause(closed(), "127.0.0.1", port) == ""
        assert client.lost_cause(timeout, "127.0.0.1", port) == client.STALLED
    assert client.lost_cause(reset(), "127.0.0.1", port) == client.GONE
    assert client.lost_cause(closed(), "127.0.0.1", port) == client.GONE
    assert client.lost_cause(OperationalError("[TABLE_OR_VIEW_NOT_FOUND]"), "127.0.0.1", port) == ""


@pytest.mark.parametrize(
    "answer",
    [
        # PyHive closing an operation (the TCloseOperationResp is the error's argument).
        "java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.",
        # dbt-spark's poll of a statement that was running or queued.
        "Error running query: java.lang.IllegalStateException: SparkContext has been shutdown",
        "Job 12 cancelled because SparkContext was shut down",
        "[INTERNAL_ERROR] No active or default Spark session found SQLSTATE: XX000",
        # A statement planned as the session stopped (seen in CI, 2026-12-08).
        'Error running query: [INTERNAL_ERROR] org.apache.spark.SparkException: [INTERNAL_ERROR]'
        ' The "collect" action failed. [...] Caused by: java.lang.NullPointerException: Cannot'
        ' invoke "org.apache.spark.sql.classic.SparkSession.sparkContext()" because the return'
        ' value of "org.apache.spark.sql.execution.SparkPlan.session()" is null',
        # A Delta commit's chmod, killed with the server's process group (seen in CI, 2026-12-08).
        "Error running query: ExitCodeException exitCode=143: \n\tat org.apache.spark.sql.hive."
        "thriftserver.HiveThriftServerErrors$.runningQueryError(HiveThriftServerErrors.scala:46)"
        " [...] at org.apache.hadoop.fs.RawLocalFileSystem.setPermission",
    ],
)
def test_a_shutting_down_answer_means_gone_once_the_port_closes(
    answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a server answers between stopping its Spark session and closing its port (seen with
    `lakehouse services down` mid-build). A server that goes on running can give the last one
    (a Delta bug), so it counts only once nothing accepts connections at the address."""
    from dbt_common.exceptions import DbtDatabaseError  # what dbt-spark's poll raises
    from pyhive.exc import OperationalError
    from TCLIService.ttypes import TCloseOperationResp, TStatus

    monkeypatch.setattr(client, "_SHUTDOWN_S", 0.5)  # the wait for the port to close

    def close_failed() -> Exception:
        reply = TCloseOperationResp(status=TStatus(statusCode=3, errorMessage=answer))
        return OperationalError(reply)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        judged = close_failed()
        assert client.lost_cause(judged, "127.0.0.1", port) == ""
        assert client.lost_cause(DbtDatabaseError(answer), "127.0.0.1", port) == ""
    assert client.lost_cause(close_failed(), "127.0.0.1", port) == client.GONE
    assert client.lost_cause(DbtDatabaseError(answer), "127.0.0.1", port) == client.GONE
    # One error is judged once, however many layers ask (each look may wait).
    assert client.lost_cause(judged, "127.0.0.1", port) == ""
