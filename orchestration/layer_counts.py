"""Row counts per layer (MongoDB, bronze, silver, gold), read without a JVM."""

from __future__ import annotations

from lakehouse.lake import delta_tables, layer_folders
from lakehouse.settings import Settings

MONGO_COLLECTIONS = ("artists", "albums", "tracks", "audio_features")


def _delta_counts(settings: Settings, folder: str) -> dict[str, int]:
    from deltalake import DeltaTable

    return {
        name: DeltaTable(settings.lake_path(folder, name)).to_pyarrow_dataset().count_rows()
        for name in delta_tables(settings, folder)
    }


def mongo_counts(settings: Settings) -> dict[str, int]:
    from ingestion.mongodb import database

    db = database(settings)
    try:
        return {name: db[name].estimated_document_count() for name in MONGO_COLLECTIONS}
    finally:
        db.client.close()


def layer_counts(settings: Settings) -> dict[str, dict[str, int]]:
    lake = {
        layer: _delta_counts(settings, folder)
        for layer, folder in layer_folders(settings).items()
    }
    return {"mongodb": mongo_counts(settings), **lake}
