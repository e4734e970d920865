"""Recommendations on tiny catalogues where the right neighbours are obvious."""

from __future__ import annotations

import pytest
from ml_catalogues import mart, track

from ml.features import FeatureConfig, FeatureError
from ml.recommend import TrackNotSearchableError, UnknownTrackError
from ml.training import build_recommender


def catalogue() -> list[dict]:
    return [
        track("r1", "rock", artist="rock-a"),
        track("r1-remaster", "rock", artist="rock-a", name="Song r1 - Remastered 2011"),
        track("r1-live", "rock", artist="rock-a", name="Song R1 (Live at Wembley)"),
        track("r1-cover", "rock", artist="rock-c", name="Song r1", offset=0.03),
        track("r2", "rock", artist="rock-b", offset=0.02),
        track("r3", "rock", artist="rock-a", offset=0.04),
        track("p1", "pop", artist="pop-a"),
        track("p2", "pop", artist="pop-a", offset=0.01),
        track("p3", "pop", artist="pop-a", offset=0.02),
        track("p4", "pop", artist="pop-b", offset=0.05),
        track("j1", "jazz", artist="jazz-a"),
        track("j2", "jazz", artist="jazz-b", offset=0.02),
        track("j3", "jazz", artist="jazz-c", offset=0.04),
    ]


@pytest.fixture(scope="module")
def model():
    return build_recommender(mart(catalogue()))[0]


@pytest.fixture(scope="module")
def audio_model():
    return build_recommender(mart(catalogue()), FeatureConfig(feature_set="audio"))[0]


def ids(recommendations) -> list[str]:
    return [r.track_id for r in recommendations]


@pytest.mark.parametrize("fixture", ["model", "audio_model"])
@pytest.mark.parametrize(
    ("query", "expected"),
    [("j1", {"j2", "j3"}), ("p1", {"p2", "p3"}), ("r3", {"r1-cover", "r2"})],
)
def test_nearest_tracks_are_the_same_style(request, fixture, query, expected):
    recommender = request.getfixturevalue(fixture)
    results = recommender.recommend(query, k=2)
    assert set(ids(results)) == expected
    assert results[0].score >= results[1].score
    assert all(-1.0 <= r.score <= 1.0 for r in results)


def test_query_track_and_other_versions_of_the_song_are_excluded(model):
    results = ids(model.recommend("r1", k=12))
    assert "r1" not in results
    assert "r1-remaster" not in results and "r1-live" not in results
    # Same title by another artist is a different song: kept, and the closest rock track.
    assert set(results[:3]) == {"r1-cover", "r2", "r3"}
    # A remaster as query excludes the original and the live version the same way.
    assert {"r1", "r1-live", "r1-remaster"}.isdisjoint(ids(model.recommend("r1-remaster", k=12)))
    # 13 tracks - the query - 2 other versions = 10 candidates at most.
    assert len(results) == 10


def test_cap_per_artist_diversifies(model):
    assert set(ids(model.recommend("p1", k=2))) == {"p2", "p3"}  # both by pop-a
    capped = model.recommend("p1", k=2, max_per_artist=1)
    assert set(ids(capped)) == {"p2", "p4"}  # one by pop-a, then pop-b's track
    capped = model.recommend("r2", k=4, max_per_artist=1)
    artists = [model.catalogue.table.column("primary_artist_id")[model.row(r.track_id)].as_py()
               for r in capped]
    assert len(artists) == len(set(artists))


def test_each_result_is_explained(model):
    results = model.recommend("j1", k=2)
    for result in results:
        assert result.reason.startswith("shares genres: jazz")
        assert sum(result.contributions.values()) == pytest.approx(result.score, abs=1e-3)
        assert max(result.contributions, key=result.contributions.get) == "genres"
    audio_reason = model.recommend("j1", k=1)[0]
    assert audio_reason.track_name == "Song j2" and audio_reason.artist_names == ["Jazz B"]


def test_audio_only_explanations_name_audio_features(audio_model):
    reason = audio_model.recommend("j1", k=1)[0].reason
    assert "genres" not in reason
    assert "similar" in reason and "(" in reason  # e.g. "similar acousticness (0.90 / 0.92)"


def test_unknown_track_id_is_a_clear_error(model):
    with pytest.raises(UnknownTrackError) as error:
        model.recommend("no-such-track", k=3)
    assert "Unknown track id 'no-such-track'" in str(error.value)
    assert "lakehouse train" in str(error.value)


def test_bad_arguments_are_rejected(model):
    with pytest.raises(ValueError, match="k must be at least 1"):
        model.recommend("r1", k=0)
    with pytest.raises(ValueError, match="max_per_artist must be at least 1"):
        model.recommend("r1", k=3, max_per_artist=0)


def metadata_catalogue() -> list[dict]:
    """No audio features anywhere (a Spotify app created after 2024-11)."""
    return [
        track("m1", None, artist="a1", genres=["metal"], year=1985),
        track("m2", None, artist="a2", genres=["metal", "hard rock"], year=1987),
        track("m3", None, artist="a3", genres=["metal"], year=1990),
        track("h1", None, artist="b1", genres=["hip hop"], year=2015),
        track("h2", None, artist="b2", genres=["hip hop", "trap"], year=2018),
        track("h3", None, artist="b3", genres=["hip hop"], year=2016),
    ]


def test_metadata_fallback_when_no_audio_features():
    recommender, features, _ = build_recommender(mart(metadata_catalogue()))
    assert features.feature_set == "metadata"
    assert any("metadata fallback" in note for note in features.notes)
    assert {b.group for b in features.blocks} == {"metadata"}
    assert set(ids(recommender.recommend("m1", k=2))) == {"m2", "m3"}
    assert set(ids(recommender.recommend("h3", k=2))) == {"h1", "h2"}
    assert recommender.recommend("m1", k=1)[0].reason.startswith("shares genres: metal")


def test_audio_only_model_refuses_a_catalogue_without_audio_features():
    with pytest.raises(FeatureError, match="No track has audio features"):
        build_recommender(mart(metadata_catalogue()), FeatureConfig(feature_set="audio"))


def test_tracks_without_audio_features_fall_back_to_metadata():
    rows = [*catalogue(), track("new-jazz", None, artist="jazz-z", genres=["jazz"])]
    recommender, features, _ = build_recommender(mart(rows))
    assert any("1 of 14 tracks have no audio features" in note for note in features.notes)
    results = recommender.recommend("new-jazz", k=3)
    assert set(ids(results)) == {"j1", "j2", "j3"}
    assert all("metadata only: audio features missing" in r.reason for r in results)
    # The audio-only model cannot place it, and says so.
    audio, _, _ = build_recommender(mart(rows), FeatureConfig(feature_set="audio"))
    expected = r"no features this model uses .*: no recommendation possible.*metadata fallback"
    with pytest.raises(TrackNotSearchableError, match=expected):
        audio.recommend("new-jazz", k=3)
    assert "new-jazz" not in ids(audio.recommend("j1", k=13))


def test_missing_contract_column_is_a_clear_error():
    table = mart(catalogue()).drop_columns(["genres", "tempo"])
    with pytest.raises(FeatureError, match="lacks column\\(s\\) genres, tempo") as error:
        build_recommender(table)
    assert "`lakehouse publish`" in str(error.value)
