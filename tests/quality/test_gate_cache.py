"""The gate reads each suite's table once: Spark caches the columns the suite's expectations read
while they run and drops them when the suite ends, so nothing cached outlives the gate (real gate
on the session lakehouse; the column rules on their own)."""

from __future__ import annotations

from typing import Any

import great_expectations as gx
import pytest

from quality.config import QualityConfig, load_config
from quality.gate import columns_read, run_gate
from quality.publish import AUDIT_SCHEMA
from quality.spark_session import get_spark


def test_each_suite_runs_on_its_cached_columns_and_the_gate_leaves_nothing_cached(
    built_lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = built_lakehouse
    spark = get_spark(settings)
    cache_manager = spark._jsparkSession.sharedState().cacheManager()
    seen: dict[str, tuple[bool, list[str]]] = {}
    run = gx.ValidationDefinition.run

    def recording_run(self: gx.ValidationDefinition, *args: Any, **kwargs: Any) -> Any:
        frame = kwargs["batch_parameters"]["dataframe"]
        seen[self.name] = (frame.storageLevel.useMemory, frame.columns)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(gx.ValidationDefinition, "run", recording_run)
    result = run_gate(settings, gold_schema=AUDIT_SCHEMA)

    assert result.passed, result.failures
    config = load_config()
    skipped = {entry.split(" ")[0] for entry in result.skipped}
    assert set(seen) == (set(config.tables) | set(config.checks)) - skipped
    assert all(cached for cached, _ in seen.values()), seen
    assert cache_manager.isEmpty()
    # dim_track's suite reads a few of its columns, and only those were cached.
    expected = columns_read([(e.type, e.kwargs) for e in config.tables["dim_track"].expectations])
    table_columns = spark.read.format("delta").load(
        settings.lake_path(AUDIT_SCHEMA, "dim_track")).columns
    assert seen["dim_track"][1] == expected
    assert expected and set(expected) < set(table_columns)


def test_columns_read_are_those_the_expectations_name_in_order() -> None:
    assert columns_read([
        ("expect_column_values_to_be_unique", {"column": "track_id"}),
        ("expect_column_pair_values_to_be_equal", {"column_A": "a", "column_B": "track_id"}),
        ("expect_compound_columns_to_be_unique", {"column_list": ["b", "a"]}),
        ("expect_table_row_count_to_equal", {"value": 3}),
    ]) == ["track_id", "a", "b"]


def test_a_suite_of_row_counts_reads_no_column() -> None:
    assert columns_read([("expect_table_row_count_to_be_between", {"min_value": 1})]) == []


@pytest.mark.parametrize("expectation", [
    ("expect_column_values_to_be_between", {"column": "x", "row_condition": 'col("y")>0'}),
    ("expect_table_columns_to_match_set", {"column_set": ["x", "y"]}),
    ("expect_table_column_count_to_equal", {"value": 2}),
    ("expect_table_column_count_to_be_between", {"min_value": 1, "max_value": 3}),
    # Judged on the table's own column list and order, though they name columns: on a frame
    # of the named columns alone, a table [y, x, extra] would match the ordered list [x, y].
    ("expect_table_columns_to_match_ordered_list", {"column_list": ["x", "y"]}),
    ("expect_column_to_exist", {"column": "x", "column_index": 0}),
])
def test_an_expectation_that_may_read_any_column_keeps_the_whole_table(
    expectation: tuple[str, dict[str, Any]],
) -> None:
    not_null = ("expect_column_values_to_not_be_null", {"column": "x"})
    assert columns_read([not_null, expectation]) is None


def test_a_column_that_must_exist_anywhere_in_the_table_is_a_column_read() -> None:
    """Without a position, existing in the table and in the frame of its named columns agree
    (a column the table lacks is absent from both)."""
    assert columns_read([
        ("expect_column_to_exist", {"column": "x"}),
        ("expect_column_to_exist", {"column": "y", "column_index": None}),
    ]) == ["x", "y"]


def test_an_expectation_on_a_column_the_table_lacks_fails_and_names_it(built_lakehouse) -> None:
    settings, _ = built_lakehouse
    expectations = [
        {"expect_column_values_to_not_be_null": {"column": "track_id"}},
        {"expect_column_values_to_not_be_null": {"column": "track_nmae"}},
    ]
    config = QualityConfig.model_validate(
        {"tables": {"dim_track": {"layer": "gold", "expectations": expectations}}}
    )
    result = run_gate(settings, gold_schema=AUDIT_SCHEMA, config=config)
    assert not result.passed
    assert result.evaluated == 2
    [failure] = result.failures
    assert (failure.suite, failure.kwargs["column"]) == ("dim_track", "track_nmae")
    assert failure.detail == (
        'could not be evaluated: Error: The column "track_nmae" in BatchData does not exist.'
        " (check the expectation's arguments in quality/expectations.yml)"
    )
