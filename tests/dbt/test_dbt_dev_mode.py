"""Development-mode data (no popularity, followers, label, audio features; no features tables at
all) still builds; a failing dbt test stops the models that depend on it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dbt_catalogue as cat
import pytest
from dbt_fixtures import build, by_key, described_columns, scoped, table_rows, write_and_register

from lakehouse import dbt_runner
from lakehouse.settings import Settings

pytestmark = pytest.mark.services


def dev_batch() -> cat.BronzeBatch:
    batch = cat.BronzeBatch("dev-1", cat.T0 + timedelta(hours=1))
    t = cat.T0
    batch.add("artists", cat.artist("ar_a", "Alpha", None, None, None), t)
    batch.add("artists", cat.artist("ar_b", "Beta", [], None, None), t)
    batch.add(
        "albums", cat.album("al_1", "One", [("ar_a", "Alpha")], "2020", "year", 2, None, None), t
    )
    batch.add(
        "albums", cat.album("al_2", "Two", [("ar_b", "Beta")], "2021-06", "month", 1, None, None), t
    )
    for track_id, album_id, artists, number in (
        ("t_1", "al_1", [("ar_a", "Alpha"), ("ar_b", "Beta")], 1),
        ("t_2", "al_1", [("ar_a", "Alpha")], 2),
        ("t_3", "al_2", [("ar_b", "Beta")], 1),
    ):
        batch.add(
            "tracks",
            cat.track(
                track_id,
                track_id,
                album_id,
                artists,
                track_number=number,
                duration_ms=1000 * number,
                full=False,
            ),
            t,
        )
    return batch


@pytest.fixture(scope="module")
def dev_settings(thrift: Settings) -> Settings:
    settings = scoped(thrift, "dev")
    write_and_register(settings, dev_batch())
    return settings


def test_development_mode_catalogue_builds_with_nulls(dev_settings: Settings) -> None:
    summary = build(dev_settings)
    assert summary.success, [f"{n.name}: {n.message}" for n in summary.failed_nodes]
    gold = dev_settings.dbt_gold_schema
    rec = by_key(table_rows(dev_settings, gold, "mart_recommender_features"), "track_id")
    assert set(rec) == {"t_1", "t_2", "t_3"}
    for row in rec.values():
        assert row["popularity"] is None
        assert row["features_source"] is None and row["has_audio_features"] is False
        assert row["danceability"] is None
        assert row["genres"] == "[]"
    assert rec["t_1"]["artist_ids"] == '["ar_a", "ar_b"]'
    artists = table_rows(dev_settings, gold, "mart_artist_summary")
    assert {(a["artist_id"], a["popularity_rank"], a["followers"]) for a in artists} == {
        ("ar_a", None, None),
        ("ar_b", None, None),
    }
    # Alpha's payload has no `genres` key (deprecated field): unknown, not "none" like Beta's [].
    dim = by_key(table_rows(dev_settings, gold, "dim_artist"), "artist_id")
    assert (dim["ar_a"]["genres"], dim["ar_a"]["genre_count"]) == (None, None)
    assert (dim["ar_b"]["genres"], dim["ar_b"]["genre_count"]) == ("[]", 0)
    counts = {r["entity"]: r["row_count"] for r in table_rows(dev_settings, gold,
                                                              "mart_entity_counts")}
    assert counts["artists_without_genres"] == 1
    assert table_rows(dev_settings, gold, "fct_track_features") == []
    assert table_rows(dev_settings, gold, "mart_label_summary") == []


def test_a_type_drift_in_gold_fails_the_contract_and_keeps_the_table(
    dev_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of the project whose mart computes explicit_share as a decimal (the bug the contract
    # now guards against): dbt must refuse to write it, and gold keeps the last good table.
    gold = dev_settings.dbt_gold_schema
    before = table_rows(dev_settings, gold, "mart_release_year_trends")
    assert before, "the development-mode build above wrote the mart"
    project = tmp_path / "dbt_spotify"
    shutil.copytree(dbt_runner.DBT_PROJECT_DIR, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    model = project / "models" / "marts" / "analytics" / "mart_release_year_trends.sql"
    good = "avg(cast(tracks.explicit as double)) as explicit_share"
    assert good in model.read_text()
    model.write_text(model.read_text().replace(
        good, "avg(case when tracks.explicit then 1.0 else 0.0 end) as explicit_share"))
    monkeypatch.setattr(dbt_runner, "DBT_PROJECT_DIR", project)

    summary = build(dev_settings, select=["mart_release_year_trends"], unit_tests=False)

    assert not summary.success
    assert summary.status_of("mart_release_year_trends") == "error"
    message = next(n.message for n in summary.failed_nodes if n.name == "mart_release_year_trends")
    assert "contract" in message.lower() and "explicit_share" in message, message
    assert ("explicit_share", "double") in described_columns(dev_settings, gold,
                                                             "mart_release_year_trends")
    assert table_rows(dev_settings, gold, "mart_release_year_trends") == before


def test_failing_test_stops_dependent_models(dev_settings: Settings) -> None:
    bad = cat.BronzeBatch("dev-2", cat.T0 + timedelta(days=1))
    bad.add(
        "albums",
        cat.album("al_2", "Two", [("ar_b", "Beta")], "2021-06", "month", -3, None, None),
        cat.T0 + timedelta(days=1),
    )
    write_and_register(dev_settings, bad)
    summary = build(dev_settings, select=["stg_spotify__albums+"])
    assert not summary.success
    failed = [n.name for n in summary.nodes if n.status == "fail"]
    prefix = "value_in_range_stg_spotify__albums_total_tracks"
    assert any(name.startswith(prefix) for name in failed), failed
    assert summary.status_of("stg_spotify__albums") == "success"
    assert summary.status_of("dim_album") == "skipped"
    assert summary.status_of("mart_track_search") == "skipped"
    # Gold still holds the last good album, not the bad version.
    albums = by_key(table_rows(dev_settings, dev_settings.dbt_gold_schema, "dim_album"), "album_id")
    assert albums["al_2"]["total_tracks"] == 1
