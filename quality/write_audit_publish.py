"""Write-audit-publish: gold reaches consumers only when dbt tests and the GX gate pass.

1. write:   `dbt build` with gold redirected to the audit schema (LAKE_ROOT/gold_audit/...);
            dbt's own tests run in the same build.
2. audit:   the Great Expectations suites on silver and the audit gold (quality/gate.py).
3. publish: each audit table becomes a new Delta version of LAKE_ROOT/gold/<table>.
Any failure stops before publish, so the published gold keeps its versions and content. Every
attempt is recorded (quality/audit_log.py). The stages are methods so that the Prefect flow can
run them as separate tasks; `audit_and_publish` runs all three.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from lakehouse import exclusive_lock
from lakehouse.exclusive_lock import LockHeld
from lakehouse.settings import Settings
from quality import audit_log
from quality.gate import GateResult, run_gate
from quality.publish import AUDIT_SCHEMA, PublishedTable, publish_all


class QualityGateFailed(RuntimeError):
    """The audit failed; nothing was published. The message lists what failed and where."""

    def __init__(self, message: str, audit: audit_log.AuditRecord) -> None:
        super().__init__(message)
        self.audit = audit


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class WriteAuditPublish:
    settings: Settings
    started_at: dt.datetime = field(default_factory=_now)
    gate: GateResult | None = None
    published: list[PublishedTable] = field(default_factory=list)
    record: audit_log.AuditRecord | None = None
    dbt_line: str = ""

    def write(self, *, full_refresh: bool = False) -> None:
        from lakehouse import dbt_runner

        # The pipeline's production build: data tests gate the data; the unit tests only change
        # with the code and run in the test suite and `lakehouse transform`.
        summary = dbt_runner.build(
            self.settings, gold_schema=AUDIT_SCHEMA, full_refresh=full_refresh, unit_tests=False
        )
        self.dbt_line = summary.line()
        if not summary.success:
            failures = [
                f"dbt {n.resource_type} {n.name}: {n.status}: {n.message}"
                for n in summary.failed_nodes
            ] or [f"dbt build failed ({self.dbt_line}); see {self.settings.log_dir / 'dbt'}"]
            self._fail("dbt", failures)

    def audit(self) -> GateResult:
        self.gate = run_gate(self.settings, gold_schema=AUDIT_SCHEMA)
        if not self.gate.passed:
            self._fail("expectations", [str(f) for f in self.gate.failures])
        return self.gate

    def publish(self) -> audit_log.AuditRecord:
        if self.gate is None or not self.gate.passed:
            raise RuntimeError("publish() needs a passed audit() first")
        try:
            self.published = publish_all(self.settings)
        except LockHeld:
            raise  # another job is writing the lake: nothing published, not a quality failure
        except Exception as exc:
            self._fail("publish", [f"{type(exc).__name__}: {exc}"])
        self.record = self._record(passed=True, tables=[vars(p) for p in self.published])
        return self.record

    def _record(self, **fields) -> audit_log.AuditRecord:
        gate = self.gate
        audit = audit_log.AuditRecord(
            started_at=self.started_at,
            finished_at=_now(),
            expectations_evaluated=gate.evaluated if gate else 0,
            data_docs_url=gate.data_docs_url if gate else None,
            **fields,
        )
        audit_log.record(self.settings, audit)
        return audit

    def _fail(self, stage: str, failures: list[str]) -> NoReturn:
        audit = self._record(passed=False, failed_stage=stage, failures=failures)
        listed = "\n".join(f"  - {f}" for f in failures)
        raise QualityGateFailed(
            f"Quality gate failed at the {stage} stage; the published gold was left untouched."
            f"\n{listed}",
            audit,
        )


def audit_and_publish(
    settings: Settings,
    *,
    run_dbt: bool = True,
    full_refresh: bool = False,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> WriteAuditPublish:
    wap = WriteAuditPublish(settings)
    # One hold from build to publish: no other writer may change gold_audit after it is checked.
    with exclusive_lock.lake_writer(settings, "write-audit-publish (build, gate, publish)"):
        if run_dbt:
            on_stage("dbt build into the audit schema")
            wap.write(full_refresh=full_refresh)
        on_stage("Great Expectations checkpoint")
        wap.audit()
        on_stage("publish")
        wap.publish()
    return wap
