"""Recommendations on tiny catalogues where the right neighbours are obvious."""

from __future__ import annotations

import pytest
from ml_catalogues import mart, track

from ml.features import AUDIO_SCALAR_COLUMNS, FeatureConfig, FeatureError
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


def test_a_song_is_suggested_once_in_its_best_scored_version():
    rows = [
        track("q", "rock", artist="rock-a"),
        track("hit-live", "rock", artist="rock-b", name="Hit (Live)", offset=0.01),
        track("hit", "rock", artist="rock-b", name="Hit", offset=0.03),
        track("hit-remaster", "rock", artist="rock-b", name="Hit - Remastered 2011",
              offset=0.05),
        track("other", "rock", artist="rock-c", offset=0.02),
        track("far", "jazz", artist="jazz-a"),
    ]
    recommender = build_recommender(mart(rows))[0]
    # Without the rule: hit-live, other, hit, hit-remaster, far (three suggestions of one song).
    assert ids(recommender.recommend("q", k=5)) == ["hit-live", "other", "far"]
    assert ids(recommender.recommend("q", k=2)) == ["hit-live", "other"]
    # Asked from a version of it, no version of the song comes back at all.
    assert ids(recommender.recommend("hit", k=5)) == ["other", "q", "far"]


def test_many_versions_of_one_song_widen_the_search_instead_of_filling_it():
    # 70 versions of one song, all nearer the query than anything else: the first candidate
    # pool (64) holds only them, one is kept, and the search must widen to find two more songs.
    rows = [track("q", "rock", artist="rock-a")]
    rows += [track(f"hit-{n}", "rock", artist="rock-b", name=f"Hit (Live {n})",
                   offset=0.001 * n) for n in range(1, 71)]
    rows += [track("next", "rock", artist="rock-c", offset=0.2),
             track("far", "jazz", artist="jazz-a")]
    recommender = build_recommender(mart(rows))[0]
    found = ids(recommender.recommend("q", k=3))
    assert found[0] == "hit-1" and set(found[1:]) == {"next", "far"}


def test_cap_per_artist_diversifies(model):
    assert set(ids(model.recommend("p1", k=2))) == {"p2", "p3"}  # both by pop-a
    capped = model.recommend("p1", k=2, max_per_artist=1)
    assert set(ids(capped)) == {"p2", "p4"}  # one by pop-a, then pop-b's track
    # r2 (rock-b) has 12 candidates by 7 other artists, 10 songs (r1 has 3 versions). Capped at
    # one per artist, the k=4 results are the uncapped ranking with every artist's later tracks
    # skipped, cut at 4.
    artist_of = {row["track_id"]: row["primary_artist_id"] for row in catalogue()}
    ranking = ids(model.recommend("r2", k=12))
    assert len(ranking) == 10
    first_per_artist: list[str] = []
    for track_id in ranking:
        if artist_of[track_id] not in {artist_of[t] for t in first_per_artist}:
            first_per_artist.append(track_id)
    capped = ids(model.recommend("r2", k=4, max_per_artist=1))
    assert capped == first_per_artist[:4]
    # r1-cover (rock-c) is nearest, then one rock-a track (r1, its versions and r3 tie), then
    # one track of each pop artist: pop sounds closer to rock than jazz does.
    assert capped[0] == "r1-cover" and artist_of[capped[1]] == "rock-a"
    assert {artist_of[t] for t in capped[2:]} == {"pop-a", "pop-b"}


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


def partial_audio_catalogue() -> list[dict]:
    """Some tracks without audio features (development-mode app, partial CSV import).

    "twin" has exactly the metadata of the query "q" (no audio) plus audio features; the other
    rock tracks with audio differ from q in year only, a little.
    """
    return [
        track("q", None, artist="dev-a", genres=["rock"], year=2000, duration_ms=210_000),
        track("twin", "rock", artist="rock-t", genres=["rock"], year=2000, duration_ms=210_000),
        *[track(f"rock-{year}", "rock", artist=f"rock-{year}", year=year, offset=0.01 * i)
          for i, year in enumerate((1990, 1994, 1998, 2003, 2006, 2010, 2015, 2020))],
        track("meta-rock", None, artist="dev-b", genres=["rock"], year=1996),
        track("meta-metal", None, artist="dev-c", genres=["metal"], year=1999),
        track("meta-jazz", None, artist="dev-d", genres=["jazz"], year=1960),
        *[track(f"pop-{i}", "pop", artist=f"pop-{i}", offset=0.01 * i, year=2001 + i)
          for i in range(3)],
        *[track(f"jazz-{i}", "jazz", artist=f"jazz-{i}", offset=0.01 * i, year=1962 + i)
          for i in range(3)],
    ]


def without_audio(rows: list[dict]) -> list[dict]:
    """The same rows with every audio feature removed: a model of it scores metadata alone."""
    no_audio = {name: None for name in AUDIO_SCALAR_COLUMNS}
    no_audio.update(key=-1, mode=None, features_source=None, has_audio_features=False)
    return [{**row, **no_audio} for row in rows]


def scored(recommendations) -> dict[str, float]:
    return {r.track_id: r.score for r in recommendations}


def test_query_without_audio_features_is_compared_on_metadata_alone():
    rows = partial_audio_catalogue()
    recommender, features, _ = build_recommender(mart(rows))
    assert features.partial_audio
    results = recommender.recommend("q", k=len(rows) - 1)
    # Identical metadata is the best possible metadata match, whatever the twin's audio says.
    assert results[0].track_id == "twin"
    assert results[0].score == pytest.approx(1.0, abs=1e-4)
    # Every score is the metadata-only cosine: the same as in a model where no track has audio
    # features (metadata standardisation covers every track either way).
    metadata_only = build_recommender(mart(without_audio(rows)))[0]
    expected = scored(metadata_only.recommend("q", k=len(rows) - 1))
    assert scored(results) == pytest.approx(expected, abs=1e-4)
    assert ids(results) == sorted(expected, key=lambda t: -expected[t])
    for result in results:
        assert sum(result.contributions.values()) == pytest.approx(result.score, abs=1e-3)
    assert all("metadata only: audio features missing" in r.reason for r in results[:5])


def test_query_with_audio_features_keeps_whole_vector_cosine_for_audio_tracks():
    rows = partial_audio_catalogue()
    recommender, features, _ = build_recommender(mart(rows))
    row = recommender.row("rock-1998")
    results = recommender.recommend("rock-1998", k=len(rows) - 1)
    vectors = features.vectors
    metadata_only = scored(
        build_recommender(mart(without_audio(rows)))[0].recommend("rock-1998", k=len(rows) - 1)
    )
    for result in results:
        other = recommender.row(result.track_id)
        if features.has_audio[other]:  # unchanged: cosine over every block, as before the fix
            assert result.score == pytest.approx(float(vectors[row] @ vectors[other]), abs=1e-4)
        else:  # the candidate lacks audio features: metadata alone
            assert result.score == pytest.approx(metadata_only[result.track_id], abs=1e-4)
        assert sum(result.contributions.values()) == pytest.approx(result.score, abs=1e-3)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert "q" in ids(results) and "twin" in ids(results)


def test_catalogue_with_full_audio_coverage_needs_no_metadata_index():
    recommender, features, _ = build_recommender(mart(catalogue()))
    assert not features.partial_audio and recommender.metadata_index is None
    metadata_model, features, _ = build_recommender(mart(metadata_catalogue()))
    assert not features.partial_audio and metadata_model.metadata_index is None
