"""The gold marts the app reads and the columns (with their Delta/Arrow types) it relies on.

Mirrors dbt_spotify/models/marts and docs/contracts.md. The app checks a mart's columns when it
loads it, so a mart built by an older dbt project fails with a message naming the missing
columns instead of a KeyError deep in a page. Tests and the benchmark write their catalogues
with these schemas.
"""

from __future__ import annotations

import pyarrow as pa

STR = pa.string()
STRS = pa.list_(pa.string())
INT = pa.int32()
LONG = pa.int64()
DBL = pa.float64()
BOOL = pa.bool_()

FEATURE_COLUMNS = (
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature",
)
_FEATURE_TYPES = {"key": INT, "mode": INT, "time_signature": INT}

RECOMMENDER_FIELDS = [
    ("track_id", STR), ("track_name", STR), ("artist_ids", STRS), ("artist_names", STRS),
    ("primary_artist_id", STR), ("album_id", STR), ("album_name", STR), ("release_year", INT),
    ("explicit", BOOL), ("duration_ms", LONG), ("popularity", INT), ("genres", STRS),
    *[(name, _FEATURE_TYPES.get(name, DBL)) for name in FEATURE_COLUMNS],
    ("features_source", STR), ("has_audio_features", BOOL),
]

SCHEMAS: dict[str, pa.Schema] = {
    "mart_recommender_features": pa.schema(RECOMMENDER_FIELDS),
    "mart_track_search": pa.schema([
        *RECOMMENDER_FIELDS,
        ("album_image_url", STR), ("release_date", pa.date32()),
        ("release_date_precision", STR), ("preview_url", STR),
        ("artist_names_joined", STR), ("search_text", STR),
    ]),
    "dim_artist": pa.schema([
        ("artist_id", STR), ("artist_name", STR), ("genres", STRS), ("genre_count", INT),
        ("popularity", INT), ("followers", LONG), ("image_url", STR), ("spotify_url", STR),
        ("spotify_uri", STR), ("is_crawled", BOOL),
    ]),
    "dim_album": pa.schema([
        ("album_id", STR), ("album_name", STR), ("album_type", STR),
        ("primary_artist_id", STR), ("artist_count", INT), ("total_tracks", INT),
        ("tracks_in_catalogue", LONG), ("release_date", pa.date32()),
        ("release_date_precision", STR), ("release_date_raw", STR), ("release_year", INT),
        ("label", STR), ("popularity", INT), ("upc", STR), ("image_url", STR),
        ("spotify_url", STR), ("spotify_uri", STR),
    ]),
    "dim_track": pa.schema([
        ("track_id", STR), ("track_name", STR), ("album_id", STR), ("primary_artist_id", STR),
        ("artist_count", INT), ("disc_number", INT), ("track_number", INT),
        ("duration_ms", LONG), ("explicit", BOOL), ("is_local", BOOL), ("is_playable", BOOL),
        ("popularity", INT), ("preview_url", STR), ("isrc", STR), ("spotify_url", STR),
        ("spotify_uri", STR), ("_last_loaded_at", pa.timestamp("us", tz="UTC")),
    ]),
    "bridge_album_artist": pa.schema([
        ("album_id", STR), ("artist_id", STR), ("artist_position", INT), ("is_primary", BOOL),
    ]),
    "mart_entity_counts": pa.schema([("entity", STR), ("row_count", LONG)]),
    "mart_artist_summary": pa.schema([
        ("artist_id", STR), ("artist_name", STR), ("is_crawled", BOOL), ("genres", STRS),
        ("popularity", INT), ("followers", LONG), ("album_count", LONG),
        ("primary_album_count", LONG), ("track_count", LONG), ("popularity_rank", INT),
        ("followers_rank", INT),
    ]),
    "mart_genre_summary": pa.schema([
        ("genre", STR), ("artist_count", LONG), ("track_count", LONG),
        ("tracks_with_features", LONG), ("avg_artist_popularity", DBL),
        ("avg_track_popularity", DBL),
        *[(f"avg_{name}", DBL) for name in (
            "danceability", "energy", "valence", "acousticness", "instrumentalness",
            "speechiness", "liveness", "loudness", "tempo")],
    ]),
    "mart_release_year_trends": pa.schema([
        ("release_year", INT), ("album_count", LONG), ("track_count", LONG),
        ("explicit_share", DBL), ("avg_duration_ms", DBL), ("avg_track_popularity", DBL),
        ("tracks_with_features", LONG),
        *[(f"avg_{name}", DBL) for name in (
            "danceability", "energy", "valence", "acousticness", "loudness", "tempo")],
    ]),
    "mart_label_summary": pa.schema([
        ("label", STR), ("album_count", LONG), ("track_count", LONG), ("artist_count", LONG),
        ("first_release_year", INT), ("last_release_year", INT), ("avg_album_popularity", DBL),
    ]),
}

# Columns of each mart the app actually uses (a subset is read where tables are wide).
USED_COLUMNS: dict[str, tuple[str, ...]] = {
    "mart_track_search": tuple(SCHEMAS["mart_track_search"].names),
    "dim_artist": ("artist_id", "artist_name", "genres", "popularity", "followers", "image_url",
                   "spotify_url", "is_crawled"),
    "dim_album": ("album_id", "album_name", "album_type", "primary_artist_id", "total_tracks",
                  "release_date", "release_date_precision", "release_year", "label",
                  "popularity", "image_url", "spotify_url"),
    "dim_track": ("track_id", "disc_number", "track_number"),
    "bridge_album_artist": ("album_id", "artist_id", "artist_position"),
}

# The mart without which the app has nothing to show (the "run the pipeline" page instead).
REQUIRED_MART = "mart_track_search"
ANALYTICS_MARTS = (
    "mart_entity_counts", "mart_artist_summary", "mart_genre_summary",
    "mart_release_year_trends", "mart_label_summary",
)


class GoldContractError(RuntimeError):
    """A gold mart lacks columns the app needs; the message names them and the fix."""


def check_columns(name: str, schema: pa.Schema) -> None:
    wanted = USED_COLUMNS.get(name, tuple(SCHEMAS[name].names))
    missing = [column for column in wanted if column not in schema.names]
    if missing:
        raise GoldContractError(
            f"gold mart {name} has no column(s) {', '.join(missing)}: it was built by an older"
            " dbt project. Rebuild and publish gold (`make run` or `lakehouse run`)."
        )
