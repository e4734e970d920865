"""Tiny, hand-made recommender catalogue rows (a uniquely named module: importable from tests)."""

from __future__ import annotations

import pyarrow as pa

# The column types of gold.mart_recommender_features (docs/contracts.md).
MART_SCHEMA = pa.schema(
    [
        ("track_id", pa.string()),
        ("track_name", pa.string()),
        ("artist_ids", pa.list_(pa.string())),
        ("artist_names", pa.list_(pa.string())),
        ("primary_artist_id", pa.string()),
        ("album_id", pa.string()),
        ("album_name", pa.string()),
        ("release_year", pa.int32()),
        ("explicit", pa.bool_()),
        ("duration_ms", pa.int64()),
        ("popularity", pa.int32()),
        ("genres", pa.list_(pa.string())),
        ("danceability", pa.float64()),
        ("energy", pa.float64()),
        ("key", pa.int32()),
        ("loudness", pa.float64()),
        ("mode", pa.int32()),
        ("speechiness", pa.float64()),
        ("acousticness", pa.float64()),
        ("instrumentalness", pa.float64()),
        ("liveness", pa.float64()),
        ("valence", pa.float64()),
        ("tempo", pa.float64()),
        ("time_signature", pa.int32()),
        ("features_source", pa.string()),
        ("has_audio_features", pa.bool_()),
    ]
)

# Audio "styles": every listed feature takes the value; a track = style + small offset.
STYLES = {
    "rock": {"danceability": 0.30, "energy": 0.92, "acousticness": 0.05, "valence": 0.45,
             "instrumentalness": 0.10, "speechiness": 0.05, "loudness": -5.0, "tempo": 140.0},
    "pop": {"danceability": 0.85, "energy": 0.65, "acousticness": 0.20, "valence": 0.85,
            "instrumentalness": 0.00, "speechiness": 0.08, "loudness": -6.0, "tempo": 118.0},
    "jazz": {"danceability": 0.45, "energy": 0.20, "acousticness": 0.90, "valence": 0.35,
             "instrumentalness": 0.85, "speechiness": 0.04, "loudness": -15.0, "tempo": 90.0},
}


def track(
    track_id: str,
    style: str | None,
    *,
    name: str | None = None,
    artist: str | None = None,
    genres: list[str] | None = None,
    offset: float = 0.0,
    year: int = 2000,
    duration_ms: int = 210_000,
    popularity: int | None = None,
    **overrides,
) -> dict:
    """One mart row; style=None means no audio features (development-mode Spotify app)."""
    artist = artist or f"{style or 'meta'}-artist"
    row = {
        "track_id": track_id,
        "track_name": name or f"Song {track_id}",
        "artist_ids": [artist],
        "artist_names": [artist.replace("-", " ").title()],
        "primary_artist_id": artist,
        "album_id": f"album-{track_id}",
        "album_name": f"Album {track_id}",
        "release_year": year,
        "explicit": False,
        "duration_ms": duration_ms,
        "popularity": popularity,
        "genres": genres if genres is not None else ([style] if style else []),
        "danceability": None, "energy": None, "key": -1, "loudness": None, "mode": None,
        "speechiness": None, "acousticness": None, "instrumentalness": None,
        "liveness": None, "valence": None, "tempo": None, "time_signature": None,
        "features_source": None,
        "has_audio_features": False,
    }
    if style:
        values = STYLES[style]
        row.update({name_: value + offset * (1 if name_ != "tempo" else 20)
                    for name_, value in values.items()})
        row.update({"key": 5, "mode": 1, "liveness": 0.1, "time_signature": 4,
                    "features_source": "api", "has_audio_features": True})
    row.update(overrides)
    return row


def mart(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=MART_SCHEMA)
