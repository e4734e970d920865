"""Helpers shared by test modules (imported as `lake_support`: tests/ is on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lakehouse.settings import Settings, get_settings

# Set by scripts/test.sh (the suite CI runs): a missing prerequisite is then a failure, not a
# skip that lets the run pass without the tests that need it.
REQUIRE_ALL = "LAKEHOUSE_TESTS_REQUIRE_ALL"


def missing_prerequisite(reason: str) -> None:
    """Skip (a plain `pytest` run on a partial set-up) or fail (scripts/test.sh) for `reason`."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{reason} (scripts/test.sh requires every prerequisite)", pytrace=False)
    pytest.skip(reason)

LAKE_SCHEMAS = ("gold", "gold_audit", "silver", "bronze")


@contextmanager
def environment(**overrides: str) -> Iterator[Settings]:
    """Run a block with some settings changed through the environment (as a user would), for
    code that reads the global `get_settings()` (flows, CLI); restores everything after."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def reset_metastore(settings: Settings) -> None:
    """Forget the lake's schemas in the session's Spark metastore (external tables: the data
    stays). Test modules that build their own lake call this first, because the schema names
    (bronze, silver, gold, gold_audit) are global to the one Thrift Server of the session."""
    from spark_thrift.client import query

    for schema in LAKE_SCHEMAS:
        query(f"DROP SCHEMA IF EXISTS {schema} CASCADE", settings=settings)


def register_lake_tables(settings: Settings) -> None:
    """Register every Delta table of a lake in the session's metastore again, as the lake's own
    Thrift Server would still have them: bronze sources, and the silver, audit and published
    tables by their locations. dbt then merges into the existing incremental tables instead of
    taking them for new ones and rebuilding them."""
    from lakehouse.dbt_sources import register_bronze_tables
    from lakehouse.lake import delta_tables
    from quality.publish import AUDIT_SCHEMA, register_tables

    register_bronze_tables(settings)
    for schema in (settings.dbt_silver_schema, AUDIT_SCHEMA, settings.gold_schema):
        register_tables(settings, schema, delta_tables(settings, schema))


def files_on_disk(location: str) -> dict[str, int]:
    """The data files under a Delta table (not its log, not hidden files such as Hadoop's
    `.crc`), as path relative to the table -> size; local path or hdfs://."""
    from pyarrow import fs

    from lakehouse.lake import lake_filesystem

    filesystem, root = lake_filesystem(location)
    prefix = f"{root}/" if root else ""
    found = {}
    for info in filesystem.get_file_info(fs.FileSelector(root, recursive=True)):
        path = info.path.removeprefix(prefix)
        hidden = any(part.startswith(("_", ".")) for part in path.split("/"))
        if info.type == fs.FileType.File and not hidden:
            found[path] = info.size
    return found


def live_files(location: str) -> set[str]:
    """The data files of a Delta table's latest version, relative to the table."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(location).get_add_actions(flatten=True))
    return set(actions.column("path").to_pylist())


LAKE_WRITER = """
import sys, time
from lakehouse.exclusive_lock import lake_writer
from lakehouse.settings import Settings
with lake_writer(Settings(data_dir=sys.argv[1]), sys.argv[2]):
    print("locked", flush=True)
    time.sleep(600)
"""


@contextmanager
def lake_writer_running(settings: Settings, job: str) -> Iterator[subprocess.Popen]:
    """Another process holding the lake's write lock as `job` (killed, as by kill -9, after)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LAKE_WRITER, str(settings.data_dir), job],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
