"""Write-audit-publish: gold reaches consumers only when dbt tests and the GX gate pass.

1. write:   `dbt build` with gold redirected to the audit schema (LAKE_ROOT/gold_audit/...);
            dbt's own tests run in the same build.
2. audit:   the Great Expectations suites on silver and the audit gold (quality/gate.py).
3. publish: each audit table, at the version the gate read, becomes a new Delta version of
            LAKE_ROOT/<GOLD_SCHEMA>/<table> (default gold).
A failure before publish leaves the published gold's versions and content as they were; a
failure during publish, or a second Ctrl-C (the first waits for it), names the tables already
published and those still at their previous version. Every attempt is recorded
(quality/audit_log.py). The stages are methods so that the Prefect flow can run them as separate
tasks; `audit_and_publish` runs all three.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import NoReturn

from lakehouse import exclusive_lock
from lakehouse.exclusive_lock import LockHeld
from lakehouse.interrupts import deferred_ctrl_c
from lakehouse.settings import Settings
from quality import audit_log
from quality.config import ConfigError
from quality.gate import GateResult, run_gate
from quality.publish import (
    AUDIT_SCHEMA,
    PublishedTable,
    PublishIncomplete,
    PublishInterrupted,
    audit_tables,
    publish_all,
    table_version,
)


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
    audited_versions: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def write(self, *, full_refresh: bool = False) -> None:
        from lakehouse import dbt_runner
        from lakehouse.dbt_sources import BronzeMissingError
        from lakehouse.supervisor import ServiceError

        # The pipeline's production build: data tests gate the data; the unit tests only change
        # with the code and run in the test suite and `lakehouse transform`.
        try:
            summary = dbt_runner.build(
                self.settings, gold_schema=AUDIT_SCHEMA, full_refresh=full_refresh, unit_tests=False
            )
        except (dbt_runner.DbtRunError, BronzeMissingError, ServiceError) as exc:
            self._fail("dbt", [str(exc)])  # recorded like any other attempt; names the fix
        self.dbt_line = summary.line()
        if not summary.success:
            failures = [
                f"dbt {n.resource_type} {n.name}: {n.status}: {n.message}"
                for n in summary.failed_nodes
            ] or [f"dbt build failed ({self.dbt_line}); see {self.settings.log_dir / 'dbt'}"]
            self._fail("dbt", failures)

    def audit(self) -> GateResult:
        before = self._audit_versions()
        try:
            self.gate = run_gate(self.settings, gold_schema=AUDIT_SCHEMA)
        except ConfigError as exc:
            self._fail("expectations", [str(exc)])
        if not self.gate.passed:
            self._fail("expectations", [str(f) for f in self.gate.failures])
        # The lake lock keeps the project's own writers out, but plain `dbt build` takes none:
        # publish exactly the versions the gate read, and refuse if they moved under it.
        after = self._audit_versions()
        if after != before:
            self._fail("expectations", [
                f"{AUDIT_SCHEMA}.{name} changed while the gate read it (version"
                f" {before.get(name)} -> {after.get(name)}): another writer, e.g. a plain"
                " `dbt build`, wrote the audit schema; run `lakehouse publish` again"
                for name in sorted(set(before) | set(after))
                if before.get(name) != after.get(name)
            ])
        self.audited_versions = before
        return self.gate

    def holding_ctrl_c(self) -> AbstractContextManager[None]:
        """Ctrl-C waits until the publish and its audit record are written (see interrupts.py)."""
        return deferred_ctrl_c(
            f"publishing {self.settings.gold_schema}",
            f"{self.settings.gold_schema} would mix new and previous tables until the next publish",
        )

    def publish(self) -> audit_log.AuditRecord:
        if self.gate is None or not self.gate.passed:
            raise RuntimeError("publish() needs a passed audit() first")
        with self.holding_ctrl_c():
            return self._publish()

    def _publish(self) -> audit_log.AuditRecord:
        try:
            self.published = publish_all(self.settings, versions=self.audited_versions or None)
        except LockHeld:
            raise  # another job is writing the lake: nothing published, not a quality failure
        except PublishIncomplete as exc:
            self.published = exc.published
            if exc.pending:
                self._fail("publish", [exc.cause], published=exc.published, pending=exc.pending)
            # Every table's rows are committed; only a description or the names may lag.
            self.warnings.append(f"gold was published, but {exc.cause}")
        except PublishInterrupted as exc:
            self._record_interrupted(exc)
            raise
        except Exception as exc:
            self._fail("publish", [f"{type(exc).__name__}: {exc}"])
        self.record = self._record(
            passed=True, tables=[vars(p) for p in self.published], failures=self.warnings
        )
        return self.record

    def _record_interrupted(self, interrupted: PublishInterrupted) -> None:
        """A KeyboardInterrupt is no Exception, so nothing else records which tables it left new:
        the audit log must, for the app and whoever finishes the publish."""
        self.published = interrupted.published
        try:
            self.record = self._record(
                passed=False,
                failed_stage="publish",
                failures=[str(interrupted)],
                tables=[vars(p) for p in interrupted.published],
            )
        except Exception as exc:  # the Ctrl-C must still stop the run; say what was not kept
            interrupted.add_note(f"(The audit log could not record this attempt: {exc})")

    def _audit_versions(self) -> dict[str, int]:
        return {
            name: version
            for name in audit_tables(self.settings)
            if (version := table_version(self.settings, AUDIT_SCHEMA, name)) is not None
        }

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

    def _fail(
        self,
        stage: str,
        failures: list[str],
        published: list[PublishedTable] | None = None,
        pending: list[str] | None = None,
    ) -> NoReturn:
        published, pending = published or [], pending or []
        audit = self._record(
            passed=False,
            failed_stage=stage,
            failures=failures,
            tables=[vars(p) for p in published],
        )
        listed = "\n".join(f"  - {f}" for f in failures)
        if published:
            outcome = (
                f"Publishing stopped after {len(published)} of {len(published) + len(pending)}"
                f" tables: gold now holds the new version of {', '.join(p.name for p in published)}"
                f" and the previous one of {', '.join(pending)}. The audited tables are"
                f" unchanged in {AUDIT_SCHEMA}: run `lakehouse publish --skip-dbt` to publish them."
            )
        else:
            outcome = (
                f"Quality gate failed at the {stage} stage; the published gold was left untouched."
            )
        raise QualityGateFailed(f"{outcome}\n{listed}", audit)


def audit_and_publish(
    settings: Settings,
    *,
    run_dbt: bool = True,
    full_refresh: bool = False,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> WriteAuditPublish:
    wap = WriteAuditPublish(settings)
    # One hold from build to publish: no other writer may change gold_audit after it is checked.
    with exclusive_lock.lake_writer(settings, "write-audit-publish (build, gate, publish)",
                                    uses=frozenset({exclusive_lock.THRIFT})):
        if run_dbt:
            on_stage("dbt build into the audit schema")
            wap.write(full_refresh=full_refresh)
        on_stage("Great Expectations checkpoint")
        wap.audit()
        on_stage("publish")
        wap.publish()
    return wap
