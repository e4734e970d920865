"""Benchmark: what publishing each audited gold table costs in time and memory.

The publish stage copies every table of the audit schema to gold as a new Delta version
(quality/publish.py). This builds one catalogue size's gold into an audit schema, as the
pipeline does (dbt_build.py's catalogue: bulk load, full `dbt build`), then publishes each table
in a fresh Python process of its own and records its rows, its size, the seconds `publish_table`
took and the process's peak RSS (the kernel's high-water mark VmHWM: exact, not sampled). A
process that only imports the modules and opens the table gives the baseline every publish pays.

With `--copies N [N ...]` (default 4 8) it also publishes the largest mart, `mart_track_search`,
made N times as long by Spark (N copies of its rows, written with Spark's file layout), to show
how a publish's memory follows a table's length.

With `--data-dir DIR` the lake is kept; a later run on the same DIR and size reuses the built
audit schema instead of building it again (e.g. to compare two versions of the publish code).

Usage: .venv/bin/python benchmarks/publish.py [--size 1000000] [--copies 4 8] [--data-dir DIR]
Results: benchmarks/results/publish.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from dbt_build import (
    T0,
    CrawledCatalogue,
    bronze_writer,
    live_bytes,
    machine_facts,
    own_thrift_server,
    write_results,
)

from lakehouse.settings import REPO_ROOT, Settings

# Runs in the child: argv[1] is a JSON object (schemas, table, whether to publish).
CHILD = """
import json, sys, time
from deltalake import DeltaTable
from lakehouse.settings import get_settings
from quality.publish import publish_table

job = json.loads(sys.argv[1])
settings = get_settings().model_copy(update={"gold_schema": job["gold_schema"]})
result = {}
if job["publish"]:
    started = time.monotonic()
    published = publish_table(settings, job["table"], job["audit_schema"])
    result = {"seconds": round(time.monotonic() - started, 2), "rows": published.rows}
else:
    DeltaTable(settings.lake_path(job["audit_schema"], job["table"])).version()
# VmHWM: this process's own peak (ru_maxrss would report the parent's RSS at the fork).
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
result["peak_rss_mb"] = round(hwm_kb / 1024, 1)
print(json.dumps(result))
"""


def in_child(scoped: Settings, table: str, publish: bool) -> dict:
    """Publish `table` of the audit schema (or only open it) in a fresh process."""
    job = {"audit_schema": scoped.dbt_gold_schema, "gold_schema": scoped.gold_schema,
           "table": table, "publish": publish}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_audit(scoped: Settings, n_tracks: int, tag: str) -> dict:
    """Bulk load bronze and build gold into the audit schema, unless a run built it already."""
    from lakehouse import dbt_runner
    from lakehouse.dbt_sources import register_bronze_tables
    from quality.publish import audit_tables, project_marts

    if set(audit_tables(scoped, scoped.dbt_gold_schema)) == project_marts():
        return {"reused": True}
    crawler = CrawledCatalogue(n_tracks, seed=2)
    bulk = crawler.crawl(n_tracks, bronze_writer(scoped.lake_path(f"bronze_{tag}"), "b1", T0))
    register_bronze_tables(scoped, lake_folder=f"bronze_{tag}")
    build = dbt_runner.build(scoped, register_sources=False, unit_tests=False)
    if not build.success:
        raise SystemExit(f"dbt build failed ({build.models_failed} models failed); see dbt's log")
    return {"reused": False, "tracks": bulk["counts"]["tracks"], "build_s": round(build.seconds, 1)}


def lengthened(scoped: Settings, name: str, copies: int) -> Settings:
    """Settings whose audit schema holds `name` with its rows `copies` times (built once)."""
    from deltalake import DeltaTable

    from spark_thrift.client import query

    suffix = f"_x{copies}"
    longer = scoped.model_copy(update={
        "dbt_gold_schema": scoped.dbt_gold_schema + suffix,
        "gold_schema": scoped.gold_schema + suffix,
    })
    location = longer.lake_path(longer.dbt_gold_schema, name)
    if not DeltaTable.is_deltatable(location):
        union = " union all ".join([f"select * from {scoped.dbt_gold_schema}.{name}"] * copies)
        # Names are the benchmark's own; the location holds the data dir's path, so it is bound.
        query(f"create schema if not exists {longer.dbt_gold_schema}", settings=scoped)
        query(f"create table {longer.dbt_gold_schema}.{name} using delta"
              f" location %(location)s as {union}", {"location": location}, settings=scoped)
    return longer


def publish_measured(scoped: Settings, name: str) -> dict:
    location = scoped.lake_path(scoped.dbt_gold_schema, name)
    row = {"table": name, "mb": round(live_bytes(location) / 1e6, 1)}
    row |= in_child(scoped, name, publish=True)
    print(json.dumps(row), flush=True)
    return row


def measure(settings: Settings, n_tracks: int, copies: list[int]) -> dict:
    from quality.publish import audit_tables, publish_order

    tag = f"p{n_tracks // 1000}k"
    scoped = settings.model_copy(update={
        "dbt_bronze_schema": f"bronze_{tag}", "dbt_silver_schema": f"silver_{tag}",
        "dbt_gold_schema": f"audit_{tag}", "gold_schema": f"gold_{tag}",
    })
    built = build_audit(scoped, n_tracks, tag)
    names = publish_order(audit_tables(scoped, scoped.dbt_gold_schema))
    tables = [publish_measured(scoped, name) for name in names]
    longer = [
        publish_measured(lengthened(scoped, "mart_track_search", n), "mart_track_search")
        | {"copies": n}
        for n in copies if n > 1
    ]
    baseline = in_child(scoped, names[0], publish=False)
    return {"size": n_tracks, "build": built, "baseline_rss_mb": baseline["peak_rss_mb"],
            "tables": tables, "lengthened": longer}


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "quality"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + (" + uncommitted quality/ changes" if dirty else "")


def markdown(result: dict) -> str:
    r = result["run"]
    tables = sorted(r["tables"], key=lambda t: -t["peak_rss_mb"])
    lines = [
        "# Publishing gold: time and memory per table",
        "",
        f"Measured {result['measured_at']} at commit {result['commit']};"
        f" {result['machine']['cpus']} CPUs; {r['size']:,}-track catalogue (dbt_build.py's),"
        " gold built into the audit schema, each table published by `publish_table` in a fresh"
        " process (peak RSS: the kernel's VmHWM). Baseline (imports, table opened, nothing"
        f" published): {r['baseline_rss_mb']:,} MB. Command:"
        f" `.venv/bin/python benchmarks/publish.py --size {r['size']} --copies"
        f" {' '.join(str(t['copies']) for t in r['lengthened'])}`.",
        "",
        "| table | rows | MB (Parquet) | seconds | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in tables:
        lines.append(f"| {t['table']} | {t['rows']:,} | {t['mb']:,} | {t['seconds']} |"
                     f" {t['peak_rss_mb']:,} MB |")
    for t in r["lengthened"]:
        lines.append(f"| {t['table']}, its rows {t['copies']} times | {t['rows']:,} |"
                     f" {t['mb']:,} | {t['seconds']} | {t['peak_rss_mb']:,} MB |")
    total_s = round(sum(t["seconds"] for t in tables), 1)
    lines += ["", f"The {len(tables)} gold tables: {total_s} s of `publish_table`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tracks in the catalogue")
    parser.add_argument("--copies", type=int, nargs="*", default=[4, 8],
                        help="also publish mart_track_search with its rows this many times")
    parser.add_argument("--data-dir", help="keep the lake here (reused by a later run)")
    args = parser.parse_args()
    with own_thrift_server(args.data_dir) as settings:
        run = measure(settings, args.size, args.copies)
        result = {
            "benchmark": "publish",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "load_avg_1m": round(os.getloadavg()[0], 1),
            "machine": machine_facts(settings),
            "run": run,
        }
    write_results("publish", result, markdown)


if __name__ == "__main__":
    main()
