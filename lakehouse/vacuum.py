"""Delete the data files that no Delta version inside the retention window needs (VACUUM).

A Delta write never deletes the files it replaces: they keep earlier versions readable (time
travel). dbt rebuilds gold's table models in every build and its merges rewrite the silver files
they touch, and every publish writes gold once more, so without a vacuum the lake grows by about
two copies of gold per pipeline run (~150 MB a run at 200k tracks; docs/runtime.md). The
pipeline vacuums after it publishes, and `lakehouse vacuum` does it on demand.

Files replaced or removed less than LAKE_VACUUM_RETAIN_HOURS ago stay, and so does every file of
the latest version. Files that no version mentions (left by a write that failed before its
commit) go once they are older than the retention too, as with Spark's VACUUM. The lake's write
lock is held meanwhile: with a short retention, a concurrent writer's files not yet committed
would look like such leftovers.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse import exclusive_lock
from lakehouse.lake import delta_tables, lake_filesystem
from lakehouse.settings import Settings


@dataclass
class VacuumedTable:
    folder: str
    name: str
    files: int
    bytes: int


@dataclass
class LakeVacuum:
    """What one vacuum of the lake deleted (or, with `dry_run`, would delete), per table."""

    retain_hours: int
    dry_run: bool
    tables: list[VacuumedTable]

    @property
    def files(self) -> int:
        return sum(t.files for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"Vacuum {verb} {self.files} files ({self.bytes / 1e6:.1f} MB) of"
            f" {len(self.tables)} Delta tables: files replaced over {self.retain_hours} h ago."
        )


def lake_folders(settings: Settings) -> list[str]:
    """The folders of LAKE_ROOT that hold the layers' Delta tables, each once."""
    from ingestion.bronze_tables import LAKE_FOLDER as BRONZE
    from quality.publish import AUDIT_SCHEMA

    folders = [BRONZE, settings.dbt_silver_schema, AUDIT_SCHEMA, settings.dbt_gold_schema,
               settings.gold_schema]
    return list(dict.fromkeys(folders))


def _relative(path: str, table_location: str) -> str:
    """A path delta-rs returned (relative, or absolute after an earlier vacuum) made relative."""
    for prefix in (table_location, "file://" + table_location):
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
    return path


def _existing(table_location: str, paths: list[str]) -> list[tuple[str, int]]:
    """(path, size) of the files among `paths` (relative to the table) that exist."""
    from pyarrow import fs

    if not paths:
        return []
    filesystem, root = lake_filesystem(table_location)
    infos = filesystem.get_file_info([f"{root}/{p}" if root else p for p in paths])
    return [(p, info.size or 0) for p, info in zip(paths, infos, strict=True)
            if info.type == fs.FileType.File]


def _delete_checksums(table_location: str, deleted: list[str]) -> None:
    """Delete the hidden `.<file>.crc` Hadoop's local filesystem wrote beside each deleted data
    file of a Spark-written table: delta-rs deletes the data file only (HDFS keeps no such file)."""
    filesystem, root = lake_filesystem(table_location)
    checksums = [f"{head}{'/' if head else ''}.{name}.crc"
                 for head, _, name in (p.rpartition("/") for p in deleted)]
    for path, _ in _existing(table_location, checksums):
        filesystem.delete_file(f"{root}/{path}" if root else path)


def vacuum_table(location: str, retain_hours: int, dry_run: bool) -> tuple[int, int]:
    """(files, bytes) deleted from one Delta table, or that would be with `dry_run`."""
    from deltalake import DeltaTable

    table = DeltaTable(location)

    def vacuum(dry: bool) -> list[str]:
        # The retention is the project's setting, so Delta's own 7-day floor is not enforced;
        # `full` also finds files no version mentions, as Spark's VACUUM does.
        return table.vacuum(retention_hours=retain_hours, dry_run=dry,
                            enforce_retention_duration=False, full=True)

    candidates = [_relative(p, location) for p in vacuum(dry=True)]
    # delta-rs lists a removed file again while its tombstone is in the log, even once deleted,
    # and a real vacuum commits two versions (VACUUM START/END): vacuum only when a file is there.
    existing = _existing(location, candidates)
    if existing and not dry_run:
        vacuum(dry=False)
        _delete_checksums(location, [path for path, _ in existing])
    return len(existing), sum(size for _, size in existing)


def vacuum_lake(
    settings: Settings, *, retain_hours: int | None = None, dry_run: bool = False
) -> LakeVacuum:
    """Vacuum every Delta table of the layer folders (retention default:
    LAKE_VACUUM_RETAIN_HOURS); one entry per table, in folder order."""
    hours = settings.lake_vacuum_retain_hours if retain_hours is None else retain_hours
    if hours < 0:
        raise ValueError(f"retain_hours must be 0 or more, not {hours}")
    done = LakeVacuum(hours, dry_run, [])
    # Vacuum works on the files alone (delta-rs): it needs neither service.
    with exclusive_lock.lake_writer(settings, f"vacuum of the lake (files replaced over {hours} h"
                                              " ago)", uses=frozenset()):
        for folder in lake_folders(settings):
            for name in delta_tables(settings, folder):
                files, size = vacuum_table(settings.lake_path(folder, name), hours, dry_run)
                done.tables.append(VacuumedTable(folder, name, files, size))
    return done
