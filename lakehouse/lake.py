"""Listing the Delta tables of a lake folder (local path or hdfs://), without a JVM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.settings import Settings

if TYPE_CHECKING:
    from pyarrow import fs


def layer_folders(settings: Settings, gold_schema: str | None = None) -> dict[str, str]:
    """Each lake layer's folder under LAKE_ROOT, as its writer names it: the bronze export a
    fixed one, dbt silver DBT_SILVER_SCHEMA, publish gold GOLD_SCHEMA (or `gold_schema`, e.g.
    the audit schema the gate validates). A literal "silver" would read an old folder, or none,
    once that schema is renamed."""
    from ingestion.bronze_tables import LAKE_FOLDER as BRONZE

    return {
        "bronze": BRONZE,
        "silver": settings.dbt_silver_schema,
        "gold": gold_schema or settings.gold_schema,
    }


def delta_tables(settings: Settings, directory: str) -> list[str]:
    """Names of the Delta tables directly under LAKE_ROOT/<directory>, sorted."""
    return delta_tables_under(settings.lake_path(directory))


def lake_filesystem(location: str) -> tuple[fs.FileSystem, str]:
    """(a filesystem, the path of `location` in it) for a settings.lake_path."""
    from deltalake.fs import DeltaStorageHandler
    from pyarrow import fs

    if "://" in location:
        # delta-rs's own object store (its native HDFS client for hdfs://): pyarrow's HDFS
        # filesystem is libhdfs, which needs a JVM and the Hadoop jars in this process.
        return fs.PyFileSystem(DeltaStorageHandler(location)), ""
    # A local path as it is: a URL would need it percent-encoded (spaces, quotes).
    return fs.LocalFileSystem(), location


def delta_tables_under(location: str) -> list[str]:
    """Names of the Delta tables directly under `location` (a settings.lake_path), sorted."""
    from deltalake import DeltaTable
    from pyarrow import fs

    filesystem, root = lake_filesystem(location)
    try:
        entries = filesystem.get_file_info(fs.FileSelector(root, allow_not_found=True))
    except OSError:
        return []
    names = sorted(
        e.base_name
        for e in entries
        if e.type == fs.FileType.Directory and not e.base_name.startswith(("_", "."))
    )
    return [n for n in names if DeltaTable.is_deltatable(f"{location}/{n}")]
