"""Write-audit-publish: gold reaches consumers only when dbt tests and the GX gate pass.

1. write:   `dbt build` with gold redirected to the audit schema (LAKE_ROOT/gold_audit/...);
            dbt's own tests run in the same build.
2. audit:   the Great Expectations suites on silver and the audit gold (quality/gate.py).
3. publish: each audit table becomes a new Delta version of LAKE_ROOT/gold/<table>.
Any failure stops before publish, so the published gold keeps its versions and content. Every
attempt is recorded (quality/audit_log.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from lakehouse.settings import Settings
from quality import audit_log
from quality.gate import GateResult, run_gate
from quality.publish import AUDIT_SCHEMA, PublishedTable, publish_all


class QualityGateFailed(RuntimeError):
    """The audit failed; nothing was published. The message lists what failed and where."""

    def __init__(self, message: str, audit: audit_log.AuditRecord) -> None:
        super().__init__(message)
        self.audit = audit


@dataclass
class PublishOutcome:
    audit: audit_log.AuditRecord
    published: list[PublishedTable]
    gate: GateResult


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fail(
    settings: Settings, started: dt.datetime, stage: str, failures: list[str], **extra
) -> NoReturn:
    audit = audit_log.AuditRecord(
        started_at=started,
        finished_at=_now(),
        passed=False,
        failed_stage=stage,
        failures=failures,
        **extra,
    )
    audit_log.record(settings, audit)
    listed = "\n".join(f"  - {f}" for f in failures)
    raise QualityGateFailed(
        f"Quality gate failed at the {stage} stage; the published gold was left untouched.\n"
        f"{listed}",
        audit,
    )


def audit_and_publish(
    settings: Settings,
    *,
    run_dbt: bool = True,
    full_refresh: bool = False,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> PublishOutcome:
    from lakehouse import dbt_runner

    started = _now()
    if run_dbt:
        on_stage("dbt build into the audit schema")
        summary = dbt_runner.build(settings, gold_schema=AUDIT_SCHEMA, full_refresh=full_refresh)
        if not summary.success:
            failures = [
                f"dbt {n.resource_type} {n.name}: {n.status}: {n.message}"
                for n in summary.failed_nodes
            ] or ["dbt build failed (see data/logs/dbt)"]
            _fail(settings, started, "dbt", failures)

    on_stage("Great Expectations checkpoint")
    gate = run_gate(settings, gold_schema=AUDIT_SCHEMA)
    if not gate.passed:
        _fail(
            settings,
            started,
            "expectations",
            [str(f) for f in gate.failures],
            expectations_evaluated=gate.evaluated,
            data_docs_url=gate.data_docs_url,
        )

    on_stage("publish")
    try:
        published = publish_all(settings)
    except Exception as exc:
        _fail(settings, started, "publish", [f"{type(exc).__name__}: {exc}"])
    audit = audit_log.AuditRecord(
        started_at=started,
        finished_at=_now(),
        passed=True,
        tables=[vars(p) for p in published],
        expectations_evaluated=gate.evaluated,
        data_docs_url=gate.data_docs_url,
    )
    audit_log.record(settings, audit)
    return PublishOutcome(audit=audit, published=published, gate=gate)
