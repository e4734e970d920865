"""Run the Great Expectations suites of expectations.yml on the real lake tables via Spark.

The GX file data context committed in quality/gx/ is the project's configuration; each run syncs
it into a working copy under DATA_DIR/quality/gx, where suites, validation results and the data
docs site live (so the repository stays clean), with the last QUALITY_KEEP_RUNS runs' history
(quality/docs_history.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.settings import Settings
from quality.config import CheckSuite, ConfigError, QualityConfig, TableSuite, load_config

REPO_CONTEXT = Path(__file__).with_name("gx")
BRONZE_ENTITIES = ("artists", "albums", "tracks", "audio_features", "imported_audio_features")
SAMPLE_SIZE = 5
# Expectation arguments that name the columns an expectation reads.
_COLUMN_ARGUMENTS = ("column", "column_A", "column_B", "column_list")
_ROW_COUNT_EXPECTATIONS = {
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
}
# Table-level expectations that name columns yet judge the table's whole column list: on a frame
# reduced to the named columns they would judge that frame (a table [b, a, x] matched [a, b]).
_COLUMN_LIST_EXPECTATIONS = {"expect_table_columns_to_match_ordered_list"}


@dataclass
class ExpectationFailure:
    suite: str
    expectation: str
    kwargs: dict[str, Any]
    detail: str
    thresholds: dict[str, Any] = field(default_factory=dict)  # the `${name}`s its limits came from

    def __str__(self) -> str:
        args = ", ".join(
            f"{k}={v}" for k, v in self.kwargs.items() if k not in ("result_format", "batch_id")
        )
        text = f"{self.suite}: {self.expectation}({args}) failed: {self.detail}"
        if self.thresholds:
            named = ", ".join(f"{k} = {v}" for k, v in self.thresholds.items())
            example = ", ".join(f'"{k}": ...' for k in self.thresholds)
            text += (
                f" [threshold {named}: `thresholds` in quality/expectations.yml, or for this"
                f" environment QUALITY_THRESHOLDS='{{{example}}}']"
            )
        return text


@dataclass
class GateResult:
    passed: bool
    evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    data_docs_url: str | None = None
    run_time: dt.datetime | None = None  # the run's key in the validation results and docs


def context_dir(settings: Settings) -> Path:
    return settings.data_dir / "quality"


def open_context(settings: Settings):
    """The working GX file context (config synced from the repository's quality/gx)."""
    import great_expectations as gx

    root = context_dir(settings)
    work = root / "gx"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_CONTEXT / "great_expectations.yml", work / "great_expectations.yml")
    return gx.get_context(mode="file", project_root_dir=str(root))


def table_location(settings: Settings, layer: str, name: str, gold_schema: str) -> str:
    """Where a configured table lives: in the folder its writer uses for the layer (gold: the
    schema being validated)."""
    from lakehouse.lake import layer_folders

    return settings.lake_path(layer_folders(settings, gold_schema)[layer], name)


def _register_views(
    spark, settings: Settings, config: QualityConfig, gold_schema: str
) -> dict[str, Any]:
    """Every configured table and every bronze entity as a temp view; returns the DataFrames."""
    from deltalake import DeltaTable

    frames: dict[str, Any] = {}
    for entity in BRONZE_ENTITIES:
        path = table_location(settings, "bronze", entity, gold_schema)
        if DeltaTable.is_deltatable(path):
            spark.read.format("delta").load(path).createOrReplaceTempView(f"bronze_{entity}")
    for name, suite in config.tables.items():
        path = table_location(settings, suite.layer, name, gold_schema)
        if not DeltaTable.is_deltatable(path):
            raise ConfigError(
                f"Table `{name}` (layer {suite.layer}) configured in quality/expectations.yml has"
                f" no Delta table at {path}: build it first (`lakehouse transform`) or remove it"
                " from the configuration."
            )
        frame = spark.read.format("delta").load(path)
        frame.createOrReplaceTempView(name)
        frames[name] = frame
    return frames


def _has_rows(spark, view: str) -> bool:
    return spark.catalog.tableExists(view) and spark.table(view).limit(1).count() > 0


def when_flags(spark) -> dict[str, bool]:
    """The conditions a suite's `when:` can name.

    api_features_expected: the API delivered audio features (bronze.audio_features has rows);
    features_expected: any source of them did, the API or an imported CSV."""
    api = _has_rows(spark, "bronze_audio_features")
    return {
        "api_features_expected": api,
        "features_expected": api or _has_rows(spark, "bronze_imported_audio_features"),
    }


def _expectation(spec_type: str, kwargs: dict[str, Any], where: str):
    import great_expectations as gx

    class_name = "".join(part.capitalize() for part in spec_type.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None:
        raise ConfigError(
            f"{where}: `{spec_type}` is not a Great Expectations core expectation "
            "(see great_expectations.expectations for the list)."
        )
    try:
        return cls(**kwargs)
    except Exception as exc:  # pydantic validation of the expectation's arguments
        raise ConfigError(f"{where}: bad arguments for {spec_type}: {exc}") from exc


def _error_messages(exception_info: dict[str, Any] | None) -> list[str]:
    """Why GX could not evaluate an expectation (e.g. a column the table lacks): its
    exception_info is one error, or one per metric that failed, each with a message."""
    info = exception_info or {}
    errors = [info] if "exception_message" in info else [
        error for error in info.values() if isinstance(error, dict)
    ]
    messages = [error.get("exception_message") for error in errors]
    return list(dict.fromkeys(message for message in messages if message))


def _describe(result: dict[str, Any], exception_info: dict[str, Any] | None) -> str:
    if messages := _error_messages(exception_info):
        return (
            f"could not be evaluated: {'; '.join(messages)} (check the expectation's arguments in"
            " quality/expectations.yml)"
        )
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list") or []
        shown = ", ".join(repr(v) for v in sample[:SAMPLE_SIZE])
        total = result.get("element_count")
        return f"{result['unexpected_count']} unexpected value(s) of {total}; sample: [{shown}]"
    if "observed_value" in result:
        return f"observed {result['observed_value']!r}"
    return "see the data docs for details"


def _reads_the_whole_table(kind: str, kwargs: dict[str, Any], named: list[Any]) -> bool:
    """Whether an expectation's result may depend on columns it does not name: a row condition,
    the table's column list or order (a column's position, `column_index`), or a table-level
    expectation other than a row count (column count and set name none, so they count here)."""
    return (
        "row_condition" in kwargs
        or kwargs.get("column_index") is not None
        or kind in _COLUMN_LIST_EXPECTATIONS
        or (not named and kind not in _ROW_COUNT_EXPECTATIONS)
    )


def columns_read(expectations: list[tuple[str, dict[str, Any]]]) -> list[str] | None:
    """The columns a suite's expectations read (type, resolved kwargs), in order of appearance;
    None when one of them may depend on any column (_reads_the_whole_table)."""
    columns: list[str] = []
    for kind, kwargs in expectations:
        named = [kwargs[key] for key in _COLUMN_ARGUMENTS if key in kwargs]
        if _reads_the_whole_table(kind, kwargs, named):
            return None
        for value in named:
            for column in [value] if isinstance(value, str) else value:
                if column not in columns:
                    columns.append(column)
    return columns


@contextmanager
def _cached_for_the_suite(frame, columns: list[str] | None) -> Iterator[Any]:
    """The suite's frame, reduced to the columns its expectations read and cached by Spark while
    they run; dropped when the suite ends.

    GX computes a suite's metrics in several Spark jobs, each of which would otherwise read the
    Delta table again (snapshot, file listing, Parquet decoding). Only the columns read are
    cached: caching every column of a wide table costs more than it saves. Dropped when the
    suite ends, so one table at a time is held, and nothing cached outlives the gate: a later
    gate in the same process (a served deployment) must never be answered from an older
    version's cached plan.
    """
    if columns is not None:
        # A column the table lacks is left to GX, which fails that expectation and names it.
        present = [column for column in columns if column in frame.columns]
        frame = frame.select(*(present or frame.columns[:1]))  # a row count needs only the rows
    frame.persist()
    try:
        yield frame
    finally:
        frame.unpersist()


def run_gate(
    settings: Settings, *, gold_schema: str = "gold_audit", config: QualityConfig | None = None
) -> GateResult:
    """Validate silver and the (audit) gold tables; never raises on failed expectations."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from quality.docs_history import record_run_docs
    from quality.spark_session import get_spark

    # One run identifier for all suites: the docs show one run, and keep or drop it whole.
    run_id = RunIdentifier(run_time=dt.datetime.now(dt.UTC))
    config = (config or load_config()).with_overrides(settings.quality_thresholds)
    spark = get_spark(settings)
    # A long-lived process (a served Prefect deployment, the test session) runs the gate many
    # times: nothing cached by a previous run may answer for the tables' new versions.
    spark.catalog.clearCache()
    frames = _register_views(spark, settings, config, gold_schema)
    flags = when_flags(spark)

    context = open_context(settings)
    # persist=False: GX would otherwise cache each batch, and Spark's cache manager matches a
    # later read of the same Delta path to that cached (stale) plan.
    source = context.data_sources.add_or_update_spark("lake", persist=False)
    suites: list[tuple[str, TableSuite | CheckSuite, Any]] = []
    skipped: list[str] = []
    for name, table_suite in config.tables.items():
        suites.append((name, table_suite, frames[name]))
    for name, check in config.checks.items():
        if check.when and check.when not in flags:
            raise ConfigError(
                f"checks.{name}: `when: {check.when}` names no condition; use one of"
                f" {sorted(flags)} (quality/expectations.yml)."
            )
        if check.when and not flags[check.when]:
            skipped.append(f"{name} (only when {check.when})")
            continue
        suites.append((name, check, spark.sql(check.sql)))

    failures: list[ExpectationFailure] = []
    evaluated = 0
    for name, suite_config, frame in suites:
        asset = source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        suite = gx.ExpectationSuite(name=name)
        specs = []  # (type, resolved kwargs, thresholds named): to tell a failure its thresholds
        for spec in suite_config.expectations:
            kwargs = config.resolve(spec.kwargs, f"{name}.{spec.type}")
            suite.add_expectation(_expectation(spec.type, kwargs, f"{name}.{spec.type}"))
            specs.append((spec.type, kwargs, config.thresholds_in(spec.kwargs)))
        suite = context.suites.add_or_update(suite)
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        columns = columns_read([(kind, kwargs) for kind, kwargs, _ in specs])
        with _cached_for_the_suite(frame, columns) as suite_frame:
            result = validation.run(
                batch_parameters={"dataframe": suite_frame},
                result_format={"result_format": "SUMMARY"},
                run_id=run_id,
            )
        for item in result.results:
            evaluated += 1
            if not item.success:
                cfg = item.expectation_config
                detail = _describe(item.result, item.exception_info)
                if isinstance(suite_config, CheckSuite):
                    # A cross-table rule: the offending rows are what the engineer needs.
                    rows = [r.asDict() for r in frame.limit(SAMPLE_SIZE).collect()]
                    detail += f"; sample rows: {rows}"
                thresholds = next(
                    (named for kind, args, named in specs
                     if kind == cfg.type and all(cfg.kwargs.get(k) == v for k, v in args.items())),
                    {},
                )
                failures.append(
                    ExpectationFailure(name, cfg.type, dict(cfg.kwargs), detail, thresholds)
                )
    record_run_docs(
        context, run_id.run_time, [name for name, _, _ in suites], settings.quality_keep_runs
    )
    urls = context.get_docs_sites_urls()
    return GateResult(
        passed=not failures,
        evaluated=evaluated,
        failures=failures,
        skipped=skipped,
        data_docs_url=urls[0]["site_url"] if urls else None,
        run_time=run_id.run_time,
    )
