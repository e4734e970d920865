"""SQL over the Spark Thrift Server (HiveServer2 protocol, through PyHive).

Everything that talks SQL to Spark goes through here, so the embedded Derby metastore only ever
has one JVM (the Thrift Server) in front of it. Parameters are bound by PyHive's escaping
(`%(name)s` placeholders), never by formatting user input into SQL.
"""

from __future__ import annotations

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


def not_answering_message(settings: Settings, timeout_s: float) -> str:
    return (
        f"The Spark Thrift Server at {settings.thrift_host}:{settings.thrift_port} accepts"
        f" connections but did not answer within {timeout_s:g} s: it is stuck or suspended (a"
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
    """Whether a Thrift call ended because its socket timeout passed."""
    from thrift.transport.TTransport import TTransportException

    return isinstance(exc, TTransportException) and exc.type == TTransportException.TIMED_OUT


@contextmanager
def connect(
    settings: Settings | None = None, database: str = "default", timeout_s: float | None = None
) -> Iterator[Any]:
    """A PyHive connection; a clear ServiceError when the server is not there.

    `timeout_s` bounds each wait for the server, for the whole life of the connection: the
    health probe sets it; sessions that run real statements (a long dbt model, a publish) leave
    it None, since a statement may rightly take minutes."""
    settings = settings or get_settings()
    if not port_open(settings.thrift_host, settings.thrift_port):
        raise ServiceError(not_running_message(settings))
    from pyhive import hive  # imported lazily: thrift/sasl imports are slow

    try:
        conn = hive.connect(
            thrift_transport=plain_transport(settings.thrift_host, settings.thrift_port, timeout_s),
            username=USERNAME,
            database=database,
        )
    except Exception as exc:  # thrift raises transport errors of several types
        if timeout_s is not None and timed_out(exc):
            raise ServiceError(not_answering_message(settings, timeout_s)) from exc
        raise ServiceError(f"{not_running_message(settings)} ({type(exc).__name__})") from exc
    try:
        yield conn
    finally:
        conn.close()


def query(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    timeout_s: float | None = None,
) -> list[tuple]:
    """Run one statement and return its rows ([] for statements without a result set).
    `timeout_s` bounds each wait for the server (see `connect`); None, the default, does not."""
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
    except ServiceError as exc:
        return str(exc)
    except Exception as exc:  # a statement error, a dropped connection: any is "unhealthy"
        if timed_out(exc):  # answered the handshake, then stopped answering
            return not_answering_message(settings, timeout_s)
        return f"`SELECT 1` failed on {settings.thrift_host}:{settings.thrift_port}: {exc!r}"
    return "" if rows == [(1,)] else f"`SELECT 1` returned {rows!r}"


def is_healthy(settings: Settings | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    return not health_problem(settings, timeout_s)
