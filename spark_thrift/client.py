"""SQL over the Spark Thrift Server (HiveServer2 protocol, through PyHive).

Everything that talks SQL to Spark goes through here, so the embedded Derby metastore only ever
has one JVM (the Thrift Server) in front of it. Parameters are bound by PyHive's escaping
(`%(name)s` placeholders), never by formatting user input into SQL.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lakehouse.settings import Settings, get_settings
from lakehouse.supervisor import ServiceError, port_open


def not_running_message(settings: Settings) -> str:
    return (
        "The Spark Thrift Server is not answering on "
        f"{settings.thrift_host}:{settings.thrift_port}. Start it with `lakehouse services up`"
        " (or point THRIFT_HOST/THRIFT_PORT at a running one)."
    )


# The TCP connect check (port_open) answers fast; a health probe then waits at most this long for
# each answer of the server (the SASL handshake, opening the session, `SELECT 1`). PyHive's own
# transport has no timeout at all: a server that accepts connections but never answers (a JVM
# stuck in garbage collection, a process stopped with Ctrl-Z, `docker compose pause`, a proxy in
# front of a dead server) blocked the probe, and `services up`, `status` and `doctor`, forever.
# Generous next to a healthy reply (well under a second once started): a slow answer is not a
# dead server.
PROBE_TIMEOUT_S = 10.0

# PyHive's auth="NONE", the Thrift Server's default (hive.server2.authentication=NONE): SASL PLAIN
# with this user, and a password the server ignores but SASL needs to be non-empty.
USERNAME = "lakehouse"
_PLAIN_PASSWORD = "x"  # noqa: S105 (not a secret: ignored by the server)


def not_answering_message(settings: Settings, timeout_s: float, setting: str = "") -> str:
    within = f"{timeout_s:g} s ({setting})" if setting else f"{timeout_s:g} s"
    return (
        f"The Spark Thrift Server at {settings.thrift_host}:{settings.thrift_port} accepts"
        f" connections but did not answer within {within}: it is stuck or suspended (a"
        " JVM in a long garbage collection, a process stopped with Ctrl-Z, a paused container)."
        " Resume or restart it; the one `lakehouse services up` runs restarts with"
        " `lakehouse services down`, then `lakehouse services up`."
    )


def plain_transport(
    host: str, port: int, timeout_s: float | None, username: str = USERNAME
) -> Any:
    """The transport `hive.connect(host, port, username)` would build (SASL PLAIN on a TSocket),
    with a socket timeout for every connect, read and write; None waits without limit."""
    import thrift_sasl
    from pyhive.hive import get_installed_sasl
    from thrift.transport.TSocket import TSocket

    sock = TSocket(host, port)
    sock.setTimeout(None if timeout_s is None else timeout_s * 1000)

    def sasl_client() -> Any:
        return get_installed_sasl(
            host=host, sasl_auth="PLAIN", username=username, password=_PLAIN_PASSWORD
        )

    return thrift_sasl.TSaslClientTransport(sasl_client, "PLAIN", sock)


def timed_out(exc: BaseException) -> bool:
    """Whether a Thrift call ended because its socket timeout passed (a read reports it as
    TIMED_OUT, a write as an "unexpected exception" wrapping the socket's TimeoutError)."""
    from thrift.transport.TTransport import TTransportException

    return isinstance(exc, TTransportException) and (
        exc.type == TTransportException.TIMED_OUT
        or isinstance(getattr(exc, "inner", None), TimeoutError)
    )


# Why a connection to the server was lost (see `lost_cause`).
STALLED = "stalled"  # it accepts connections but stopped answering: stuck or suspended
GONE = "gone"  # it shut down, or closed the connection and accepts no new ones: stopped, crashed

# What the server answers while it shuts down (`lakehouse services down`, SIGTERM, a fatal JVM
# error): its Spark session is stopped first and, for a second or so, it still takes calls and
# fails each with one of these, in a Java stack trace hundreds of lines long, before its port
# closes. Only a hint: a server that goes on running can fail a statement with the last one (as
# in a Delta bug, delta-io/delta#4370), so the port must close too.
_SHUTTING_DOWN = (
    "Cannot call methods on a stopped SparkContext",
    "SparkContext has been shutdown",
    "SparkContext was shut down",  # "Job 12 cancelled because SparkContext was shut down"
    "No active or default Spark session found",
    # A statement planned as the session stopped: its plan finds no active session (a
    # NullPointerException that Spark wraps as "[INTERNAL_ERROR] The "collect" action failed").
    'because the return value of "org.apache.spark.sql.execution.SparkPlan.session()" is null',
    # A shell command Hadoop ran for the statement (chmod of a Delta log file it was writing)
    # ended by SIGTERM (128 + 15): `lakehouse services down` signals the server's process group.
    "ExitCodeException exitCode=143",
)


def lost_cause(exc: BaseException, host: str, port: int) -> str:
    """STALLED or GONE when a Thrift call failed because the server at host:port is lost, ""
    for any other error (a failed statement, a refused login).

    A connection reset or closed, or an answer of a server shutting down, is GONE only when
    nothing accepts connections at the address any more: a server that is still there (a proxy
    dropping an idle connection) is not, and neither is a dead server behind a proxy that keeps
    the port open (its raw error stands). The verdict is kept on `exc`: the layers an error
    passes through (cursor, dbt-spark's wrapper) ask again, and each look may wait."""
    known = getattr(exc, "_lakehouse_lost_cause", None)
    if known is not None:
        return known
    cause = _lost_cause(exc, host, port)
    with contextlib.suppress(AttributeError):  # an exception type with __slots__
        exc._lakehouse_lost_cause = cause  # type: ignore[attr-defined]
    return cause


def _lost_cause(exc: BaseException, host: str, port: int) -> str:
    from thrift.transport.TTransport import TTransportException

    if timed_out(exc):
        return STALLED
    if isinstance(exc, TTransportException):
        # The kernel closes a dying process's descriptors one by one, lowest first, and a
        # connection accepted late may have a lower one than the listening socket: the client
        # can see its connection reset while the port still accepts (seen once in CI).
        within_s = _SOCKETS_CLOSING_S
    elif _shutting_down(exc):
        within_s = _SHUTDOWN_S
    else:
        return ""
    return GONE if _port_closes(host, port, within_s) else ""


_SOCKETS_CLOSING_S = 1.0
# From the first "stopped SparkContext" answer to the port closing took about a second here; a
# JVM with much to clean up (shuffle files, many sessions) takes longer.
_SHUTDOWN_S = 10.0


def _shutting_down(exc: BaseException) -> bool:
    """Whether `exc` (a failed call, or a statement's error as PyHive or dbt-spark raise it)
    reads like the server's answer while it shuts down."""
    text = str(exc)
    return any(sign in text for sign in _SHUTTING_DOWN)


def _port_closes(host: str, port: int, within_s: float) -> bool:
    """Whether nothing accepts connections at host:port within `within_s`: two failed connects
    in a row, since one may be a lost packet to a remote server."""
    deadline = time.monotonic() + within_s
    closed_in_a_row = 0
    while True:
        closed_in_a_row = 0 if port_open(host, port) else closed_in_a_row + 1
        if closed_in_a_row == 2:
            return True
        if closed_in_a_row == 0 and time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def mark_lost(conn: Any, cause: str) -> None:
    """Record why `conn`'s server is lost and drop its socket: a late reply would otherwise
    answer the next request, and a polite close would wait for the server again."""
    if not lost(conn):
        conn._lakehouse_lost = cause
    close_socket(conn._transport)


def lost(conn: Any) -> str:
    """STALLED or GONE once `conn`'s server is lost (the first cause seen), else ""."""
    return getattr(conn, "_lakehouse_lost", "")


def use_guarded_cursors(conn: Any, address: tuple[str, int], *, polled: bool) -> None:
    """Make `conn.cursor()` return cursors that mark the connection lost when the server at
    `address` stops answering or goes away (and then close without a word to it); `polled`
    ones also run each statement asynchronously and poll it."""
    cursor_class = _cursor_class(polled)
    conn._lakehouse_address = address
    conn.cursor = lambda *args, **kwargs: cursor_class(conn, *args, **kwargs)


def gone_message(settings: Settings, outcome: str = "") -> str:
    """The server shut down, or closed the connection and accepts no new ones; `outcome` says
    what that did to the command (what is kept). The fix differs for a server `services up` runs
    here."""
    server = f"The Spark Thrift Server at {settings.thrift_host}:{settings.thrift_port}"
    if settings.thrift_is_local:
        return (
            f"{server} went away: it was stopped (`lakehouse services down`, a signal) or"
            f" crashed (out of memory, killed). {outcome}Look at its log"
            f" ({settings.service_log('thrift')} when `lakehouse services up` started it), start"
            " it again (`lakehouse services up`), then run the command again."
        )
    return (
        f"{server} went away: it was stopped or crashed, or the network to it is down."
        f" {outcome}Restart it where it runs (THRIFT_HOST names a server this project does not"
        " start), then run the command again."
    )


@contextmanager
def connect(
    settings: Settings | None = None, database: str = "default", timeout_s: float | None = None
) -> Iterator[Any]:
    """A PyHive connection; a clear ServiceError when the server is not there or stops answering.

    `timeout_s` bounds each wait for one answer of the server, for the whole life of the
    connection: THRIFT_STALL_TIMEOUT_S by default, 10 s for the health probe. Its cursors run
    each statement asynchronously and poll it, so a statement may rightly run for minutes while
    every single answer stays short (the server holds a poll at most 5 s)."""
    settings = settings or get_settings()
    limit = settings.thrift_stall_timeout_s if timeout_s is None else timeout_s
    setting = "THRIFT_STALL_TIMEOUT_S" if timeout_s is None else ""
    if not port_open(settings.thrift_host, settings.thrift_port):
        raise ServiceError(not_running_message(settings))
    from pyhive import hive  # imported lazily: thrift/sasl imports are slow

    try:
        conn = hive.connect(
            thrift_transport=plain_transport(settings.thrift_host, settings.thrift_port, limit),
            username=USERNAME,
            database=database,
        )
    except Exception as exc:  # thrift raises transport errors of several types
        if timed_out(exc):
            raise ServiceError(not_answering_message(settings, limit, setting)) from exc
        raise ServiceError(f"{not_running_message(settings)} ({type(exc).__name__})") from exc
    address = (settings.thrift_host, settings.thrift_port)
    use_guarded_cursors(conn, address, polled=True)
    try:
        yield conn
    except Exception as exc:
        # A caller may have wrapped the transport error in one of its own: the mark says it.
        cause = lost(conn) or lost_cause(exc, *address)
        if not cause:
            raise
        mark_lost(conn, cause)
        if cause == GONE:
            raise ServiceError(gone_message(settings)) from exc
        raise ServiceError(not_answering_message(settings, limit, setting)) from exc
    finally:
        if not lost(conn):
            _close_session(conn, address)


def _close_session(conn: Any, address: tuple[str, int]) -> None:
    try:
        conn.close()
    except Exception as exc:
        # The server was lost after the last statement, whose result was already read: the
        # work is done, and the session ends with the server. The next call reports it.
        if not lost_cause(exc, *address):
            raise
        close_socket(conn._transport)  # PyHive leaves it open when CloseSession fails


# Between polls of a running statement. The server itself holds each poll until the statement
# ends or 5 s pass (hive.server2.long.polling.timeout), so this only matters without that.
_POLL_S = 0.05


@functools.cache
def _cursor_class(polled: bool) -> type:
    from pyhive import hive
    from pyhive.exc import OperationalError
    from TCLIService.ttypes import TOperationState

    pending = {
        TOperationState.INITIALIZED_STATE,
        TOperationState.PENDING_STATE,
        TOperationState.RUNNING_STATE,
    }

    class GuardedCursor(hive.Cursor):
        """A PyHive cursor whose every call to the server marks the connection lost when it
        times out or the server went away. Polled: runs each statement asynchronously and polls
        it (as dbt-spark does), so every answer stays short and the socket timeout catches a
        stuck server, never a long statement; a failed statement raises OperationalError, as a
        synchronous one does."""

        def _guarded(self, call: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                cause = lost_cause(exc, *self._connection._lakehouse_address)
                if cause:
                    mark_lost(self._connection, cause)
                raise

        def execute(self, operation: str, parameters: Any = None, **kwargs: Any) -> None:
            if not polled:
                return self._guarded(super().execute, operation, parameters, **kwargs)
            self._guarded(super().execute, operation, parameters, async_=True)
            status = self._guarded(self.poll, get_progress_update=False)
            while status.operationState in pending:
                time.sleep(_POLL_S)
                status = self._guarded(self.poll, get_progress_update=False)
            if status.operationState == TOperationState.FINISHED_STATE:
                return None
            state = TOperationState._VALUES_TO_NAMES.get(status.operationState, "UNKNOWN")
            error = OperationalError(
                status if status.errorMessage else f"the statement ended in state {state}"
            )
            # Marked, since a caller may wrap the error in its own.
            if lost_cause(error, *self._connection._lakehouse_address) == GONE:
                mark_lost(self._connection, GONE)
            # As after a failed synchronous statement, no operation is left open; the
            # statement's error is the one to tell (a lost server's close raises nothing).
            with contextlib.suppress(Exception):
                self.close()
            raise error

        def _fetch_more(self) -> None:
            self._guarded(super()._fetch_more)

        @property
        def description(self) -> Any:
            return self._guarded(hive.Cursor.description.fget, self)

        def close(self) -> None:
            if lost(self._connection):
                self._operationHandle = None  # nothing to say to a server that is lost
            try:
                self._guarded(super().close)
            except Exception:
                # Lost after the statement ended: its result is read or its error raised, and
                # the next call to the server reports the loss.
                if not lost(self._connection):
                    raise

    return GuardedCursor


def close_socket(transport: Any) -> bool:
    """Close the socket under a PyHive transport (SASL or buffered) without a word to the server:
    a lost server would not answer, and the session ends on its side. False when no socket was
    found."""
    from thrift.transport.TSocket import TSocket

    for _ in range(3):
        if isinstance(transport, TSocket):
            transport.close()
            return True
        transport = getattr(transport, "_trans", None) or getattr(
            transport, "_TBufferedTransport__trans", None
        )
    return False


def query(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    timeout_s: float | None = None,
) -> list[tuple]:
    """Run one statement and return its rows ([] for statements without a result set).
    `timeout_s` bounds each wait for one answer (see `connect`)."""
    with connect(settings, timeout_s=timeout_s) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()


def health_problem(settings: Settings | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """Why the server does not answer `SELECT 1`, or "" when it does. Returns within about
    `timeout_s` per exchange with the server, whatever state the server is in."""
    settings = settings or get_settings()
    try:
        rows = query("SELECT 1", settings=settings, timeout_s=timeout_s)
    except ServiceError as exc:  # not running, or stopped answering (even after the handshake)
        return str(exc)
    except Exception as exc:  # a statement error, a dropped connection: any is "unhealthy"
        return f"`SELECT 1` failed on {settings.thrift_host}:{settings.thrift_port}: {exc!r}"
    return "" if rows == [(1,)] else f"`SELECT 1` returned {rows!r}"


def is_healthy(settings: Settings | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    return not health_problem(settings, timeout_s)
