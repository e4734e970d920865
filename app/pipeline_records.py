"""What the pipeline recorded, shaped for the status page: runs, quality audits, freshness.

Reads the run log (orchestration/run_log.py) and the audit log (quality/audit_log.py), both Delta
tables under LAKE_ROOT/_meta, and derives data freshness from the lake itself: the newest
ingested_at / exported_at of each bronze table and the commit time of each published gold table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.gold_tables import commit_time
from lakehouse.lake import delta_tables_under
from lakehouse.settings import Settings

BRONZE_TIMESTAMPS = {
    "artists": ("ingested_at", "exported_at"),
    "albums": ("ingested_at", "exported_at"),
    "tracks": ("ingested_at", "exported_at"),
    "audio_features": ("ingested_at", "exported_at"),
    "imported_audio_features": ("imported_at",),
    "quarantine": ("quarantined_at",),
}


@dataclass(frozen=True)
class Records:
    runs: list  # orchestration.run_log.PipelineRun, newest first
    audits: list  # quality.audit_log.AuditRecord, newest first
    problems: list[str]  # records that could not be read, with why


def read_records(settings: Settings, limit: int = 20) -> Records:
    from orchestration import run_log
    from quality import audit_log

    problems: list[str] = []
    runs: list = []
    audits: list = []
    try:
        runs = run_log.recent(settings, limit)
    except Exception as exc:  # a damaged log must not take the page down
        problems.append(f"pipeline run log unreadable ({type(exc).__name__}: {exc})")
    try:
        audits = audit_log.recent(settings, limit)
    except Exception as exc:
        problems.append(f"quality audit log unreadable ({type(exc).__name__}: {exc})")
    return Records(runs, audits, problems)


def runs_frame(runs: list) -> pd.DataFrame:
    rows = []
    for run in runs:
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        rows.append({
            "started": run.started_at, "flow": run.flow, "status": run.status,
            "failed stage": run.failed_stage or "", "error": (run.error or "")[:300],
            "seconds": round(seconds, 1) if seconds is not None else None,
            "model": run.model_version or "", "run id": run.run_id,
        })
    return pd.DataFrame(rows)


def stages_frame(run) -> pd.DataFrame:
    rows = []
    for stage, outcome in (run.stages or {}).items():
        outcome = outcome if isinstance(outcome, dict) else {"result": outcome}
        details = {k: v for k, v in outcome.items() if k not in ("status", "seconds")}
        rows.append({"stage": stage, "status": outcome.get("status", ""),
                     "seconds": outcome.get("seconds"),
                     "details": ", ".join(f"{k}={v}" for k, v in details.items())[:300]})
    return pd.DataFrame(rows)


def layer_counts_frame(run) -> pd.DataFrame:
    """Rows per table per layer as the run counted them (one column per layer)."""
    rows = [
        {"layer": layer, "table": table, "rows": count}
        for layer, tables in (run.layer_counts or {}).items()
        for table, count in (tables or {}).items()
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.pivot_table(index="table", columns="layer", values="rows", aggfunc="sum")


def audits_frame(audits: list) -> pd.DataFrame:
    rows = []
    for audit in audits:
        rows.append({
            "finished": audit.finished_at, "result": "passed" if audit.passed else "FAILED",
            "failed stage": audit.failed_stage or "",
            "expectations": audit.expectations_evaluated,
            "tables": len(audit.tables), "failures": len(audit.failures),
        })
    return pd.DataFrame(rows)


def _newest(path: str, columns: tuple[str, ...]) -> dict[str, dt.datetime | None]:
    from deltalake import DeltaTable

    table = DeltaTable(path)
    names = set(pa.schema(table.schema().to_arrow()).names)
    present = [c for c in columns if c in names]
    data = table.to_pyarrow_table(columns=present)
    return {c: pc.max(data.column(c)).as_py() for c in present}


def freshness(settings: Settings) -> pd.DataFrame:
    """Per bronze and gold table: rows, newest record timestamps and last commit time."""
    from deltalake import DeltaTable

    rows = []
    for entity, columns in BRONZE_TIMESTAMPS.items():
        path = settings.lake_path("bronze", entity)
        if not DeltaTable.is_deltatable(path):
            continue
        newest = _newest(path, columns)
        rows.append({
            "layer": "bronze", "table": entity,
            "newest record": max((v for v in newest.values() if v), default=None),
            "last commit": commit_time(path),
        })
    gold_root = settings.lake_path(settings.gold_schema)
    for name in delta_tables_under(gold_root):
        path = f"{gold_root}/{name}"
        rows.append({"layer": "gold", "table": name, "newest record": None,
                     "last commit": commit_time(path)})
    return pd.DataFrame(rows, columns=["layer", "table", "newest record", "last commit"])

