"""Benchmark: `dbt build` wall time and Spark Thrift Server peak RSS on emulator catalogues.

For each size (tracks) it generates the Spotify emulator's catalogue and writes what a crawl of
it lands in bronze (the emulator's own full artist, album and track documents and audio
features, canonical JSON, written with delta-rs), crawling artist by artist until the size is
reached. It runs a full `dbt build` (models + data tests, as the pipeline does), then twice
crawls 1% new tracks (new artists' releases and features) while 1% of the stored artists get
new popularity and followers, and runs the incremental `dbt build`. The first incremental build
after the bulk load also re-merges the bulk batch (stamped at the watermark); the second is the
steady state, the quoted figure. A last build with nothing new in bronze gives the floor every
incremental run pays (statements, planning, tests), whatever it merges.

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
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from process_memory import PeakRss

from lakehouse.dbt_runner import DbtRunSummary
from lakehouse.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SPOTIFY = "https://api.spotify.com"
T0 = datetime(2026, 11, 1, tzinfo=UTC)  # the bulk load's export time
CHUNK_TRACKS = 50_000
TRACKS_PER_ARTIST = 40  # a little under the emulator's average, so the catalogue is big enough
# Writes one chunk of a crawl's documents per entity; returns the payload bytes per entity.
Store = Callable[[dict[str, list[dict]]], dict[str, int]]


class CrawledCatalogue:
    """The emulator's catalogue (the project's Spotify stand-in), crawled artist by artist.

    The documents are what the crawler stores for an extended-quota app: full artists, full
    albums (with their first page of tracks), full tracks and audio features, rendered by the
    emulator itself, so payload sizes and shapes are the ones a real crawl lands in bronze.
    Crawling an artist takes all its releases (albums, singles, compilations and those it
    appears on) and the docs of every artist credited on them, as `ingestion/crawl` does.
    """

    def __init__(self, n_tracks: int, seed: int) -> None:
        from ingestion.emulator.catalogue import generate_catalogue

        # Headroom for the bulk load and the two 1% crawls after it.
        self.cat = generate_catalogue(int(n_tracks * 1.05 / TRACKS_PER_ARTIST) + 20, seed=seed)
        self.order = list(self.cat.artists)
        self.crawled = 0
        self.albums: set[str] = set()
        self.artist_docs: set[str] = set()

    def crawl(self, n_tracks: int, store: Store) -> dict:
        """Crawl the next artists until at least `n_tracks` new tracks are stored; `store` gets
        the documents in chunks of about CHUNK_TRACKS tracks (a 1M-track catalogue's documents
        would not fit in memory at once) and returns the payload bytes it wrote per entity.
        Returns the counts and payload megabytes per entity."""
        from ingestion.emulator import rendering

        cat, docs = self.cat, _no_docs()
        counts = dict.fromkeys(docs, 0)
        megabytes = dict.fromkeys(docs, 0.0)

        def flush() -> None:
            written = store(docs)
            for entity, entity_docs in docs.items():
                counts[entity] += len(entity_docs)
                megabytes[entity] += written.get(entity, 0) / 2**20
            docs.update(_no_docs())

        while counts["tracks"] + len(docs["tracks"]) < n_tracks:
            if self.crawled == len(self.order):
                raise RuntimeError("the benchmark catalogue is too small for the sizes asked")
            artist_id = self.order[self.crawled]
            self.crawled += 1
            first_album, first_track = len(docs["albums"]), len(docs["tracks"])
            for album_id, _group in cat.releases[artist_id]:
                if album_id in self.albums:
                    continue
                self.albums.add(album_id)
                album = cat.albums[album_id]
                docs["albums"].append(rendering.album_full(cat, album, rendering.EXTENDED, SPOTIFY))
                for track_id in album.track_ids:
                    track = cat.tracks[track_id]
                    docs["tracks"].append(rendering.track_full(cat, track, rendering.EXTENDED))
                    if track.features is not None:
                        docs["audio_features"].append(rendering.audio_features(track))
            new_docs = docs["albums"][first_album:] + docs["tracks"][first_track:]
            credited = [artist_id] + [a["id"] for doc in new_docs for a in doc["artists"]]
            for credited_id in dict.fromkeys(credited):
                if credited_id not in self.artist_docs:
                    self.artist_docs.add(credited_id)
                    docs["artists"].append(
                        rendering.artist_full(cat.artists[credited_id], rendering.EXTENDED)
                    )
            if len(docs["tracks"]) >= CHUNK_TRACKS:
                flush()
        flush()
        return {"counts": counts, "payload_mb": {e: round(mb, 1) for e, mb in megabytes.items()}}

    def changed_artists(self, share: float, step: int) -> list[dict]:
        """A re-crawl's new versions of `share` of the stored artists (popularity, followers)."""
        from ingestion.emulator import rendering

        stored = sorted(self.artist_docs)
        changed = []
        for artist_id in stored[:: max(1, round(1 / share))]:
            doc = rendering.artist_full(self.cat.artists[artist_id], rendering.EXTENDED)
            doc["popularity"] = min(100, doc["popularity"] + step)
            doc["followers"]["total"] += 1000 * step
            changed.append(doc)
        return changed


def write_bronze(location: str, entity: str, docs: list[dict], batch: str, at: datetime) -> int:
    """Append `docs` to a bronze table as the export does: canonical JSON and its sha256.
    Returns the payloads' size in bytes (UTF-8)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from ingestion.bronze_validation import canonical_json, content_hash

    payloads = [canonical_json(d) for d in docs]
    table = pa.table(
        {
            "id": [d["id"] for d in docs],
            "payload": payloads,
            "content_hash": [content_hash(d) for d in docs],
            "ingested_at": pa.array([at] * len(docs), pa.timestamp("us", tz="UTC")),
            "source": ["emulator"] * len(docs),
            "crawl_id": [f"crawl-{batch}"] * len(docs),
            "batch_id": [batch] * len(docs),
            "exported_at": pa.array([at] * len(docs), pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(f"{location}/{entity}", table, mode="append")
    return sum(len(p.encode("utf-8")) for p in payloads)


def _no_docs() -> dict[str, list[dict]]:
    return {"artists": [], "albums": [], "tracks": [], "audio_features": []}


def bronze_writer(location: str, batch: str, at: datetime) -> Store:
    """Appends each entity's documents of one crawl to its bronze table."""

    def store(docs: dict[str, list[dict]]) -> dict[str, int]:
        return {
            entity: write_bronze(location, entity, entity_docs, batch, at)
            for entity, entity_docs in docs.items()
            if entity_docs
        }

    return store


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


def run_size(
    settings: Settings, n_tracks: int, *, exclude: Sequence[str] = (), tag: str | None = None
) -> dict:
    """One size: bulk load and full build, two 1% crawls with incremental builds, a build with
    nothing new. `exclude`: dbt selectors every build leaves out; `tag`: the schemas' suffix
    (default from the size), so one server can hold several lakes of one size."""
    from lakehouse import dbt_runner
    from lakehouse.dbt_sources import register_bronze_tables
    from lakehouse.services import select

    tag = tag or f"b{n_tracks // 1000}k"
    scoped = settings.model_copy(
        update={
            "dbt_bronze_schema": f"bronze_{tag}",
            "dbt_silver_schema": f"silver_{tag}",
            "dbt_gold_schema": f"gold_{tag}",
        }
    )
    location = settings.lake_path(f"bronze_{tag}")
    started = time.monotonic()
    crawler = CrawledCatalogue(n_tracks, seed=2)
    bulk = crawler.crawl(n_tracks, bronze_writer(location, "b1", T0))
    bronze_s = time.monotonic() - started
    register_bronze_tables(scoped, lake_folder=f"bronze_{tag}")
    (thrift,) = select(settings, ["thrift"])
    pid = thrift.process.running_process().pid

    with PeakRss(lambda: [pid]) as rss_full:
        # The pipeline's production build: models and data tests (unit tests run in CI only).
        full = dbt_runner.build(scoped, register_sources=False, unit_tests=False, exclude=exclude)
    # Two crawls of 1% new tracks (new artists with their releases and features) that also
    # re-crawl 1% of the stored artists with new popularity and followers. The first
    # incremental build after the bulk load also re-merges the bulk batch: all of it is stamped
    # at the watermark, which incremental models re-read (latest_bronze_version). The second is
    # the steady state of a pipeline run after a small crawl, the figure quoted.
    after_bulk, rss_after_bulk, _ = _crawl_and_build(
        scoped, location, crawler, n_tracks, 1, pid, exclude)
    incremental, rss_inc, crawl = _crawl_and_build(
        scoped, location, crawler, n_tracks, 2, pid, exclude)
    # The floor of any incremental run: the same build with nothing new in bronze.
    nothing_new = dbt_runner.build(
        scoped, register_sources=False, unit_tests=False, exclude=exclude)
    return {
        "size": n_tracks,
        "tracks": bulk["counts"]["tracks"],
        "albums": bulk["counts"]["albums"],
        "artists": bulk["counts"]["artists"],
        "crawled_artists": crawler.crawled,
        "bronze_payload_mb": bulk["payload_mb"],
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
            "new_tracks": crawl["counts"]["tracks"],
            "new_albums": crawl["counts"]["albums"],
            "artist_versions": crawl["counts"]["artists"] + crawl["changed_artists"],
            "wall_s": round(incremental.seconds, 1),
            "success": incremental.success,
            "share_of_full": round(incremental.seconds / full.seconds, 3),
            "thrift_peak_rss_mb": round(rss_inc / 2**20),
            "node_time": node_time(incremental),
        },
        "nothing_new_build": {
            "wall_s": round(nothing_new.seconds, 1),
            "success": nothing_new.success,
            "share_of_full": round(nothing_new.seconds / full.seconds, 3),
            "node_time": node_time(nothing_new),
        },
    }


def _crawl_and_build(
    scoped: Settings, location: str, crawler: CrawledCatalogue, n_tracks: int, step: int,
    pid: int, exclude: Sequence[str] = (),
) -> tuple[DbtRunSummary, int, dict]:
    """Append crawl number `step` (1% new tracks, 1% of the stored artists changed, exported a
    day after the previous one) and run the incremental build; returns it, the peak RSS and
    the crawl's counts."""
    from lakehouse import dbt_runner

    at = T0 + timedelta(days=step)
    store = bronze_writer(location, f"b{step + 1}", at)
    changed = crawler.changed_artists(0.01, step)
    store({"artists": changed})
    crawl = {**crawler.crawl(max(10, n_tracks // 100), store), "changed_artists": len(changed)}
    with PeakRss(lambda: [pid]) as rss:
        build = dbt_runner.build(scoped, register_sources=False, unit_tests=False, exclude=exclude)
    return build, rss.peak, crawl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--data-dir", default=None, help="private data dir (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=None, help="dbt threads (separate results)")
    args = parser.parse_args()
    stem = f"dbt_build_threads{args.threads}" if args.threads else "dbt_build"
    if args.threads:
        os.environ["DBT_THREADS"] = str(args.threads)

    with own_thrift_server(args.data_dir) as settings:
        machine = machine_facts(settings)
        for n_tracks in args.sizes:
            # Saved after each size, replacing only that size's row: a long 1M run neither
            # waits for nor loses the smaller ones.
            load_before = os.getloadavg()[0]
            run = run_size(settings, n_tracks)
            run["date"] = datetime.now(UTC).isoformat(timespec="seconds")
            run["load_avg_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
            save_run(machine, run, stem)
    print((RESULTS / f"{stem}.md").read_text())


@contextmanager
def own_thrift_server(data_dir: str | None) -> Iterator[Settings]:
    """Settings for a private data dir (default: a temporary one, removed afterwards) with a
    Thrift Server of its own on a free port, stopped on the way out."""
    from lakehouse import services
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import free_port

    folder = data_dir or tempfile.mkdtemp(prefix="dbt-bench-")
    os.environ.update(
        {
            "DATA_DIR": folder,
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
    try:
        yield settings
    finally:
        services.stop(thrift)
        if not data_dir:  # a 1M-track run leaves ~1 GB of lake behind
            shutil.rmtree(folder, ignore_errors=True)


def machine_facts(settings: Settings) -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "spark_driver_memory": settings.spark_driver_memory,
        "dbt_threads": settings.dbt_threads,
        "dbt_poll_interval_s": settings.dbt_poll_interval_s,
        "bronze": "emulator payloads",
    }


def write_results(stem: str, result: dict, markdown: Callable[[dict], str]) -> None:
    """Write a benchmark's result as RESULTS/<stem>.json and its report as <stem>.md, print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    print((RESULTS / f"{stem}.md").read_text())


def live_bytes(location: str) -> int:
    """Bytes of the data files of a Delta table's latest version."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(location).get_add_actions(flatten=True))
    return sum(actions.column("size_bytes").to_pylist())


def save_run(machine: dict, run: dict, stem: str) -> None:
    path = RESULTS / f"{stem}.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    if previous.get("machine") != machine:
        previous = {}  # other settings: the older rows are not comparable
    runs = {r["size"]: r for r in previous.get("runs", [])}
    runs[run["size"]] = run
    result = {
        "benchmark": "dbt_build",
        "machine": machine,
        "runs": sorted(runs.values(), key=lambda r: r["size"]),
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
        " build (models + data tests, no unit tests). Bronze: the emulator's documents as the"
        " crawler stores them (extended-quota app). Load average: 1-minute, before/after the"
        " size (the machine is shared).",
        "",
        "| tracks | albums | artists | bronze JSON | full build (models+tests) | peak RSS |"
        " first 1% incremental after the bulk load | 1% incremental build | share of full |"
        " peak RSS | build with nothing new | share of full | measured | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in result["runs"]:
        f, i, n = r["full_build"], r["incremental_build"], r["nothing_new_build"]
        lines.append(
            f"| {r['tracks']:,} | {r['albums']:,} | {r['artists']:,} |"
            f" {sum(r['bronze_payload_mb'].values()):,.0f} MB | {f['wall_s']} s"
            f" ({f['models']} models, {f['tests']} tests{_failed(f)}) |"
            f" {f['thrift_peak_rss_mb']} MB | {_after_bulk(r)} | {i['wall_s']} s"
            f" (+{i['new_tracks']:,} tracks, {i['artist_versions']:,} artist versions{_failed(i)})"
            f" | {i['share_of_full']:.0%} | {i['thrift_peak_rss_mb']} MB |"
            f" {n['wall_s']} s{_failed(n)} | {n['share_of_full']:.0%} | {r['date']} |"
            f" {r['load_avg_1m'][0]} / {r['load_avg_1m'][1]} |"
        )
    lines += ["", "Summed node seconds (dbt threads run nodes in parallel) and slowest nodes:", ""]
    builds = (("full", "full_build"), ("incremental", "incremental_build"),
              ("nothing new", "nothing_new_build"))
    for r in result["runs"]:
        for label, key in builds:
            spent = r[key].get("node_time")
            if spent:
                kinds = ", ".join(f"{k} {s} s" for k, s in spent["summed_s"].items())
                slow = ", ".join(f"{n} {s} s" for n, s in spent["slowest"])
                lines.append(f"- {r['tracks']:,} tracks, {label}: {kinds}; slowest: {slow}")
    return "\n".join(lines + model_table(result)) + "\n"


def _failed(build: dict) -> str:
    return "" if build["success"] else ", FAILED"


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
