"""Genre-precision@k on a fixture where every number can be worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ml_catalogues import mart, track

from ml.evaluate import GenreLookup, evaluate, evaluate_table
from ml.synthetic_catalogue import synthetic_catalogue


def hand_fixture() -> list[dict]:
    """Two audio styles = two genres, but lengths pair each rock track with a jazz track.

    The seed's unscaled cosine is dominated by duration_ms (tempo is the same everywhere), so
    its nearest neighbour of rN is jN: precision@1 = 0. This model sees the styles: 1.0.
    At k=5 every method returns all five other tracks, 2 of which share the genre: 0.4.
    """
    rows = []
    for i, duration in enumerate((100_000, 200_000, 300_000), start=1):
        rows.append(track(f"r{i}", "rock", artist=f"ra{i}", offset=0.01 * i,
                          duration_ms=duration, tempo=120.0))
        rows.append(track(f"j{i}", "jazz", artist=f"ja{i}", offset=0.01 * i,
                          duration_ms=duration + 50, tempo=120.0))
    return rows


def scores(report) -> dict[str, float | None]:
    return {m.method: m.precision for m in report.methods}


def random_precision_by_hand(rows: list[dict], k: int, seed: int) -> float:
    """(d) recomputed from the rows, for a fixture where every row is a query of its own song.

    Per query, in row order: k + 1 distinct rows drawn with numpy's default_rng(seed + 7) (the
    seed the report names), the query dropped, the first k kept; a hit shares a genre.
    """
    rng = np.random.default_rng(seed + 7)
    per_query = []
    for q, query in enumerate(rows):
        drawn = rng.choice(len(rows), size=k + 1, replace=False)
        answer = [int(r) for r in drawn if r != q][:k]
        hits = sum(1 for r in answer if set(rows[r]["genres"]) & set(query["genres"]))
        per_query.append(hits / k)
    return sum(per_query) / len(per_query)


def test_precision_at_1_by_hand():
    report = evaluate_table(mart(hand_fixture()), k=1, sample=100)
    assert report.sample == 6  # every track is a query (all have genres and audio features)
    got = scores(report)
    assert got["audio_only"] == 1.0
    assert got["all_features"] == 1.0
    assert got["seed"] == 0.0
    # Random picks: one seeded draw per query, worked out from the same rows (3 hits of 6).
    assert got["random"] == pytest.approx(random_precision_by_hand(hand_fixture(), k=1, seed=0))
    assert {m.method: m.note for m in report.methods}["random"] == "rng seed 7"


def test_precision_at_5_is_the_genre_share_for_every_method():
    report = evaluate_table(mart(hand_fixture()), k=5, sample=100)
    assert scores(report) == pytest.approx(
        {"audio_only": 0.4, "all_features": 0.4, "seed": 0.4, "random": 0.4}
    )


def test_same_song_versions_are_not_counted_as_hits():
    # r1's remaster shares r1's genre but must be excluded, as in the product.
    rows = [*hand_fixture(), track("r1b", "rock", artist="ra1", name="Song r1 - Remastered",
                                   duration_ms=100_000, tempo=120.0)]
    report = evaluate_table(mart(rows), k=6, sample=100)
    # At k=6 every method answers with all the other songs, one version each (as the product
    # shows them). Queries r1 and r1b: r2, r3, j1-j3, 2 rock hits. r2 and r3: r1 (or r1b, one
    # song), the other rock track and j1-j3, 2 hits; counting r1 and r1b apart would give 3.
    # Jazz queries: the other two jazz tracks, 2 hits. Each is 2 of k=6.
    for method in ("random", "audio_only", "all_features", "seed"):
        assert scores(report)[method] == pytest.approx(2 / 6), method


def test_baselines_draw_enough_candidates_for_k_distinct_songs():
    from ml.evaluate import _candidates_needed

    # Songs 0 and 1 have 3 versions each. Worst case for k=2: the query's 3 versions, then the
    # 3 of another song (one kept), then one more song: 9 = (k + 1) * 3.
    assert _candidates_needed(np.array([0, 0, 0, 1, 1, 1, 2, 3, 4]), k=2) == 9
    assert _candidates_needed(np.arange(10), k=5) == 6  # unique songs: k + the query


def test_genre_lookup_counts_shared_genres():
    table = mart([
        track("a", None, genres=["x", "y"]),
        track("b", None, genres=["y"]),
        track("c", None, genres=["z"]),
        track("d", None, genres=[]),
    ])
    lookup = GenreLookup(table)
    assert lookup.has_genres().tolist() == [True, True, True, False]
    assert lookup.precision(0, np.array([1, 2, 3]), k=3) == pytest.approx(1 / 3)
    assert lookup.precision(0, np.array([1]), k=2) == 0.5  # fewer than k results count as misses


def test_audio_only_and_seed_are_not_available_without_audio_features():
    table = mart([track(f"m{i}", None, genres=["metal" if i < 3 else "pop"]) for i in range(6)])
    got = scores(evaluate_table(table, k=2, sample=10))
    assert got["audio_only"] is None and got["seed"] is None
    assert got["all_features"] == 1.0  # metadata fallback: genres


def test_synthetic_genre_structure_beats_the_seed():
    report = evaluate_table(synthetic_catalogue(5000, seed=1), k=10, sample=200)
    got = scores(report)
    assert got["audio_only"] >= 2 * got["seed"]
    assert got["seed"] < got["audio_only"] <= got["all_features"]
    assert got["random"] < got["audio_only"]


def test_evaluate_reads_gold_and_writes_json_and_markdown(lake_settings, write_gold, tmp_path):
    version = write_gold(hand_fixture())
    _report, path = evaluate(lake_settings, k=1, sample=50, output=tmp_path / "eval.json")
    written = json.loads(path.read_text())
    assert written["gold"]["delta_version"] == version
    assert {m["method"]: m["precision"] for m in written["methods"]}["seed"] == 0.0
    markdown = path.with_suffix(".md").read_text()
    assert "| (c) seed: unscaled cosine NearestNeighbors | 0.000 | 6 |" in markdown
    assert "| (a) this model, audio features only | 1.000 | 6 |" in markdown
