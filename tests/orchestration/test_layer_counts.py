"""The run log's row counts come from the folders the layers are written to: silver from
DBT_SILVER_SCHEMA (where dbt writes it), gold from GOLD_SCHEMA (where publish writes it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.settings import Settings
from orchestration import layer_counts as counts


def test_layers_are_counted_in_the_folders_their_schemas_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake"),
                        dbt_silver_schema="silver_prod", gold_schema="gold_marts")
    rows = {("bronze", "tracks"): 1, ("silver_prod", "stg_spotify__tracks"): 2,
            ("gold_marts", "dim_track"): 3,
            # Left from before the schemas were renamed: no longer what the pipeline writes.
            ("silver", "stg_spotify__tracks"): 7, ("gold", "dim_track"): 8}
    for (folder, table), count in rows.items():
        write_deltalake(settings.lake_path(folder, table), pa.table({"id": list(range(count))}))
    monkeypatch.setattr(counts, "mongo_counts", lambda settings: {"tracks": 1})

    assert counts.layer_counts(settings) == {
        "mongodb": {"tracks": 1},
        "bronze": {"tracks": 1},
        "silver": {"stg_spotify__tracks": 2},
        "gold": {"dim_track": 3},
    }
