"""`Recommender.recommend(track_id, k)`: similar tracks, filtered, diversified and explained.

A query reads the track's vector from the index and asks for more candidates than needed, then
drops the query track, other versions of the same song (ml/song_identity.py) and rows without a
vector, applies the optional per-artist cap, and explains each result by the feature blocks that
contribute most to its cosine score. Nothing is fitted at query time.

Scores: two tracks that both have audio features score the cosine of their whole vectors. When
either lacks them (and the model has metadata blocks), the pair scores the cosine of the
metadata blocks alone, each side normalised on its own, so the other track's audio features do
not weigh in. In a catalogue where only some tracks have audio features this takes:
- a query without audio features: a second index over the metadata-only vectors
  (`metadata_index`), whose dot products are exactly those scores for every candidate;
- a query with audio features: the main index, with the scores of candidates without audio
  features divided by the query's metadata norm before the top-n cut (their vectors hold only
  metadata, so that quotient is the metadata cosine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ml.features import (
    AUDIO_SCALAR_COLUMNS,
    FeatureBlock,
    FeatureMatrix,
    floats,
    metadata_columns,
)
from ml.index import Rescale, VectorIndex
from ml.song_identity import artist_codes, song_keys

# Columns of the mart kept next to the vectors (for results and explanations).
CATALOGUE_COLUMNS = (
    "track_id",
    "track_name",
    "artist_names",
    "primary_artist_id",
    "album_name",
    "release_year",
    "explicit",
    "duration_ms",
    "popularity",
    "genres",
    "key",
    "mode",
    "has_audio_features",
    *AUDIO_SCALAR_COLUMNS,
)
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LABELS = {
    "danceability": "danceability",
    "energy": "energy",
    "loudness": "loudness",
    "speechiness": "speechiness",
    "acousticness": "acousticness",
    "instrumentalness": "instrumentalness",
    "liveness": "liveness",
    "valence": "mood (valence)",
    "tempo": "tempo",
    "time_signature": "time signature",
}


class UnknownTrackError(KeyError):
    """The track id is not in the catalogue the recommender was trained on."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


class TrackNotSearchableError(ValueError):
    """The track is in the catalogue but has no features this model can compare."""


@dataclass(frozen=True)
class Recommendation:
    track_id: str
    track_name: str
    artist_names: list[str]
    album_name: str | None
    score: float  # cosine similarity in [-1, 1]
    reason: str  # human-readable: the features that make it close
    contributions: dict[str, float] = field(default_factory=dict)  # block -> share of score


@dataclass(frozen=True)
class Catalogue:
    """The mart columns the recommender needs, as Arrow plus fast numpy lookups."""

    table: pa.Table
    song_key: np.ndarray
    artist_code: np.ndarray
    id_order: np.ndarray  # rows sorted by track_id (binary search instead of a 1M-entry dict)

    @classmethod
    def from_table(cls, table: pa.Table) -> Catalogue:
        table = table.select(list(CATALOGUE_COLUMNS))
        ids = table.column("track_id").to_numpy(zero_copy_only=False)
        order = np.argsort(ids, kind="stable").astype(np.int64)
        return cls(table, song_keys(table), artist_codes(table), order)

    def __len__(self) -> int:
        return self.table.num_rows


class Recommender:
    def __init__(
        self,
        catalogue: Catalogue,
        index: VectorIndex,
        blocks: list[FeatureBlock],
        searchable: np.ndarray,
        has_audio: np.ndarray,
        metadata_index: VectorIndex | None = None,
        manifest: dict | None = None,
    ) -> None:
        """`metadata_index` (metadata-only vectors) is required when only some rows have audio."""
        self.catalogue = catalogue
        self.index = index
        self.blocks = blocks
        self.searchable = searchable
        self.has_audio = has_audio  # per row: audio features used by the features (features.py)
        self.metadata_index = metadata_index
        self.manifest = manifest or {}
        self._metadata = metadata_columns(blocks)
        ids = catalogue.table.column("track_id").to_numpy(zero_copy_only=False)
        self._sorted_ids = ids[catalogue.id_order]
        self._block_starts = np.array([b.start for b in blocks], dtype=np.int64)
        table = catalogue.table
        self._display = table.select(["track_id", "track_name", "artist_names", "album_name"])
        self._genres = table.column("genres").combine_chunks()
        self._uses_audio = any(b.group == "audio" for b in blocks)
        # float32 is plenty for showing values in reasons and halves the memory at 1M rows
        self._raw = {
            name: floats(catalogue.table, name).astype(np.float32)
            for name in (*AUDIO_SCALAR_COLUMNS, "key", "mode", "release_year", "duration_ms",
                         "popularity")
        }

    @classmethod
    def from_features(cls, table: pa.Table, features: FeatureMatrix, index: VectorIndex,
                      metadata_index: VectorIndex | None = None,
                      manifest: dict | None = None) -> Recommender:
        return cls(Catalogue.from_table(table), index, features.blocks, features.searchable,
                   features.has_audio, metadata_index, manifest)

    @property
    def partial_audio(self) -> bool:
        """Pairs with a track lacking audio features occur and are scored on metadata alone."""
        return self.metadata_index is not None

    def __len__(self) -> int:
        return len(self.catalogue)

    # --- lookup -------------------------------------------------------------------------------
    def __contains__(self, track_id: object) -> bool:
        return self._find(track_id) is not None

    def _find(self, track_id: object) -> int | None:
        if not isinstance(track_id, str):
            return None
        position = int(np.searchsorted(self._sorted_ids, track_id))
        if position < len(self._sorted_ids) and self._sorted_ids[position] == track_id:
            return int(self.catalogue.id_order[position])
        return None

    def row(self, track_id: str) -> int:
        row = self._find(track_id)
        if row is None:
            raise UnknownTrackError(
                f"Unknown track id {track_id!r}: it is not in the catalogue this recommender was"
                f" trained on ({len(self)} tracks). Check the id, or retrain (`lakehouse train`)"
                " after the track reached gold."
            )
        return row

    # --- search -------------------------------------------------------------------------------
    def similar_rows(
        self, row: int, k: int, max_per_artist: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (rows, scores) most similar to `row`, filtered and diversified."""
        if k < 1:
            raise ValueError(f"k must be at least 1 (got {k}).")
        if max_per_artist is not None and max_per_artist < 1:
            raise ValueError(f"max_per_artist must be at least 1 or None (got {max_per_artist}).")
        if not self.searchable[row]:
            track_id = self.catalogue.table.column("track_id")[row].as_py()
            feature_set = self.manifest.get("features", {}).get("feature_set", "?")
            hint = (" Train with all features for a metadata fallback." if feature_set == "audio"
                    else " Its gold row has neither audio features nor usable metadata.")
            raise TrackNotSearchableError(
                f"Track {track_id!r} has no features this model uses (feature set"
                f" {feature_set}): no recommendation possible.{hint}"
            )
        wanted = min(len(self), max(4 * k + 16, 64))
        while True:  # widen the candidate pool when filters removed too many
            rows, scores = self._search(row, wanted)
            keep = self._filter(row, rows, k, max_per_artist)
            if len(keep) >= k or wanted >= len(self):
                return rows[keep], scores[keep]
            wanted = min(len(self), wanted * 4)

    def _search(self, row: int, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        """The `wanted` best (rows, scores) for `row`, scored as the module docstring says."""
        if self.metadata_index is None:  # every pair has the same blocks: plain cosine
            return self.index.search(self._vector(row), wanted)
        if not self.has_audio[row]:
            query = self.metadata_index.vectors_of(np.array([row]))[0]
            return self.metadata_index.search(query, wanted)
        query = self._vector(row)
        norm = float(np.linalg.norm(query[self._metadata]))
        # A zero metadata block has no metadata cosine with anything: those pairs score 0.
        factor = 1.0 / norm if norm > 0 else 0.0
        return self.index.search(query, wanted, Rescale(~self.has_audio, factor))

    def _vector(self, row: int) -> np.ndarray:
        return self.index.vectors_of(np.array([row]))[0]

    def _pair_factors(self, row: int, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Per candidate, what turns the whole-vector dot product into its score.

        1 when both tracks have audio features; else 1 / (metadata norm of each side), which
        makes the dot product (only metadata columns are non-zero on one side) the metadata
        cosine.
        """
        factors = np.ones(len(rows), dtype=np.float32)
        if self.metadata_index is None:
            return factors
        metadata = vectors[:, self._metadata]
        norms = np.linalg.norm(metadata, axis=1) * np.linalg.norm(
            self._vector(row)[self._metadata]
        )
        mixed = ~(self.has_audio[row] & self.has_audio[rows])
        np.divide(1.0, norms, out=factors, where=mixed & (norms > 0))
        factors[mixed & (norms == 0)] = 0.0
        return factors

    def _filter(self, row: int, rows: np.ndarray, k: int, cap: int | None) -> list[int]:
        """Positions of the first k candidates to show: not the query or a version of it, one
        version per song (the best scored: a remaster and its original are one suggestion),
        searchable, and at most `cap` per primary artist."""
        song_key = self.catalogue.song_key
        ok = (rows != row) & (song_key[rows] != song_key[row])
        ok &= self.searchable[rows]
        keep: list[int] = []
        songs: set[int] = set()
        per_artist: dict[int, int] = {}
        for position in np.flatnonzero(ok):
            song = int(song_key[rows[position]])
            if song in songs:
                continue
            if cap is not None:
                artist = int(self.catalogue.artist_code[rows[position]])
                if per_artist.get(artist, 0) >= cap:
                    continue
                per_artist[artist] = per_artist.get(artist, 0) + 1
            songs.add(song)
            keep.append(int(position))
            if len(keep) == k:
                break
        return keep

    def recommend(
        self, track_id: str, k: int = 10, max_per_artist: int | None = None
    ) -> list[Recommendation]:
        """The k tracks most similar to `track_id`, best first, each with a reason."""
        row = self.row(track_id)
        rows, scores = self.similar_rows(row, k, max_per_artist)
        contributions = self._contributions(row, rows)
        picked = self._display.take(pa.array(rows, type=pa.int64())).to_pylist()
        query_genres = set(self._genres[row].as_py() or [])
        return [
            Recommendation(
                track_id=item["track_id"],
                track_name=item["track_name"],
                artist_names=item["artist_names"] or [],
                album_name=item["album_name"],
                score=round(float(score), 4),
                reason=self._reason(row, int(other), share, query_genres),
                contributions=share,
            )
            for item, other, score, share in zip(picked, rows, scores, contributions, strict=True)
        ]

    # --- explanations -------------------------------------------------------------------------
    def _contributions(self, row: int, rows: np.ndarray) -> list[dict[str, float]]:
        """Per block, its part of the cosine score (sums to the score)."""
        if len(rows) == 0:
            return []
        vectors = self.index.vectors_of(rows)
        products = vectors * self._vector(row)
        per_block = np.add.reduceat(products, self._block_starts, axis=1)
        per_block *= self._pair_factors(row, rows, vectors)[:, None]
        return [
            {b.name: round(float(v), 4) for b, v in zip(self.blocks, values, strict=True)}
            for values in per_block
        ]

    def _reason(self, row: int, other: int, share: dict[str, float], query_genres: set) -> str:
        top = [name for name, value in sorted(share.items(), key=lambda kv: -kv[1]) if value > 0]
        phrases = [self._phrase(name, row, other, query_genres) for name in top[:3]]
        phrases = [p for p in phrases if p]
        if not phrases:
            return "closest overall match (no single feature stands out)"
        reason = "; ".join(phrases)
        if self._uses_audio and not (self.has_audio[row] and self.has_audio[other]):
            reason += " (metadata only: audio features missing)"
        return reason

    def _phrase(self, name: str, row: int, other: int, query_genres: set) -> str:
        raw = self._raw
        if name == "genres":
            other_genres = self._genres[other].as_py() or []
            shared = [g for g in other_genres if g in query_genres]
            return f"shares genres: {', '.join(shared[:3])}" if shared else "related genres"
        if name == "key":
            a, b = int(raw["key"][row]), int(raw["key"][other])
            return f"same key ({PITCH_CLASSES[a]})" if a == b else (
                f"related keys ({PITCH_CLASSES[a]} / {PITCH_CLASSES[b]})")
        if name == "mode":
            return "both in a major key" if raw["mode"][row] == 1 else "both in a minor key"
        if name == "explicit":
            return "same explicit-lyrics flag"
        if name == "release_year":
            a, b = raw["release_year"][row], raw["release_year"][other]
            return f"same era ({int(a)} / {int(b)})" if not np.isnan(a + b) else "same era"
        if name == "duration_ms":
            return f"similar length ({_minutes(raw['duration_ms'][row])} /" \
                   f" {_minutes(raw['duration_ms'][other])})"
        if name == "popularity":
            return f"similar popularity ({int(raw['popularity'][row])} /" \
                   f" {int(raw['popularity'][other])})"
        if name in _LABELS:
            a, b = raw[name][row], raw[name][other]
            return f"similar {_LABELS[name]} ({_fmt(name, a)} / {_fmt(name, b)})"
        return ""


def _fmt(name: str, value: float) -> str:
    if name == "tempo":
        return f"{value:.0f} bpm"
    if name == "loudness":
        return f"{value:.1f} dB"
    if name == "time_signature":
        return f"{value:.0f}/4"
    return f"{value:.2f}"


def _minutes(duration_ms: float) -> str:
    if np.isnan(duration_ms):
        return "?"
    seconds = round(duration_ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"
