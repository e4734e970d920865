"""Run dbt (dbt_spotify/) against the Spark Thrift Server, configured from lakehouse/settings.py.

dbt runs in-process through `dbtRunner`, so each node's result comes back as data (for the CLI's
progress view, the summary, tests and benchmarks) without parsing log text. The dbt profile reads
everything from environment variables; `dbt_environment()` is the one place that maps settings
to them, and they are set only for the duration of the call.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lakehouse import exclusive_lock
from lakehouse.dbt_connections import dbt_connections, lost_message
from lakehouse.settings import REPO_ROOT, Settings, get_settings
from lakehouse.supervisor import ServiceError

DBT_PROJECT_DIR = REPO_ROOT / "dbt_spotify"
MODEL_TYPES = frozenset({"model", "seed", "snapshot"})
TEST_TYPES = frozenset({"test", "unit_test"})
PASSED = frozenset({"success", "pass"})
FAILED = frozenset({"error", "fail", "runtime error"})


class DbtRunError(RuntimeError):
    """dbt could not run at all (bad project, profile, compilation); the message says why."""


@dataclass(frozen=True)
class NodeOutcome:
    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str
    seconds: float
    failures: int | None = None


@dataclass(frozen=True)
class Progress:
    """One dbt event the CLI shows: a node started (`done=False`) or finished."""

    name: str
    resource_type: str
    index: int
    total: int
    done: bool
    status: str = ""


@dataclass
class DbtRunSummary:
    command: list[str]
    success: bool
    seconds: float
    nodes: list[NodeOutcome] = field(default_factory=list)

    def _count(self, types: frozenset[str], statuses: frozenset[str]) -> int:
        return sum(1 for n in self.nodes if n.resource_type in types and n.status in statuses)

    @property
    def models_passed(self) -> int:
        return self._count(MODEL_TYPES, PASSED)

    @property
    def models_failed(self) -> int:
        return self._count(MODEL_TYPES, FAILED)

    @property
    def tests_passed(self) -> int:
        return self._count(TEST_TYPES, PASSED)

    @property
    def tests_failed(self) -> int:
        return self._count(TEST_TYPES, FAILED)

    @property
    def warnings(self) -> int:
        return sum(1 for n in self.nodes if n.status == "warn")

    @property
    def skipped(self) -> int:
        return sum(1 for n in self.nodes if n.status == "skipped")

    def status_of(self, name: str) -> str | None:
        """Status of the node called `name` (a model or test name), None if it was not run."""
        return next((n.status for n in self.nodes if n.name == name), None)

    @property
    def failed_nodes(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.status in FAILED]

    def line(self) -> str:
        return (
            f"models: {self.models_passed} ok, {self.models_failed} failed; "
            f"tests: {self.tests_passed} passed, {self.tests_failed} failed, "
            f"{self.warnings} warned; {self.skipped} skipped; {self.seconds:.1f} s"
        )


def dbt_environment(settings: Settings, *, gold_schema: str | None = None) -> dict[str, str]:
    """The variables dbt_spotify/profiles.yml and dbt_project.yml read."""
    from lakehouse.dbt_sources import check_identifier

    return {
        "THRIFT_HOST": settings.thrift_host,
        "THRIFT_PORT": str(settings.thrift_port),
        "DBT_SCHEMA": check_identifier(settings.dbt_schema),
        "DBT_THREADS": str(settings.dbt_threads),
        "DBT_LAKE_ROOT": settings.lake_uri,
        "DBT_BRONZE_SCHEMA": check_identifier(settings.dbt_bronze_schema),
        "DBT_SILVER_SCHEMA": check_identifier(settings.dbt_silver_schema),
        "DBT_GOLD_SCHEMA": check_identifier(gold_schema or settings.dbt_gold_schema),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


@contextlib.contextmanager
def _patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def target_dir(settings: Settings) -> Path:
    """dbt's artefacts (manifest, run_results, the docs site) for this data dir."""
    return settings.data_dir / "dbt" / "target"


def require_thrift(settings: Settings) -> None:
    """Raise ServiceError, with the fix, unless the Thrift Server answers `SELECT 1` in time.

    A closed port is not enough to check: a server that accepts connections but does not answer
    (stuck, suspended) kept a build waiting for ever at its first statement."""
    from spark_thrift.client import health_problem

    problem = health_problem(settings)
    if problem:
        raise ServiceError(problem)


def _event_callback(on_progress: Callable[[Progress], None]) -> Callable[[Any], None]:
    def callback(event: Any) -> None:
        name = event.info.name
        if name not in ("LogStartLine", "NodeFinished"):
            return
        info = event.data.node_info
        if name == "LogStartLine":
            on_progress(
                Progress(
                    info.node_name, info.resource_type, event.data.index, event.data.total, False
                )
            )
        else:
            status = event.data.run_result.status
            on_progress(Progress(info.node_name, info.resource_type, 0, 0, True, status))

    return callback


def _outcomes(result: Any) -> list[NodeOutcome]:
    outcomes = []
    for item in getattr(result, "results", None) or []:
        node = item.node
        outcomes.append(
            NodeOutcome(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(item.status),
                message=str(item.message or ""),
                seconds=float(item.execution_time or 0.0),
                failures=item.failures,
            )
        )
    return outcomes


def _invoke(
    args: Sequence[str],
    settings: Settings,
    *,
    gold_schema: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    quiet: bool = True,
) -> tuple[Any, float]:
    """Run one dbt command in-process; returns dbt's result object and the wall seconds."""
    from dbt.cli.main import dbtRunner

    require_thrift(settings)
    target = target_dir(settings)
    command = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(settings.log_dir / "dbt"),
    ]
    if quiet:
        command.insert(0, "--quiet")
    callbacks = [_event_callback(on_progress)] if on_progress else []
    started = time.monotonic()
    with (
        dbt_connections(settings) as connections,
        _patched_environ(dbt_environment(settings, gold_schema=gold_schema)),
    ):
        outcome = dbtRunner(callbacks=callbacks).invoke(command)
        lost = connections.cause
    seconds = time.monotonic() - started
    if isinstance(outcome.exception, KeyboardInterrupt):
        # dbt caught the Ctrl-C and stopped after its running statements; the caller must stop
        # too, not go on as after a failed build.
        raise outcome.exception
    if lost and not outcome.success:
        # Every node after the loss failed at once with the same cause: one error says it.
        # Lost after the last node, the build is complete: only the connection dbt opens at the
        # end of the run (for its end-of-run hooks) failed, and dbt shrugs that off.
        raise ServiceError(lost_message(settings, lost))
    if outcome.exception is not None:
        raise DbtRunError(_explain(outcome.exception, settings)) from outcome.exception
    return outcome, seconds


def run_dbt(
    args: Sequence[str],
    settings: Settings | None = None,
    *,
    gold_schema: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    quiet: bool = True,
) -> DbtRunSummary:
    """Run one dbt command (e.g. ["build", "--select", "marts"]) and summarise its nodes.

    Raises ServiceError when the Thrift Server is not up and DbtRunError when dbt itself cannot
    run; failing models or tests are reported in the summary (success=False), not raised.
    """
    settings = settings or get_settings()
    outcome, seconds = _invoke(
        args, settings, gold_schema=gold_schema, on_progress=on_progress, quiet=quiet
    )
    nodes = _outcomes(outcome.result)
    success = bool(outcome.success)
    return DbtRunSummary(command=list(args), success=success, seconds=seconds, nodes=nodes)


def _explain(exc: BaseException, settings: Settings) -> str:
    text = str(exc)
    if "Could not connect" in text or "TTransportException" in text:
        from spark_thrift.client import not_running_message

        return not_running_message(settings)
    return f"dbt failed: {text}"


def build(
    settings: Settings | None = None,
    *,
    full_refresh: bool = False,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    gold_schema: str | None = None,
    register_sources: bool = True,
    unit_tests: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
) -> DbtRunSummary:
    """`dbt build`: models, tests and unit tests in dependency order (a failing test skips what
    depends on it). Registers the bronze tables first so a fresh metastore works.

    unit_tests=False leaves the unit tests out, as dbt recommends for production runs: their
    inputs are fixed, so they can only change with the code (the test suite runs them).
    """
    settings = settings or get_settings()
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    # An export landing mid-build would hand dbt half a batch; two builds would merge into the
    # same silver tables at once.
    job = f"dbt build into {gold_schema or settings.dbt_gold_schema}"
    with exclusive_lock.lake_writer(settings, job, uses=frozenset({exclusive_lock.THRIFT})):
        require_thrift(settings)
        if register_sources:
            from lakehouse.dbt_sources import register_bronze_tables

            register_bronze_tables(settings)
        return run_dbt(args, settings, gold_schema=gold_schema, on_progress=on_progress)


def registered_bronze_tables(settings: Settings) -> list[str]:
    """The dbt_spotify source tables present in the metastore's bronze schema."""
    from lakehouse.dbt_sources import BRONZE_TABLES, check_identifier
    from spark_thrift.client import query

    schema = check_identifier(settings.dbt_bronze_schema)
    if not query("SHOW SCHEMAS LIKE %(schema)s", {"schema": schema}, settings=settings):
        return []
    names = {row[1] for row in query(f"SHOW TABLES IN {schema}", settings=settings)}
    return [t for t in BRONZE_TABLES if t in names]


def _empty_optional_tables(settings: Settings, present: list[str]) -> list[str]:
    from lakehouse.dbt_sources import OPTIONAL_BRONZE_TABLES, check_identifier
    from spark_thrift.client import query

    schema = check_identifier(settings.dbt_bronze_schema)
    # Table names come from the BRONZE_TABLES list, never from input.
    return [
        t
        for t in present
        if t in OPTIONAL_BRONZE_TABLES
        and not query(f"SELECT 1 FROM {schema}.{t} LIMIT 1", settings=settings)
    ]


@dataclass(frozen=True)
class SourceFreshness:
    """One bronze table's freshness: the newest `loaded_at_field` and how old it is."""

    table: str
    status: str  # pass, warn, error (older than the source's thresholds) or runtime error
    max_loaded_at: datetime | None
    age_s: float | None
    message: str = ""


def source_freshness(settings: Settings | None = None) -> list[SourceFreshness]:
    """`dbt source freshness` on the bronze tables that exist (dbt_spotify's source thresholds).

    Only the tables registered in the bronze schema are checked: optional tables that were
    never exported (audio features in development mode, the imported CSV) are left out rather
    than reported as failing queries. Run `lakehouse transform` (or export) to register them.
    An optional table that exists but is empty is reported with status `empty`, not checked.
    """
    settings = settings or get_settings()
    require_thrift(settings)
    present = registered_bronze_tables(settings)
    if not present:
        raise DbtRunError(
            f"No bronze table is registered in schema {settings.dbt_bronze_schema}: run the crawl"
            " and `lakehouse export` first."
        )
    empty = _empty_optional_tables(settings, present)
    results = [
        SourceFreshness(t, "empty", None, None, "no rows yet (optional table): not checked")
        for t in empty
    ]
    checked = [t for t in present if t not in empty]
    if not checked:
        return results
    # The results come back as data; dbt's own console lines (a STALE error per table) would
    # repeat them, so only its log file gets them.
    args = ["source", "freshness", "--log-level", "none", "--select"]
    args += [f"source:spotify.{t}" for t in checked]
    outcome, _ = _invoke(args, settings)
    for item in getattr(outcome.result, "results", None) or []:
        age = getattr(item, "age", None)
        results.append(
            SourceFreshness(
                table=item.node.name,
                status=str(item.status),
                max_loaded_at=getattr(item, "max_loaded_at", None),
                age_s=float(age) if age is not None else None,
                message=str(getattr(item, "message", None) or ""),
            )
        )
    return sorted(results, key=lambda r: r.table)


def docs_generate(settings: Settings | None = None) -> Path:
    """`dbt docs generate`; returns the folder holding the static site (index.html + JSON)."""
    settings = settings or get_settings()
    summary = run_dbt(["docs", "generate"], settings)
    if not summary.success:
        raise DbtRunError("dbt docs generate failed; run `lakehouse transform` first.")
    return target_dir(settings)
