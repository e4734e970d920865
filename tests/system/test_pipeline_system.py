"""The system test: the whole pipeline flow through the real services, layer by layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from lake_support import environment, files_on_disk, lake_writer_running, live_files
from process_support import (
    DBT_RUNS_A_MODEL,
    ctrl_c_and_wait,
    killed_after,
    log_offset,
    read_in_background,
    wait_for_text,
)

from ingestion.crawl.store import DocumentStore
from ingestion.mongodb import database
from lakehouse.lake import delta_tables
from lakehouse.settings import Settings
from orchestration import run_log
from quality import audit_log as quality_audit_log
from quality.publish import publish_order

ENTITIES = ("artists", "albums", "tracks", "audio_features")
STAGES = ["services", "crawl", "export", "dbt", "quality", "publish", "vacuum", "train"]


def rows(settings: Settings, *parts: str) -> int:
    return DeltaTable(settings.lake_path(*parts)).to_pyarrow_dataset().count_rows()


def distinct_ids(settings: Settings, entity: str) -> int:
    table = DeltaTable(settings.lake_path("bronze", entity)).to_pyarrow_table(columns=["id"])
    return len(pc.unique(table["id"]))


def gold_versions(settings: Settings) -> dict[str, int]:
    """Every published gold table's Delta version."""
    return {n: DeltaTable(settings.lake_path("gold", n)).version()
            for n in delta_tables(settings, "gold")}


def test_every_stage_ran_and_every_layer_holds_the_catalogue(built_lakehouse) -> None:
    settings, report = built_lakehouse
    assert report["status"] == "completed"
    assert list(report["stages"]) == STAGES
    assert all(stage["status"] == "ok" for stage in report["stages"].values())
    # The flow's default is PIPELINE_ARTISTS_PER_RUN (6 here), not the crawler's own (50).
    assert report["stages"]["crawl"]["result"]["artists_done"] == 6
    # A first build replaces no file, and none is 168 h old (LAKE_VACUUM_RETAIN_HOURS).
    vacuum = report["stages"]["vacuum"]["result"]
    assert (vacuum["retain_hours"], vacuum["files"], vacuum["bytes"]) == (168, 0, 0)
    assert vacuum["tables"] == sum(
        len(delta_tables(settings, f)) for f in ("bronze", "silver", "gold_audit", "gold"))

    db = database(settings)
    mongo = {entity: db[entity].count_documents({}) for entity in ENTITIES}
    # At least the 6 crawled artists, at most the emulator's 12; the first crawl wrote every
    # stored document as new, and its summary must count exactly what MongoDB holds.
    assert 6 <= mongo["artists"] <= 12 and mongo["tracks"] > mongo["albums"] > 0
    assert mongo["audio_features"] > 0
    written = report["stages"]["crawl"]["result"]["entities"]
    assert {e: written[e]["new"] for e in ENTITIES} == mongo
    assert all(written[e]["changed"] == written[e]["unchanged"] == 0 for e in ENTITIES)

    # bronze holds every MongoDB document (one row per version; ids are distinct documents)
    for entity in ENTITIES:
        assert distinct_ids(settings, entity) == mongo[entity], entity

    # silver: latest version per id, nothing dropped
    assert rows(settings, "silver", "stg_spotify__tracks") == mongo["tracks"]
    assert rows(settings, "silver", "stg_spotify__albums") == mongo["albums"]
    assert rows(settings, "silver", "stg_spotify__artists") == mongo["artists"]

    # published gold: one row per track, features only where the API had them
    assert rows(settings, "gold", "dim_track") == mongo["tracks"]
    assert rows(settings, "gold", "mart_recommender_features") == mongo["tracks"]
    assert rows(settings, "gold", "mart_track_search") == mongo["tracks"]
    non_null_features = db["audio_features"].count_documents({"energy": {"$ne": None}})
    assert rows(settings, "gold", "fct_track_features") == non_null_features

    counts = report["layer_counts"]
    assert counts["mongodb"] == mongo
    assert counts["gold"]["dim_track"] == mongo["tracks"]


def test_the_model_artifact_records_the_gold_it_was_trained_on(built_lakehouse) -> None:
    from ml.artifact import load_recommender, read_manifest

    settings, report = built_lakehouse
    manifest = read_manifest(settings)
    assert manifest.version == report["model_version"]
    # The version this run published (later tests may publish again).
    published = {p["name"]: p for p in report["stages"]["publish"]["result"]}
    assert (
        manifest.gold_versions["gold.mart_recommender_features"]
        == (published["mart_recommender_features"]["published_version"])
    )

    recommender = load_recommender(settings)
    mart = DeltaTable(settings.lake_path("gold", "mart_recommender_features")).to_pyarrow_table()
    with_features = mart.filter(pc.field("has_audio_features")).column("track_id").to_pylist()
    assert mart.num_rows > 50  # far more candidates than asked for
    answers = recommender.recommend(with_features[0], k=5)
    assert len(answers) == 5 and len({a.track_id for a in answers}) == 5
    assert with_features[0] not in {a.track_id for a in answers}


def test_the_run_is_recorded(built_lakehouse) -> None:
    settings, report = built_lakehouse
    runs = [r for r in run_log.recent(settings) if r.run_id == report["run_id"]]
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "completed"
    assert run.failed_stage is None
    assert list(run.stages) == STAGES
    assert run.model_version == report["model_version"]
    assert run.layer_counts["gold"]["dim_track"] == report["layer_counts"]["gold"]["dim_track"]


LAKE_FOLDERS = ("bronze", "silver", "gold_audit", "gold")


def lake_files(settings: Settings, files: Callable[[str], Iterable[str]]) -> set[str]:
    """`files` of each Delta table of the layers, as folder/table/file."""
    return {f"{folder}/{table}/{path}"
            for folder in LAKE_FOLDERS for table in delta_tables(settings, folder)
            for path in files(settings.lake_path(folder, table))}


def merged_rows(settings: Settings, schema: str, table: str, after: int) -> tuple[int, int]:
    """(rows updated, rows inserted) by a table's MERGE commits after version `after`."""
    commits = [c for c in DeltaTable(settings.lake_path(schema, table)).history()
               if c["version"] > after and c["operation"] == "MERGE"]
    return tuple(sum(int(c["operationMetrics"][m]) for c in commits)  # type: ignore[return-value]
                 for m in ("numTargetRowsUpdated", "numTargetRowsInserted"))


def pipeline_cli(settings: Settings, *args: str, **env_vars: str) -> subprocess.Popen:
    """`lakehouse pipeline` on this lakehouse, as a user starts it: its own process group (as a
    terminal's foreground job), Prefect's records on stdout, no PREFECT_API_URL."""
    env = {**os.environ, "LAKE_ROOT": settings.lake_root,
           "MONGODB_DATABASE": settings.mongodb_database,
           "PREFECT_LOGGING_LEVEL": "INFO", "COLUMNS": "200", **env_vars}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "lakehouse"), "pipeline", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def test_a_second_run_is_incremental(built_lakehouse) -> None:
    # One track and one artist change in MongoDB, as a crawl writes a changed document: the
    # export reads just those two from the change journal (no collection scan), the silver and
    # gold merges touch just those rows, and gold shows the new names. Run as `lakehouse
    # pipeline`, the command behind `make run`.
    settings, first = built_lakehouse
    db = database(settings)
    changed = {}
    for entity in ("tracks", "artists"):
        doc = db[entity].find_one({}, sort=[("_id", 1)])
        payload = {k: v for k, v in doc.items() if not k.startswith("_")}
        store = DocumentStore(db, source=doc["_source"], crawl_id="system-test-rename")
        renamed = {**payload, "name": f"{payload['name']} (renamed)"}
        assert store.upsert(entity, [renamed]).changed == 1
        changed[entity] = renamed
    # dim_track merges in gold_audit; publishing then copies it to gold.
    merged_tables = [("silver", "stg_spotify__tracks"), ("silver", "stg_spotify__artists"),
                     ("gold_audit", "dim_track")]
    before = {t: DeltaTable(settings.lake_path(s, t)).version() for s, t in merged_tables}
    on_disk_before = lake_files(settings, files_on_disk)

    # Keeping no time travel, the vacuum deletes every file this run's writes replaced.
    with killed_after(pipeline_cli(settings, "--no-crawl", "--no-train",
                                   LAKE_VACUUM_RETAIN_HOURS="0")) as cli:
        output, _ = cli.communicate(timeout=900)
    assert cli.returncode == 0, output[-3000:]
    second = run_log.recent(settings)[0]
    assert second.status == "completed" and list(second.stages) == [
        "services", "export", "dbt", "quality", "publish", "vacuum"]
    on_disk_after = lake_files(settings, files_on_disk)
    assert on_disk_after == lake_files(settings, live_files)  # nothing else is left
    vacuumed = second.stages["vacuum"]["result"]
    gone = on_disk_before - on_disk_after
    # Rebuilt gold_audit tables and the published gold replaced the first run's files.
    assert {f.split("/")[0] for f in gone} >= {"gold_audit", "gold"}
    assert vacuumed["retain_hours"] == 0 and vacuumed["files"] >= len(gone)
    assert f"Run {second.run_id} completed in " in output and "Quality gate: passed" in output
    assert "Traceback" not in output and "Error logging to API" not in output
    assert not list(settings.run_dir.glob("prefect-api-*.pid"))  # its temporary server stopped
    # The gate's local Spark session keeps Spark's banners out of the run's output.
    assert "NativeCodeLoader" not in output and "Setting default log level" not in output
    export = second.stages["export"]["result"]
    assert export["exported"] == 2
    assert export["journal_read"] == export["read"]  # read from the journal only: no scan
    assert export["read"] == export["exported"] + export["already_in_bronze"] + export["rejected"]
    assert merged_rows(settings, "silver", "stg_spotify__tracks",
                       before["stg_spotify__tracks"]) == (1, 0)
    assert merged_rows(settings, "silver", "stg_spotify__artists",
                       before["stg_spotify__artists"]) == (1, 0)
    assert merged_rows(settings, "gold_audit", "dim_track", before["dim_track"]) == (1, 0)
    track_id, artist_id = changed["tracks"]["id"], changed["artists"]["id"]
    tracks = DeltaTable(settings.lake_path("gold", "dim_track")).to_pyarrow_table(
        filters=[("track_id", "=", track_id)], columns=["track_name"])
    assert tracks.column("track_name").to_pylist() == [changed["tracks"]["name"]]
    artists = DeltaTable(settings.lake_path("gold", "dim_artist")).to_pyarrow_table(
        filters=[("artist_id", "=", artist_id)], columns=["artist_name"])
    assert artists.column("artist_name").to_pylist() == [changed["artists"]["name"]]
    assert second.layer_counts["gold"] == first["layer_counts"]["gold"]


def test_a_failing_gate_fails_the_flow_and_publishes_nothing(built_lakehouse) -> None:
    from orchestration.flows import StageFailed, pipeline_flow

    settings, _ = built_lakehouse
    db = database(settings)
    victim = db["audio_features"].find_one({"loudness": {"$ne": None}})
    payload = {k: v for k, v in victim.items() if not k.startswith("_")}
    # Written as the crawler writes a changed document: journaled, new _ingested_at and hash.
    # 20 dB is beyond the gate's loudness bound (quality/expectations.yml) and no dbt test
    # checks loudness, so dbt builds gold_audit and the Great Expectations gate must stop it.
    store = DocumentStore(db, source=victim["_source"], crawl_id="system-test-bad-loudness")
    before = gold_versions(settings)
    try:
        assert store.upsert("audio_features", [{**payload, "loudness": 20.0}]).changed == 1
        with (
            environment(LAKE_ROOT=settings.lake_root, MONGODB_DATABASE=settings.mongodb_database),
            pytest.raises(StageFailed) as failed,
        ):
            pipeline_flow(crawl=False, train=False)
    finally:
        store.upsert("audio_features", [payload])
    assert failed.value.stage == "quality"
    assert "fct_track_features" in str(failed.value) and "loudness" in str(failed.value)
    assert gold_versions(settings) == before

    latest = run_log.recent(settings)[0]
    assert latest.status == "failed"
    assert latest.failed_stage == failed.value.stage
    assert "publish" not in latest.stages


def test_a_run_while_another_job_writes_the_lake_fails_at_export_and_changes_nothing(
    built_lakehouse,
) -> None:
    from orchestration.flows import StageFailed, pipeline_flow

    settings, _ = built_lakehouse
    before = gold_versions(settings)
    bronze_before = rows(settings, "bronze", "tracks")
    with (
        environment(LAKE_ROOT=settings.lake_root, MONGODB_DATABASE=settings.mongodb_database),
        lake_writer_running(settings, "dbt build into gold") as holder,
        pytest.raises(StageFailed) as failed,
    ):
        pipeline_flow(crawl=False, train=False)
    assert failed.value.stage == "export"
    assert f"(dbt build into gold, pid {holder.pid}, since " in str(failed.value)
    assert gold_versions(settings) == before
    assert rows(settings, "bronze", "tracks") == bronze_before
    latest = run_log.recent(settings)[0]
    assert (latest.status, latest.failed_stage) == ("failed", "export")
    assert list(latest.stages) == ["services", "export"]


def test_ctrl_c_stops_a_cli_run_at_once_publishes_nothing_and_leaves_no_process(
    built_lakehouse,
) -> None:
    # As a terminal's Ctrl-C: SIGINT to the whole foreground process group of `lakehouse
    # pipeline`, in the dbt stage. Before, Prefect's temporary API server (in that group) died
    # with it and the run retried against the dead API for minutes to hours.
    settings, _ = built_lakehouse
    before = gold_versions(settings)
    dbt_log = settings.log_dir / "dbt" / "dbt.log"
    logged_before = log_offset(dbt_log)
    with killed_after(pipeline_cli(settings, "--no-crawl", "--no-train")) as cli:
        printed, reader = read_in_background(cli)
        # Well inside the dbt stage: dbt runs its models.
        if not wait_for_text(dbt_log, DBT_RUNS_A_MODEL, logged_before, cli, timeout=600):
            pytest.fail("dbt never ran a model:\n" + "".join(printed)[-3000:])
        servers = [json.loads(p.read_text())["pid"]
                   for p in settings.run_dir.glob("prefect-api-*.pid")]
        assert len(servers) == 1
        ctrl_c_and_wait(cli, reader, timeout=180)
    output = " ".join("".join(printed).split())
    assert cli.returncode == 130, output[:1500] + " [...] " + output[-3000:]
    # Its logs reached the server before it stopped, instead of being retried at exit for a minute.
    assert "Error logging to API" not in output
    latest = run_log.recent(settings)[0]
    assert f"interrupted: Run {latest.run_id} was stopped by Ctrl-C" in output
    assert "was stopped by Ctrl-C during stage 'dbt': nothing was published, so gold is" \
        " unchanged." in output
    assert gold_versions(settings) == before
    assert (latest.status, latest.failed_stage) == ("interrupted", "dbt")
    assert [(n, s["status"]) for n, s in latest.stages.items()] == [
        ("services", "ok"), ("export", "ok"), ("dbt", "interrupted")]
    assert latest.layer_counts["gold"]  # the run was still counted and recorded
    assert not psutil.pid_exists(servers[0])
    assert not list(settings.run_dir.glob("prefect-api-*.pid"))


def test_ctrl_c_during_the_publish_finishes_it_then_stops(built_lakehouse) -> None:
    # Gold must never be left half new, half old: a Ctrl-C that lands once the first table is
    # committed is held until every table and the audit record are written, then stops the run.
    settings, _ = built_lakehouse
    gold = gold_versions(settings)
    audits_before = len(quality_audit_log.recent(settings, limit=1000))
    with killed_after(pipeline_cli(settings, "--no-crawl", "--no-train")) as cli:
        printed, reader = read_in_background(cli)
        first = publish_order(list(gold))[0]  # published first (a dimension)
        deadline = time.monotonic() + 600
        while DeltaTable(settings.lake_path("gold", first)).version() == gold[first]:
            if cli.poll() is not None or time.monotonic() > deadline:
                pytest.fail("no publish seen:\n" + "".join(printed)[-3000:])
            time.sleep(0.02)
        ctrl_c_and_wait(cli, reader, timeout=180)
    output = " ".join("".join(printed).split())
    assert cli.returncode == 130, output[-3000:]
    assert "Ctrl-C: finishing publishing gold first, then stopping." in output
    assert "was stopped by Ctrl-C after stage 'publish': gold was published" in output
    # Every table got exactly one new version: all were published, none twice.
    assert gold_versions(settings) == {n: v + 1 for n, v in gold.items()}
    audits = quality_audit_log.recent(settings, limit=1000)
    assert len(audits) == audits_before + 1
    assert audits[0].passed
    assert sorted(t["name"] for t in audits[0].tables) == sorted(gold)
    latest = run_log.recent(settings)[0]
    assert (latest.status, latest.failed_stage) == ("interrupted", None)
    assert latest.stages["publish"]["status"] == "ok"
    assert not list(settings.run_dir.glob("prefect-api-*.pid"))
