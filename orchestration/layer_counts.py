"""Row counts per layer (MongoDB, bronze, silver, gold), read without a JVM."""

from __future__ import annotations

from lakehouse.settings import Settings

MONGO_COLLECTIONS = ("artists", "albums", "tracks", "audio_features")


def _delta_counts(settings: Settings, layer: str) -> dict[str, int]:
    """Rows of every Delta table directly under LAKE_ROOT/<layer> (local lake or HDFS)."""
    from deltalake import DeltaTable
    from pyarrow import fs

    base = settings.lake_path(layer)
    filesystem, root = fs.FileSystem.from_uri(base if "://" in base else f"file://{base}")
    try:
        entries = filesystem.get_file_info(fs.FileSelector(root, allow_not_found=True))
    except OSError:
        return {}
    counts = {}
    for entry in sorted(entries, key=lambda e: e.base_name):
        if entry.type != fs.FileType.Directory or entry.base_name.startswith(("_", ".")):
            continue
        path = f"{base}/{entry.base_name}"
        if DeltaTable.is_deltatable(path):
            counts[entry.base_name] = DeltaTable(path).to_pyarrow_dataset().count_rows()
    return counts


def mongo_counts(settings: Settings) -> dict[str, int]:
    from ingestion.mongodb import database

    db = database(settings)
    try:
        return {name: db[name].estimated_document_count() for name in MONGO_COLLECTIONS}
    finally:
        db.client.close()


def layer_counts(settings: Settings) -> dict[str, dict[str, int]]:
    return {
        "mongodb": mongo_counts(settings),
        "bronze": _delta_counts(settings, "bronze"),
        "silver": _delta_counts(settings, "silver"),
        "gold": _delta_counts(settings, "gold"),
    }
