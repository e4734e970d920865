"""Bronze tables registered in the Spark metastore: Spark reads what delta-rs wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo.database import Database
from spotify_docs import BASE_TIME, documents

from ingestion.bronze_export import export_all
from ingestion.bronze_registry import register_bronze_tables
from ingestion.bronze_tables import all_tables, open_table
from ingestion.features_import import import_features
from lakehouse.settings import Settings
from spark_thrift.client import query

pytestmark = pytest.mark.services

CSV = Path(__file__).with_name("tracks_dataset_sample.csv")


def spark_count(settings: Settings, table: str) -> int:
    # `table` comes from the fixed list of bronze tables, the schema from the fixture.
    schema = settings.dbt_bronze_schema
    ((count,),) = query(f"SELECT count(*) FROM {schema}.{table}", settings=settings)
    return count


def delta_count(settings: Settings, table: str) -> int:
    return open_table(settings, table).to_pyarrow_table().num_rows


@pytest.fixture
def registry_settings(thrift: Settings, bronze_settings: Settings) -> Iterator[Settings]:
    """The test's private MongoDB database, lake and metastore schema (dropped afterwards)."""
    settings = bronze_settings.model_copy(
        update={
            "thrift_port": thrift.thrift_port,
            "dbt_bronze_schema": f"bronze_{bronze_settings.mongodb_database}",
        }
    )
    yield settings
    # External tables: dropping the schema forgets them, the Delta files stay.
    query(f"DROP SCHEMA IF EXISTS {settings.dbt_bronze_schema} CASCADE", settings=settings)


def test_registered_tables_show_spark_the_rows_delta_rs_wrote(
    registry_settings: Settings, mongo_db: Database
) -> None:
    settings = registry_settings
    for entity in ("artists", "albums", "tracks"):
        mongo_db[entity].insert_many(documents(entity, 0, 25, BASE_TIME))
    mongo_db.tracks.insert_one({"_id": "broken-id-with space", "_ingested_at": BASE_TIME})
    export_all(settings)
    import_features(CSV, settings)

    done = register_bronze_tables(settings)

    schema = settings.dbt_bronze_schema
    assert {r.table for r in done} == {f"{schema}.{t.name}" for t in all_tables()}
    counts = {t.name: spark_count(settings, t.name) for t in all_tables()}
    assert counts == {t.name: delta_count(settings, t.name) for t in all_tables()}
    assert counts["tracks"] == 25 and counts["audio_features"] == 0  # empty but registered
    assert counts["quarantine"] == 1 + 2  # the broken document + 2 bad CSV rows
    assert counts["imported_audio_features"] == 8
    # The payload is JSON Spark can parse (what dbt's silver models do).
    names = query(
        "SELECT count(DISTINCT get_json_object(payload, '$.name')),"
        " max(size(from_json(get_json_object(payload, '$.artists'), 'array<string>')))"
        f" FROM {schema}.tracks",
        settings=settings,
    )
    assert names == [(25, 2)]
    location = query(f"DESCRIBE TABLE EXTENDED {schema}.tracks", settings=settings)
    (where,) = [row[1] for row in location if row[0] == "Location"]
    assert where.rstrip("/").endswith(settings.lake_path("bronze", "tracks"))

    # Idempotent, and later exports are visible without registering again.
    assert {r.action for r in register_bronze_tables(settings)} == {"unchanged"}
    later = BASE_TIME + dt.timedelta(hours=1)
    mongo_db.tracks.insert_many(documents("tracks", 100, 5, later))
    export_all(settings, ["tracks"])
    assert spark_count(settings, "tracks") == delta_count(settings, "tracks") == 30


def test_registration_follows_a_moved_lake(
    registry_settings: Settings, mongo_db: Database, tmp_path: Path
) -> None:
    mongo_db.artists.insert_many(documents("artists", 0, 4, BASE_TIME))
    export_all(registry_settings, ["artists"])
    register_bronze_tables(registry_settings)

    moved = registry_settings.model_copy(update={"lake_root": str(tmp_path / "other_lake")})
    mongo_db.artists.insert_many(documents("artists", 10, 3, BASE_TIME))
    export_all(moved, ["artists"])
    done = {r.table: r.action for r in register_bronze_tables(moved)}

    assert set(done.values()) == {"relocated"}
    assert spark_count(moved, "artists") == 7
    # The old lake's files are untouched by the re-registration (external tables).
    assert delta_count(registry_settings, "artists") == 4


def test_schema_name_must_be_a_plain_identifier(settings: Settings) -> None:
    from ingestion.bronze_registry import bronze_schema

    bad = settings.model_copy(update={"dbt_bronze_schema": "bronze; DROP TABLE x"})
    with pytest.raises(ValueError, match="is not a valid schema name"):
        register_bronze_tables(bad)
    assert bronze_schema(settings) == "bronze"
