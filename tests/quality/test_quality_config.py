"""The gate's configuration: the shipped suites are valid, and mistakes are named clearly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from quality.config import ConfigError, QualityConfig, load_config
from quality.gate import _expectation


def test_every_shipped_expectation_builds_with_its_thresholds() -> None:
    config = load_config()
    assert {"dim_track", "dim_album", "dim_artist", "fct_track_features"} <= set(config.tables)
    built = 0
    for name, suite in [*config.tables.items(), *config.checks.items()]:
        for spec in suite.expectations:
            kwargs = config.resolve(spec.kwargs, name)
            assert not any(isinstance(v, str) and v.startswith("${") for v in kwargs.values())
            _expectation(spec.type, kwargs, name)
            built += 1
    assert built >= 40


def test_thresholds_are_substituted() -> None:
    config = QualityConfig.model_validate(
        {"thresholds": {"floor": 0.7}, "tables": {}, "checks": {}}
    )
    assert config.resolve({"min_value": "${floor}", "column": "x"}, "t") == {
        "min_value": 0.7,
        "column": "x",
    }
    # The built-in `${current_year}` is this year in UTC (either side of a New Year's midnight).
    before = dt.datetime.now(dt.UTC).year
    year = config.resolve({"max_value": "${current_year}"}, "t")["max_value"]
    after = dt.datetime.now(dt.UTC).year
    assert type(year) is int and year in {before, after}


def test_unknown_threshold_is_named() -> None:
    config = QualityConfig.model_validate({"thresholds": {}, "tables": {}})
    with pytest.raises(ConfigError, match=r"`\$\{nope\}` names no threshold; define `nope`"):
        config.resolve({"min_value": "${nope}"}, "dim_track.expect_x")


def test_thresholds_inside_lists_and_mappings_are_substituted_and_named() -> None:
    config = QualityConfig.model_validate({"thresholds": {"max_key": 11}, "tables": {}})
    kwargs = {"column": "key", "value_set": [0, "${max_key}"],
              "nested": {"limits": ["${max_key}", "${current_year}"]}}
    assert config.resolve(kwargs, "t") == {
        "column": "key",
        "value_set": [0, 11],
        "nested": {"limits": [11, dt.datetime.now(dt.UTC).year]},
    }
    # A failure of that expectation names the threshold its limits came from.
    assert config.thresholds_in(kwargs) == {"max_key": 11}


def test_an_unknown_threshold_inside_a_list_is_named() -> None:
    config = QualityConfig.model_validate({"thresholds": {"max_key": 11}, "tables": {}})
    with pytest.raises(ConfigError, match=r"`\$\{max_kee\}` names no threshold; define `max_kee`"):
        config.resolve({"value_set": [0, "${max_kee}"]}, "fct.expect_x")


@pytest.mark.parametrize(("value", "placeholder"), [
    ("${max key}", "${max key}"),  # not a name
    ("up to ${max_key}", "${max_key}"),  # not the whole value
    ("${max_key", "${max_key"),  # not closed
])
def test_a_placeholder_that_would_stay_literal_is_an_error_naming_it(
    value: str, placeholder: str
) -> None:
    config = QualityConfig.model_validate({"thresholds": {"max_key": 11}, "tables": {}})
    with pytest.raises(ConfigError) as raised:
        config.resolve({"value_set": [0, value]}, "fct.expect_x")
    assert str(raised.value).startswith(
        f"fct.expect_x: `{placeholder}` in `{value}` is not replaced: a threshold is the whole"
        " value, `${name}` with a name of letters, digits and _"
    )
    assert "(known: ['current_year', 'max_key'])" in str(raised.value)


def test_when_on_a_table_suite_is_refused_with_the_fix(tmp_path: Path) -> None:
    """Only checks honour `when:`; a table suite always runs, and must not look conditional."""
    path = tmp_path / "expectations.yml"
    path.write_text(
        "tables:\n  dim_track:\n    layer: gold\n    when: api_features_expected\n"
        "    expectations: []\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = " ".join(str(raised.value).split())
    assert "tables.dim_track" in message
    assert "`when:` applies to checks only; a table suite always runs. Remove it, or put the" \
        " expectations that depend on the condition in a check (`checks:`) with that `when:`." \
        in message


@pytest.mark.parametrize(("section", "suite"), [
    ("tables", "    layer: gold\n    descripton: typo\n    expectations: []\n"),
    ("checks", "    sql: SELECT 1 AS x\n    wehn: features_expected\n    expectations: []\n"),
])
def test_an_unknown_key_in_a_suite_is_refused(tmp_path: Path, section: str, suite: str) -> None:
    """A misspelt `when:` would otherwise make a conditional check run always."""
    path = tmp_path / "expectations.yml"
    tables = "" if section == "tables" else "tables: {}\n"
    path.write_text(f"{tables}{section}:\n  s:\n{suite}")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    key = "descripton" if section == "tables" else "wehn"
    assert f"{section}.s.{key}" in str(raised.value)
    assert "Extra inputs are not permitted" in str(raised.value)


def test_unknown_expectation_and_bad_arguments_are_named() -> None:
    with pytest.raises(ConfigError, match="expect_values_to_be_nice` is not a Great Expectations"):
        _expectation("expect_values_to_be_nice", {}, "dim_track")
    with pytest.raises(ConfigError, match="bad arguments for expect_column_values_to_be_between"):
        _expectation("expect_column_values_to_be_between", {"columnn": "x"}, "dim_track")


def test_invalid_file_is_reported_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "expectations.yml"
    bad.write_text("tables:\n  dim_track:\n    expectations: []\n")  # layer missing
    with pytest.raises(ConfigError, match="is invalid") as raised:
        load_config(bad)
    assert str(bad) in str(raised.value)
    assert "layer" in str(raised.value)
