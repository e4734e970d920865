"""The bronze quarantine: rejected documents and CSV rows, kept with their reason and raw text.

Nothing is dropped silently: every rejection lands here. Writing is idempotent: a rejection
already quarantined (same entity, doc id and raw text) is not written again, so a re-run after
a crash, or a bad document that stays bad across runs, leaves one row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from ingestion.bronze_tables import QUARANTINE, QUARANTINE_SCHEMA, ensure_table, table_uri
from lakehouse.settings import Settings


@dataclass(frozen=True)
class QuarantineRecord:
    entity: str
    doc_id: str | None
    reason: str
    raw: str


def _storable(raw: str) -> str:
    """Undecodable bytes (lone surrogates from a CSV read with surrogateescape) cannot be
    stored as UTF-8: show them as \\xNN escapes."""
    try:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that do not stand for bytes
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")


def _key(entity: str, doc_id: str | None, raw: str) -> tuple[str, str | None, str]:
    stored_id = None if doc_id is None else _storable(doc_id)
    return entity, stored_id, hashlib.sha256(_storable(raw).encode("utf-8")).hexdigest()


def _already_quarantined(settings: Settings, entities: set[str]) -> set[tuple]:
    table = ensure_table(settings, QUARANTINE)
    dataset = table.to_pyarrow_dataset()
    existing = dataset.to_table(
        columns=["entity", "doc_id", "raw"],
        filter=pc.field("entity").isin(sorted(entities)),
    )
    return {
        _key(row["entity"], row["doc_id"], row["raw"]) for row in existing.to_pylist()
    }


def write_quarantine(
    settings: Settings, records: Iterable[QuarantineRecord], batch_id: str
) -> int:
    """Append the records not quarantined before; return how many were new."""
    records = list(records)
    if not records:
        return 0
    seen = _already_quarantined(settings, {r.entity for r in records})
    fresh: list[QuarantineRecord] = []
    for record in records:
        key = _key(record.entity, record.doc_id, record.raw)
        if key not in seen:
            seen.add(key)
            fresh.append(record)
    if not fresh:
        return 0
    now = dt.datetime.now(dt.UTC)
    table = pa.Table.from_pylist(
        [
            {
                "entity": r.entity,
                "doc_id": None if r.doc_id is None else _storable(r.doc_id),
                "reason": r.reason,
                "raw": _storable(r.raw),
                "batch_id": batch_id,
                "quarantined_at": now,
            }
            for r in fresh
        ],
        schema=QUARANTINE_SCHEMA,
    )
    write_deltalake(table_uri(settings, QUARANTINE), table, mode="append")
    return len(fresh)
