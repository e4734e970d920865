"""Benchmark of the README's main job (`lakehouse run`, what `make run` runs after setup).

Runs the main job twice on a private data folder with free ports, exactly as a user would on
the local default (no Spotify credentials: the bundled emulator, PIPELINE_ARTISTS_PER_RUN
artists per run): the first run from empty, then a second, incremental run. Measures the wall
time and the peak resident memory of everything the job runs (the command, its children and the
services it starts in their own sessions: FerretDB, the Spark Thrift Server), reads the stages
and layer counts from the pipeline's run log, then stops the services by PID.

    .venv/bin/python benchmarks/main_job.py
Results: benchmarks/results/main_job.json and .md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_memory import PeakRss

from lakehouse.settings import OFFLINE_ENV, Settings, get_settings
from lakehouse.supervisor import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CLI = ROOT / ".venv" / "bin" / "lakehouse"


def private_environment(tmp: Path) -> dict[str, str]:
    """The local default, moved to a temporary folder and free ports."""
    return {
        **os.environ,
        **OFFLINE_ENV,
        "DATA_DIR": str(tmp / "data"),
        "LAKE_ROOT": "",
        "MONGODB_URI": "",
        "SPOTIFY_CLIENT_ID": "",
        "SPOTIFY_CLIENT_SECRET": "",
        "FERRETDB_PORT": str(free_port()),
        "THRIFT_PORT": str(free_port()),
        "EMULATOR_PORT": str(free_port()),
        "SPARK_UI_PORT": "0",
        "PREFECT_HOME": str(tmp / "prefect"),
        "COLUMNS": "160",
    }


def stop_services(env: dict[str, str]) -> None:
    """`lakehouse services down` in that environment: stops, by pid, what the job started.
    `--force`: a job stopped part-way may still be exiting, and its folder is deleted next."""
    down = subprocess.run([str(CLI), "services", "down", "--force"], env=env,
                          capture_output=True, text=True)
    print(down.stdout, down.stderr, flush=True)


def service_pids(settings: Settings, name: str = "*") -> list[int]:
    """PIDs of the running services (`name`: one of them, e.g. "thrift", "ferretdb")."""
    pids = []
    for pid_file in settings.run_dir.glob(f"{name}.pid"):
        try:
            pids.append(int(json.loads(pid_file.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            continue  # being written or removed
    return pids


def run_main_job(env: dict[str, str], settings: Settings, log: Path) -> dict:
    began = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen([str(CLI), "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
        # One sampler splits each sample by tree: the services first (the first run's job
        # starts them, so they are its children), then the job (dbt, the gate's Spark JVM).
        parts = {
            "thrift": lambda: service_pids(settings, "thrift"),
            "ferretdb": lambda: service_pids(settings, "ferretdb"),
            "job": lambda: [process.pid],
        }
        with PeakRss(lambda: [process.pid, *service_pids(settings)], parts=parts) as memory:
            code = process.wait()
    seconds = time.perf_counter() - began
    if code != 0:
        sys.exit(f"`lakehouse run` failed ({code}); see {log}:\n{log.read_text()[-3000:]}")
    return {
        "wall_seconds": round(seconds, 1),
        "peak_rss_mb": round(memory.peak / 2**20),
        "peak_rss_mb_by_part": {
            name: round(peak / 2**20) for name, peak in memory.peak_by_part.items()
        },
    }


def last_run(settings: Settings) -> dict:
    from deltalake import DeltaTable

    from orchestration.run_log import runs_path

    rows = DeltaTable(runs_path(settings)).to_pyarrow_table().to_pylist()
    run = max(rows, key=lambda r: r["started_at"])
    stages = json.loads(run["stages_json"])
    return {
        "status": run["status"],
        "stage_seconds": {name: round(s["seconds"], 1) for name, s in stages.items()},
        "layer_counts": json.loads(run["layer_counts_json"]),
    }


def measure() -> dict:
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_main_job_") as tmp:
        env = private_environment(Path(tmp))
        os.environ.update(env)
        get_settings.cache_clear()
        settings = get_settings()
        try:
            for label in ("first run (empty)", "second run (incremental)"):
                print(f"{label} ...", flush=True)
                result = run_main_job(env, settings, Path(tmp) / f"run{len(runs)}.log")
                result.update(last_run(settings), run=label)
                print(json.dumps(result), flush=True)
                runs.append(result)
        finally:
            stop_services(env)
    return {
        "benchmark": "main_job",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "artists_per_run": settings.pipeline_artists_per_run,
        "spark_driver_memory": settings.spark_driver_memory,
        "runs": runs,
    }


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def markdown(result: dict) -> str:
    lines = [
        "# main job benchmark (`lakehouse run`)",
        "",
        f"Measured {result['measured_at']} on {result['machine']} (load average"
        f" {result['load_average_at_end']} at the end), emulator catalogue,"
        f" {result['artists_per_run']} artists per run, Spark driver"
        f" {result['spark_driver_memory']}. Setup (`make setup`) was done before; the first run"
        " starts from an empty data folder. Command: `.venv/bin/python benchmarks/main_job.py`.",
        "",
        "| run | wall time | peak RSS (job + services) | peak: job alone | peak: Thrift Server"
        " | peak: FerretDB | status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in result["runs"]:
        parts = run.get("peak_rss_mb_by_part", {})  # absent in results before 2026-12-01
        cells = [_count(parts.get(name)) for name in ("job", "thrift", "ferretdb")]
        lines.append(
            f"| {run['run']} | {run['wall_seconds']} s | {run['peak_rss_mb']:,} MB |"
            f" {' | '.join(c if c == '-' else c + ' MB' for c in cells)} | {run['status']} |"
        )
    lines += [
        "",
        "Each part's own peak, from the same samples as the total: the job alone is the"
        " command with dbt and the quality gate's Spark JVM, without the services it started."
        " The parts peak at different moments, so they need not add up to the total.",
    ]
    stages = list(result["runs"][0]["stage_seconds"])
    lines += ["", "Seconds per stage:", "", "| stage | " + " | ".join(stages) + " |"]
    lines.append("|---|" + "---:|" * len(stages))
    for run in result["runs"]:
        cells = [str(run["stage_seconds"].get(s, "-")) for s in stages]
        lines.append(f"| {run['run']} | " + " | ".join(cells) + " |")
    lines += ["", "Rows per layer after each run:", ""]
    tables = [
        (layer, table)
        for layer, counts in result["runs"][0]["layer_counts"].items()
        for table in counts
    ]
    lines.append("| layer.table | " + " | ".join(r["run"] for r in result["runs"]) + " |")
    lines.append("|---|" + "---:|" * len(result["runs"]))
    for layer, table in tables:
        cells = [_count(r["layer_counts"].get(layer, {}).get(table)) for r in result["runs"]]
        lines.append(f"| {layer}.{table} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-only", action="store_true", help="Rewrite the .md from the .json")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        result = json.loads((RESULTS / "main_job.json").read_text())
    else:
        result = measure()
        (RESULTS / "main_job.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "main_job.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
