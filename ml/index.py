"""Nearest-neighbour search over L2-normalised float32 vectors (dot product = cosine).

- `ExactIndex`: one matrix-vector product plus a partial sort; no refit, nothing per query
  except the product. Right for catalogues up to ~50k tracks (EXACT_MAX_ROWS).
- `IVFIndex`: an inverted-file index (k-means lists, spherical assignment). A query scores the
  `n_probe` nearest lists only. Its recall against the exact index is measured when it is built
  (`measure_recall`) and recorded in the artifact. All-zero rows (tracks without the features of
  the model, e.g. no audio features with `--features audio`) are stored but in no list: they
  score 0 against every query, so they are nobody's neighbour (the recommender drops them as not
  `searchable`), and they are neither recall queries nor expected results.

Both answer in catalogue row numbers and keep exactly one copy of the vectors. `search` can
rescale the scores of flagged rows (`Rescale`) before the top-n cut, at no extra complexity:
the exact index rescales its n scores, the IVF index only the rows of the probed lists.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

# Above this "auto" builds an IVF index: an exact query reads every vector (100k x 41 float32 =
# 16 MB), which on a busy 2-core machine already costs 5-25 ms (benchmarks/results/recommender.md).
EXACT_MAX_ROWS = 50_000
# The fewest lists an IVF index has (k-means needs at least as many non-zero vectors).
MIN_LISTS = 8


class Rescale(NamedTuple):
    """Multiply the scores of the catalogue rows in `rows` (a bool mask) by `factor`.

    Applied before the top-n cut, so a rescaled row competes with its final score. The
    recommender uses it to score tracks without audio features on metadata alone.
    """

    rows: np.ndarray  # (catalogue rows,) bool
    factor: float


class VectorIndex(Protocol):
    kind: str

    def search(
        self, query: np.ndarray, n: int, rescale: Rescale | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def vectors_of(self, rows: np.ndarray) -> np.ndarray: ...

    def save(self, folder: Path) -> dict: ...


def nonzero_rows(vectors: np.ndarray) -> np.ndarray:
    """(rows,) bool: the rows with a non-zero vector, the only ones that can be neighbours."""
    return np.any(vectors != 0, axis=1)


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n highest scores, best first."""
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


class ExactIndex:
    kind = "exact"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(
        self, query: np.ndarray, n: int, rescale: Rescale | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors @ query.astype(np.float32, copy=False)
        if rescale is not None:
            scores[rescale.rows] *= rescale.factor
        top = _top_n(scores, n)
        return top, scores[top]

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows]

    def save(self, folder: Path) -> dict:
        np.save(folder / "vectors.npy", self.vectors)
        return {"kind": self.kind}

    @classmethod
    def load(cls, folder: Path, meta: dict) -> ExactIndex:
        return cls(np.load(folder / "vectors.npy"))


class IVFIndex:
    """Vectors stored grouped by list, so probing a list scores one contiguous slice.

    All-zero rows are stored after the last list (`offsets[-1]` to the end of `grouped`): kept
    for `vectors_of`, never scanned by a search.
    """

    kind = "ivf"

    def __init__(
        self,
        centroids: np.ndarray,
        offsets: np.ndarray,
        order: np.ndarray,
        grouped: np.ndarray,
        n_probe: int,
    ) -> None:
        self.centroids = centroids  # (lists, d), unit norm
        self.offsets = offsets  # (lists + 1,) start of each list in `grouped`
        self.order = order  # position in `grouped` -> catalogue row
        self.grouped = grouped  # vectors in list order
        self.position = np.empty_like(order)  # catalogue row -> position in `grouped`
        self.position[order] = np.arange(len(order), dtype=order.dtype)
        self.n_probe = n_probe

    def __len__(self) -> int:
        return len(self.order)

    @property
    def n_lists(self) -> int:
        return len(self.centroids)

    @classmethod
    def build(
        cls, vectors: np.ndarray, n_lists: int | None = None, n_probe: int | None = None,
        seed: int = 0,
    ) -> IVFIndex:
        from sklearn.cluster import KMeans

        listed = nonzero_rows(vectors)
        rows = np.flatnonzero(listed)  # list members; the k-means sample is drawn from them
        n = len(rows)
        n_lists = n_lists or max(MIN_LISTS, min(4096, int(math.sqrt(n))))
        if n < n_lists:
            raise ValueError(
                f"An IVF index of {n_lists} lists needs at least {n_lists} tracks with a"
                f" non-zero feature vector; this catalogue has {n}. Use --index exact (or auto,"
                " which picks exact for it)."
            )
        rng = np.random.default_rng(seed)
        sample = vectors[rows[rng.choice(n, size=min(n, 32 * n_lists), replace=False)]]
        # A few Lloyd iterations from random centres: lists need to be compact, not optimal
        # (k-means++ seeding of 1000 centres alone costs more than the whole build).
        kmeans = KMeans(
            n_clusters=n_lists, init="random", n_init=1, max_iter=10, random_state=seed
        ).fit(sample)
        centroids = kmeans.cluster_centers_.astype(np.float32)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        np.divide(centroids, norms, out=centroids, where=norms > 0)
        # Zero rows would all land in list 0 (argmax of all-zero scores) and bloat it: they go
        # after the last list instead, where no probe reads them.
        assignment = assign_lists(vectors, centroids)[rows]
        order = np.concatenate([
            rows[np.argsort(assignment, kind="stable")], np.flatnonzero(~listed)
        ]).astype(np.int32)
        counts = np.bincount(assignment, minlength=n_lists)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        grouped = np.ascontiguousarray(vectors[order], dtype=np.float32)
        return cls(centroids, offsets, order, grouped, n_probe or max(1, n_lists // 32))

    def _scan(self, query: np.ndarray, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positions = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in lists]
        scores = [self.grouped[self.offsets[i] : self.offsets[i + 1]] @ query for i in lists]
        return np.concatenate(positions), np.concatenate(scores)

    def search(
        self, query: np.ndarray, n: int, rescale: Rescale | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        query = query.astype(np.float32, copy=False)
        ranked_lists = np.argsort(-(self.centroids @ query))
        probe = self.n_probe
        while True:  # widen the probe when the probed lists hold fewer than n vectors
            positions, scores = self._scan(query, ranked_lists[:probe])
            if len(positions) >= n or probe >= self.n_lists:
                break
            probe = min(self.n_lists, probe * 2)
        if rescale is not None:  # only the scanned rows: the cost stays O(probed vectors)
            scores[rescale.rows[self.order[positions]]] *= rescale.factor
        top = _top_n(scores, n)
        return self.order[positions[top]].astype(np.int64), scores[top]

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return self.grouped[self.position[rows]]

    def save(self, folder: Path) -> dict:
        np.save(folder / "vectors.npy", self.grouped)
        np.savez(folder / "ivf.npz", centroids=self.centroids, offsets=self.offsets,
                 order=self.order)
        return {"kind": self.kind, "n_lists": self.n_lists, "n_probe": self.n_probe}

    @classmethod
    def load(cls, folder: Path, meta: dict) -> IVFIndex:
        parts = np.load(folder / "ivf.npz")
        return cls(parts["centroids"], parts["offsets"], parts["order"],
                   np.load(folder / "vectors.npy"), int(meta["n_probe"]))


def assign_lists(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """The most similar centroid of every vector, in chunks to bound memory."""
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), chunk):
        out[start : start + chunk] = np.argmax(vectors[start : start + chunk] @ centroids.T, axis=1)
    return out


def exact_top_k(
    vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 65_536,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """(len(queries), k) exact best rows per query vector, batched as matrix products.

    Rows flagged in `skip` (bool per row) rank last (score -inf).
    """
    k = min(k, len(vectors))
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        scores = queries @ vectors[start : start + chunk].T
        if skip is not None:
            scores[:, skip[start : start + chunk]] = -np.inf
        take = min(k, scores.shape[1])
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        rows = np.hstack([best_rows, part + start])
        merged = np.hstack([best_scores, np.take_along_axis(scores, part, axis=1)])
        keep = np.argsort(-merged, axis=1, kind="stable")[:, :k]
        best_rows = np.take_along_axis(rows, keep, axis=1)
        best_scores = np.take_along_axis(merged, keep, axis=1)
    return best_rows


def measure_recall(
    approx: VectorIndex, exact: ExactIndex, queries: np.ndarray, k: int = 10
) -> float:
    """Mean share of the exact top-k (query row excluded) that the approximate index returns.

    The exact top-k leaves out all-zero rows: they are no one's neighbour (see the module
    docstring), though a 0 score can outrank negative cosines.
    """
    listed = nonzero_rows(exact.vectors)
    truth = exact_top_k(exact.vectors, exact.vectors[queries], k + 1, skip=~listed)
    hits = 0
    for row, best in zip(queries, truth, strict=True):
        wanted = [r for r in best.tolist() if r != row and listed[r]][:k]
        found = set(approx.search(exact.vectors[row], k + 1)[0].tolist())
        hits += sum(1 for r in wanted if r in found)
    return hits / max(1, k * len(queries))


def tune_ivf(
    vectors: np.ndarray, target_recall: float = 0.95, k: int = 10, queries: int = 200,
    seed: int = 0,
) -> tuple[IVFIndex, list[dict]]:
    """Build an IVF index and pick the smallest n_probe whose measured recall@k meets target.

    Queries are drawn from rows with a non-zero vector only: a zero query (a track the model
    cannot compare, never asked by the recommender) scores 0 against everything, so its "exact
    top-k" is an arbitrary tie-break no probe count can reproduce.
    """
    index = IVFIndex.build(vectors, seed=seed)
    exact = ExactIndex(vectors)
    rng = np.random.default_rng(seed + 1)
    candidates = np.flatnonzero(nonzero_rows(vectors))
    sample = candidates[
        rng.choice(len(candidates), size=min(queries, len(candidates)), replace=False)
    ]
    trials = []
    probe = max(1, index.n_lists // 128)
    while True:
        index.n_probe = probe
        recall = measure_recall(index, exact, sample, k)
        trials.append({"n_probe": probe, "recall_at_k": round(recall, 4), "k": k})
        if recall >= target_recall or probe >= index.n_lists:
            break
        probe = min(index.n_lists, probe * 2)
    return index, trials


def build_index(vectors: np.ndarray, kind: str = "auto") -> tuple[VectorIndex, dict]:
    """The index for a catalogue: exact up to EXACT_MAX_ROWS (or when asked), else tuned IVF.

    "auto" also stays exact when fewer than MIN_LISTS rows have a non-zero vector (an IVF index
    needs that many); asking for "ivf" then is a ValueError that says so.
    """
    if kind not in {"auto", "exact", "ivf"}:
        raise ValueError(f"index kind {kind!r}; expected auto, exact or ivf")
    if kind == "exact" or (kind == "auto" and (
        len(vectors) <= EXACT_MAX_ROWS or nonzero_rows(vectors).sum() < MIN_LISTS
    )):
        return ExactIndex(vectors), {"kind": "exact", "recall_at_10": 1.0}
    index, trials = tune_ivf(vectors)
    return index, {
        "kind": "ivf",
        "n_lists": index.n_lists,
        "n_probe": index.n_probe,
        "recall_at_10": trials[-1]["recall_at_k"],
        "recall_trials": trials,
    }


def load_index(folder: Path, meta: dict) -> VectorIndex:
    loaders = {"exact": ExactIndex.load, "ivf": IVFIndex.load}
    return loaders[meta["kind"]](folder, meta)
