"""SQL over the Spark Thrift Server (HiveServer2 protocol, through PyHive).

Everything that talks SQL to Spark goes through here, so the embedded Derby metastore only ever
has one JVM (the Thrift Server) in front of it. Parameters are bound by PyHive's escaping
(`%(name)s` placeholders), never by formatting user input into SQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lakehouse.settings import Settings, get_settings
from lakehouse.supervisor import ServiceError


def not_running_message(settings: Settings) -> str:
    return (
        "The Spark Thrift Server is not answering on "
        f"{settings.thrift_host}:{settings.thrift_port}. Start it with `lakehouse services up`"
        " (or point THRIFT_HOST/THRIFT_PORT at a running one)."
    )


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@contextmanager
def connect(settings: Settings | None = None, database: str = "default") -> Iterator[Any]:
    """A PyHive connection; a clear ServiceError when the server is not there."""
    settings = settings or get_settings()
    if not port_open(settings.thrift_host, settings.thrift_port):
        raise ServiceError(not_running_message(settings))
    from pyhive import hive  # imported lazily: thrift/sasl imports are slow

    try:
        conn = hive.connect(
            host=settings.thrift_host,
            port=settings.thrift_port,
            username="lakehouse",
            database=database,
        )
    except Exception as exc:  # thrift raises transport errors of several types
        raise ServiceError(f"{not_running_message(settings)} ({type(exc).__name__})") from exc
    try:
        yield conn
    finally:
        conn.close()


def query(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> list[tuple]:
    """Run one statement and return its rows ([] for statements without a result set)."""
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()


def is_healthy(settings: Settings | None = None) -> bool:
    try:
        return query("SELECT 1", settings=settings) == [(1,)]
    except Exception:
        return False
