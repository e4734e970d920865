"""Every audit is recorded (time, result, tables and Delta versions, failures) for the app.

Stored as a Delta table at LAKE_ROOT/_meta/quality_audits, appended with delta-rs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from lakehouse.settings import Settings

SCHEMA = pa.schema(
    [
        ("audit_id", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("passed", pa.bool_()),
        ("failed_stage", pa.string()),
        ("tables_json", pa.string()),
        ("failures_json", pa.string()),
        ("expectations_evaluated", pa.int64()),
        ("data_docs_url", pa.string()),
    ]
)


@dataclass
class AuditRecord:
    started_at: dt.datetime
    finished_at: dt.datetime
    passed: bool
    failed_stage: str | None = None  # "dbt", "expectations" or "publish"
    tables: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    expectations_evaluated: int = 0
    data_docs_url: str | None = None
    audit_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def audits_path(settings: Settings) -> str:
    return settings.lake_path("_meta", "quality_audits")


def record(settings: Settings, audit: AuditRecord) -> None:
    from deltalake import write_deltalake

    row = asdict(audit)
    row["tables_json"] = json.dumps(row.pop("tables"))
    row["failures_json"] = json.dumps(row.pop("failures"))
    write_deltalake(
        audits_path(settings), pa.Table.from_pylist([row], schema=SCHEMA), mode="append"
    )


def recent(settings: Settings, limit: int = 20) -> list[AuditRecord]:
    from deltalake import DeltaTable

    path = audits_path(settings)
    if not DeltaTable.is_deltatable(path):
        return []
    rows = DeltaTable(path).to_pyarrow_table().to_pylist()
    rows.sort(key=lambda r: r["finished_at"], reverse=True)
    audits = []
    for row in rows[:limit]:
        tables = json.loads(row.pop("tables_json") or "[]")
        failures = json.loads(row.pop("failures_json") or "[]")
        audits.append(AuditRecord(**row, tables=tables, failures=failures))
    return audits
