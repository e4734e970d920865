"""Synthetic `mart_recommender_features` rows with genre structure, for benchmarks.

Genres come in families; each genre has an audio profile (family profile + genre offset), each
artist has one to three genres of one family and a small offset of its own, and each track is
its artist's profile plus noise. Duration and popularity do not depend on genre (as in real
catalogues, they say little about style), so a method that is dominated by them, like the
seed's unscaled cosine, scores close to random. Fully vectorised: 1M rows in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

UNIT_FEATURES = (
    "danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness",
    "valence",
)


def _list_array(offsets: np.ndarray, values: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.string()))


def synthetic_catalogue(
    n_tracks: int, n_families: int = 12, genres_per_family: int = 5, seed: int = 0,
    track_noise: float = 0.2,
) -> pa.Table:
    rng = np.random.default_rng(seed)
    n_genres = n_families * genres_per_family
    family_of_genre = np.repeat(np.arange(n_families), genres_per_family)
    family_profile = rng.uniform(0.05, 0.95, size=(n_families, len(UNIT_FEATURES)))
    genre_profile = np.clip(
        family_profile[family_of_genre] + rng.normal(0, 0.12, (n_genres, len(UNIT_FEATURES))),
        0.0, 1.0,
    )
    genre_tempo = rng.uniform(80, 170, n_genres)
    genre_loudness = rng.uniform(-14, -4, n_genres)
    genre_major = rng.uniform(0.3, 0.8, n_genres)
    genre_explicit = rng.uniform(0.0, 0.5, n_genres)
    family_year = rng.uniform(1970, 2020, n_families)

    # Artists: a primary genre, plus up to two more genres from the same family.
    n_artists = max(10, n_tracks // 12)
    primary = rng.integers(0, n_genres, n_artists)
    extra = rng.integers(0, 3, n_artists)
    artist_genres = [primary]
    for j in (1, 2):
        sibling = family_of_genre[primary] * genres_per_family + rng.integers(
            0, genres_per_family, n_artists
        )
        artist_genres.append(np.where(extra >= j, sibling, -1))
    artist_genre_matrix = np.column_stack(artist_genres)
    artist_offset = rng.normal(0, 0.05, (n_artists, len(UNIT_FEATURES)))

    artist = rng.integers(0, n_artists, n_tracks)
    genre = primary[artist]
    unit = np.clip(
        genre_profile[genre] + artist_offset[artist]
        + rng.normal(0, track_noise, (n_tracks, len(UNIT_FEATURES))),
        0.0, 1.0,
    )

    # Genre arrays: the artist's distinct genres.
    chosen = artist_genre_matrix[artist]
    chosen = np.where(
        (chosen == np.roll(chosen, 1, axis=1)) & (np.arange(3) > 0), -1, chosen
    )
    chosen[:, 2] = np.where(chosen[:, 2] == chosen[:, 0], -1, chosen[:, 2])
    valid = chosen >= 0
    genre_names = np.array([f"genre {g:03d}" for g in range(n_genres)], dtype=object)
    genre_offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    genres = _list_array(genre_offsets, genre_names[chosen[valid]])

    artist_id = np.array([f"artist{a:07d}" for a in range(n_artists)], dtype=object)[artist]
    artist_name = np.char.add("Artist ", np.char.mod("%d", artist)).astype(object)
    ones = np.arange(n_tracks + 1)
    columns = {
        "track_id": np.char.add("track", np.char.zfill(np.arange(n_tracks).astype(str), 8)),
        "track_name": np.char.add("Song ", np.arange(n_tracks).astype(str)),
        "artist_ids": _list_array(ones, artist_id),
        "artist_names": _list_array(ones, artist_name),
        "primary_artist_id": artist_id,
        "album_id": np.char.add("album", (np.arange(n_tracks) // 10).astype(str)),
        "album_name": np.char.add("Album ", (np.arange(n_tracks) // 10).astype(str)),
        "release_year": np.clip(
            family_year[family_of_genre[genre]] + rng.normal(0, 8, n_tracks), 1950, 2025
        ).astype(np.int32),
        "explicit": rng.random(n_tracks) < genre_explicit[genre],
        "duration_ms": np.exp(rng.normal(np.log(210_000), 0.35, n_tracks)).astype(np.int64),
        "popularity": rng.integers(0, 101, n_tracks).astype(np.int32),
        "genres": genres,
    }
    for i, name in enumerate(UNIT_FEATURES):
        columns[name] = unit[:, i]
    columns["key"] = np.where(rng.random(n_tracks) < 0.02, -1, rng.integers(0, 12, n_tracks))
    columns["loudness"] = genre_loudness[genre] + rng.normal(0, 2.0, n_tracks)
    columns["mode"] = (rng.random(n_tracks) < genre_major[genre]).astype(np.int32)
    columns["tempo"] = np.clip(genre_tempo[genre] + rng.normal(0, 12, n_tracks), 40, 240)
    columns["time_signature"] = rng.choice([4, 3, 5], n_tracks, p=[0.9, 0.07, 0.03])
    columns["features_source"] = np.full(n_tracks, "api", dtype=object)
    columns["has_audio_features"] = np.ones(n_tracks, dtype=bool)
    return pa.table({name: _as_arrow(values) for name, values in columns.items()})


def _as_arrow(values) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    if values.dtype.kind in "UO":
        return pa.array(values.astype(object), pa.string())
    if values.dtype.kind == "i" and values.dtype.itemsize == 8:
        return pa.array(values, pa.int64())
    return pa.array(values)
