"""The gate reads each configured table where its writer puts it: silver where dbt writes it
(DBT_SILVER_SCHEMA), gold in the schema being validated, bronze in the export's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.settings import Settings
from quality.gate import table_location


def lake_settings(tmp_path: Path, **overrides: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake"),
                    **overrides)


@pytest.mark.parametrize(("layer", "folder"), [
    ("bronze", "bronze"),
    ("silver", "silver_prod"),  # not the literal `silver`: a stale folder, or none
    ("gold", "gold_audit"),
])
def test_a_table_is_read_from_the_folder_its_layer_is_written_to(
    tmp_path: Path, layer: str, folder: str
) -> None:
    settings = lake_settings(tmp_path, dbt_silver_schema="silver_prod", gold_schema="gold_marts")
    assert table_location(settings, layer, "t", "gold_audit") == str(
        tmp_path / "lake" / folder / "t")


def test_silver_defaults_to_the_silver_folder(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    assert table_location(settings, "silver", "stg_spotify__tracks", "gold") == str(
        tmp_path / "lake" / "silver" / "stg_spotify__tracks")
