"""Emulator -> crawl -> MongoDB -> bronze export -> dbt build: gold holds the crawled catalogue,
every multi-artist track keeps its credit order, release dates follow their precision."""

from __future__ import annotations

import json
from datetime import date

import pytest
from dbt_fixtures import build, by_key, scoped, table_rows
from pymongo.database import Database

from lakehouse.settings import Settings

pytestmark = pytest.mark.services


def expected_release_date(raw: str, precision: str) -> str:
    parts = [int(p) for p in raw.split("-")]
    if precision == "year":
        return date(parts[0], 1, 1).isoformat()
    if precision == "month":
        return date(parts[0], parts[1], 1).isoformat()
    return date(*parts).isoformat()


def test_crawled_catalogue_lands_in_gold(thrift: Settings, mongo_db: Database, tmp_path) -> None:
    from ingestion.bronze_export import export_all
    from ingestion.bronze_registry import register_bronze_tables
    from ingestion.crawl import emulator_endpoint, run_crawl
    from ingestion.emulator import EmulatorConfig, FaultConfig, generate_catalogue, running_emulator

    settings = scoped(thrift, "crawl").model_copy(
        update={
            "mongodb_database": mongo_db.name,
            "lake_root": str(tmp_path / "lake"),
            "crawl_backoff_base_s": 0.001,
            "crawl_backoff_max_s": 0.01,
        }
    )
    catalogue = generate_catalogue(3, seed=11)
    seeds = [artist.name for artist in catalogue.artists.values()]
    with running_emulator(catalogue, EmulatorConfig(faults=FaultConfig(retry_after_s=0))) as emu:
        run_crawl(settings, endpoint=emulator_endpoint(emu), db=mongo_db, seeds=seeds)
    assert export_all(settings).rejected == 0
    register_bronze_tables(settings)

    summary = build(settings)
    assert summary.success, [f"{n.name}: {n.message}" for n in summary.failed_nodes]

    gold = settings.dbt_gold_schema
    tracks = by_key(table_rows(settings, gold, "mart_recommender_features"), "track_id")
    albums = by_key(table_rows(settings, gold, "dim_album"), "album_id")
    assert len(tracks) == mongo_db["tracks"].count_documents({})
    assert len(albums) == mongo_db["albums"].count_documents({})
    crawled_artists = [a for a in table_rows(settings, gold, "dim_artist") if a["is_crawled"]]
    assert len(crawled_artists) == mongo_db["artists"].count_documents({})

    multi = [t for t in catalogue.tracks.values() if t.id in tracks and len(t.artist_ids) > 1]
    assert multi, "the emulator catalogue should contain multi-artist tracks"
    for track in multi:
        assert json.loads(tracks[track.id]["artist_ids"]) == track.artist_ids
    for album_id, row in albums.items():
        source = catalogue.albums[album_id]
        assert row["release_date_precision"] == source.release_date_precision
        assert str(row["release_date"]) == expected_release_date(
            source.release_date, source.release_date_precision
        )
