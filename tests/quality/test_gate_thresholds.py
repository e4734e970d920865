"""A threshold failure names its threshold and fix; QUALITY_THRESHOLDS overrides one per
environment; `when:` conditions, on the real gate (local Spark + Great Expectations)."""

from __future__ import annotations

import re

import pytest

from quality.config import ConfigError, QualityConfig, load_config
from quality.gate import run_gate, when_flags
from quality.publish import AUDIT_SCHEMA


def test_a_failed_threshold_is_named_with_its_fix_and_can_be_overridden(
    built_lakehouse, capfd: pytest.CaptureFixture[str]
) -> None:
    settings, _ = built_lakehouse
    # The emulator has tracks without audio features: coverage is below 1, above the default.
    strict = settings.model_copy(update={"quality_thresholds": {"min_feature_coverage": 0.999}})
    result = run_gate(strict, gold_schema=AUDIT_SCHEMA)
    assert not result.passed
    [failure] = result.failures
    assert (failure.suite, failure.kwargs["min_value"]) == ("feature_coverage", 0.999)
    assert failure.thresholds == {"min_feature_coverage": 0.999}
    assert str(failure).endswith(
        "[threshold min_feature_coverage = 0.999: `thresholds` in quality/expectations.yml, or"
        """ for this environment QUALITY_THRESHOLDS='{"min_feature_coverage": ...}']"""
    )
    coverage = float(re.search(r"'coverage': (?:Decimal\(')?([0-9.]+)", failure.detail)[1])
    assert 0.5 < coverage < 0.999
    # No tqdm bar per expectation in the pipeline's log (quality/gx/great_expectations.yml).
    assert "Calculating Metrics" not in capfd.readouterr().err


def test_an_override_of_a_threshold_the_file_lacks_stops_the_gate(built_lakehouse) -> None:
    settings, _ = built_lakehouse
    typo = settings.model_copy(update={"quality_thresholds": {"min_feature_covrage": 0.2}})
    with pytest.raises(ConfigError) as stopped:
        run_gate(typo, gold_schema=AUDIT_SCHEMA)
    message = str(stopped.value)
    assert "QUALITY_THRESHOLDS sets ['min_feature_covrage']" in message
    assert "'min_feature_coverage'" in message  # the names it could have meant


def test_overrides_replace_only_the_named_thresholds() -> None:
    config = load_config()
    overridden = config.with_overrides({"min_feature_coverage": 0.2})
    assert overridden.thresholds["min_feature_coverage"] == 0.2
    assert {k: v for k, v in overridden.thresholds.items() if k != "min_feature_coverage"} == {
        k: v for k, v in config.thresholds.items() if k != "min_feature_coverage"
    }
    assert config.thresholds["min_feature_coverage"] == 0.5  # the file's value is untouched


def test_a_check_with_an_unknown_condition_stops_the_gate(built_lakehouse) -> None:
    settings, _ = built_lakehouse
    config = QualityConfig.model_validate({
        "tables": {},
        "checks": {"coverage": {"sql": "SELECT 1 AS x", "when": "features_expectd",
                                "expectations": []}},
    })
    with pytest.raises(ConfigError, match=r"checks.coverage: `when: features_expectd` names no"
                                          r" condition; use one of \['api_features_expected',"
                                          r" 'features_expected'\]"):
        run_gate(settings, gold_schema=AUDIT_SCHEMA, config=config)


def test_imported_features_alone_do_not_make_the_api_coverage_check_apply(
    built_lakehouse,
) -> None:
    from quality.spark_session import get_spark

    settings, _ = built_lakehouse
    spark = get_spark(settings)
    imported = spark.createDataFrame([("t1", 0.5)], "track_id string, danceability double")
    saved = {v: spark.table(v) for v in ("bronze_audio_features", "bronze_imported_audio_features")
             if spark.catalog.tableExists(v)}
    try:
        spark.catalog.dropTempView("bronze_audio_features")
        imported.createOrReplaceTempView("bronze_imported_audio_features")
        assert when_flags(spark) == {"api_features_expected": False, "features_expected": True}
        imported.limit(0).createOrReplaceTempView("bronze_imported_audio_features")
        assert when_flags(spark) == {"api_features_expected": False, "features_expected": False}
        imported.createOrReplaceTempView("bronze_audio_features")
        assert when_flags(spark) == {"api_features_expected": True, "features_expected": True}
    finally:
        for view in ("bronze_audio_features", "bronze_imported_audio_features"):
            spark.catalog.dropTempView(view)
        for view, frame in saved.items():  # as the last gate left them
            frame.createOrReplaceTempView(view)
    shipped = load_config().checks["feature_coverage"]
    assert shipped.when == "api_features_expected"
