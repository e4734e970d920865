"""LAKE_ROOT = hdfs://...: the same export, import and registration code against a real HDFS."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from pymongo.database import Database
from spotify_docs import BASE_TIME, documents

from ingestion.bronze_export import export_all
from ingestion.bronze_registry import register_bronze_tables
from ingestion.bronze_tables import open_table
from ingestion.features_import import import_features
from lakehouse.lake import delta_tables
from lakehouse.settings import Settings
from spark_thrift.client import query

CSV = Path(__file__).with_name("tracks_dataset_sample.csv")


@pytest.fixture
def hdfs_settings(bronze_settings: Settings, hdfs_url: str, mongo_db: Database) -> Settings:
    return bronze_settings.model_copy(update={"lake_root": f"{hdfs_url}/lake/{mongo_db.name}"})


def test_export_and_import_on_hdfs(hdfs_settings: Settings, mongo_db: Database) -> None:
    assert hdfs_settings.lake_path("bronze", "tracks").startswith("hdfs://127.0.0.1:")
    mongo_db.tracks.insert_many(documents("tracks", 0, 40, BASE_TIME))
    mongo_db.tracks.insert_one({"_id": "no-stamp", "name": "x"})

    first = export_all(hdfs_settings, ["tracks"]).entities[0]
    mongo_db.tracks.insert_many(documents("tracks", 40, 10, BASE_TIME + dt.timedelta(hours=1)))
    second = export_all(hdfs_settings, ["tracks"]).entities[0]
    third = export_all(hdfs_settings, ["tracks"]).entities[0]
    imported = import_features(CSV, hdfs_settings)

    assert (first.exported, first.quarantined) == (40, 1)
    assert (second.exported, third.exported, third.quarantined) == (10, 0, 0)
    ids = Counter(open_table(hdfs_settings, "tracks").to_pyarrow_table()["id"].to_pylist())
    assert len(ids) == 50 and set(ids.values()) == {1}
    assert (imported.imported, imported.quarantined) == (8, 2)
    assert open_table(hdfs_settings, "quarantine").to_pyarrow_table().num_rows == 3
    # Listing the lake's tables (layer counts, the gate's audit tables, the app's freshness)
    # needs no JVM in this process, on HDFS as on a local path.
    assert delta_tables(hdfs_settings, "bronze") == [
        "imported_audio_features", "quarantine", "tracks",
    ]
    assert delta_tables(hdfs_settings, "no_such_layer") == []


@pytest.mark.services
def test_spark_reads_bronze_tables_registered_on_hdfs(
    hdfs_settings: Settings, mongo_db: Database, thrift: Settings
) -> None:
    schema = f"bronze_{mongo_db.name}"
    settings = hdfs_settings.model_copy(
        update={"thrift_port": thrift.thrift_port, "dbt_bronze_schema": schema}
    )
    mongo_db.artists.insert_many(documents("artists", 0, 6, BASE_TIME))
    export_all(settings, ["artists"])

    try:
        register_bronze_tables(settings)

        assert query(f"SELECT count(*) FROM {schema}.artists", settings=settings) == [(6,)]
        location = query(f"DESCRIBE TABLE EXTENDED {schema}.artists", settings=settings)
        (where,) = [row[1] for row in location if row[0] == "Location"]
        assert where.startswith(settings.lake_uri)
    finally:
        query(f"DROP SCHEMA IF EXISTS {schema} CASCADE", settings=settings)
