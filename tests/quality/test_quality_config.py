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
