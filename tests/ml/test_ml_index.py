"""Exact and IVF nearest-neighbour search on normalised float32 vectors."""

from __future__ import annotations

import numpy as np
import pytest

from ml.index import (
    EXACT_MAX_ROWS,
    ExactIndex,
    IVFIndex,
    Rescale,
    build_index,
    measure_recall,
)


def unit_vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d))
    vectors = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, d))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def test_exact_index_matches_brute_force_cosine():
    vectors = unit_vectors(500)
    index = ExactIndex(vectors)
    query = vectors[7]
    rows, scores = index.search(query, 10)
    cosine = vectors @ query
    assert rows.tolist() == np.argsort(-cosine, kind="stable")[:10].tolist()
    assert rows[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores) <= 0)
    assert len(index.search(query, 10_000)[0]) == 500  # n larger than the catalogue


def test_ivf_probing_every_list_is_exact():
    vectors = unit_vectors(3000)
    ivf = IVFIndex.build(vectors, n_lists=30)
    ivf.n_probe = ivf.n_lists
    exact = ExactIndex(vectors)
    for row in (0, 1234, 2999):
        found = ivf.search(vectors[row], 20)[0]
        assert found.tolist() == exact.search(vectors[row], 20)[0].tolist()
    assert measure_recall(ivf, exact, np.arange(50)) == 1.0


def test_ivf_recall_is_measured_and_meets_the_target():
    vectors = unit_vectors(20_000, seed=2)
    index, meta = build_index(vectors, "ivf")
    assert meta["kind"] == "ivf"
    trials = meta["recall_trials"]
    assert trials[-1]["recall_at_k"] >= 0.95
    assert all(t["recall_at_k"] < 0.95 for t in trials[:-1])  # smallest probe that meets it
    assert [t["n_probe"] for t in trials] == sorted(t["n_probe"] for t in trials)
    # An independent measurement on other queries agrees roughly with the recorded one.
    recall = measure_recall(index, ExactIndex(vectors), np.arange(1000, 1100))
    assert recall >= 0.9


def test_ivf_widens_the_probe_when_lists_are_too_small():
    vectors = unit_vectors(400)
    ivf = IVFIndex.build(vectors, n_lists=40, n_probe=1)
    rows, _ = ivf.search(vectors[0], 200)
    assert len(rows) == 200 and len(set(rows.tolist())) == 200


def test_auto_picks_exact_for_small_catalogues():
    index, meta = build_index(unit_vectors(100), "auto")
    assert isinstance(index, ExactIndex) and meta == {"kind": "exact", "recall_at_10": 1.0}
    with pytest.raises(ValueError, match="expected auto, exact or ivf"):
        build_index(unit_vectors(10), "hnsw")


def test_rescale_applies_before_the_top_n_cut_in_both_indexes():
    vectors = unit_vectors(2000, seed=4)
    flagged = np.zeros(len(vectors), dtype=bool)
    flagged[::3] = True
    query = vectors[11]
    rescale = Rescale(flagged, 1.7)
    scores = (vectors @ query) * np.where(flagged, 1.7, 1.0).astype(np.float32)
    expected = np.argsort(-scores, kind="stable")[:25]
    rows, found = ExactIndex(vectors).search(query, 25, rescale)
    assert rows.tolist() == expected.tolist()
    assert np.allclose(found, scores[expected], atol=1e-6)
    ivf = IVFIndex.build(vectors, n_lists=20)
    ivf.n_probe = ivf.n_lists  # every list scanned: must equal exact search
    rows, found = ivf.search(query, 25, rescale)
    assert rows.tolist() == expected.tolist()
    assert np.allclose(found, scores[expected], atol=1e-6)


def test_ivf_tuning_ignores_all_zero_rows():
    # `--features audio`: every track without audio features has an all-zero vector.
    vectors = unit_vectors(6000, seed=5)
    zero = np.random.default_rng(6).random(len(vectors)) < 0.3
    vectors[zero] = 0
    index, meta = build_index(vectors, "ivf")
    # Zero queries (an arbitrary exact top-k) would stall recall near 0.7 and push the probe
    # up to every list.
    assert meta["n_probe"] < meta["n_lists"]
    assert meta["recall_at_10"] >= 0.95
    # Zero rows are stored (vectors_of) but in no list, so no search reads or returns them.
    listed = index.order[: index.offsets[-1]]
    assert sorted(listed.tolist()) == np.flatnonzero(~zero).tolist()
    assert not index.vectors_of(np.flatnonzero(zero)).any()
    assert np.allclose(index.vectors_of(np.arange(len(vectors))), vectors)
    rows, _ = index.search(vectors[np.flatnonzero(~zero)[0]], len(vectors))
    assert sorted(rows.tolist()) == np.flatnonzero(~zero).tolist()
    # An independent measurement on other queries agrees with the recorded recall.
    queries = np.flatnonzero(~zero)[-100:]
    assert measure_recall(index, ExactIndex(vectors), queries) >= 0.9


def test_ivf_needs_eight_tracks_with_a_vector():
    with pytest.raises(ValueError, match=r"needs at least 8 tracks .* has 5\. Use --index exact"):
        build_index(unit_vectors(5), "ivf")
    # "auto" above EXACT_MAX_ROWS with too few non-zero rows stays exact instead of failing.
    vectors = np.zeros((EXACT_MAX_ROWS + 1, 16), dtype=np.float32)
    vectors[:5] = unit_vectors(5)
    index, meta = build_index(vectors, "auto")
    assert isinstance(index, ExactIndex) and meta["kind"] == "exact"
