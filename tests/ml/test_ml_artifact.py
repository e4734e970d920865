"""Train from a real Delta gold table, save, load, same answers; versions and provenance."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from ml_catalogues import track

from ml.artifact import ArtifactError, load_recommender, models_dir, read_manifest, versions
from ml.gold_reader import GoldReadError
from ml.index import IVFIndex
from ml.synthetic_catalogue import synthetic_catalogue
from ml.training import build_recommender, train


def rows() -> list[dict]:
    return [
        track("r1", "rock", artist="rock-a"),
        track("r2", "rock", artist="rock-b", offset=0.02),
        track("r3", "rock", artist="rock-c", offset=0.04),
        track("p1", "pop", artist="pop-a"),
        track("p2", "pop", artist="pop-b", offset=0.02),
        track("j1", "jazz", artist="jazz-a"),
        track("j2", "jazz", artist="jazz-b", offset=0.02),
    ]


def answers(recommender, track_ids, k=3):
    return {
        t: [(r.track_id, r.score, r.reason) for r in recommender.recommend(t, k=k)]
        for t in track_ids
    }


def test_round_trip_gives_the_same_answers_and_records_the_gold_version(
    lake_settings, write_gold
):
    write_gold(rows()[:3])
    version = write_gold(rows())  # second commit: the artifact must record version 1
    assert version == 1
    info = train(lake_settings)
    assert info.path == models_dir(lake_settings) / info.version
    gold = info.manifest["gold_tables"]["gold.mart_recommender_features"]
    assert gold["delta_version"] == 1
    assert info.gold_versions == {"gold.mart_recommender_features": 1}
    assert read_manifest(lake_settings).gold_versions == info.gold_versions
    assert gold["backend"] == "delta"
    assert gold["rows"] == 7
    assert gold["location"].endswith("/gold/mart_recommender_features")
    assert (models_dir(lake_settings) / "latest").read_text().strip() == info.version
    on_disk = json.loads((info.path / "manifest.json").read_text())
    assert on_disk["features"]["feature_set"] == "audio+metadata"
    assert on_disk["index"]["kind"] == "exact"

    loaded = load_recommender(lake_settings)
    in_memory = build_recommender(_read(lake_settings))[0]
    ids = ["r1", "p1", "j2"]
    assert answers(loaded, ids) == answers(in_memory, ids)
    assert [r.track_id for r in loaded.recommend("r1", k=2)] == ["r2", "r3"]


def test_retraining_adds_a_version_and_moves_latest(lake_settings, write_gold):
    write_gold(rows())
    first = train(lake_settings)
    write_gold([*rows(), track("j3", "jazz", artist="jazz-c", offset=0.01)])
    second = train(lake_settings)
    assert versions(lake_settings) == sorted([first.version, second.version])
    assert read_manifest(lake_settings).version == second.version
    assert second.manifest["gold_tables"]["gold.mart_recommender_features"]["delta_version"] == 1
    # The old version stays loadable and answers from its own catalogue.
    assert "j3" not in load_recommender(lake_settings, first.version)
    assert load_recommender(lake_settings).recommend("j1", k=1)[0].track_id == "j3"


def test_ivf_artifact_round_trip(lake_settings, write_gold):
    from deltalake import write_deltalake

    table = synthetic_catalogue(6000, seed=3)
    location = lake_settings.lake_path("gold", "mart_recommender_features")
    write_deltalake(location, table, mode="overwrite")
    info = train(lake_settings, index_kind="ivf")
    index_meta = info.manifest["index"]
    assert index_meta["kind"] == "ivf"
    assert index_meta["recall_at_10"] >= 0.95  # the tuning target, measured against exact
    assert index_meta["n_probe"] <= index_meta["n_lists"]
    loaded = load_recommender(lake_settings)
    assert isinstance(loaded.index, IVFIndex)
    fresh = build_recommender(table, index_kind="ivf")[0]
    queries = table.column("track_id").to_pylist()[:25]
    for query in queries:
        mine = loaded.recommend(query, k=10)
        assert [r.track_id for r in mine] == [r.track_id for r in fresh.recommend(query, k=10)]
    # vectors_of maps catalogue rows through the IVF permutation correctly
    rows_ = np.array([0, 17, 5999])
    assert np.allclose(
        loaded.index.vectors_of(rows_), fresh.index.vectors_of(rows_), atol=1e-6
    )


def test_loading_without_an_artifact_says_how_to_make_one(lake_settings):
    with pytest.raises(ArtifactError, match="run `lakehouse train`"):
        load_recommender(lake_settings)


def test_loading_an_unknown_version_lists_the_available_ones(lake_settings, write_gold):
    write_gold(rows())
    info = train(lake_settings)
    with pytest.raises(ArtifactError, match=f"available: {info.version}"):
        load_recommender(lake_settings, "19990101T000000Z-deadbeef")


def test_training_without_gold_is_a_clear_error(lake_settings):
    with pytest.raises(GoldReadError, match=r"No Delta table at ") as error:
        train(lake_settings)
    # The advice names commands that exist (`lakehouse --help`), not a made-up `dbt build`.
    assert "`lakehouse run`" in str(error.value) and "`lakehouse publish`" in str(error.value)
    assert versions(lake_settings) == []


def _read(settings):
    from ml.gold_reader import DeltaGoldReader

    return DeltaGoldReader(settings).read().table


def test_partial_audio_artifact_round_trip_keeps_metadata_only_scores(lake_settings, write_gold):
    # Half the tracks lack audio features; the IVF indexes are exercised as above 50k tracks.
    table = synthetic_catalogue(6000, seed=5)
    lacking = np.arange(table.num_rows) % 2 == 1
    column = table.schema.get_field_index("has_audio_features")
    table = table.set_column(column, "has_audio_features", pa.array(~lacking))
    location = lake_settings.lake_path("gold", "mart_recommender_features")
    from deltalake import write_deltalake

    write_deltalake(location, table, mode="overwrite")
    info = train(lake_settings, index_kind="ivf")
    assert info.manifest["metadata_index"]["kind"] == "ivf"
    assert info.manifest["metadata_index"]["recall_at_10"] >= 0.95
    loaded = load_recommender(lake_settings)
    assert isinstance(loaded.metadata_index, IVFIndex)
    fresh = build_recommender(table, index_kind="ivf")[0]
    queries = table.column("track_id").to_pylist()[:20]  # with and without audio features
    assert answers(loaded, queries, k=10) == answers(fresh, queries, k=10)


def test_an_artifact_of_an_older_format_says_to_retrain(lake_settings, write_gold):
    write_gold(rows())
    info = train(lake_settings)
    manifest = json.loads((info.path / "manifest.json").read_text())
    (info.path / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    with pytest.raises(ArtifactError, match=r"has format 2.*retrain with `lakehouse train`"):
        load_recommender(lake_settings)
