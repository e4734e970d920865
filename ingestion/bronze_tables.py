"""The bronze Delta tables: their names, locations under LAKE_ROOT and Arrow schemas.

One definition shared by the export, the features import, the quarantine and the metastore
registration, so a column is named in exactly one place (docs/contracts.md, section Bronze).
Tables are written by delta-rs with its default protocol (reader 1 / writer 2): timestamps are
`timestamp(us, UTC)` because a zone-less timestamp would need the `timestampNtz` table feature,
which Dremio cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lakehouse.settings import Settings

ENTITIES: tuple[str, ...] = ("artists", "albums", "tracks", "audio_features")
QUARANTINE = "quarantine"
IMPORTED_FEATURES = "imported_audio_features"
LAKE_FOLDER = "bronze"  # LAKE_ROOT/bronze/<table>

UTC_TS = pa.timestamp("us", tz="UTC")

ENTITY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("payload", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_TS, nullable=False),
        pa.field("source", pa.string()),
        pa.field("crawl_id", pa.string()),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("exported_at", UTC_TS, nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("entity", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("quarantined_at", UTC_TS, nullable=False),
    ]
)

IMPORTED_FEATURES_SCHEMA = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("track_name", pa.string()),
        pa.field("artists", pa.string()),
        pa.field("album_name", pa.string()),
        pa.field("track_genre", pa.string()),
        pa.field("popularity", pa.int32()),
        pa.field("duration_ms", pa.int64()),
        pa.field("explicit", pa.bool_()),
        pa.field("danceability", pa.float64()),
        pa.field("energy", pa.float64()),
        pa.field("key", pa.int32()),
        pa.field("loudness", pa.float64()),
        pa.field("mode", pa.int32()),
        pa.field("speechiness", pa.float64()),
        pa.field("acousticness", pa.float64()),
        pa.field("instrumentalness", pa.float64()),
        pa.field("liveness", pa.float64()),
        pa.field("valence", pa.float64()),
        pa.field("tempo", pa.float64()),
        pa.field("time_signature", pa.int32()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("imported_at", UTC_TS, nullable=False),
    ]
)


@dataclass(frozen=True)
class BronzeTable:
    name: str
    schema: pa.Schema
    description: str


def all_tables() -> list[BronzeTable]:
    """Every bronze table, in registration order."""
    tables = [
        BronzeTable(e, ENTITY_SCHEMA, f"Spotify {e} documents exported from MongoDB")
        for e in ENTITIES
    ]
    tables.append(BronzeTable(QUARANTINE, QUARANTINE_SCHEMA, "Rejected documents and rows"))
    tables.append(
        BronzeTable(IMPORTED_FEATURES, IMPORTED_FEATURES_SCHEMA, "Audio features from a CSV")
    )
    return tables


def table_by_name(name: str) -> BronzeTable:
    for table in all_tables():
        if table.name == name:
            return table
    known = ", ".join(t.name for t in all_tables())
    raise ValueError(f"unknown bronze table {name!r}; known tables: {known}")


def table_uri(settings: Settings, name: str) -> str:
    """Where delta-rs reads and writes the table (a local path or an hdfs:// URL)."""
    table_by_name(name)  # only names from the fixed set ever reach a path
    return settings.lake_path(LAKE_FOLDER, name)


def table_location(settings: Settings, name: str) -> str:
    """The table's location as a URL for the Spark metastore (file:///... or hdfs://...)."""
    table_by_name(name)
    return f"{settings.lake_uri}/{LAKE_FOLDER}/{name}"


def open_table(settings: Settings, name: str) -> DeltaTable | None:
    """The table, or None when nothing has been written there yet."""
    try:
        return DeltaTable(table_uri(settings, name))
    except TableNotFoundError:
        return None


def ensure_table(settings: Settings, name: str) -> DeltaTable:
    """Open the table, creating it empty (with its schema) if it does not exist yet.

    Empty tables matter: dbt sources and the metastore registration need every bronze table to
    exist even before the first document of that kind arrives.
    """
    existing = open_table(settings, name)
    if existing is not None:
        return existing
    table = table_by_name(name)
    return DeltaTable.create(
        table_uri(settings, name),
        schema=table.schema,
        mode="ignore",  # a concurrent creator wins; we then open its table
        name=name,
        description=table.description,
    )
