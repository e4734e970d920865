"""Each pipeline run is recorded (stages, counts, gate result, model) for the app and for people.

Stored as a Delta table at LAKE_ROOT/_meta/pipeline_runs, appended with delta-rs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from lakehouse.settings import Settings

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("flow", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("status", pa.string()),
        ("failed_stage", pa.string()),
        ("error", pa.string()),
        ("parameters_json", pa.string()),
        ("stages_json", pa.string()),
        ("layer_counts_json", pa.string()),
        ("model_version", pa.string()),
    ]
)


@dataclass
class PipelineRun:
    run_id: str
    flow: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = "running"  # completed | failed | interrupted (Ctrl-C; failed_stage = where)
    failed_stage: str | None = None
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> outcome
    layer_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    model_version: str | None = None


def runs_path(settings: Settings) -> str:
    return settings.lake_path("_meta", "pipeline_runs")


def record(settings: Settings, run: PipelineRun) -> None:
    from deltalake import write_deltalake

    row = asdict(run)
    for name in ("parameters", "stages", "layer_counts"):
        row[f"{name}_json"] = json.dumps(row.pop(name), default=str)
    write_deltalake(runs_path(settings), pa.Table.from_pylist([row], schema=SCHEMA), mode="append")


def recent(settings: Settings, limit: int = 20) -> list[PipelineRun]:
    from deltalake import DeltaTable

    path = runs_path(settings)
    if not DeltaTable.is_deltatable(path):
        return []
    rows = DeltaTable(path).to_pyarrow_table().to_pylist()
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    runs = []
    for row in rows[:limit]:
        for name in ("parameters", "stages", "layer_counts"):
            row[name] = json.loads(row.pop(f"{name}_json") or "{}")
        runs.append(PipelineRun(**row))
    return runs
