"""Listing the Delta tables of a lake folder (local path or hdfs://), without a JVM."""

from __future__ import annotations

from lakehouse.settings import Settings


def delta_tables(settings: Settings, directory: str) -> list[str]:
    """Names of the Delta tables directly under LAKE_ROOT/<directory>, sorted."""
    from deltalake import DeltaTable
    from pyarrow import fs

    base = settings.lake_path(directory)
    filesystem, root = fs.FileSystem.from_uri(base if "://" in base else f"file://{base}")
    try:
        entries = filesystem.get_file_info(fs.FileSelector(root, allow_not_found=True))
    except OSError:
        return []
    names = sorted(
        e.base_name
        for e in entries
        if e.type == fs.FileType.Directory and not e.base_name.startswith(("_", "."))
    )
    return [n for n in names if DeltaTable.is_deltatable(f"{base}/{n}")]
