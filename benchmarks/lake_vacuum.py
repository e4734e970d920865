"""Benchmark: how the lake grows on disk run after run, and what the vacuum stage frees.

A Delta write keeps the files it replaces (time travel) until a vacuum deletes them. Each
pipeline run rebuilds gold's table models, merges into silver and publishes every gold table
again. On one catalogue size this does what the pipeline does, on its own Thrift Server and lake
(dbt_build.py's catalogue and crawls): bulk load, full build into the audit schema, publish;
then `--runs` times a 1% crawl, the incremental build and a publish. After each run it records,
per layer, the bytes of the latest versions' files ("live") and of all data files on disk. Then
it vacuums as the pipeline's stage does: first with the default retention (168 h, which finds
nothing this young: the stage's cost in a run), then keeping no time travel (0 h), which deletes
every replaced file, and records the files and bytes deleted and the time taken.

Usage: .venv/bin/python benchmarks/lake_vacuum.py [--size 200000] [--runs 3]
Results: benchmarks/results/lake_vacuum.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from dbt_build import (
    T0,
    CrawledCatalogue,
    _crawl_and_build,
    bronze_writer,
    live_bytes,
    machine_facts,
    own_thrift_server,
    write_results,
)

from lakehouse.settings import Settings


def layer_bytes(settings: Settings, folder: str) -> dict[str, float]:
    """MB of the latest versions' data files and of every data file on disk, in one folder."""
    from lakehouse.lake import delta_tables

    live = on_disk = 0
    for name in delta_tables(settings, folder):
        location = settings.lake_path(folder, name)
        live += live_bytes(location)
        on_disk += sum(p.stat().st_size for p in Path(location).rglob("*.parquet")
                       if "_delta_log" not in p.parts)
    return {"live_mb": round(live / 1e6, 1), "on_disk_mb": round(on_disk / 1e6, 1)}


def publish(scoped: Settings, audit_folder: str) -> float:
    """Publish every built mart as the pipeline does; returns the seconds taken."""
    from quality.publish import audit_tables, publish_order, publish_table

    started = time.monotonic()
    for name in publish_order(audit_tables(scoped, audit_folder)):
        publish_table(scoped, name, audit_folder)
    return time.monotonic() - started


def measure(settings: Settings, n_tracks: int, runs: int) -> dict:
    from lakehouse import dbt_runner
    from lakehouse.dbt_sources import register_bronze_tables
    from lakehouse.services import select
    from lakehouse.vacuum import vacuum_lake

    tag = f"v{n_tracks // 1000}k"
    folders = {"silver": f"silver_{tag}", "gold_audit": f"audit_{tag}", "gold": f"gold_{tag}"}
    scoped = settings.model_copy(update={
        "dbt_bronze_schema": f"bronze_{tag}", "dbt_silver_schema": folders["silver"],
        "dbt_gold_schema": folders["gold_audit"], "gold_schema": folders["gold"],
    })
    location = settings.lake_path(f"bronze_{tag}")
    crawler = CrawledCatalogue(n_tracks, seed=2)
    bulk = crawler.crawl(n_tracks, bronze_writer(location, "b1", T0))
    register_bronze_tables(scoped, lake_folder=f"bronze_{tag}")
    (thrift,) = select(settings, ["thrift"])
    pid = thrift.process.running_process().pid

    rounds = []
    build = dbt_runner.build(scoped, register_sources=False, unit_tests=False)
    for run in range(runs + 1):
        if run:
            build, _, _ = _crawl_and_build(scoped, location, crawler, n_tracks, run, pid)
        publish_s = publish(scoped, folders["gold_audit"])
        rounds.append({
            "run": "bulk load + full build" if run == 0 else f"1% crawl #{run}",
            "build_s": round(build.seconds, 1), "build_success": build.success,
            "publish_s": round(publish_s, 1),
            "layers": {layer: layer_bytes(scoped, f) for layer, f in folders.items()},
        })
        print(json.dumps(rounds[-1]), flush=True)

    vacuums = {}
    for hours in (scoped.lake_vacuum_retain_hours, 0):
        started = time.monotonic()
        done = vacuum_lake(scoped, retain_hours=hours)
        vacuums[f"retain_{hours}h"] = {
            "retain_hours": hours,
            "seconds": round(time.monotonic() - started, 2),
            "tables": len(done.tables),
            "files": done.files,
            "mb": round(done.bytes / 1e6, 1),
        }
    after = {layer: layer_bytes(scoped, f) for layer, f in folders.items()}
    return {"size": n_tracks, "tracks": bulk["counts"]["tracks"], "rounds": rounds,
            "vacuum": vacuums, "after_vacuum": after}


def markdown(result: dict) -> str:
    m, r = result["machine"], result["run"]
    lines = [
        "# Lake size on disk over pipeline runs, and the vacuum",
        "",
        f"Measured {result['measured_at']}; {m['cpus']} CPUs, Spark driver"
        f" {m['spark_driver_memory']}, dbt threads {m['dbt_threads']}; {r['tracks']:,} tracks"
        " in bronze (dbt_build.py's); each run: dbt build into the audit schema, then publish of"
        " every mart, as the pipeline does. MB of the latest versions' data files (live) and of"
        f" all data files on disk. Command: `.venv/bin/python benchmarks/lake_vacuum.py --size"
        f" {r['size']} --runs {len(r['rounds']) - 1}`.",
        "",
        "| run | dbt build | publish | silver live / on disk | gold_audit live / on disk |"
        " gold (published) live / on disk |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in r["rounds"]:
        cells = " | ".join(
            f"{row['layers'][k]['live_mb']:,} / {row['layers'][k]['on_disk_mb']:,} MB"
            for k in ("silver", "gold_audit", "gold"))
        ok = "" if row["build_success"] else " (FAILED)"
        lines.append(f"| {row['run']} | {row['build_s']} s{ok} | {row['publish_s']} s | {cells} |")
    lines += ["", "| vacuum | tables | files deleted | MB deleted | seconds |",
              "|---|---:|---:|---:|---:|"]
    for v in r["vacuum"].values():
        lines.append(f"| keep {v['retain_hours']} h | {v['tables']} | {v['files']:,} |"
                     f" {v['mb']:,} | {v['seconds']} |")
    after = " / ".join(f"{k} {v['on_disk_mb']:,} MB" for k, v in r["after_vacuum"].items())
    lines += ["", f"On disk after the vacuum: {after}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000, help="tracks in the catalogue")
    parser.add_argument("--runs", type=int, default=3, help="1%% crawls after the bulk load")
    args = parser.parse_args()
    with own_thrift_server(None) as settings:
        run = measure(settings, args.size, args.runs)
        result = {
            "benchmark": "lake_vacuum",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_avg_1m": round(os.getloadavg()[0], 1),
            "machine": machine_facts(settings),
            "run": run,
        }
    write_results("lake_vacuum", result, markdown)


if __name__ == "__main__":
    main()
