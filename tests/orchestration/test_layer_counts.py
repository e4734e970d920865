"""The run log's row counts come from where each layer is written: MongoDB's collections (the
real local FerretDB), silver from DBT_SILVER_SCHEMA (where dbt writes it), gold from GOLD_SCHEMA
(where publish writes it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake
from pymongo.database import Database

from lakehouse.settings import Settings
from orchestration import layer_counts as counts


def test_layers_are_counted_in_the_folders_their_schemas_name(
    tmp_path: Path, ferretdb: Settings, mongo_db: Database
) -> None:
    settings = ferretdb.model_copy(update={
        "data_dir": tmp_path, "lake_root": str(tmp_path / "lake"),
        "mongodb_database": mongo_db.name,
        "dbt_silver_schema": "silver_prod", "gold_schema": "gold_marts",
    })
    rows = {("bronze", "tracks"): 1, ("silver_prod", "stg_spotify__tracks"): 2,
            ("gold_marts", "dim_track"): 3,
            # Left from before the schemas were renamed: no longer what the pipeline writes.
            ("silver", "stg_spotify__tracks"): 7, ("gold", "dim_track"): 8}
    for (folder, table), count in rows.items():
        write_deltalake(settings.lake_path(folder, table), pa.table({"id": list(range(count))}))
    # The crawler's collections, one count each; a bookkeeping collection is not counted.
    stored = {"artists": 2, "albums": 3, "tracks": 5, "audio_features": 4}
    for collection, count in stored.items():
        mongo_db[collection].insert_many([{"_id": f"{collection}-{i}"} for i in range(count)])
    mongo_db["crawl_runs"].insert_one({"_id": "run-1"})

    assert counts.layer_counts(settings) == {
        "mongodb": stored,
        "bronze": {"tracks": 1},
        "silver": {"stg_spotify__tracks": 2},
        "gold": {"dim_track": 3},
    }
