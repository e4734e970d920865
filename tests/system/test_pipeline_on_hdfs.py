"""The main job on a lake in HDFS, with MongoDB reached by MONGODB_URI: the compose and cluster
runtimes' storage, through the same code as the local default (docs/compose.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from deltalake import DeltaTable
from lake_support import environment

from ingestion.mongodb import database
from lakehouse.lake import delta_tables
from lakehouse.settings import Settings
from spark_thrift.client import query

GOLD = {
    "bridge_album_artist", "bridge_artist_genre", "bridge_track_artist", "dim_album",
    "dim_artist", "dim_track", "fct_track_features", "mart_artist_summary", "mart_entity_counts",
    "mart_genre_summary", "mart_label_summary", "mart_recommender_features",
    "mart_release_year_trends", "mart_track_search",
}  # fmt: skip


@pytest.fixture(scope="module")
def hdfs_lakehouse(
    thrift: Settings, ferretdb: Settings, hdfs_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict]]:
    from orchestration.flows import pipeline_flow

    name = f"hdfs_{uuid.uuid4().hex[:8]}"
    with environment(
        # Its own runtime state: the recommender it trains must not become the session's latest.
        DATA_DIR=str(tmp_path_factory.mktemp("hdfs_lakehouse") / "data"),
        LAKE_ROOT=f"{hdfs_url}/{name}",
        MONGODB_URI=ferretdb.mongodb_url,  # an external server: checked, not started
        MONGODB_DATABASE=name,
        EMULATOR_ARTISTS="8",
        EMULATOR_MODE="extended",
    ) as settings:
        try:
            yield settings, pipeline_flow(crawl=True, artists_per_run=4)
        finally:
            database(settings).client.drop_database(name)


def test_every_stage_runs_and_gold_is_published_in_hdfs(hdfs_lakehouse) -> None:
    settings, report = hdfs_lakehouse
    assert settings.lake_uri.startswith("hdfs://127.0.0.1:")
    assert not settings.mongodb_is_local
    assert report["status"] == "completed"
    assert {name: stage["status"] for name, stage in report["stages"].items()} == {
        name: "ok"
        for name in ("services", "crawl", "export", "dbt", "quality", "publish", "vacuum", "train")
    }
    tracks = database(settings)["tracks"].count_documents({})
    assert tracks > 0
    assert set(delta_tables(settings, "gold")) == GOLD
    assert set(delta_tables(settings, "gold_audit")) == GOLD
    dim_track = DeltaTable(settings.lake_path("gold", "dim_track"))
    assert dim_track.to_pyarrow_dataset().count_rows() == tracks
    assert report["layer_counts"]["gold"]["mart_track_search"] == tracks


def test_the_metastore_points_at_the_hdfs_tables(hdfs_lakehouse) -> None:
    settings, _ = hdfs_lakehouse
    detail = query("DESCRIBE DETAIL gold.mart_track_search", settings=settings)[0]
    assert detail[4] == settings.lake_path("gold", "mart_track_search")
    tracks = database(settings)["tracks"].count_documents({})
    assert query("SELECT count(*) FROM gold.mart_track_search", settings=settings) == [(tracks,)]


def test_the_recommender_and_the_app_read_gold_from_hdfs(hdfs_lakehouse) -> None:
    from app import cached_data
    from ml.artifact import load_recommender, read_manifest

    settings, report = hdfs_lakehouse
    assert read_manifest(settings).version == report["model_version"]
    catalogue = cached_data.catalogue(settings)
    assert catalogue is not None
    tracks = database(settings)["tracks"].count_documents({})
    assert catalogue.tracks.num_rows == tracks
    track_id = catalogue.tracks.column("track_id")[0].as_py()
    answers = load_recommender(settings).recommend(track_id, k=3)
    answered = {a.track_id for a in answers}
    assert len(answered) == 3 and track_id not in answered  # the catalogue has far more
    assert answered <= set(catalogue.tracks.column("track_id").to_pylist())
