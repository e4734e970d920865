"""Vacuum: replaced Delta files go once older than the retention; the latest versions stay whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_support import files_on_disk, lake_writer_running, live_files

from lakehouse.exclusive_lock import LakeBusy
from lakehouse.lake import delta_tables, lake_filesystem
from lakehouse.settings import Settings
from lakehouse.vacuum import vacuum_lake


def make_lake(settings: Settings) -> dict[str, int]:
    """silver.tracks written then overwritten twice (two replaced files), gold.dim_track written
    once, bronze.tracks appended twice, plus a file no version mentions (a failed write's) in
    gold. Returns the size of each file that is not live, by `folder.table/file`."""
    tracks = settings.lake_path("silver", "tracks")
    for n in (1000, 500, 3):
        write_deltalake(tracks, pa.table({"id": [f"t{i}" for i in range(n)]}), mode="overwrite")
    write_deltalake(settings.lake_path("gold", "dim_track"), pa.table({"id": ["t0"]}))
    for _ in range(2):
        write_deltalake(settings.lake_path("bronze", "tracks"), pa.table({"id": ["t0"]}),
                        mode="append")
    orphan = "part-00000-failed-write.snappy.parquet"
    # A data file that no commit mentions, as a write that failed before its commit leaves one:
    # written as a table outside the layers, then moved into gold.dim_track.
    scratch = settings.lake_path("scratch", "orphan_source")
    write_deltalake(scratch, pa.table({"id": ["t9"]}))
    (written,) = live_files(scratch)
    filesystem, root = lake_filesystem(settings.lake_path())
    filesystem.move(*(f"{root}/{p}" if root else p for p in (
        f"scratch/orphan_source/{written}", f"gold/dim_track/{orphan}")))
    dead = {}
    for folder, name in (("silver", "tracks"), ("gold", "dim_track"), ("bronze", "tracks")):
        location = settings.lake_path(folder, name)
        live = live_files(location)
        dead |= {f"{folder}.{name}/{f}": size
                 for f, size in files_on_disk(location).items() if f not in live}
    return dead


def versions(settings: Settings) -> dict[str, int]:
    return {f"{folder}.{name}": DeltaTable(settings.lake_path(folder, name)).version()
            for folder in ("bronze", "silver", "gold") for name in delta_tables(settings, folder)}


def check_vacuum(settings: Settings) -> None:
    dead = make_lake(settings)
    assert len(dead) == 3  # two replaced silver files and the orphan; appends replace nothing
    before = versions(settings)

    # Within the retention nothing goes, and nothing is committed.
    assert vacuum_lake(settings).files == 0
    # A dry run lists exactly the dead files, with their sizes, and deletes nothing.
    planned = vacuum_lake(settings, retain_hours=0, dry_run=True)

    def dead_in(table: str) -> tuple[int, int]:
        sizes = [size for file, size in dead.items() if file.startswith(f"{table}/")]
        return len(sizes), sum(sizes)

    assert {f"{t.folder}.{t.name}": (t.files, t.bytes) for t in planned.tables} == {
        "bronze.tracks": (0, 0), "silver.tracks": dead_in("silver.tracks"),
        "gold.dim_track": dead_in("gold.dim_track"),
    }
    assert dead_in("silver.tracks")[0] == 2 and dead_in("gold.dim_track")[0] == 1
    assert versions(settings) == before
    silver = settings.lake_path("silver", "tracks")
    assert len(files_on_disk(silver)) == 3

    done = vacuum_lake(settings, retain_hours=0)
    assert done.tables == planned.tables
    for folder, name in (("silver", "tracks"), ("gold", "dim_track"), ("bronze", "tracks")):
        location = settings.lake_path(folder, name)
        assert set(files_on_disk(location)) == live_files(location), location
    # The latest versions are whole; the vacuum was committed (VACUUM START/END) only where it
    # deleted something.
    assert DeltaTable(silver).to_pyarrow_table().num_rows == 3
    assert DeltaTable(settings.lake_path("bronze", "tracks")).to_pyarrow_table().num_rows == 2
    after = versions(settings)
    assert after == {**before, "silver.tracks": before["silver.tracks"] + 2,
                     "gold.dim_track": before["gold.dim_track"] + 2}
    # delta-rs lists a deleted file again while its tombstone is in the log: a second vacuum
    # must neither count it nor commit again.
    assert vacuum_lake(settings, retain_hours=0).files == 0
    assert versions(settings) == after


def test_vacuum_deletes_replaced_and_orphaned_files_only(tmp_path: Path) -> None:
    check_vacuum(Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake")))


def test_vacuum_deletes_the_checksum_files_of_deleted_files(tmp_path: Path) -> None:
    # Spark writes a local table through Hadoop's checksummed filesystem: a hidden
    # `.<file>.crc` beside each data file, which delta-rs's vacuum does not delete.
    settings = Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake"))
    make_lake(settings)
    silver = Path(settings.lake_path("silver", "tracks"))
    for data in silver.glob("*.parquet"):
        (silver / f".{data.name}.crc").write_bytes(b"crc")
    assert len(list(silver.glob(".*.crc"))) == 3

    vacuum_lake(settings, retain_hours=0)
    assert {p.name for p in silver.glob(".*.crc")} == {
        f".{name}.crc" for name in live_files(str(silver))}


def test_vacuum_on_hdfs(tmp_path: Path, hdfs_url: str) -> None:
    lake = f"{hdfs_url}/vacuum_{tmp_path.name}"
    check_vacuum(Settings(_env_file=None, data_dir=tmp_path, lake_root=lake))


def test_vacuum_waits_for_no_one_while_another_job_writes_the_lake(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake"))
    make_lake(settings)
    silver = settings.lake_path("silver", "tracks")
    on_disk = files_on_disk(silver)
    with (
        lake_writer_running(settings, "bronze export batch b-1") as holder,
        pytest.raises(LakeBusy) as refused,
    ):
        vacuum_lake(settings, retain_hours=0)
    assert str(refused.value).startswith("vacuum of the lake (files replaced over 0 h ago) was"
                                         " refused: ")
    assert f"(bronze export batch b-1, pid {holder.pid}, since " in str(refused.value)
    assert files_on_disk(silver) == on_disk


def lakehouse_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKE_ROOT": settings.lake_root, "DATA_DIR": str(settings.data_dir),
           "COLUMNS": "200"}
    return subprocess.run([str(Path(sys.executable).parent / "lakehouse"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_vacuum_command(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, lake_root=str(tmp_path / "lake"))
    dead = make_lake(settings)
    silver = settings.lake_path("silver", "tracks")

    dry = lakehouse_cli(settings, "vacuum", "--dry-run", "--retain-hours", "0")
    assert dry.returncode == 0, dry.stderr
    assert "Vacuum would delete 3 files (0.0 MB) of 3 Delta tables: files replaced over 0 h" \
        " ago." in dry.stdout
    assert "silver.tracks" in dry.stdout and "gold.dim_track" in dry.stdout
    assert "bronze.tracks" not in dry.stdout  # nothing to delete there: not listed
    assert len(files_on_disk(silver)) == 3

    kept = lakehouse_cli(settings, "vacuum")  # LAKE_VACUUM_RETAIN_HOURS: 168 by default
    assert "Vacuum deleted 0 files (0.0 MB) of 3 Delta tables: files replaced over 168 h ago." \
        in kept.stdout
    done = lakehouse_cli(settings, "vacuum", "--retain-hours", "0")
    assert done.returncode == 0, done.stderr
    assert "Vacuum deleted 3 files" in done.stdout
    assert len(files_on_disk(silver)) == 1
    assert all(not Path(settings.lake_path(*f.replace(".", "/", 1).split("/"))).exists()
               for f in dead)

    negative = lakehouse_cli(settings, "vacuum", "--retain-hours", "-1")
    assert negative.returncode == 2
    assert "Invalid value for '--retain-hours'" in negative.stderr
