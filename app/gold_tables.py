"""Gold marts as Delta tables read by path with delta-rs (no JVM, no SQL).

`versions()` says which Delta version of each mart is published now; the caches in
app/cached_data.py key on it, so a new publish (a new Delta version) is picked up on the next
rerun after at most APP_REFRESH_S seconds, and an unchanged table is never read twice.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import pyarrow as pa

from app.gold_contract import USED_COLUMNS, check_columns
from lakehouse.settings import Settings


@dataclass(frozen=True)
class TableRef:
    """One published version of one mart: what the caches key on."""

    name: str
    path: str
    version: int


def gold_path(settings: Settings, name: str) -> str:
    return settings.lake_path(settings.gold_schema, name)


_probe_lock = threading.Lock()
_probes: dict[str, tuple[float, int | None]] = {}


def current_version(settings: Settings, name: str) -> TableRef | None:
    """The published version of `name`, or None when the mart does not exist (yet).

    Probing reads the Delta log, so the answer is remembered for APP_REFRESH_S seconds:
    reruns (every widget change) do not touch the lake.
    """
    from deltalake import DeltaTable

    path = gold_path(settings, name)
    now = time.monotonic()
    with _probe_lock:
        cached = _probes.get(path)
    if cached and now - cached[0] < settings.app_refresh_s:
        version = cached[1]
    else:
        version = DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None
        with _probe_lock:
            _probes[path] = (now, version)
    return None if version is None else TableRef(name, path, version)


def forget_probes() -> None:
    """Drop remembered versions (tests and the `refresh` button use it)."""
    with _probe_lock:
        _probes.clear()


def read(ref: TableRef, columns: tuple[str, ...] | None = None) -> pa.Table:
    """Exactly version `ref.version` of the mart (never a newer one published meanwhile)."""
    from deltalake import DeltaTable

    table = DeltaTable(ref.path, version=ref.version)
    schema = pa.schema(table.schema().to_arrow())
    check_columns(ref.name, schema)
    wanted = columns or USED_COLUMNS.get(ref.name)
    names = [c for c in wanted if c in schema.names] if wanted else None
    return table.to_pyarrow_table(columns=names)


def commit_time(path: str) -> dt.datetime | None:
    """When the latest version of a Delta table was committed (UTC), None if no table."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return None
    history = DeltaTable(path).history(1)
    if not history or "timestamp" not in history[0]:
        return None
    return dt.datetime.fromtimestamp(history[0]["timestamp"] / 1000, tz=dt.UTC)
