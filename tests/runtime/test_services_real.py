"""The local runtime against the real services: Delta through Thrift, FerretDB through pymongo,
dbt debug with the shipped profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pymongo
import pytest
from pymongo.errors import DuplicateKeyError

from lakehouse.settings import REPO_ROOT, Settings
from spark_thrift.client import query


def test_delta_table_through_thrift_and_merge(thrift: Settings) -> None:
    query("CREATE SCHEMA IF NOT EXISTS runtime_check")
    query("DROP TABLE IF EXISTS runtime_check.items")
    query("CREATE TABLE runtime_check.items (id INT, name STRING) USING delta")
    query("INSERT INTO runtime_check.items VALUES (1, 'one'), (2, 'two')")

    detail = query("DESCRIBE DETAIL runtime_check.items")[0]
    fmt, location = detail[0], detail[4]
    assert fmt == "delta"
    local_path = Path(location.removeprefix("file:"))
    assert (local_path / "_delta_log").is_dir()
    assert any((local_path / "_delta_log").glob("*.json"))
    # Dremio reads reader v1/v2 only: new tables must not be upgraded by defaults.
    min_reader = detail[-3]
    assert min_reader in (1, 2)

    merged = query(
        "MERGE INTO runtime_check.items t "
        "USING (SELECT 2 AS id, 'TWO' AS name UNION ALL SELECT 3, 'three') s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    # num_affected_rows, num_updated_rows, num_deleted_rows, num_inserted_rows
    assert merged == [(2, 1, 0, 1)]
    assert query("SELECT id, name FROM runtime_check.items ORDER BY id") == [
        (1, "one"),
        (2, "TWO"),
        (3, "three"),
    ]


def test_thrift_log_keeps_start_up_lines_not_per_task_lines(thrift: Settings) -> None:
    # A query that runs Spark jobs (with Spark's default log profile each logs INFO lines for
    # its stages and tasks), then the server's log must show none of them.
    query("CREATE SCHEMA IF NOT EXISTS runtime_check")
    query("CREATE OR REPLACE TABLE runtime_check.log_probe USING delta AS SELECT id FROM range(50)")
    assert query("SELECT count(*) FROM runtime_check.log_probe") == [(50,)]

    log = (thrift.log_dir / "thrift.log").read_text(errors="replace")
    assert "HiveThriftServer2: HiveThriftServer2 started" in log
    for chatty in ("INFO TaskSetManager", "INFO DAGScheduler", "INFO Executor", "INFO audit"):
        assert chatty not in log, f"{chatty!r} lines in the Thrift Server log"


def test_thrift_keeps_compiled_query_code_across_builds(thrift: Settings) -> None:
    # Spark's default (100 entries) recompiles a build's few hundred statements every build.
    assert query("SET spark.sql.codegen.cache.maxEntries") == [
        ("spark.sql.codegen.cache.maxEntries", "4096")
    ]


def test_thrift_binds_parameters_not_strings(thrift: Settings) -> None:
    hostile = "x'; DROP TABLE runtime_check.items; --"
    assert query("SELECT %(v)s AS v", {"v": hostile}) == [(hostile,)]


def test_ferretdb_upsert_unique_index_and_range_query(mongo_db) -> None:
    artists = mongo_db["artists"]
    for popularity in (10, 20):
        artists.replace_one({"_id": "a1"}, {"name": "One", "popularity": popularity}, upsert=True)
    assert artists.count_documents({}) == 1
    assert artists.find_one({"_id": "a1"})["popularity"] == 20

    artists.create_index("name", unique=True)
    with pytest.raises(DuplicateKeyError):
        artists.insert_one({"_id": "a2", "name": "One"})

    artists.insert_many(
        [{"_id": f"b{i}", "name": f"B{i}", "popularity": p} for i, p in enumerate((5, 50, 30, 70))]
    )
    found = list(
        artists.find({"popularity": {"$gte": 20, "$lt": 70}}).sort("popularity", pymongo.DESCENDING)
    )
    assert [(d["_id"], d["popularity"]) for d in found] == [("b1", 50), ("b2", 30), ("a1", 20)]


def test_dbt_debug_passes_with_shipped_profile(thrift: Settings) -> None:
    env = {
        **os.environ,
        "THRIFT_HOST": thrift.thrift_host,
        "THRIFT_PORT": str(thrift.thrift_port),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    project = REPO_ROOT / "dbt_spotify"
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [str(dbt), "debug", "--project-dir", str(project), "--profiles-dir", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "All checks passed!" in result.stdout
    assert f"port: {thrift.thrift_port}" in result.stdout


def test_two_starts_at_once_leave_one_recorded_server(tmp_path: Path) -> None:
    """Two `make run`s at once: one FerretDB, recorded in its pid file, stopped by `down`."""
    import threading

    import psutil

    from lakehouse import services
    from lakehouse.supervisor import free_port

    settings = Settings(_env_file=None, data_dir=tmp_path, ferretdb_port=free_port())
    (service,) = services.select(settings, ["ferretdb"])
    reports: list[str] = []
    starts = [
        threading.Thread(target=lambda: reports.append(services.start(service))) for _ in range(2)
    ]
    try:
        for thread in starts:
            thread.start()
        for thread in starts:
            thread.join(timeout=120)
        assert len(reports) == 2, reports
        assert sum("started (pid" in r for r in reports) == 1, reports
        assert sum("already running (pid" in r for r in reports) == 1, reports
        running = service.process.running_process()
        assert running is not None
        listening = {
            c.pid for c in psutil.net_connections("tcp")
            if c.laddr and c.laddr.port == settings.ferretdb_port and c.status == "LISTEN"
        }  # fmt: skip
        assert listening == {running.pid}
    finally:
        services.stop(service)
    assert service.process.running_process() is None
    assert services.port_is_free("127.0.0.1", settings.ferretdb_port)
