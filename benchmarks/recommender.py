"""Recommender benchmark: latency, build time, memory and genre-precision vs the seed's method.

For each catalogue size (synthetic tracks with genre structure, ml/synthetic_catalogue.py):
- this model (all features; `auto` index = exact up to 200k rows, IVF above): build time
  (features + index), peak RSS, vector memory, artifact save/load time, and end-to-end
  `recommend(track_id, k=10)` latency (filtering and explanations included),
- the seed's method (unscaled cosine NearestNeighbors): fit time, peak RSS, `kneighbors` latency,
- genre-precision@10 of audio-only / all features / seed / random on the same rows.
Each measurement runs in its own process so peak RSS belongs to it alone. The machine's load
average is recorded next to every timing (the machine is shared).

    .venv/bin/python benchmarks/recommender.py               # 100k and 1M (~10 min)
    .venv/bin/python benchmarks/recommender.py --sizes 20000 # quick
Writes benchmarks/results/recommender.json and .md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _timed(fn, items) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per call: CPU time shows the work apart from the scheduler."""
    wall, cpu = [], []
    for item in items:
        w, c = time.perf_counter(), time.process_time()
        fn(item)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


def _percentiles(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "max_ms": round(float(ms.max()), 3),
        "queries": len(seconds),
    }


def _query_ids(table, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = rng.choice(table.num_rows, size=min(n, table.num_rows), replace=False)
    ids = table.column("track_id")
    return [ids[int(r)].as_py() for r in rows]


def run_ours(size: int, queries: int) -> dict:
    from lakehouse.settings import Settings
    from ml.artifact import load_recommender, save
    from ml.synthetic_catalogue import synthetic_catalogue
    from ml.training import build_recommender

    table = synthetic_catalogue(size)
    rss_data = _peak_rss_mb()
    rss_before_build = _rss_mb()
    load_before = _load()
    started = time.perf_counter()
    model, features, index_meta = build_recommender(table)
    build_s = time.perf_counter() - started
    result = {
        "method": "this model (all features)",
        "build_s": round(build_s, 2),
        "dims": int(features.vectors.shape[1]),
        "vectors_mb": round(features.vectors.nbytes / 2**20, 1),
        "index": {k: v for k, v in index_meta.items() if k != "recall_trials"},
        "recall_trials": index_meta.get("recall_trials", []),
        "peak_rss_after_data_mb": rss_data,
        "load_during_build": [load_before, _load()],
    }
    del features
    result["rss_added_by_model_mb"] = round(_rss_mb() - rss_before_build, 1)
    ids = _query_ids(table, queries + 20, seed=1)
    for track_id in ids[:20]:  # warm-up
        model.recommend(track_id, k=10)
    load_before = _load()
    wall, cpu = _timed(partial(model.recommend, k=10), ids[20:])
    result["recommend_k10"] = {**_percentiles(wall), "load": [load_before, _load()]}
    result["recommend_k10_cpu"] = _percentiles(cpu)
    wall, _ = _timed(partial(model.recommend, k=10, max_per_artist=1),
                     ids[20 : 20 + min(200, queries)])
    result["recommend_k10_max_per_artist_1"] = _percentiles(wall)
    result["peak_rss_mb"] = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        t = time.perf_counter()
        info = save(settings, "bench", model, {**model.manifest, "rows": size})
        result["artifact_save_s"] = round(time.perf_counter() - t, 2)
        result["artifact_mb"] = round(
            sum(p.stat().st_size for p in info.path.iterdir()) / 2**20, 1
        )
        del model
        t = time.perf_counter()
        load_recommender(settings)
        result["artifact_load_s"] = round(time.perf_counter() - t, 2)
    return result


def run_seed(size: int, queries: int) -> dict:
    from ml.seed_baseline import SeedRecommender
    from ml.synthetic_catalogue import synthetic_catalogue

    table = synthetic_catalogue(size)
    import sklearn.neighbors  # noqa: F401  (import time is not fit time)

    load_before = _load()
    t = time.perf_counter()
    seed = SeedRecommender(table)
    fit_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    rows = rng.choice(size, size=queries + 5, replace=False)
    for row in rows[:5]:
        seed.neighbours(np.array([row]), 11)
    wall, cpu = _timed(lambda row: seed.neighbours(np.array([row]), 11), rows[5:])
    return {
        "method": "seed: NearestNeighbors(metric='cosine'), unscaled",
        "fit_s": round(fit_s, 3),
        "kneighbors_k10": {**_percentiles(wall), "load": [load_before, _load()]},
        "kneighbors_k10_cpu": _percentiles(cpu),
        "peak_rss_mb": _peak_rss_mb(),
        "note": "the seed also refitted on every page view after fetching two whole tables;"
        " fit_s is that per-view cost without the fetch",
    }


def run_precision(size: int, sample: int) -> dict:
    from ml.evaluate import evaluate_table
    from ml.synthetic_catalogue import synthetic_catalogue

    t = time.perf_counter()
    report = evaluate_table(synthetic_catalogue(size), k=10, sample=sample, seed=0)
    return {
        "k": 10,
        "queries": report.sample,
        "genre_precision_at_10": {m.method: m.precision for m in report.methods},
        "seconds": round(time.perf_counter() - t, 1),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _in_child(name: str, *args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(globals()[name], args)


def markdown(report: dict) -> str:
    lines = [
        "# Recommender benchmark",
        "",
        f"{report['created_at']}, {report['machine']['cpus']} cores, load average at start"
        f" {report['machine']['load_at_start']} (shared machine). Synthetic catalogues with"
        " genre structure (ml/synthetic_catalogue.py). Command: `.venv/bin/python"
        " benchmarks/recommender.py`.",
        "",
        "Peak RSS includes generating the synthetic catalogue in the same process"
        " (~250 MB at 100k, ~1 GB at 1M); 'model +' is what building the model added.",
        "",
        "| tracks | method | build / fit | p50 | p99 | CPU p50 / p99 | peak RSS | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        ours, seed = size["ours"], size["seed"]
        q, c, sc = ours["recommend_k10"], ours["recommend_k10_cpu"], seed["kneighbors_k10_cpu"]
        index = ours["index"]
        index_text = index["kind"] + (
            f" (lists {index['n_lists']}, probe {index['n_probe']}, recall@10"
            f" {index['recall_at_10']})" if index["kind"] == "ivf" else ""
        )
        lines.append(
            f"| {size['tracks']:,} | this model: recommend(k=10) incl. filters + reasons"
            f" | {ours['build_s']} s | {q['p50_ms']} ms | {q['p99_ms']} ms"
            f" | {c['p50_ms']} / {c['p99_ms']} ms"
            f" | {ours['peak_rss_mb']} MB (model +{ours['rss_added_by_model_mb']} MB)"
            f" | {index_text}; {ours['dims']} dims,"
            f" vectors {ours['vectors_mb']} MB; load during queries {q['load'][0][0]}"
            f"→{q['load'][1][0]}; artifact {ours['artifact_mb']} MB, load"
            f" {ours['artifact_load_s']} s |"
        )
        s = seed["kneighbors_k10"]
        lines.append(
            f"| {size['tracks']:,} | seed: kneighbors(k=10) | {seed['fit_s']} s (per page view)"
            f" | {s['p50_ms']} ms | {s['p99_ms']} ms | {sc['p50_ms']} / {sc['p99_ms']} ms"
            f" | {seed['peak_rss_mb']} MB |"
            f" load {s['load'][0][0]}→{s['load'][1][0]} |"
        )
    lines += ["", "Genre-precision@10 (share of recommendations sharing a genre with the query):",
              "", "| tracks | queries | (a) audio only | (b) all features | (c) seed | (d) random"
              " | (a) / (c) |", "|---|---|---|---|---|---|---|"]
    for size in report["sizes"]:
        p = size["precision"]["genre_precision_at_10"]
        ratio = p["audio_only"] / p["seed"] if p["seed"] else float("inf")
        lines.append(
            f"| {size['tracks']:,} | {size['precision']['queries']} | {p['audio_only']:.3f}"
            f" | {p['all_features']:.3f} | {p['seed']:.3f} | {p['random']:.3f} | {ratio:.1f}x |"
        )
    lines += ["", "Targets: p99 < 20 ms at 1M tracks; (a) >= 2 x (c).", ""]
    for size in report["sizes"]:
        lines.append(f"- {size['tracks']:,}: p99 target met: {size['targets']['p99_under_20ms']},"
                     f" precision target met: {size['targets']['audio_at_least_2x_seed']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000, help="latency queries (ours)")
    parser.add_argument("--seed-queries", type=int, default=200, help="latency queries (seed)")
    parser.add_argument("--eval-queries", type=int, default=500)
    parser.add_argument("--output", type=Path, default=RESULTS / "recommender.json")
    args = parser.parse_args()

    report = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_at_start": _load()},
        "sizes": [],
    }
    for size in args.sizes:
        print(f"[{size:,}] this model ...", flush=True)
        ours = _in_child("run_ours", size, args.queries)
        print(f"  {ours['recommend_k10']}", flush=True)
        print(f"[{size:,}] seed ...", flush=True)
        seed = _in_child("run_seed", size, args.seed_queries)
        print(f"  {seed['kneighbors_k10']}", flush=True)
        print(f"[{size:,}] genre-precision@10 ...", flush=True)
        precision = _in_child("run_precision", size, args.eval_queries)
        print(f"  {precision['genre_precision_at_10']}", flush=True)
        p = precision["genre_precision_at_10"]
        report["sizes"].append({
            "tracks": size,
            "ours": ours,
            "seed": seed,
            "precision": precision,
            "targets": {
                "p99_under_20ms": ours["recommend_k10"]["p99_ms"] < 20,
                "audio_at_least_2x_seed": p["audio_only"] >= 2 * p["seed"],
            },
        })
    report["machine"]["load_at_end"] = _load()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    args.output.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
