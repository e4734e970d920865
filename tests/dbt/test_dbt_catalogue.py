"""dbt build over a hand-made bronze catalogue: exact values in gold, incremental == full refresh,
Delta protocol of gold tables, persisted docs. (Fixture `catalogue_runs` in conftest.py.)"""

from __future__ import annotations

import json

import pytest
from dbt_fixtures import (
    GOLD_TABLES,
    CatalogueRuns,
    by_key,
    declared_gold_columns,
    described_columns,
    sql,
)

from lakehouse.dbt_runner import target_dir

pytestmark = pytest.mark.services


def arr(*values: str) -> str:
    return json.dumps(list(values), sort_keys=True)


def test_first_build_passes_models_tests_and_unit_tests(catalogue_runs: CatalogueRuns) -> None:
    first = catalogue_runs.first
    assert first.success, [f"{n.name}: {n.message}" for n in first.failed_nodes]
    assert first.models_failed == 0 and first.tests_failed == 0
    assert first.models_passed == 23
    unit_tests = {n.name: n.status for n in first.nodes if n.resource_type == "unit_test"}
    assert unit_tests == {
        "release_date_follows_its_precision": "pass",
        "latest_version_wins": "pass",
        "multi_artist_track_keeps_credit_order": "pass",
        "audio_features_provenance": "pass",
        "album_release_date_precision_is_the_dates": "pass",
        "label_summary_counts_each_album_once": "pass",
    }
    # Every data test the project declares ran and passed: none deselected or skipped.
    manifest = json.loads((target_dir(catalogue_runs.settings) / "manifest.json").read_text())
    data_tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(data_tests) >= 90 and len(manifest["unit_tests"]) == len(unit_tests)
    assert first.tests_passed == len(data_tests) + len(unit_tests) and first.skipped == 0


def test_entity_counts(catalogue_runs: CatalogueRuns) -> None:
    rows = catalogue_runs.first_tables["mart_entity_counts"]
    counts = {r["entity"]: r["row_count"] for r in rows}
    assert counts == {
        "artists": 5,
        "credited_artists_not_crawled": 1,
        # Nils (genres only blanks -> []); the dev-mode artist's payload has no genres key, so
        # its genres are unknown (null), not "none".
        "artists_without_genres": 1,
        "albums": 4,
        "tracks": 6,
        "tracks_with_audio_features": 4,
        "tracks_with_api_features": 3,
        "tracks_with_imported_features": 1,
        "genres": 6,
        "labels": 3,
    }


def test_multi_artist_track_in_credit_order(catalogue_runs: CatalogueRuns) -> None:
    tables = catalogue_runs.first_tables
    lucky = by_key(tables["mart_recommender_features"], "track_id")["tr_lucky"]
    assert lucky["artist_ids"] == arr("ar_daft", "ar_pharrell")
    assert json.loads(lucky["artist_names"]) == ["Daft Punk", "Pharrell Williams"]
    assert lucky["primary_artist_id"] == "ar_daft"
    assert json.loads(lucky["genres"]) == ["electro", "french house", "hip hop", "pop"]
    assert (lucky["album_name"], lucky["release_year"], lucky["popularity"]) == (
        "Random Access Memories",
        2013,
        85,
    )
    # API features win over the imported row for the same track.
    assert (lucky["features_source"], lucky["danceability"], lucky["key"]) == ("api", 0.6, 6)
    credits = sorted(
        (r["artist_position"], r["artist_id"], r["is_primary"])
        for r in tables["bridge_track_artist"]
        if r["track_id"] == "tr_lucky"
    )
    assert credits == [(1, "ar_daft", True), (2, "ar_pharrell", False)]
    assert len(tables["bridge_track_artist"]) == 8


def test_release_dates_follow_their_precision(catalogue_runs: CatalogueRuns) -> None:
    albums = by_key(catalogue_runs.first_tables["dim_album"], "album_id")
    got = {
        k: (str(a["release_date"]), a["release_date_precision"], a["release_year"])
        for k, a in albums.items()
    }
    assert got == {
        "al_debut": ("1993-01-01", "year", 1993),
        "al_felt": ("2011-10-01", "month", 2011),
        "al_ram": ("2013-05-17", "day", 2013),
        "al_dev": ("2024-02-29", "day", 2024),
    }
    search = by_key(catalogue_runs.first_tables["mart_track_search"], "track_id")["tr_human"]
    assert str(search["release_date"]) == "1993-01-01"
    assert search["release_date_precision"] == "year"


def test_artists_without_genres_and_uncrawled_guests_are_kept(
    catalogue_runs: CatalogueRuns,
) -> None:
    artists = by_key(catalogue_runs.first_tables["dim_artist"], "artist_id")
    assert len(artists) == 6
    nils = artists["ar_nils"]
    assert (nils["genres"], nils["genre_count"], nils["is_crawled"]) == ("[]", 0, True)
    guest = artists["ar_guest"]
    assert (guest["artist_name"], guest["is_crawled"], guest["genres"]) == (
        "Guest Singer",
        False,
        None,
    )
    says = by_key(catalogue_runs.first_tables["mart_recommender_features"], "track_id")["tr_says"]
    assert says["genres"] == "[]"
    genre_artists = {r["artist_id"] for r in catalogue_runs.first_tables["bridge_artist_genre"]}
    assert "ar_nils" not in genre_artists


def test_latest_version_wins(catalogue_runs: CatalogueRuns) -> None:
    bjork = by_key(catalogue_runs.first_tables["dim_artist"], "artist_id")["ar_bjork"]
    assert (bjork["artist_name"], bjork["popularity"]) == ("Björk", 70)
    human = by_key(catalogue_runs.first_tables["dim_track"], "track_id")["tr_human"]
    assert (human["track_name"], human["popularity"]) == ("Human Behaviour", 62)


def test_features_provenance_and_development_mode_nulls(catalogue_runs: CatalogueRuns) -> None:
    rec = by_key(catalogue_runs.first_tables["mart_recommender_features"], "track_id")
    giorgio = rec["tr_giorgio"]
    assert (giorgio["features_source"], giorgio["has_audio_features"], giorgio["key"]) == (
        "imported",
        True,
        -1,
    )
    assert giorgio["danceability"] == 0.3
    assert giorgio["popularity"] is None  # a simplified track has no popularity
    venus = rec["tr_venus"]
    assert (venus["features_source"], venus["has_audio_features"], venus["danceability"]) == (
        None,
        False,
        None,
    )
    dev = rec["tr_dev"]
    assert (dev["popularity"], dev["features_source"], dev["genres"]) == (None, None, "[]")
    dev_artist = by_key(catalogue_runs.first_tables["dim_artist"], "artist_id")["ar_dev"]
    assert (dev_artist["popularity"], dev_artist["followers"]) == (None, None)
    dev_album = by_key(catalogue_runs.first_tables["dim_album"], "album_id")["al_dev"]
    assert (dev_album["label"], dev_album["popularity"]) == (None, None)
    labels = {r["label"] for r in catalogue_runs.first_tables["mart_label_summary"]}
    assert labels == {"Columbia", "Erased Tapes", "One Little Indian"}


def test_search_text_is_lower_case_without_accents(catalogue_runs: CatalogueRuns) -> None:
    search = by_key(catalogue_runs.first_tables["mart_track_search"], "track_id")
    assert search["tr_human"]["search_text"] == "human behaviour — bjork — debut"
    assert search["tr_lucky"]["artist_names_joined"] == "Daft Punk, Pharrell Williams"
    assert len(search) == 6


def test_incremental_run_picks_up_the_second_crawl(catalogue_runs: CatalogueRuns) -> None:
    assert catalogue_runs.incremental.success
    tables = catalogue_runs.incremental_tables
    tracks = by_key(tables["dim_track"], "track_id")
    assert len(tracks) == 7 and tracks["tr_less"]["album_id"] == "al_felt"
    # The late replay of an old version does not replace the newer one.
    assert tracks["tr_human"]["track_name"] == "Human Behaviour"
    felt = by_key(tables["dim_album"], "album_id")["al_felt"]
    assert (felt["total_tracks"], felt["tracks_in_catalogue"], felt["popularity"]) == (2, 2, 57)
    pharrell = by_key(tables["dim_artist"], "artist_id")["ar_pharrell"]
    assert pharrell["popularity"] == 88
    # Artists untouched by the second crawl keep the first batch's row.
    daft = by_key(tables["stg_spotify__artists"], "artist_id")["ar_daft"]
    assert daft["_batch_id"] == "batch-1"


def test_csv_genres_come_from_the_latest_import(catalogue_runs: CatalogueRuns) -> None:
    def giorgio(tables: dict) -> dict:
        return by_key(tables["stg_spotify__imported_audio_features"], "track_id")["tr_giorgio"]

    assert json.loads(giorgio(catalogue_runs.first_tables)["csv_genres"]) == ["electro", "house"]
    latest = giorgio(catalogue_runs.incremental_tables)
    assert json.loads(latest["csv_genres"]) == ["electro"]
    assert latest["_batch_id"] == "batch-2"


def test_incremental_equals_full_refresh(catalogue_runs: CatalogueRuns) -> None:
    assert catalogue_runs.full_refresh.success
    for table, rows in catalogue_runs.full_refresh_tables.items():
        assert catalogue_runs.incremental_tables[table] == rows, table


def test_gold_tables_stay_delta_reader_v1_v2(catalogue_runs: CatalogueRuns) -> None:
    settings = catalogue_runs.settings
    from spark_thrift.client import connect

    with connect(settings) as conn:
        cursor = conn.cursor()
        for table in GOLD_TABLES:
            cursor.execute(f"DESCRIBE DETAIL {settings.dbt_gold_schema}.{table}")
            names = [d[0] for d in cursor.description]
            detail = dict(zip(names, cursor.fetchone(), strict=True))
            assert detail["format"] == "delta"
            assert detail["minReaderVersion"] <= 2, table
            features = json.loads(detail["tableFeatures"] or "[]")
            assert "deletionVectors" not in features and "columnMapping" not in features
            assert detail["location"].endswith(f"/{settings.dbt_gold_schema}/{table}")
        cursor.close()


def test_column_docs_are_persisted(catalogue_runs: CatalogueRuns) -> None:
    settings = catalogue_runs.settings
    rows = sql(settings, f"DESCRIBE {settings.dbt_gold_schema}.mart_recommender_features")
    comments = {name: comment for name, _type, comment in rows if name and not name.startswith("#")}
    assert comments["track_id"] == "Spotify track id."
    assert comments["features_source"].startswith("Where the track's audio features come from")


def test_gold_columns_have_the_declared_types(catalogue_runs: CatalogueRuns) -> None:
    # The contract consumers rely on (docs/contracts.md): every gold table has exactly the columns
    # and types its YAML declares, in that order (e.g. explicit_share a double, not a decimal).
    settings = catalogue_runs.settings
    declared = declared_gold_columns()
    assert set(declared) == set(GOLD_TABLES)
    for table in GOLD_TABLES:
        described = described_columns(settings, settings.dbt_gold_schema, table)
        assert described == declared[table], table
