"""App benchmark: data load, search latency and app start to first render at ~200k tracks.

Builds a synthetic gold catalogue (ml/synthetic_catalogue.py for genres, features, years and
popularity; generated multi-word names with ~10% accented letters for search) as real Delta
tables in a temporary lake, then measures:
- data load: reading the marts by path (delta-rs) and building the catalogue + search indexes,
- search latency (in process, `SearchIndex.search`, one page): exact names, prefixes, typos,
  multi-word, accents, single letters, no-match and odd input; wall and CPU time,
- app start: `streamlit run` (the command `lakehouse app` runs) until /_stcore/health answers,
- first render in headless Chromium: cold (the first session loads the data) and warm (data
  cached: the target "first render < 3 s after the data is loaded"), and an end-to-end search
  in the browser (type, Enter, results shown).
The machine is shared: its load average is recorded next to the timings.

    .venv/bin/python benchmarks/app_benchmark.py                # 200k tracks
    .venv/bin/python benchmarks/app_benchmark.py --tracks 20000 # quick
Writes benchmarks/results/app.json and app.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
CHROMIUM = Path("/usr/bin/chromium")

SYLLABLES = ("ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "da", "re", "bel", "mor", "tan",
             "lys", "qu", "son", "ar", "el", "in", "go", "ma", "ri", "fe", "ta", "lu", "ze")
ACCENTED = ("é", "ö", "ñ", "ø", "ü", "å", "ç")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- synthetic gold -------------------------------------------------------------------------------
def _words(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` pseudo-words of 1-3 syllables; about 10% carry an accented letter."""
    vocab_size = 200_000  # real catalogues: tens of thousands of distinct title words
    parts = rng.integers(0, len(SYLLABLES), size=(vocab_size, 3))
    lengths = rng.integers(1, 4, vocab_size)
    vocab = ["".join(SYLLABLES[p] for p in row[:n]) for row, n in zip(parts, lengths, strict=True)]
    accents = rng.random(vocab_size) < 0.10
    vocab = [w[:-1] + ACCENTED[i % len(ACCENTED)] if a and len(w) > 2 else w
             for i, (w, a) in enumerate(zip(vocab, accents, strict=True))]
    # Zipf-like word frequencies, as in real titles.
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 0.8
    return np.asarray(vocab, dtype=object)[
        rng.choice(vocab_size, size=count, p=weights / weights.sum())]


def _names(rng: np.random.Generator, count: int, low: int, high: int) -> list[str]:
    lengths = rng.integers(low, high + 1, count)
    words = _words(rng, int(lengths.sum()))
    out, start = [], 0
    for n in lengths:
        out.append(" ".join(words[start:start + n]).title())
        start += n
    return out


def synthetic_gold(n_tracks: int, seed: int = 0) -> dict[str, pa.Table]:
    from app.gold_contract import SCHEMAS
    from app.search_index import normalise_column
    from ml.synthetic_catalogue import synthetic_catalogue

    rng = np.random.default_rng(seed)
    base = synthetic_catalogue(n_tracks, seed=seed)
    artist_ids = pc.list_flatten(base.column("artist_ids")).to_numpy(zero_copy_only=False)
    unique_artists, artist_row = np.unique(artist_ids, return_inverse=True)
    artist_names = np.asarray(_names(rng, len(unique_artists), 1, 3), dtype=object)
    album_ids = base.column("album_id").to_numpy(zero_copy_only=False)
    unique_albums, album_row = np.unique(album_ids, return_inverse=True)
    album_names = np.asarray(_names(rng, len(unique_albums), 1, 4), dtype=object)
    track_names = _names(rng, n_tracks, 1, 5)
    names_per_track = artist_names[artist_row]
    offsets = pa.array(np.arange(n_tracks + 1), pa.int32())
    years = base.column("release_year").to_numpy()
    days = (years.astype("datetime64[Y]") - np.datetime64("1970", "Y")).astype("datetime64[Y]")
    release = pa.array(days.astype("datetime64[D]").astype(np.int32), pa.int32()).cast(
        pa.date32())
    search_text = normalise_column(pa.array(
        [f"{t} — {a} — {b}" for t, a, b in zip(track_names, names_per_track,
                                                 album_names[album_row], strict=True)]))
    has_image = rng.random(n_tracks) < 0.9
    tracks = base.set_column(1, "track_name", pa.array(track_names)).set_column(
        3, "artist_names", pa.ListArray.from_arrays(offsets, pa.array(names_per_track)))
    tracks = tracks.set_column(6, "album_name", pa.array(album_names[album_row]))
    extra = {
        "album_image_url": pa.array(np.where(has_image, "https://i.scdn.co/image/x", None)),
        "release_date": release,
        "release_date_precision": pa.array(["year"] * n_tracks),
        "preview_url": pa.nulls(n_tracks, pa.string()),
        "artist_names_joined": pa.array(names_per_track),
        "search_text": search_text,
    }
    for name, column in extra.items():
        tracks = tracks.append_column(name, column)
    tracks = tracks.select(SCHEMAS["mart_track_search"].names).cast(SCHEMAS["mart_track_search"])

    genres_of_artist = {}
    for aid, genres in zip(artist_ids, base.column("genres").to_pylist(), strict=True):
        genres_of_artist.setdefault(aid, genres)
    dim_artist = pa.table({
        "artist_id": pa.array(unique_artists, pa.string()),
        "artist_name": pa.array(artist_names, pa.string()),
        "genres": pa.array([genres_of_artist[a] for a in unique_artists], pa.list_(pa.string())),
        "popularity": pa.array(rng.integers(0, 101, len(unique_artists)), pa.int32()),
        "followers": pa.array(rng.integers(0, 10**7, len(unique_artists)), pa.int64()),
        "image_url": pa.nulls(len(unique_artists), pa.string()),
        "spotify_url": pa.nulls(len(unique_artists), pa.string()),
        "is_crawled": pa.array(np.ones(len(unique_artists), dtype=bool)),
    })
    first = np.unique(album_row, return_index=True)[1]
    dim_album = pa.table({
        "album_id": pa.array(unique_albums, pa.string()),
        "album_name": pa.array(album_names, pa.string()),
        "album_type": pa.array(["album"] * len(unique_albums)),
        "primary_artist_id": pa.array(artist_ids[first], pa.string()),
        "total_tracks": pa.array(np.bincount(album_row), pa.int32()),
        "release_date": release.take(pa.array(first)),
        "release_date_precision": pa.array(["year"] * len(unique_albums)),
        "release_year": pa.array(years[first], pa.int32()),
        "label": pa.array([f"Label {i % 500}" for i in range(len(unique_albums))]),
        "popularity": pa.array(rng.integers(0, 101, len(unique_albums)), pa.int32()),
        "image_url": pa.nulls(len(unique_albums), pa.string()),
        "spotify_url": pa.nulls(len(unique_albums), pa.string()),
    })
    bridge = pa.table({"album_id": dim_album.column("album_id"),
                       "artist_id": dim_album.column("primary_artist_id"),
                       "artist_position": pa.array(np.ones(len(unique_albums)), pa.int32())})
    dim_track = pa.table({"track_id": tracks.column("track_id"),
                          "disc_number": pa.array(np.ones(n_tracks), pa.int32()),
                          "track_number": pa.array(np.arange(n_tracks) % 10 + 1, pa.int32())})
    return {"mart_track_search": tracks, "dim_artist": dim_artist, "dim_album": dim_album,
            "bridge_album_artist": bridge, "dim_track": dim_track, **_analytics(tracks)}


def _analytics(tracks: pa.Table) -> dict[str, pa.Table]:
    from app.dashboard_data import Filters, genre_summary, year_trends
    from app.gold_contract import SCHEMAS

    def cast(name: str, frame) -> pa.Table:
        schema = SCHEMAS[name]
        for column in schema.names:
            if column not in frame:
                frame[column] = None
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)

    genres = genre_summary(None, tracks, Filters())
    genres["artist_count"] = 0
    trends = year_trends(None, tracks, Filters())
    trends["album_count"] = trends["track_count"] // 10
    import pandas as pd

    counts = pd.DataFrame({"entity": ["tracks"], "row_count": [tracks.num_rows]})
    return {"mart_genre_summary": cast("mart_genre_summary", genres),
            "mart_release_year_trends": cast("mart_release_year_trends", trends),
            "mart_entity_counts": cast("mart_entity_counts", counts)}


# --- measurements -------------------------------------------------------------------------------
def measure_load(settings) -> tuple[dict, object]:
    from app import gold_tables
    from app.cached_data import CATALOGUE_MARTS
    from app.catalogue import Catalogue

    started = time.perf_counter()
    tables = [gold_tables.read(gold_tables.current_version(settings, name))
              for name in CATALOGUE_MARTS]
    read_s = time.perf_counter() - started
    built = time.perf_counter()
    catalogue = Catalogue.build(*tables)
    build_s = time.perf_counter() - built
    return {"read_marts_s": round(read_s, 2), "build_catalogue_and_indexes_s": round(build_s, 2),
            "total_s": round(read_s + build_s, 2), "load_avg": _load()}, catalogue


def _queries(catalogue, rng: np.random.Generator) -> dict[str, list[str]]:
    names = catalogue.tracks.column("track_name")
    artists = catalogue.tracks.column("artist_names_joined")
    picks = rng.choice(catalogue.tracks.num_rows, 20, replace=False)
    exact = [names[int(i)].as_py() for i in picks]
    prefix = [n.split()[0][:4] for n in exact]
    typo = []
    for name in exact:
        word = max(name.split(), key=len)
        cut = len(word) // 2
        typo.append(word[:cut] + word[cut + 1:] if len(word) > 4 else word + "x")
    multi = [f"{n.split()[0]} {artists[int(i)].as_py().split()[0]}" for n, i in
             zip(exact, picks, strict=True)]
    unaccented = [n.lower().replace("é", "e").replace("ö", "o").replace("ø", "o")
                  for n in exact if not n.isascii()][:10] or exact[:5]
    return {
        "exact name": exact, "prefix (typing)": prefix, "typo": typo,
        "two words (track + artist)": multi, "without accents": unaccented,
        "single letter": list("aeiklmrs"),
        "no match": ["zzqxv", "qqqqqq wwwww", "xyzzy plugh"],
        "odd input": ["'; DROP TABLE x; --", "%", ".*", "🎵🎵", "a" * 5000, ""],
    }


def measure_search(catalogue, rounds: int = 3) -> dict:
    rng = np.random.default_rng(1)
    results = {}
    everything = []
    for kind in ("tracks", "artists", "albums"):
        index = catalogue.indexes[kind]
        groups = _queries(catalogue, rng) if kind == "tracks" else {
            "mixed": ["ka", "lomi", "belmor", "tanlys son", "marz", "zzqxv", "é"]}
        per_kind = {}
        for label, queries in groups.items():
            wall, cpu = [], []
            for _ in range(rounds):
                for query in queries:
                    w, c = time.perf_counter(), time.process_time()
                    index.search(query)
                    cpu.append(time.process_time() - c)
                    wall.append(time.perf_counter() - w)
            everything.extend(wall)
            per_kind[label] = {
                "queries": len(queries) * rounds,
                "p50_ms": round(statistics.median(wall) * 1000, 1),
                "p95_ms": round(float(np.percentile(wall, 95)) * 1000, 1),
                "max_ms": round(max(wall) * 1000, 1),
                "cpu_p50_ms": round(statistics.median(cpu) * 1000, 1),
            }
        results[kind] = {"rows": index.size, "vocabulary": len(index.vocab), "groups": per_kind}
    results["all"] = {"queries": len(everything),
                      "p50_ms": round(statistics.median(everything) * 1000, 1),
                      "p95_ms": round(float(np.percentile(everything, 95)) * 1000, 1),
                      "max_ms": round(max(everything) * 1000, 1), "load_avg": _load()}
    return results


def measure_vocabulary_stress(n_rows: int, vocabulary: int = 150_000) -> dict:
    """Search latency when the text has a large vocabulary (random 4-9 letter words): the
    substring and fuzzy passes scan the vocabulary, so this is the costly case."""
    from app.search_index import SearchIndex

    rng = np.random.default_rng(2)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    pool = ["".join(rng.choice(letters, rng.integers(4, 10))) for _ in range(vocabulary)]
    picks = rng.integers(0, vocabulary, size=(n_rows, 6))
    texts = [" ".join(pool[i] for i in row) for row in picks]
    started = time.perf_counter()
    index = SearchIndex(texts, [t.split(" ", 2)[0] for t in texts],
                        rng.integers(0, 101, n_rows).astype(float))
    build_s = time.perf_counter() - started
    queries = [pool[int(i)] for i in rng.integers(0, vocabulary, 20)]
    queries += [q[:3] for q in queries[:10]] + [q[:-1] + "z" for q in queries[:10]]
    queries += [f"{a} {b}" for a, b in zip(queries[:10], queries[10:20], strict=True)]
    wall = []
    for query in queries:
        w = time.perf_counter()
        index.search(query)
        wall.append(time.perf_counter() - w)
    return {"rows": n_rows, "vocabulary": len(index.vocab), "build_s": round(build_s, 2),
            "queries": len(queries), "p50_ms": round(statistics.median(wall) * 1000, 1),
            "p95_ms": round(float(np.percentile(wall, 95)) * 1000, 1),
            "max_ms": round(max(wall) * 1000, 1), "load_avg": _load()}


def measure_browser(env: dict[str, str], searches: list[tuple[str, str]]) -> dict:
    import requests

    from app.cli import streamlit_command
    from lakehouse.supervisor import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(streamlit_command("127.0.0.1", port), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    result: dict = {}
    try:
        while True:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
            if time.perf_counter() - started > 120:
                raise RuntimeError("streamlit did not start in 120 s")
        result["server_start_to_healthy_s"] = round(time.perf_counter() - started, 2)
        if CHROMIUM.exists():
            result.update(_browser_timings(url, searches))
        result["load_avg"] = _load()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    return result


def _browser_timings(url: str, searches: list[tuple[str, str]]) -> dict:
    """Time to first render per fresh page, then searches: Enter until that query's own
    result count is drawn (each query has a different count, so no stale page is timed)."""
    from playwright.sync_api import expect, sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-dev-shm-usage"]
    out = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        for label in ("first_render_cold_s", "first_render_warm_s", "first_render_warm_2_s"):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(url)
            expect(page.get_by_text("tracks,", exact=False).first).to_be_visible(timeout=300_000)
            out[label] = round(time.perf_counter() - started, 2)
            if label == "first_render_warm_2_s":
                box = page.get_by_label("Search", exact=True)
                timings = []
                for text, caption in searches:
                    box.fill(text)
                    started = time.perf_counter()
                    box.press("Enter")
                    expect(page.get_by_text(caption, exact=True)).to_be_visible(timeout=60_000)
                    timings.append(time.perf_counter() - started)
                out["browser_search_s"] = [round(t, 2) for t in timings]
            page.close()
        browser.close()
    return out


def _browser_searches(catalogue) -> list[tuple[str, str]]:
    """Queries with pairwise different result counts, and the caption each one must show."""
    index = catalogue.indexes["tracks"]
    name = catalogue.tracks.column("track_name")[123].as_py()
    searches, totals = [], set()
    for text in (name, name.split()[0], name.split()[0][:3], name.split()[-1] + " x", "ka"):
        result = index.search(text)
        if result.total and result.total not in totals:
            totals.add(result.total)
            searches.append((text, f"{result.total:,} tracks found · page 1 of {result.pages}"))
    return searches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--no-browser", action="store_true")
    options = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="app-bench-"))
    env = {**os.environ, "LAKE_ROOT": str(root / "lake"), "DATA_DIR": str(root / "data"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "APP_REFRESH_S": "5"}
    os.environ.update({k: env[k] for k in ("LAKE_ROOT", "DATA_DIR")})
    from deltalake import write_deltalake

    from lakehouse.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    try:
        print(f"generating {options.tracks:,} synthetic tracks ...", flush=True)
        started = time.perf_counter()
        tables = synthetic_gold(options.tracks)
        for name, table in tables.items():
            write_deltalake(settings.lake_path(settings.gold_schema, name), table)
        generate_s = round(time.perf_counter() - started, 1)
        print("measuring data load ...", flush=True)
        load, catalogue = measure_load(settings)
        print(f"  {load}", flush=True)
        print("measuring search ...", flush=True)
        search = measure_search(catalogue)
        print(f"  all: {search['all']}", flush=True)
        searches = _browser_searches(catalogue)
        del catalogue
        print("measuring search with a large vocabulary ...", flush=True)
        stress = measure_vocabulary_stress(options.tracks)
        print(f"  {stress}", flush=True)
        browser = {} if options.no_browser else measure_browser(env, searches)
        print(f"  app: {browser}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    result = {
        "benchmark": "app", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "tracks": options.tracks, "artists": tables["dim_artist"].num_rows,
        "albums": tables["dim_album"].num_rows, "generate_and_write_s": generate_s,
        "data_load": load, "search": search, "search_large_vocabulary": stress, "app": browser,
        "targets": {"first_render_after_data_loaded_s": 3.0, "search_ms": 200},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "app.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "app.md").write_text(_markdown(result))
    print(f"wrote {RESULTS / 'app.json'} and app.md")


def _markdown(r: dict) -> str:
    app, load, search = r["app"], r["data_load"], r["search"]
    lines = [
        "# App benchmark", "",
        f"{r['date']}, {r['machine']['cpus']} CPUs (shared machine: load averages recorded),"
        f" {r['tracks']:,} tracks / {r['artists']:,} artists / {r['albums']:,} albums"
        " (synthetic gold, `benchmarks/app_benchmark.py`).", "",
        "| measure | value | target |", "|---|---|---|",
        f"| data load: read marts (delta-rs) | {load['read_marts_s']} s | |",
        f"| data load: build catalogue + search indexes | {load['build_catalogue_and_indexes_s']}"
        " s | |",
    ]
    if app:
        lines.append(f"| `streamlit run` to healthy | {app['server_start_to_healthy_s']} s | |")
    if "first_render_cold_s" in app:
        lines += [
            f"| first render, cold (includes the data load) | {app['first_render_cold_s']} s | |",
            f"| first render after the data is loaded | {app['first_render_warm_s']} s /"
            f" {app['first_render_warm_2_s']} s | < 3 s |",
            f"| search in the browser (Enter to results drawn) |"
            f" {', '.join(str(s) for s in app['browser_search_s'])} s | |",
        ]
    lines += [
        f"| search, all queries (in process) | p50 {search['all']['p50_ms']} ms, p95"
        f" {search['all']['p95_ms']} ms, max {search['all']['max_ms']} ms | < 200 ms |", "",
        f"Load averages: data load {load['load_avg']}, search {search['all']['load_avg']},"
        f" app {app.get('load_avg')}.", "",
        "## Search latency by query kind (tracks index, one page of 20)", "",
        "| queries | n | p50 ms | p95 ms | max ms | CPU p50 ms |", "|---|---|---|---|---|---|",
    ]
    for kind in ("tracks", "artists", "albums"):
        for label, g in search[kind]["groups"].items():
            name = label if kind == "tracks" else f"{kind}: {label}"
            lines.append(f"| {name} | {g['queries']} | {g['p50_ms']} | {g['p95_ms']} |"
                         f" {g['max_ms']} | {g['cpu_p50_ms']} |")
    lines += ["", f"Index sizes: tracks {search['tracks']['rows']:,} rows /"
              f" {search['tracks']['vocabulary']:,} words, artists {search['artists']['rows']:,},"
              f" albums {search['albums']['rows']:,}.", ""]
    stress = r["search_large_vocabulary"]
    lines += [
        "## Large vocabulary (the costly case for substring and fuzzy matching)", "",
        f"{stress['rows']:,} rows of six random 4-9 letter words, {stress['vocabulary']:,}"
        f" distinct words: index built in {stress['build_s']} s; {stress['queries']} queries"
        " (whole words, 3-letter prefixes, typos, two words): p50"
        f" {stress['p50_ms']} ms, p95 {stress['p95_ms']} ms, max {stress['max_ms']} ms"
        f" (load average {stress['load_avg']}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
