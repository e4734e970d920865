"""Turn `gold.mart_recommender_features` rows into a normalised float32 feature matrix.

Each feature gets a *block* of columns so results can be explained block by block:
- audio features: z-scored (tempo on a log scale) and weighted; `key` is circular (sin/cos on
  the 12-step pitch wheel, zero for key = -1), `mode` is categorical (+1 major / -1 minor),
- metadata: genres as TF-IDF over the artists' genres (reduced with truncated SVD when the
  vocabulary is large), release year, log duration, explicit, popularity when the mart has it.

Rows are L2-normalised over all blocks together, so a dot product is a cosine. Tracks without
audio features get a zero audio block. That alone would not compare them on metadata alone (the
other track's audio would still enlarge its norm and lower the score), so when the query or the
candidate lacks audio features the recommender scores the pair on the metadata blocks
normalised on their own (`metadata_vectors`; see ml/recommend.py). When no track has audio
features (Spotify apps created after 2024-11) the whole model is a metadata model and says so
in its notes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from ml.gold_reader import BUILD_GOLD_HINT

AUDIO_SCALAR_COLUMNS = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)
REQUIRED_COLUMNS = (
    "track_id",
    "track_name",
    "artist_ids",
    "artist_names",
    "primary_artist_id",
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
FEATURE_SETS = ("all", "audio")


class FeatureError(ValueError):
    """The mart cannot be turned into features; the message says why and what to do."""


@dataclass(frozen=True)
class FeatureConfig:
    """Weights per feature (a weight scales a z-scored column, or a unit-norm block)."""

    feature_set: str = "all"  # "all" (audio + metadata) or "audio" (audio features only)
    audio_weights: dict[str, float] = field(
        default_factory=lambda: {
            "danceability": 1.0,
            "energy": 1.0,
            "loudness": 0.75,
            "speechiness": 1.0,
            "acousticness": 1.0,
            "instrumentalness": 1.0,
            "liveness": 0.5,
            "valence": 1.0,
            "tempo": 0.75,
            "time_signature": 0.25,
        }
    )
    key_weight: float = 0.5
    mode_weight: float = 0.5
    genre_weight: float = 3.0
    genre_dims: int = 24
    release_year_weight: float = 1.0
    duration_weight: float = 0.5
    explicit_weight: float = 0.5
    popularity_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.feature_set not in FEATURE_SETS:
            raise FeatureError(
                f"feature_set={self.feature_set!r}; expected one of {', '.join(FEATURE_SETS)}."
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        return cls(**data)


@dataclass(frozen=True)
class FeatureBlock:
    """Columns [start, stop) of the matrix that encode one feature."""

    name: str
    start: int
    stop: int
    group: str  # "audio" or "metadata"


@dataclass
class FeatureMatrix:
    vectors: np.ndarray  # (n, d) float32, rows L2-normalised (all-zero rows stay zero)
    blocks: list[FeatureBlock]
    feature_set: str  # "audio+metadata", "audio" or "metadata"
    has_audio: np.ndarray  # (n,) bool
    notes: list[str]
    stats: dict[str, dict[str, float]]

    @property
    def searchable(self) -> np.ndarray:
        """Rows with a non-zero vector (others cannot be compared to anything)."""
        return np.any(self.vectors != 0, axis=1)

    @property
    def partial_audio(self) -> bool:
        """Some tracks have audio features and some do not, and metadata blocks exist.

        Only then do pairs occur that must be scored on metadata alone (ml/recommend.py).
        """
        return bool(
            self.has_audio.any()
            and not self.has_audio.all()
            and metadata_columns(self.blocks) is not None
        )


def metadata_columns(blocks: list[FeatureBlock]) -> slice | None:
    """The matrix columns of the metadata blocks (they follow the audio blocks), if any."""
    metadata = [b for b in blocks if b.group == "metadata"]
    if not metadata:
        return None
    return slice(min(b.start for b in metadata), max(b.stop for b in metadata))


def metadata_vectors(vectors: np.ndarray, blocks: list[FeatureBlock]) -> np.ndarray:
    """The metadata columns of `vectors`, each row L2-normalised on its own (zero rows stay 0).

    A dot product of two such rows is the metadata-only cosine of the two tracks, whatever
    their audio blocks hold.
    """
    columns = metadata_columns(blocks)
    if columns is None:
        raise FeatureError("This model has no metadata blocks (feature set 'audio').")
    out = np.ascontiguousarray(vectors[:, columns], dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


# --- column helpers ---------------------------------------------------------------------------
def floats(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64 with NaN for nulls."""
    column = pc.cast(table.column(name), pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def booleans(table: pa.Table, name: str) -> np.ndarray:
    column = pc.fill_null(table.column(name), False)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)


def check_columns(table: pa.Table) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise FeatureError(
            f"gold.mart_recommender_features lacks column(s) {', '.join(missing)}; see"
            f" docs/contracts.md and rebuild gold ({BUILD_GOLD_HINT})."
        )


def zscore(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Standardise with the mean/std of the rows in `mask`; other rows and NaN become 0."""
    usable = mask & ~np.isnan(values)
    if not usable.any():
        return np.zeros_like(values), {"mean": 0.0, "std": 1.0}
    mean = float(values[usable].mean())
    std = float(values[usable].std()) or 1.0
    out = np.where(usable, (values - mean) / std, 0.0)
    return out, {"mean": mean, "std": std}


def genre_matrix(table: pa.Table) -> tuple[sparse.csr_matrix, list[str]]:
    """Multi-hot (n x vocabulary) matrix of the `genres` arrays, built without Python loops."""
    genres = table.column("genres").combine_chunks()
    n = len(genres)
    flat = pc.list_flatten(genres)
    parents = pc.list_parent_indices(genres)
    valid = pc.is_valid(flat)
    flat, parents = pc.filter(flat, valid), pc.filter(parents, valid)
    if len(flat) == 0:
        return sparse.csr_matrix((n, 0), dtype=np.float32), []
    encoded = pc.dictionary_encode(flat)
    codes = encoded.indices.to_numpy()
    vocabulary = encoded.dictionary.to_pylist()
    matrix = sparse.csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (parents.to_numpy(), codes)),
        shape=(n, len(vocabulary)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a genre listed by two credited artists still counts once
    return matrix, vocabulary


# --- blocks -------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, n: int) -> None:
        self.n = n
        self.columns: list[np.ndarray] = []
        self.blocks: list[FeatureBlock] = []
        self.width = 0

    def add(self, name: str, group: str, *columns: np.ndarray) -> None:
        for column in columns:
            self.columns.append(np.asarray(column, dtype=np.float32).reshape(self.n, -1))
        added = sum(c.shape[1] for c in self.columns[len(self.columns) - len(columns) :])
        self.blocks.append(FeatureBlock(name, self.width, self.width + added, group))
        self.width += added

    def matrix(self) -> np.ndarray:
        if not self.columns:
            return np.zeros((self.n, 0), dtype=np.float32)
        return np.ascontiguousarray(np.hstack(self.columns), dtype=np.float32)


def _audio_blocks(
    table: pa.Table, config: FeatureConfig, has_audio: np.ndarray, builder: _Builder, stats: dict
) -> None:
    for name in AUDIO_SCALAR_COLUMNS:
        values = floats(table, name)
        if name == "tempo":  # doubling 60 -> 120 bpm matters as much as 120 -> 240
            values = np.log(np.where(values > 0, values, np.nan))
        z, stats[name] = zscore(values, has_audio)
        builder.add(name, "audio", z * config.audio_weights.get(name, 1.0))
    key = floats(table, "key")
    valid_key = has_audio & (key >= 0) & ~np.isnan(key)
    angle = 2 * np.pi * np.where(valid_key, key, 0) / 12
    sin = np.where(valid_key, np.sin(angle), 0.0) * config.key_weight
    cos = np.where(valid_key, np.cos(angle), 0.0) * config.key_weight
    builder.add("key", "audio", sin, cos)
    mode = floats(table, "mode")
    signed = np.where(has_audio & ~np.isnan(mode), 2 * np.nan_to_num(mode) - 1, 0.0)
    builder.add("mode", "audio", signed * config.mode_weight)


def _genre_block(table: pa.Table, config: FeatureConfig, builder: _Builder, notes: list) -> None:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    multi_hot, vocabulary = genre_matrix(table)
    if not vocabulary:
        notes.append("no track has genres: genres not used")
        return
    tfidf = TfidfTransformer().fit_transform(multi_hot)  # rows L2-normalised
    if len(vocabulary) > config.genre_dims:
        svd = TruncatedSVD(n_components=config.genre_dims, random_state=0)
        # Fit on a sample (the genre vocabulary's structure shows in 100k rows), project all.
        rows = tfidf.shape[0]
        sample = np.random.default_rng(0).choice(rows, size=min(rows, 100_000), replace=False)
        svd.fit(tfidf[np.sort(sample)])
        dense = normalize(svd.transform(tfidf)).astype(np.float32)
        notes.append(
            f"genres: TF-IDF over {len(vocabulary)} genres reduced to {config.genre_dims} dims"
            f" (explained variance {svd.explained_variance_ratio_.sum():.2f})"
        )
    else:
        dense = tfidf.toarray()
    builder.add("genres", "metadata", dense * config.genre_weight)


def _metadata_blocks(
    table: pa.Table, config: FeatureConfig, builder: _Builder, stats: dict, notes: list
) -> None:
    everyone = np.ones(table.num_rows, dtype=bool)
    _genre_block(table, config, builder, notes)
    year, stats["release_year"] = zscore(floats(table, "release_year"), everyone)
    builder.add("release_year", "metadata", year * config.release_year_weight)
    duration = floats(table, "duration_ms")
    log_duration = np.log(np.where(duration > 0, duration, np.nan))
    z, stats["duration_ms"] = zscore(log_duration, everyone)
    builder.add("duration_ms", "metadata", z * config.duration_weight)
    z, stats["explicit"] = zscore(booleans(table, "explicit").astype(np.float64), everyone)
    builder.add("explicit", "metadata", z * config.explicit_weight)
    popularity = floats(table, "popularity")
    if np.isnan(popularity).all():
        notes.append("popularity is null for every track (development mode): not used")
    else:
        z, stats["popularity"] = zscore(popularity, everyone)
        builder.add("popularity", "metadata", z * config.popularity_weight)


def build_features(table: pa.Table, config: FeatureConfig | None = None) -> FeatureMatrix:
    """The feature matrix for every row of the mart (row order kept)."""
    config = config or FeatureConfig()
    check_columns(table)
    if table.num_rows == 0:
        raise FeatureError(
            "gold.mart_recommender_features is empty: crawl and build gold before training."
        )
    has_audio = booleans(table, "has_audio_features") & ~np.isnan(floats(table, "danceability"))
    notes: list[str] = []
    stats: dict[str, dict[str, float]] = {}
    builder = _Builder(table.num_rows)
    if has_audio.any():
        _audio_blocks(table, config, has_audio, builder, stats)
        missing = int((~has_audio).sum())
        if missing:
            notes.append(
                f"{missing} of {table.num_rows} tracks have no audio features:"
                " they are compared on metadata only"
            )
    elif config.feature_set == "audio":
        raise FeatureError(
            "No track has audio features (Spotify apps created after 2024-11 cannot read them):"
            " the audio-only model is unavailable. Train with all features (metadata fallback)"
            " or import audio features (bronze imported_audio_features)."
        )
    else:
        notes.append(
            "no track has audio features: metadata fallback"
            " (genres, release year, duration, explicit, popularity)"
        )
    if config.feature_set == "all":
        _metadata_blocks(table, config, builder, stats, notes)
    vectors = builder.matrix()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    if config.feature_set == "audio":
        feature_set = "audio"
    else:
        feature_set = "audio+metadata" if has_audio.any() else "metadata"
    return FeatureMatrix(vectors, builder.blocks, feature_set, has_audio, notes, stats)
