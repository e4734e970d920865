"""Genre-precision@k of four recommenders on the same gold data.

genre-precision@k of one query = (recommended tracks sharing at least one artist genre with the
query track) / k; the reported figure is its mean over a seeded sample of query tracks. Query
tracks have genres and, when the catalogue has any, audio features (so every method can answer
them). Every method excludes the query track and other versions of the same song.

Methods: (a) this model on audio features only, (b) this model on all features, (c) the seed's
unscaled-cosine NearestNeighbors (ml/seed_baseline.py), (d) random tracks.
Note that (b) uses genres as a feature, so its figure is partly by construction; (a) is the
honest measure of how much the audio features carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.settings import Settings
from ml.features import FeatureConfig, FeatureError, booleans, floats
from ml.seed_baseline import SeedRecommender
from ml.song_identity import song_keys

METHODS = {
    "audio_only": "(a) this model, audio features only",
    "all_features": "(b) this model, all features",
    "seed": "(c) seed: unscaled cosine NearestNeighbors",
    "random": "(d) random tracks",
}


@dataclass(frozen=True)
class MethodScore:
    method: str
    label: str
    precision: float | None  # None when the method cannot run on this data
    queries: int
    note: str = ""


@dataclass
class EvaluationReport:
    k: int
    sample: int
    seed: int
    catalogue_rows: int
    methods: list[MethodScore]
    gold: dict = field(default_factory=dict)
    created_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )

    def score(self, method: str) -> float | None:
        return next(m.precision for m in self.methods if m.method == method)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [
            f"# Recommender evaluation: genre-precision@{self.k}",
            "",
            f"{self.catalogue_rows} tracks, {self.sample} query tracks (seed {self.seed}),"
            f" {self.created_at}.",
            "",
            f"| method | genre-precision@{self.k} | queries | note |",
            "|---|---|---|---|",
        ]
        for m in self.methods:
            value = "n/a" if m.precision is None else f"{m.precision:.3f}"
            lines.append(f"| {m.label} | {value} | {m.queries} | {m.note} |")
        return "\n".join(lines) + "\n"


class GenreLookup:
    """Each row's genres as integer codes (CSR layout), without a Python set per row."""

    def __init__(self, table: pa.Table) -> None:
        genres = table.column("genres").combine_chunks()
        genres = pc.if_else(pc.is_null(genres), pa.scalar([], genres.type), genres)
        lengths = pc.list_value_length(genres).to_numpy(zero_copy_only=False)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = pc.fill_null(pc.list_flatten(genres), "")
        self.codes = pc.dictionary_encode(flat).indices.to_numpy()

    def of(self, row: int) -> np.ndarray:
        return self.codes[self.offsets[row] : self.offsets[row + 1]]

    def has_genres(self) -> np.ndarray:
        return np.diff(self.offsets) > 0

    def precision(self, query: int, recommended: np.ndarray, k: int) -> float:
        wanted = self.of(query)
        hits = sum(1 for r in recommended[:k] if np.isin(self.of(int(r)), wanted).any())
        return hits / k


def _filtered(query: int, candidates: np.ndarray, song_key: np.ndarray, k: int) -> np.ndarray:
    """The first k candidates as the product shows them: not the query or a version of it,
    one version per song."""
    keep = (candidates != query) & (song_key[candidates] != song_key[query])
    kept = candidates[keep]
    _, first = np.unique(song_key[kept], return_index=True)
    return kept[np.sort(first)][:k]


def _candidates_needed(song_key: np.ndarray, k: int) -> int:
    """Candidates to draw so that k distinct other songs remain in the worst case: every song
    brings all its versions, and so does the query's."""
    return (k + 1) * int(np.bincount(song_key).max())


def _mean_precision(
    lookup: GenreLookup, queries: np.ndarray, answer: Callable[[int], np.ndarray], k: int
) -> float:
    return float(np.mean([lookup.precision(int(q), answer(int(q)), k) for q in queries]))


def _model_answer(model, k: int, query: int) -> np.ndarray:
    return model.similar_rows(query, k)[0]


def _model_scores(
    table: pa.Table, queries: np.ndarray, lookup: GenreLookup, k: int, index_kind: str
) -> list[MethodScore]:
    from ml.training import build_recommender

    scores = []
    for method, feature_set in (("audio_only", "audio"), ("all_features", "all")):
        try:
            model, features, _ = build_recommender(
                table, FeatureConfig(feature_set=feature_set), index_kind
            )
        except FeatureError as exc:
            scores.append(MethodScore(method, METHODS[method], None, 0, str(exc).split(":")[0]))
            continue
        value = _mean_precision(lookup, queries, partial(_model_answer, model, k), k)
        scores.append(MethodScore(method, METHODS[method], value, len(queries),
                                  features.feature_set))
    return scores


def _seed_score(
    table: pa.Table, queries: np.ndarray, lookup: GenreLookup, song_key: np.ndarray, k: int,
    has_audio: np.ndarray,
) -> MethodScore:
    if not has_audio.any():
        return MethodScore("seed", METHODS["seed"], None, 0, "needs audio features")
    seed = SeedRecommender(table)
    wanted = min(table.num_rows, _candidates_needed(song_key, k))
    neighbours = np.vstack([
        # 32 queries at a time: sklearn holds a float64 (32 x catalogue) distance block
        seed.neighbours(queries[i : i + 32], wanted)
        for i in range(0, len(queries), 32)
    ])
    answers = dict(zip(queries.tolist(), neighbours, strict=True))
    value = _mean_precision(lookup, queries, lambda q: _filtered(q, answers[q], song_key, k), k)
    note = "null popularity filled with 0" if np.isnan(floats(table, "popularity")).any() else ""
    return MethodScore("seed", METHODS["seed"], value, len(queries), note)


def _random_score(
    n_rows: int, queries: np.ndarray, lookup: GenreLookup, song_key: np.ndarray, k: int,
    seed: int,
) -> MethodScore:
    rng = np.random.default_rng(seed + 7)
    size = min(n_rows, _candidates_needed(song_key, k))

    def answer(q: int) -> np.ndarray:
        return _filtered(q, rng.choice(n_rows, size=size, replace=False), song_key, k)

    value = _mean_precision(lookup, queries, answer, k)
    return MethodScore("random", METHODS["random"], value, len(queries), f"rng seed {seed + 7}")


def evaluate_table(
    table: pa.Table, k: int = 10, sample: int = 500, seed: int = 0, index_kind: str = "auto"
) -> EvaluationReport:
    """Evaluate the four methods on the same in-memory mart rows."""
    if k < 1 or sample < 1:
        raise ValueError(f"k and sample must be at least 1 (got k={k}, sample={sample}).")
    lookup = GenreLookup(table)
    has_audio = booleans(table, "has_audio_features") & ~np.isnan(floats(table, "danceability"))
    eligible = lookup.has_genres() & (has_audio if has_audio.any() else True)
    candidates = np.flatnonzero(eligible)
    if len(candidates) == 0:
        raise FeatureError(
            "No track has genres (and audio features): genre-precision cannot be measured."
        )
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(candidates, size=min(sample, len(candidates)), replace=False))
    song_key = song_keys(table)
    methods = [
        *_model_scores(table, queries, lookup, k, index_kind),
        _seed_score(table, queries, lookup, song_key, k, has_audio),
        _random_score(table.num_rows, queries, lookup, song_key, k, seed),
    ]
    return EvaluationReport(k, len(queries), seed, table.num_rows, methods)


def evaluate(
    settings: Settings,
    k: int = 10,
    sample: int = 500,
    seed: int = 0,
    output: Path | None = None,
    backend: str | None = None,
) -> tuple[EvaluationReport, Path]:
    """Evaluate on the published gold mart; write JSON and Markdown next to `output`."""
    from ml.artifact import models_dir
    from ml.gold_reader import RECOMMENDER_MART, gold_reader

    snapshot = gold_reader(settings, backend).read(RECOMMENDER_MART)
    report = evaluate_table(snapshot.table, k, sample, seed)
    report.gold = snapshot.provenance()
    output = output or models_dir(settings) / "evaluation.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report.to_dict(), indent=2))
    output.with_suffix(".md").write_text(report.to_markdown())
    return report, output
