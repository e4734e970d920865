"""The crawl survives a fault storm and kill -9 with exactly the data of a clean run, and
`lakehouse crawl` starts the emulator by itself when no credentials are set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
import requests
from ingestion_crawl_checks import (
    CLI_CRAWL,
    assert_rerun_completes_as,
    clean_reference,
    cli_crawl_env,
    seed_names,
    snapshot,
    wait_until_artists_done,
)

from ingestion.crawl import emulator_endpoint, run_crawl
from ingestion.crawl.api_client import ApiEndpoint, RequestFailed, SpotifyApi
from ingestion.mongodb import client
from lakehouse.settings import REPO_ROOT


def _crawl_into_scratch(crawl_settings, emulator, ferretdb, seeds):
    """A crawl into a database of its own, dropped after: (summary, snapshot, recorded
    failures)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with client(ferretdb) as mongo:
        try:
            db = mongo[name]
            summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=db,
                                seeds=seeds)
            return summary, snapshot(db), db.crawl_failures.count_documents({})
        finally:
            mongo.drop_database(name)


def test_a_30_percent_429_and_5xx_storm_gives_the_same_data_as_a_clean_run(
    crawl_settings, emulator, mongo_db, ferretdb
):
    seeds = seed_names(emulator)
    reference = clean_reference(crawl_settings, emulator, mongo_db, seeds)
    faults = emulator.config.faults
    faults.rate_429, faults.rate_5xx, faults.seed = 0.15, 0.15, 3
    try:
        summary, stormy, _ = _crawl_into_scratch(crawl_settings, emulator, ferretdb, seeds)
    finally:
        faults.rate_429 = faults.rate_5xx = 0.0
    assert summary.completed and not summary.artists_failed
    injected = emulator.state.stats.injected
    assert summary.rate_limited == injected["429"] > 0
    assert summary.server_errors == injected["500"] + injected["502"] + injected["503"] > 0
    # About 30% of the storm run's requests failed, and every one was retried.
    faulty = summary.rate_limited + summary.server_errors
    assert 0.15 < faulty / summary.requests_total < 0.45
    assert summary.retries == summary.rate_limited + summary.server_errors
    assert stormy == reference


def test_connections_cut_mid_body_are_retried_and_give_the_same_data_as_a_clean_run(
    crawl_settings, emulator, mongo_db, ferretdb
):
    """20% of the answers drop their connection halfway through the body (requests raises
    ChunkedEncodingError, not ConnectionError): each is retried like a connection error and
    the run ends with the documents of a clean crawl."""
    seeds = seed_names(emulator)
    reference = clean_reference(crawl_settings, emulator, mongo_db, seeds)
    faults = emulator.config.faults
    faults.rate_cut, faults.seed = 0.2, 5
    try:
        summary, after_cuts, failures = _crawl_into_scratch(crawl_settings, emulator, ferretdb,
                                                            seeds)
    finally:
        faults.rate_cut = 0.0
    assert summary.completed and not summary.artists_failed, summary.stopped_reason
    assert failures == 0
    cuts = emulator.state.stats.injected["cut"]
    assert summary.connection_errors == cuts > 0
    assert summary.server_errors == summary.malformed_responses == 0
    assert summary.retries == cuts
    assert after_cuts == reference


def test_a_garbled_compressed_body_is_a_connection_error_within_the_retry_budget(
    crawl_settings
):
    """requests' ContentDecodingError (a gzip body that does not inflate) is neither a
    ConnectionError nor an HTTP status: it is retried like one, then fails the request."""
    settings = crawl_settings.model_copy(update={"crawl_max_retries": 2})
    api = SpotifyApi(ApiEndpoint("http://127.0.0.1:9/v1/", "http://127.0.0.1:9/api/token",
                                 "id", "secret", "emulator"), settings, sleep=lambda _s: None)
    answers = [requests.exceptions.ContentDecodingError("incorrect header check")] * 2
    answers.append({"id": "4tZwfgrHOc3mvqYlEYSvVi"})

    def garbled_then_fine() -> dict:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert api.call("artist", garbled_then_fine, expect="id") == {"id": "4tZwfgrHOc3mvqYlEYSvVi"}
    assert api.stats.connection_errors == 2 and api.stats.retries == 2

    calls = []

    def always_garbled() -> dict:
        calls.append(1)
        raise requests.exceptions.ContentDecodingError("incorrect header check")

    with pytest.raises(RequestFailed, match="gave up after retries: connection error: "
                                            "ContentDecodingError"):
        api.call("artist", always_garbled, expect="id")
    assert len(calls) == 3  # the first attempt and crawl_max_retries retries


def test_kill_9_mid_crawl_then_rerun_gives_the_same_collections(
    crawl_settings, emulator, mongo_db, ferretdb, tmp_path
):
    seeds = seed_names(emulator)
    reference = clean_reference(crawl_settings, emulator, mongo_db, seeds)
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("\n".join(seeds) + "\n", encoding="utf-8")
    name = f"t_{uuid.uuid4().hex[:10]}"
    env = cli_crawl_env(emulator, name, seed_file)
    emulator.config.faults.rate_slow, emulator.config.faults.slow_s = 1.0, 0.03
    with client(ferretdb) as mongo:
        db = mongo[name]
        try:
            proc = subprocess.Popen([*CLI_CRAWL, "--json"], cwd=REPO_ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Kill once some artists are done and more are still to come.
            wait_until_artists_done(db, proc)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            partial = snapshot(db)
            assert 0 < len(partial["tracks"]) < len(reference["tracks"])
            assert db.crawl_runs.find_one({})["status"] == "running"  # it never finished

            emulator.config.faults.rate_slow = 0.0
            assert_rerun_completes_as(reference, db, env)
            assert db.crawl_artists.count_documents({"status": {"$ne": "done"}}) == 0
        finally:
            emulator.config.faults.rate_slow = 0.0
            mongo.drop_database(name)


def test_cli_crawl_without_credentials_starts_the_emulator_and_says_so(ferretdb, tmp_path):
    name = f"t_{uuid.uuid4().hex[:10]}"
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("Daft Punk\nBjörk\nNobody Of That Name At All\n", encoding="utf-8")
    env = dict(os.environ, MONGODB_DATABASE=name, SPOTIFY_CLIENT_ID="",
               SPOTIFY_CLIENT_SECRET="", CRAWL_ARTISTS_PER_RUN="2", COLUMNS="200")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "crawl", "--seeds", str(seed_file),
             "--emulator-artists", "8"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "started the bundled emulator" in out and "8 artists" in out
        assert "2 artists done" in out
        assert "unresolved seed 'Nobody Of That Name At All'" in out
        assert "API requests" in out and "MongoDB documents" in out
        with client(ferretdb) as mongo:
            assert mongo[name].artists.find_one({"name": "Björk"})["_source"] == "emulator"
    finally:
        with client(ferretdb) as mongo:
            mongo.drop_database(name)
