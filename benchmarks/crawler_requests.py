"""Benchmark: API requests per 1,000 tracks, this crawler vs the seed project's request pattern,
plus the sustained request rate under the emulator's rate limit, data completeness, and the
rate the crawler reaches with no rate limit.

Same emulator catalogue for both (EMULATOR seed 42, --artists, extended mode), every artist
given by name. The seed pattern is: search, artist albums (one page, no paging), albums batch of
20, album tracks one request per album, tracks batch of 50, features batch of 100.

Our crawler runs against a standalone emulator process (`lakehouse emulator`) with a rolling-
window rate limit, on a private FerretDB started for the run. Results:
benchmarks/results/crawler_requests.{json,md}.

    .venv/bin/python benchmarks/crawler_requests.py [--artists 200] [--rate-limit 150 --window 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests as requests_lib

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"


def seed_pattern(handle, names: list[str]) -> dict:
    """The seed project's requests, against an unlimited in-process emulator."""
    import spotipy
    from spotipy.cache_handler import MemoryCacheHandler
    from spotipy.oauth2 import SpotifyClientCredentials

    auth = SpotifyClientCredentials(handle.client_id, handle.client_secret,
                                    cache_handler=MemoryCacheHandler())
    auth.OAUTH_TOKEN_URL = handle.token_url
    sp = spotipy.Spotify(auth_manager=auth, retries=0)
    sp.prefix = handle.api_url
    requests = 0
    tracks: dict[str, dict] = {}
    for name in names:
        hit = sp.search(q=name, type="artist", limit=1)["artists"]["items"][0]
        albums = sp.artist_albums(hit["id"], limit=20)["items"]  # no paging
        requests += 2
        album_ids = [a["id"] for a in albums]
        track_ids: list[str] = []
        for start in range(0, len(album_ids), 20):
            sp.albums(album_ids[start : start + 20])
            requests += 1
        for album_id in album_ids:
            track_ids += [t["id"] for t in sp.album_tracks(album_id)["items"]]  # first page
            requests += 1
        for start in range(0, len(track_ids), 50):
            for track in sp.tracks(track_ids[start : start + 50])["tracks"]:
                tracks[track["id"]] = track
            requests += 1
        for start in range(0, len(track_ids), 100):
            sp._get("audio-features/?ids=" + ",".join(track_ids[start : start + 100]))
            requests += 1
    return {"requests": requests, "tracks": len(tracks)}


def start_emulator(artists: int, port: int, rate_limit: int, window: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "lakehouse.cli", "emulator", "--artists", str(artists),
               "--port", str(port), "--rate-limit", str(rate_limit), "--window", str(window)]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if requests_lib.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).ok:
                return proc
        except requests_lib.RequestException:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the emulator did not start")


def rate_efficiency(timeline: list[list[float]], rate_limit: int, window: float) -> dict:
    """Compare with an ideal client (infinitely fast, never idle): under `rate_limit` per rolling
    `window`, its k-th accepted request cannot come before floor(k / rate_limit) * window, so N
    accepted requests need at least floor((N - 1) / rate_limit) * window seconds."""
    accepted = [t for t, status in timeline if status != 429]
    if len(accepted) < 2:
        return {"ideal_client_s": 0.0, "efficiency_vs_ideal_client": None}
    span = accepted[-1] - accepted[0]
    ideal = ((len(accepted) - 1) // rate_limit) * window
    return {"accepted_span_s": round(span, 1), "ideal_client_s": ideal,
            "efficiency_vs_ideal_client": round(ideal / span, 3) if span else None}


def completeness(db, cat) -> dict:
    expected_tracks = set(cat.tracks)
    stored = {d["_id"]: [a["id"] for a in d["artists"]] for d in db.tracks.find({}, {"artists": 1})}
    wrong_credits = sum(stored[t] != cat.tracks[t].artist_ids for t in stored)
    return {
        "catalogue_tracks": len(expected_tracks),
        "stored_tracks": len(stored),
        "lost_tracks": len(expected_tracks - set(stored)),
        "lost_albums": len(set(cat.albums) - {d["_id"] for d in db.albums.find({}, {"_id": 1})}),
        "lost_artists": len(set(cat.artists)
                            - {d["_id"] for d in db.artists.find({}, {"_id": 1})}),
        "tracks_with_wrong_credits": wrong_credits,
        "multi_artist_tracks": sum(len(a) > 1 for a in stored.values()),
    }


def crawl_standalone(settings, cat, names: list[str], artists: int, rate_limit: int,
                     window: float) -> tuple:
    """Our crawler against a `lakehouse emulator` process (rate_limit 0: none), into an empty
    database: (summary, the emulator's request timeline, completeness)."""
    from ingestion.crawl import ApiEndpoint, run_crawl
    from ingestion.emulator.server import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
    from ingestion.mongodb import database
    from lakehouse.supervisor import free_port

    port = free_port()
    emulator = start_emulator(artists, port, rate_limit, window)
    try:
        base = f"http://127.0.0.1:{port}"
        endpoint = ApiEndpoint(f"{base}/v1/", f"{base}/api/token", EMULATOR_CLIENT_ID,
                               EMULATOR_CLIENT_SECRET, "emulator")
        db = database(settings)
        db.client.drop_database("bench")
        summary = run_crawl(settings, endpoint=endpoint, db=db, seeds=names)
        timeline = requests_lib.get(f"{base}/_emulator/stats", params={"timeline": "true"},
                                    timeout=10).json()["timeline"]
        data = completeness(db, cat)
        db.client.drop_database("bench")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return summary, timeline, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artists", type=int, default=200)
    parser.add_argument("--rate-limit", type=int, default=150)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()

    load_at_start = [round(x, 2) for x in os.getloadavg()]  # a noisy machine shows here
    tmp = Path(tempfile.mkdtemp(prefix="crawler-bench-"))
    from lakehouse.supervisor import free_port

    os.environ.update({"DATA_DIR": str(tmp / "data"), "FERRETDB_PORT": str(free_port()),
                       "MONGODB_URI": "", "MONGODB_DATABASE": "bench",
                       "SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": ""})
    from ingestion.emulator import generate_catalogue, running_emulator
    from lakehouse import services
    from lakehouse.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings().model_copy(update={"crawl_artists_per_run": 100_000})
    cat = generate_catalogue(args.artists, settings.emulator_seed)
    names = [a.name for a in cat.artists.values()]

    with running_emulator(cat) as handle:
        seed = seed_pattern(handle, names)

    (ferret,) = services.select(settings, ["ferretdb"])
    services.start(ferret)
    try:
        summary, timeline, data = crawl_standalone(settings, cat, names, args.artists,
                                                   args.rate_limit, args.window)
        # The same crawl with no rate limit: what the client itself sustains.
        free, _, free_data = crawl_standalone(settings, cat, names, args.artists, 0, args.window)
    finally:
        services.stop(ferret)

    allowed = args.rate_limit / args.window
    accepted = summary.requests_total - summary.rate_limited
    ours_per_k = 1000 * summary.requests_total / max(1, data["stored_tracks"])
    seed_per_k = 1000 * seed["requests"] / max(1, seed["tracks"])
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": load_at_start,
        "catalogue": {"artists": args.artists, "albums": len(cat.albums),
                      "tracks": len(cat.tracks), "seed": settings.emulator_seed,
                      "mode": "extended"},
        "seed_pattern": {**seed, "requests_per_1000_tracks": round(seed_per_k, 1),
                         "track_coverage": round(seed["tracks"] / len(cat.tracks), 4)},
        "crawler": {
            "requests": summary.requests_total,
            "requests_by_endpoint": summary.requests_by_endpoint,
            "rate_limited_429": summary.rate_limited,
            "requests_per_1000_tracks": round(ours_per_k, 1),
            "elapsed_s": summary.elapsed_s,
            "waited_s": summary.waited_s,
            **data,
        },
        "ratio_vs_seed": round(ours_per_k / seed_per_k, 3),
        "rate": {
            "allowed_per_s": allowed,
            "rate_limit": f"{args.rate_limit} per {args.window:g}s rolling window",
            "sustained_per_s": round(accepted / summary.elapsed_s, 3),
            "sustained_share_of_allowed": round(accepted / summary.elapsed_s / allowed, 3),
            **rate_efficiency(timeline, args.rate_limit, args.window),
        },
        "unlimited": {
            "requests": free.requests_total,
            "elapsed_s": free.elapsed_s,
            "requests_per_s": round(free.requests_total / free.elapsed_s, 1),
            "stored_tracks": free_data["stored_tracks"],
            "lost_tracks": free_data["lost_tracks"],
        },
        "targets": {
            "at_most_one_third_of_seed_requests": ours_per_k <= seed_per_k / 3,
            "zero_lost_items": data["lost_tracks"] == data["lost_albums"] == 0
            and data["lost_artists"] == 0 and data["tracks_with_wrong_credits"] == 0,
            "rate_at_least_90_percent": accepted / summary.elapsed_s >= 0.9 * allowed,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crawler_requests.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "crawler_requests.md").write_text(render_markdown(result))
    print(json.dumps(result, indent=2))


def render_markdown(r: dict) -> str:
    c, s, rate, free = r["crawler"], r["seed_pattern"], r["rate"], r["unlimited"]
    cat = r["catalogue"]
    coverage = f"{s['track_coverage']:.1%} of catalogue"
    seed_k = s["requests_per_1000_tracks"]
    eff = rate.get("efficiency_vs_ideal_client")
    efficiency = "n/a" if eff is None else f"**{eff:.1%}**"
    return f"""# Crawler requests benchmark

{r['measured_at']}, load average at start {r['load_average_at_start']} (2 cores).

Emulator catalogue: {cat['artists']} artists, {cat['albums']} albums, {cat['tracks']} tracks
(seed {cat['seed']}, {cat['mode']} mode); every artist given by name.

| | requests | tracks obtained | requests / 1,000 tracks |
|---|---|---|---|
| seed project's pattern | {s['requests']} | {s['tracks']} ({coverage}) | {seed_k} |
| this crawler | {c['requests']} | {c['stored_tracks']} | {c['requests_per_1000_tracks']} |

Ratio: **{r['ratio_vs_seed']:.3f}** of the seed's requests per track (target <= 0.333).

Completeness: lost tracks {c['lost_tracks']}, lost albums {c['lost_albums']}, lost artists
{c['lost_artists']}, tracks whose artist credits differ from the catalogue
{c['tracks_with_wrong_credits']} ({c['multi_artist_tracks']} tracks have several artists).

Rate limit {rate['rate_limit']} = {rate['allowed_per_s']:.2f} req/s allowed. The crawl took
{c['elapsed_s']:.1f} s ({c['waited_s']:.1f} s waiting on Retry-After, {c['rate_limited_429']}
429 answers): sustained {rate['sustained_per_s']:.2f} req/s =
**{rate['sustained_share_of_allowed']:.1%}** of the allowed rate over the whole crawl. An ideal
client (infinitely fast, never idle) needs {rate['ideal_client_s']:.0f} s for the same accepted
requests; the crawler's first-to-last accepted request took {rate.get('accepted_span_s')} s:
{efficiency} of ideal.

Requests by endpoint: {json.dumps(c['requests_by_endpoint'])}

The same crawl against an emulator with no rate limit (a fresh database, the same FerretDB):
{free['requests']} requests in {free['elapsed_s']:.1f} s = **{free['requests_per_s']} req/s**
({free['stored_tracks']} tracks stored, {free['lost_tracks']} lost).

Targets: {json.dumps(r['targets'])}
"""


if __name__ == "__main__":
    main()
