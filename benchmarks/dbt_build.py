"""Benchmark: `dbt build` wall time and Spark Thrift Server peak RSS on synthetic catalogues.

For each size (tracks) it writes bronze Delta tables with delta-rs (realistic API payloads:
~1 album per 10 tracks, ~1 artist per 20 tracks, 2-artist credits on 1 track in 5, audio features
for 80% of tracks), runs a full `dbt build` (models + data tests, as the pipeline does), then
twice appends 1% new tracks (with their albums, features and a few changed artists) and runs the
incremental `dbt build`. The first incremental build after the bulk load also re-merges the bulk
batch (stamped at the watermark); the second is the steady state, the quoted figure.

Runs against its own Thrift Server (started and stopped here) on a private data dir.
Usage: .venv/bin/python benchmarks/dbt_build.py [--sizes 10000 200000] [--threads 1]
Results: benchmarks/results/dbt_build.json and .md; with --threads N (instead of DBT_THREADS),
dbt_build_threads<N>.json and .md. One thread runs one statement at a time, so each model's
node time is its own cost, comparable across models and between the full and incremental build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from process_memory import PeakRss

from lakehouse.dbt_runner import DbtRunSummary
from lakehouse.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GENRES = [f"genre {i}" for i in range(60)]


def _artist(i: int, rng: random.Random, version: int = 0) -> dict:
    return {
        "id": f"ar{i:07d}",
        "name": f"Artist {i}",
        "type": "artist",
        "uri": f"spotify:artist:ar{i:07d}",
        "genres": rng.sample(GENRES, rng.choice([0, 1, 2, 3])),
        "popularity": min(100, rng.randint(0, 90) + version),
        "followers": {"href": None, "total": rng.randint(0, 10_000_000)},
        "images": [{"url": f"https://i.scdn.co/image/ar{i}", "height": 640, "width": 640}],
        "external_urls": {"spotify": f"https://open.spotify.com/artist/ar{i:07d}"},
    }


def _credit(i: int) -> dict:
    return {"id": f"ar{i:07d}", "name": f"Artist {i}", "type": "artist"}


def _album(j: int, n_artists: int, n_tracks: int, rng: random.Random) -> dict:
    precision = rng.choice(["day", "day", "day", "month", "year"])
    year = rng.randint(1960, 2025)
    date = {"year": f"{year}", "month": f"{year}-{rng.randint(1, 12):02d}"}.get(
        precision, f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    )
    return {
        "id": f"al{j:07d}",
        "name": f"Album {j}",
        "album_type": "album",
        "total_tracks": n_tracks,
        "release_date": date,
        "release_date_precision": precision,
        "artists": [_credit(j % n_artists)],
        "images": [{"url": f"https://i.scdn.co/image/al{j}", "height": 640, "width": 640}],
        "label": f"Label {j % 500}",
        "popularity": rng.randint(0, 100),
        "genres": [],
        "external_ids": {"upc": f"{j:012d}"},
    }


def _track(k: int, album_id: str, primary: int, n_artists: int, rng: random.Random) -> dict:
    credits = [_credit(primary)]
    if k % 5 == 0:
        credits.append(_credit((primary + 7) % n_artists))
    return {
        "id": f"tr{k:08d}",
        "name": f"Track {k}",
        "artists": credits,
        "album": {"id": album_id, "name": "x", "album_type": "album"},
        "disc_number": 1,
        "track_number": k % 10 + 1,
        "duration_ms": rng.randint(90_000, 400_000),
        "explicit": k % 7 == 0,
        "popularity": rng.randint(0, 100),
        "preview_url": None,
        "external_ids": {"isrc": f"ISRC{k:08d}"},
    }


def _features(k: int, rng: random.Random) -> dict:
    unit = lambda: round(rng.random(), 3)  # noqa: E731
    return {
        "id": f"tr{k:08d}",
        "danceability": unit(),
        "energy": unit(),
        "key": rng.randint(-1, 11),
        "loudness": round(-rng.random() * 30, 2),
        "mode": rng.randint(0, 1),
        "speechiness": unit(),
        "acousticness": unit(),
        "instrumentalness": unit(),
        "liveness": unit(),
        "valence": unit(),
        "tempo": round(60 + rng.random() * 120, 2),
        "time_signature": 4,
    }


def catalogue(first_track: int, n_tracks: int, n_artists: int, seed: int) -> dict[str, list]:
    """Documents for tracks [first_track, first_track + n_tracks), 10 tracks per album."""
    rng = random.Random(seed)
    docs: dict[str, list] = {"albums": [], "tracks": [], "audio_features": []}
    for j in range(first_track // 10, (first_track + n_tracks) // 10):
        docs["albums"].append(_album(j, n_artists, 10, rng))
        for k in range(j * 10, j * 10 + 10):
            docs["tracks"].append(_track(k, f"al{j:07d}", j % n_artists, n_artists, rng))
            if k % 5 != 4:
                docs["audio_features"].append(_features(k, rng))
    return docs


def write_bronze(location: str, entity: str, docs: list[dict], batch: str, at: datetime) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    payloads = [json.dumps(d, separators=(",", ":")) for d in docs]
    table = pa.table(
        {
            "id": [d["id"] for d in docs],
            "payload": payloads,
            "content_hash": [str(hash(p)) for p in payloads],
            "ingested_at": pa.array([at] * len(docs), pa.timestamp("us", tz="UTC")),
            "source": ["emulator"] * len(docs),
            "crawl_id": [f"crawl-{batch}"] * len(docs),
            "batch_id": [batch] * len(docs),
            "exported_at": pa.array([at] * len(docs), pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(f"{location}/{entity}", table, mode="append")


def node_time(summary: DbtRunSummary) -> dict:
    """Where the build's time went: summed node seconds per kind, the slowest nodes, and each
    model's seconds (to compare a model's incremental merge with its full build)."""
    by_kind: dict[str, float] = {}
    for node in summary.nodes:
        by_kind[node.resource_type] = by_kind.get(node.resource_type, 0.0) + node.seconds
    slowest = sorted(summary.nodes, key=lambda n: n.seconds, reverse=True)[:5]
    return {
        "summed_s": {kind: round(s, 1) for kind, s in sorted(by_kind.items())},
        "slowest": [[n.name, round(n.seconds, 1)] for n in slowest],
        "models": {
            n.name: round(n.seconds, 2) for n in summary.nodes if n.resource_type == "model"
        },
    }


def run_size(settings: Settings, n_tracks: int) -> dict:
    from lakehouse import dbt_runner
    from lakehouse.dbt_sources import register_bronze_tables
    from lakehouse.services import select

    tag = f"b{n_tracks // 1000}k"
    scoped = settings.model_copy(
        update={
            "dbt_bronze_schema": f"bronze_{tag}",
            "dbt_silver_schema": f"silver_{tag}",
            "dbt_gold_schema": f"gold_{tag}",
        }
    )
    location = settings.lake_path(f"bronze_{tag}")
    n_artists = max(10, n_tracks // 20)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(1)
    started = time.monotonic()
    write_bronze(location, "artists", [_artist(i, rng) for i in range(n_artists)], "b1", t0)
    for entity, docs in catalogue(0, n_tracks, n_artists, seed=2).items():
        write_bronze(location, entity, docs, "b1", t0)
    bronze_s = time.monotonic() - started
    register_bronze_tables(scoped, lake_folder=f"bronze_{tag}")
    (thrift,) = select(settings, ["thrift"])
    pid = thrift.process.running_process().pid

    with PeakRss(lambda: [pid]) as rss_full:
        # The pipeline's production build: models and data tests (unit tests run in CI only).
        full = dbt_runner.build(scoped, register_sources=False, unit_tests=False)
    # Two crawls of 1% new tracks (with their albums and features) and 1% of the artists changed.
    # The first incremental build after the bulk load also re-merges the bulk batch: all of it is
    # stamped at the watermark, which incremental models re-read (latest_bronze_version). The
    # second is the steady state of a pipeline run after a small crawl, the figure quoted.
    extra = max(10, n_tracks // 100)
    after_bulk, rss_after_bulk = _crawl_and_build(scoped, location, n_tracks, n_artists, 1, pid)
    incremental, rss_inc = _crawl_and_build(scoped, location, n_tracks, n_artists, 2, pid)
    changed = len(range(0, n_artists, 100))
    return {
        "tracks": n_tracks,
        "albums": n_tracks // 10,
        "artists": n_artists,
        "bronze_write_s": round(bronze_s, 1),
        "full_build": {
            "wall_s": round(full.seconds, 1),
            "success": full.success,
            "models": full.models_passed,
            "tests": full.tests_passed,
            "failed": [n.name for n in full.failed_nodes],
            "thrift_peak_rss_mb": round(rss_full.peak / 2**20),
            "node_time": node_time(full),
        },
        "first_incremental_after_bulk": {
            "wall_s": round(after_bulk.seconds, 1),
            "success": after_bulk.success,
            "share_of_full": round(after_bulk.seconds / full.seconds, 3),
            "thrift_peak_rss_mb": round(rss_after_bulk / 2**20),
        },
        "incremental_build": {
            "new_tracks": extra,
            "changed_artists": changed,
            "wall_s": round(incremental.seconds, 1),
            "success": incremental.success,
            "share_of_full": round(incremental.seconds / full.seconds, 3),
            "thrift_peak_rss_mb": round(rss_inc / 2**20),
            "node_time": node_time(incremental),
        },
    }


def _crawl_and_build(
    scoped: Settings, location: str, n_tracks: int, n_artists: int, step: int, pid: int
) -> tuple[DbtRunSummary, int]:
    """Append crawl number `step` (1% new tracks, 1% of the artists changed, exported a day
    after the previous one) and run the incremental build; returns it and the peak RSS."""
    from lakehouse import dbt_runner

    extra = max(10, n_tracks // 100)
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=step)
    rng = random.Random(100 + step)
    changed = [_artist(i, rng, version=step) for i in range(0, n_artists, 100)]
    batch = f"b{step + 1}"
    write_bronze(location, "artists", changed, batch, at)
    first = n_tracks + (step - 1) * extra
    for entity, docs in catalogue(first, extra, n_artists, seed=2 + step).items():
        write_bronze(location, entity, docs, batch, at)
    with PeakRss(lambda: [pid]) as rss:
        build = dbt_runner.build(scoped, register_sources=False, unit_tests=False)
    return build, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--data-dir", default=None, help="private data dir (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=None, help="dbt threads (separate results)")
    args = parser.parse_args()
    stem = f"dbt_build_threads{args.threads}" if args.threads else "dbt_build"
    if args.threads:
        os.environ["DBT_THREADS"] = str(args.threads)

    from lakehouse import services
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import free_port

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="dbt-bench-")
    os.environ.update(
        {
            "DATA_DIR": data_dir,
            "LAKE_ROOT": "",
            "THRIFT_PORT": str(free_port()),
            "SPARK_UI_PORT": "0",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    get_settings.cache_clear()
    settings = get_settings()
    (thrift,) = services.select(settings, ["thrift"])
    services.start(thrift)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "spark_driver_memory": settings.spark_driver_memory,
        "dbt_threads": settings.dbt_threads,
        "dbt_poll_interval_s": settings.dbt_poll_interval_s,
    }
    try:
        for n_tracks in args.sizes:
            # Saved after each size, replacing only that size's row: a long 1M run neither
            # waits for nor loses the smaller ones.
            load_before = os.getloadavg()[0]
            run = run_size(settings, n_tracks)
            run["date"] = datetime.now(UTC).isoformat(timespec="seconds")
            run["load_avg_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
            save_run(machine, run, stem)
    finally:
        services.stop(thrift)
        if not args.data_dir:  # a 1M-track run leaves ~1 GB of lake behind
            shutil.rmtree(data_dir, ignore_errors=True)
    print((RESULTS / f"{stem}.md").read_text())


def save_run(machine: dict, run: dict, stem: str) -> None:
    path = RESULTS / f"{stem}.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    if previous.get("machine") != machine:
        previous = {}  # other settings: the older rows are not comparable
    runs = {r["tracks"]: r for r in previous.get("runs", [])}
    runs[run["tracks"]] = run
    result = {
        "benchmark": "dbt_build",
        "machine": machine,
        "runs": sorted(runs.values(), key=lambda r: r["tracks"]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# dbt build benchmark",
        "",
        f"{m['cpus']} CPUs, Spark driver {m['spark_driver_memory']}, dbt threads"
        f" {m['dbt_threads']}, dbt poll interval {m['dbt_poll_interval_s']} s; the pipeline's"
        " build (models + data tests, no unit tests). Load average: 1-minute, before/after the"
        " size (the machine is shared).",
        "",
        "| tracks | albums | artists | full build (models+tests) | peak RSS | first 1% incremental"
        " after the bulk load | 1% incremental build | share of full | peak RSS | measured |"
        " load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in result["runs"]:
        f, i = r["full_build"], r["incremental_build"]
        lines.append(
            f"| {r['tracks']:,} | {r['albums']:,} | {r['artists']:,} | {f['wall_s']} s"
            f" ({f['models']} models, {f['tests']} tests{'' if f['success'] else ', FAILED'}) |"
            f" {f['thrift_peak_rss_mb']} MB | {_after_bulk(r)} | {i['wall_s']} s"
            f" (+{i['new_tracks']:,} tracks"
            f"{'' if i['success'] else ', FAILED'}) |"
            f" {i['share_of_full']:.0%} | {i['thrift_peak_rss_mb']} MB | {r['date']} |"
            f" {r['load_avg_1m'][0]} / {r['load_avg_1m'][1]} |"
        )
    lines += ["", "Summed node seconds (dbt threads run nodes in parallel) and slowest nodes:", ""]
    for r in result["runs"]:
        for label, build in (("full", r["full_build"]), ("incremental", r["incremental_build"])):
            spent = build.get("node_time")
            if spent:
                kinds = ", ".join(f"{k} {s} s" for k, s in spent["summed_s"].items())
                slow = ", ".join(f"{n} {s} s" for n, s in spent["slowest"])
                lines.append(f"- {r['tracks']:,} tracks, {label}: {kinds}; slowest: {slow}")
    return "\n".join(lines + model_table(result)) + "\n"


def _after_bulk(run: dict) -> str:
    first = run.get("first_incremental_after_bulk")
    return f"{first['wall_s']} s ({first['share_of_full']:.0%})" if first else "-"


def model_table(result: dict) -> list[str]:
    """Each model's node seconds in the full and the 1% incremental build, per size."""
    runs = [r for r in result["runs"] if "models" in r["full_build"].get("node_time", {})]
    if not runs:
        return []
    full = [r["full_build"]["node_time"]["models"] for r in runs]
    incremental = [r["incremental_build"]["node_time"]["models"] for r in runs]
    lines = [
        "",
        "Model node seconds, full / 1% incremental build"
        + (
            " (one thread: each figure is the model's own statements):"
            if result["machine"]["dbt_threads"] == 1
            else f" ({result['machine']['dbt_threads']} threads share the cores, so each figure"
            " includes waiting for CPU; compare a row's two figures, not rows):"
        ),
        "",
        "| model | " + " | ".join(f"{r['tracks']:,} tracks" for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for name in sorted(full[-1], key=lambda n: -full[-1][n]):
        cells = [
            f"{f.get(name, 0):.1f} / {i.get(name, 0):.1f}"
            for f, i in zip(full, incremental, strict=True)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
