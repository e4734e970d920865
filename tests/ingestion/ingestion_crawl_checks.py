"""Helpers of the crawl tests: what a complete crawl must contain, collection snapshots, and
`lakehouse crawl` run as a subprocess that is interrupted and then run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ingestion.crawl import emulator_endpoint, run_crawl
from ingestion.crawl.store import ENTITY_COLLECTIONS, content_hash
from lakehouse.settings import REPO_ROOT

CLI_CRAWL = [sys.executable, "-m", "lakehouse.cli", "crawl"]


def closure(cat, seed_ids: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Artists, albums and tracks reachable from the seeds (what an expanding crawl must get)."""
    artists, albums, tracks = set(), set(), set()
    queue = list(seed_ids)
    while queue:
        artist_id = queue.pop()
        if artist_id in artists:
            continue
        artists.add(artist_id)
        for album_id, _group in cat.releases[artist_id]:
            album = cat.albums[album_id]
            albums.add(album_id)
            queue += album.artist_ids
            for track_id in album.track_ids:
                tracks.add(track_id)
                queue += cat.tracks[track_id].artist_ids
    return artists, albums, tracks


def snapshot(db) -> dict[str, dict[str, tuple]]:
    """Per entity collection: id -> (content hash, source); asserts hashes match payloads."""
    result = {}
    for name in ENTITY_COLLECTIONS:
        docs = {}
        for doc in db[name].find({}):
            assert doc["_content_hash"] == content_hash(doc), f"{name} {doc['_id']} hash"
            docs[doc["_id"]] = (doc["_content_hash"], doc["_source"])
        result[name] = docs
    result["crawl_track_features"] = {
        d["_id"]: (d["status"], d["reason"]) for d in db["crawl_track_features"].find({})
    }
    return result


def seed_names(handle, n: int = 4) -> list[str]:
    return [a.name for a in list(handle.catalogue.artists.values())[:n]]


def clean_reference(crawl_settings, emulator, db, seeds: list[str]) -> dict[str, dict[str, tuple]]:
    """The snapshot of an uninterrupted crawl of `seeds` into `db`."""
    summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=db, seeds=seeds)
    assert summary.completed and not summary.artists_failed
    return snapshot(db)


def cli_crawl_env(emulator, db_name: str, seed_file: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `lakehouse crawl` subprocess against the emulator, two artists a
    chunk (so it can be interrupted between chunks)."""
    return dict(
        os.environ,
        SPOTIFY_CLIENT_ID=emulator.client_id,
        SPOTIFY_CLIENT_SECRET=emulator.client_secret,
        SPOTIFY_API_URL=emulator.api_url,
        SPOTIFY_TOKEN_URL=emulator.token_url,
        MONGODB_DATABASE=db_name,
        CRAWL_SEED_FILE=str(seed_file),
        CRAWL_CHUNK_ARTISTS="2",
        CRAWL_ARTISTS_PER_RUN="1000",
        **overrides,
    )


def wait_until_artists_done(db, proc: subprocess.Popen, done: int = 2) -> None:
    """Wait (at most 120 s) until `done` artists are stored; the crawl must still be running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.crawl_artists.count_documents({"status": "done"}) >= done:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl finished before it could be interrupted"


def assert_rerun_completes_as(reference, db, env: dict[str, str]) -> None:
    """`lakehouse crawl --json` run again ends with the reference collections, and the
    interrupted run is recorded as such."""
    rerun = subprocess.run([*CLI_CRAWL, "--json"], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["stopped_reason"] is None and not summary["artists_failed"]
    assert snapshot(db) == reference
    assert sorted(r["status"] for r in db.crawl_runs.find({})) == ["completed", "interrupted"]
