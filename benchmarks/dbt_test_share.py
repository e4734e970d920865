"""Benchmark: what the data tests weigh in the full and the 1% incremental `dbt build`.

The 1% incremental build costs most of the full one (dbt_build.md). Would fewer test queries
change that, e.g. grouping each model's row-level tests into one query? This runs the
dbt_build.py sequence (bulk load and full build, two 1% crawls with incremental builds, a build
with nothing new) on one catalogue size three times, on one Thrift Server, each on its own
lake of the same catalogue:

1. the pipeline's build (all data tests);
2. without the row-level `not_null` and `value_in_range` tests, which grouping would fold
   into a few queries: the most grouping could save;
3. models only: the floor no change to the tests can go below.

A smaller size is built first so that no variant pays the JVM's warm-up.

    .venv/bin/python benchmarks/dbt_test_share.py [--size 200000]
Results: benchmarks/results/dbt_test_share.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime

from dbt_build import RESULTS, machine_facts, own_thrift_server, run_size

VARIANTS = (
    ("all data tests (the pipeline's build)", ()),
    ("without not_null and value_in_range", ("test_name:not_null", "test_name:value_in_range")),
    ("models only", ("resource_type:test",)),
)
WARM_UP_TRACKS = 10_000


def summary(label: str, exclude: tuple[str, ...], run: dict) -> dict:
    full = run["full_build"]
    return {
        "variant": label,
        "exclude": list(exclude),
        "tracks": run["tracks"],
        "models": full["models"],
        "tests": full["tests"],
        "full_s": full["wall_s"],
        "incremental_s": run["incremental_build"]["wall_s"],
        "incremental_share": run["incremental_build"]["share_of_full"],
        "nothing_new_s": run["nothing_new_build"]["wall_s"],
        "nothing_new_share": run["nothing_new_build"]["share_of_full"],
        "all_succeeded": all(
            run[build]["success"]
            for build in ("full_build", "incremental_build", "nothing_new_build")
        ),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def measure(size: int) -> dict:
    rows = []
    with own_thrift_server(None) as settings:
        print(f"warm-up: {WARM_UP_TRACKS:,} tracks ...", flush=True)
        run_size(settings, WARM_UP_TRACKS, tag="warmup")
        for number, (label, exclude) in enumerate(VARIANTS, start=1):
            print(f"{label} ...", flush=True)
            run = run_size(settings, size, exclude=exclude, tag=f"v{number}")
            rows.append(summary(label, exclude, run))
            print(json.dumps(rows[-1]), flush=True)
        machine = machine_facts(settings)
    return {
        "benchmark": "dbt_test_share",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "variants": rows,
    }


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# dbt build: what the data tests weigh",
        "",
        f"Measured {result['measured_at']}; {m['cpus']} CPUs, Spark driver"
        f" {m['spark_driver_memory']}, dbt threads {m['dbt_threads']}; one Thrift Server, warmed"
        f" up on {WARM_UP_TRACKS:,} tracks first. Each variant runs dbt_build.py's sequence on its"
        " own lake of the same catalogue. Command: `.venv/bin/python"
        " benchmarks/dbt_test_share.py`.",
        "",
        "| variant | tracks | data tests | full build | 1% incremental build | share of full"
        " | build with nothing new | share of full | all passed | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in result["variants"]:
        lines.append(
            f"| {row['variant']} | {row['tracks']:,} | {row['tests']} | {row['full_s']} s |"
            f" {row['incremental_s']} s | {row['incremental_share']:.0%} |"
            f" {row['nothing_new_s']} s | {row['nothing_new_share']:.0%} |"
            f" {row['all_succeeded']} | {row['load_avg_1m']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000, help="tracks (default 200,000)")
    parser.add_argument("--report-only", action="store_true", help="Rewrite the .md from the .json")
    args = parser.parse_args()
    path = RESULTS / "dbt_test_share.json"
    if args.report_only:
        result = json.loads(path.read_text())
    else:
        result = measure(args.size)
        path.write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "dbt_test_share.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
