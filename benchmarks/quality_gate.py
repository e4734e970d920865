"""Benchmark of the quality gate (`lakehouse quality`): where a gate run's time goes, and what its
data docs cost as validation results pile up.

The lake is the main job's (`lakehouse run` on the local default: emulator, private data folder,
free ports); or with --data-dir an existing data folder's (e.g. ./data after `make run`; the
gate runs then add to its data docs as `lakehouse quality` would); or with --dbt-lake D --tag T
one that `benchmarks/dbt_build.py --data-dir D` left (its schemas bronze_T, silver_T, gold_T,
e.g. T = b200k), read through a temporary data folder whose lake links to them. --label names
the lake in the results. Then:

1. The gate, each repeat in a fresh Python process: imports, the local Spark session's start, a
   first `run_gate` over the published gold (cold JVM), a second one in the same process (warm
   JVM), and of each run the seconds per suite and for the data docs.
2. The data docs, on copies of the gate's context holding N stored runs (copies of the latest
   run's results at earlier run times): GX's `build_data_docs()`, which renders every stored
   result, against `record_run_docs`, what the gate runs (its own pages and the index).

    .venv/bin/python benchmarks/quality_gate.py [--data-dir DIR | --dbt-lake D --tag T]
                                                [--label NAME] [--repeats 2]
Results: benchmarks/results/quality_gate.json and .md, one entry per label (a new measurement
replaces its label's entry only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from main_job import CLI, ROOT, private_environment, stop_services

from lakehouse.settings import Settings, get_settings

RESULTS = ROOT / "benchmarks" / "results"
STORED_RUNS = (2, 20, 100)
MAIN_JOB_LAKE = "the main job's lake (`lakehouse run`)"
GOLD = "gold"  # the published tables: the audit copy is gone once a run has published


def build_lake(env: dict[str, str], log: Path) -> None:
    print("building the lake: `lakehouse run` ...", flush=True)
    with log.open("w") as out:
        code = subprocess.run([str(CLI), "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
    if code.returncode != 0:
        sys.exit(f"`lakehouse run` failed ({code.returncode}); see {log}")


def _timed(record: Callable[[float], None], function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            record(time.perf_counter() - began)

    return wrapper


def gate_in_this_process() -> dict[str, Any]:
    """Runs in the child process: one cold and one warm gate run, timed."""
    began = time.perf_counter()
    import great_expectations as gx

    from quality import docs_history, gate, spark_session

    imports = time.perf_counter() - began
    settings = get_settings()
    began = time.perf_counter()
    spark_session.get_spark(settings)
    spark_start = time.perf_counter() - began

    # Wrapped where run_gate looks them up at call time, so the gate's own code is measured.
    suites: dict[str, float] = {}
    docs: list[float] = []
    run = gx.ValidationDefinition.run
    gx.ValidationDefinition.run = lambda self, *a, **k: _timed(
        lambda s: suites.__setitem__(self.name, round(s, 2)), run)(self, *a, **k)
    docs_history.record_run_docs = _timed(docs.append, docs_history.record_run_docs)
    tables: list[float] = []  # reading the tables' Delta logs and the `when:` conditions
    gate._register_views = _timed(tables.append, gate._register_views)
    gate.when_flags = _timed(tables.append, gate.when_flags)

    runs = []
    for label in ("cold", "warm"):
        suites.clear()
        tables.clear()
        began = time.perf_counter()
        result = gate.run_gate(settings, gold_schema=GOLD)
        runs.append({
            "run": label,
            "seconds": round(time.perf_counter() - began, 1),
            "passed": result.passed,
            "expectations": result.evaluated,
            "tables_s": round(sum(tables), 1),
            "validations_s": round(sum(suites.values()), 1),
            "data_docs_s": round(docs[-1], 2),
            "suite_s": dict(suites),
        })
    spark_session.stop_spark()
    return {"imports_s": round(imports, 1), "spark_start_s": round(spark_start, 1), "runs": runs}


def measure_gate(env: dict[str, str]) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, __file__, "--gate-in-this-process"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )
    if child.returncode != 0:
        sys.exit(f"the gate measurement failed ({child.returncode}):\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _site_mb(site: Path) -> float:
    return round(sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 2**20, 1)


def _context_with_runs(settings: Settings, workdir: Path, runs: int) -> tuple[Any, dt.datetime]:
    """A copy of the gate's context whose store holds `runs` copies of its latest run."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    from quality.docs_history import site_dir
    from quality.gate import context_dir, open_context

    copy = settings.model_copy(update={"data_dir": workdir})
    shutil.copytree(context_dir(settings), context_dir(copy))
    context = open_context(copy)
    shutil.rmtree(site_dir(context), ignore_errors=True)
    store = context.validation_results_store
    keys = store.list_keys()
    latest = max(k.run_id.run_time for k in keys)
    for key in keys:
        if key.run_id.run_time != latest:
            store.remove_key(key)
            continue
        result = store.get(key)
        for hours in range(1, runs):
            run_id = RunIdentifier(key.run_id.run_name, latest - dt.timedelta(hours=hours))
            result.meta["run_id"] = run_id
            store.set(
                ValidationResultIdentifier(
                    key.expectation_suite_identifier, run_id, key.batch_identifier),
                result,
            )
    return context, latest


def measure_docs(settings: Settings, tmp: Path) -> list[dict[str, Any]]:
    from quality.docs_history import record_run_docs, site_dir

    rows = []
    for runs in STORED_RUNS:
        context, latest = _context_with_runs(settings, tmp / f"docs_{runs}", runs)
        suites = sorted({k.expectation_suite_identifier.name
                         for k in context.validation_results_store.list_keys()})
        began = time.perf_counter()
        record_run_docs(context, latest, suites, keep_runs=max(STORED_RUNS))
        ours = time.perf_counter() - began
        began = time.perf_counter()
        context.build_data_docs()
        everything = time.perf_counter() - began
        rows.append({
            "stored_runs": runs,
            "results_per_run": len(suites),
            "record_run_docs_s": round(ours, 2),
            "build_data_docs_s": round(everything, 2),
            "site_mb_all_runs": _site_mb(site_dir(context)),
        })
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(tmp / f"docs_{runs}")
    return rows


def link_dbt_benchmark_lake(dbt_data_dir: Path, tag: str, data_dir: Path) -> None:
    """A data folder whose lake's layers are the dbt benchmark's schemas of one size."""
    lake = data_dir / "lake"
    lake.mkdir(parents=True)
    for layer in ("bronze", "silver", "gold"):
        target = dbt_data_dir.resolve() / "lake" / f"{layer}_{tag}"
        if not target.is_dir():
            sys.exit(f"{target} does not exist: run benchmarks/dbt_build.py --data-dir"
                     f" {dbt_data_dir} with the size of tag {tag} first.")
        (lake / layer).symlink_to(target)


def lake_size(settings: Settings) -> dict[str, int]:
    from deltalake import DeltaTable

    return {
        name: DeltaTable(settings.lake_path(GOLD, name)).to_pyarrow_dataset().count_rows()
        for name in ("dim_track", "dim_album", "dim_artist")
    }


def measure(
    data_dir: Path | None, dbt_lake: Path | None, tag: str, label: str, repeats: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_quality_gate_") as tmp_name:
        tmp = Path(tmp_name)
        env = private_environment(tmp)
        if dbt_lake is not None:
            data_dir = tmp / "dbt_lake"
            link_dbt_benchmark_lake(dbt_lake, tag, data_dir)
        if data_dir is not None:
            env.update(DATA_DIR=str(data_dir.resolve()))
        os.environ.update(env)
        get_settings.cache_clear()
        settings = get_settings()
        if data_dir is None:
            try:
                build_lake(env, tmp / "run.log")
            finally:
                stop_services(env)  # the gate reads the lake by path; no service needed
        gate = []
        for repeat in range(repeats):
            print(f"gate, process {repeat + 1} of {repeats} ...", flush=True)
            gate.append(measure_gate(env))
            print(json.dumps({k: v for k, v in gate[-1].items() if k != "runs"}), flush=True)
        docs = measure_docs(settings, tmp)
        return {
            "label": label,
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
            f" Python {platform.python_version()}",
            "load_average_at_end": round(os.getloadavg()[0], 1),
            "gold_rows": lake_size(settings),
            "gate": gate,
            "data_docs": docs,
        }


def markdown(entries: list[dict[str, Any]]) -> str:
    lines = [
        "# quality gate benchmark",
        "",
        "Command: `.venv/bin/python benchmarks/quality_gate.py` (the main job's lake) or"
        " `--data-dir DIR --label NAME` (an existing lake). Each gate process: imports, the local"
        " Spark session's start, then two `run_gate` calls over the published gold (the first on"
        " a cold JVM, the second warm).",
    ]
    for entry in entries:
        lines += ["", *_entry_markdown(entry)]
    return "\n".join(lines) + "\n"


def _entry_markdown(entry: dict[str, Any]) -> list[str]:
    rows = ", ".join(f"{name} {count:,}" for name, count in entry["gold_rows"].items())
    lines = [
        f"## {entry['label']}",
        "",
        f"Measured {entry['measured_at']} on {entry['machine']} (load average"
        f" {entry['load_average_at_end']} at the end). Gold rows: {rows}.",
        "",
        "| process | imports | Spark start | run | gate | of which opening the tables"
        " | of which validations | of which data docs | expectations | passed |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for number, process in enumerate(entry["gate"], start=1):
        for run in process["runs"]:
            lines.append(
                f"| {number} | {process['imports_s']} s | {process['spark_start_s']} s |"
                f" {run['run']} | {run['seconds']} s | {_seconds(run.get('tables_s'))} |"
                f" {run['validations_s']} s |"
                f" {run['data_docs_s']} s | {run['expectations']} | {run['passed']} |"
            )
    first = entry["gate"][0]["runs"]
    lines += ["", "Seconds per suite, first process (cold / warm):", "",
              "| suite | cold | warm |", "|---|---:|---:|"]
    for suite, cold in first[0]["suite_s"].items():
        lines.append(f"| {suite} | {cold} | {first[1]['suite_s'].get(suite, '-')} |")
    lines += [
        "",
        "Data docs with N runs stored: `record_run_docs` (what the gate runs: its own pages and"
        " the index, after deleting runs beyond QUALITY_KEEP_RUNS) against GX's"
        " `build_data_docs()` (every stored result), and the site's size with every run rendered:",
        "",
        "| runs stored | results a run | record_run_docs | build_data_docs | site |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in entry["data_docs"]:
        lines.append(
            f"| {row['stored_runs']} | {row['results_per_run']} | {row['record_run_docs_s']} s |"
            f" {row['build_data_docs_s']} s | {row['site_mb_all_runs']} MB |"
        )
    return lines


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value} s"


def save(entry: dict[str, Any]) -> list[dict[str, Any]]:
    path = RESULTS / "quality_gate.json"
    entries = json.loads(path.read_text())["lakes"] if path.exists() else []
    entries = [e for e in entries if e["label"] != entry["label"]] + [entry]
    entries.sort(key=lambda e: e["gold_rows"]["dim_track"])  # smallest lake first
    path.write_text(json.dumps({"benchmark": "quality_gate", "lakes": entries}, indent=2) + "\n")
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="An existing data folder with a built lake")
    parser.add_argument("--dbt-lake", type=Path,
                        help="The --data-dir of a benchmarks/dbt_build.py run (with --tag)")
    parser.add_argument("--tag", default="b200k", help="Its size's schema suffix (default b200k)")
    parser.add_argument("--label", default=MAIN_JOB_LAKE, help="The lake's name in the results")
    parser.add_argument("--repeats", type=int, default=2, help="Gate processes (default 2)")
    parser.add_argument("--report-only", action="store_true", help="Rewrite the .md from the .json")
    parser.add_argument("--gate-in-this-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gate_in_this_process:
        print(json.dumps(gate_in_this_process()))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.data_dir is not None and args.dbt_lake is not None:
        parser.error("give --data-dir or --dbt-lake, not both")
    if (args.data_dir or args.dbt_lake) is not None and args.label == MAIN_JOB_LAKE:
        parser.error("--data-dir and --dbt-lake need a --label naming that lake")
    if args.report_only:
        entries = json.loads((RESULTS / "quality_gate.json").read_text())["lakes"]
    else:
        entries = save(
            measure(args.data_dir, args.dbt_lake, args.tag, args.label, args.repeats))
    (RESULTS / "quality_gate.md").write_text(markdown(entries))
    print(markdown(entries))


if __name__ == "__main__":
    main()
