"""Fixtures of the recommender tests: a private lake per test and a Delta gold writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ml_catalogues import mart

from lakehouse.settings import Settings


@pytest.fixture
def lake_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a private lake and data folder for one test."""
    return settings.model_copy(
        update={"data_dir": tmp_path / "data", "lake_root": str(tmp_path / "lake")}
    )


@pytest.fixture
def write_gold(lake_settings: Settings) -> Callable[[list[dict]], int]:
    """Write (overwrite) gold.mart_recommender_features as Delta; returns the table version."""
    from deltalake import DeltaTable, write_deltalake

    location = lake_settings.lake_path(lake_settings.gold_schema, "mart_recommender_features")

    def write(rows: list[dict]) -> int:
        write_deltalake(location, mart(rows), mode="overwrite")
        return DeltaTable(location).version()

    return write
