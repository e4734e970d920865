"""What the crawler does when Spotify will not serve it: the token endpoint failing or refusing
the credentials, an app refused on every call (owner without Premium), driven through the
emulator's real HTTP endpoints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ingestion_crawl_checks import closure, snapshot

from ingestion.crawl import ApiEndpoint, emulator_endpoint, run_crawl
from ingestion.emulator import EmulatorConfig, running_emulator
from lakehouse.settings import REPO_ROOT

NO_PREMIUM = {"mode": "development", "owner_premium": False}


def _seeds(handle, n: int = 2) -> list[str]:
    return [a.name for a in list(handle.catalogue.artists.values())[:n]]


@pytest.mark.parametrize("status", [503, 429])
def test_a_briefly_failing_token_endpoint_is_retried_and_the_crawl_completes(
    crawl_settings, emulator, mongo_db, status
):
    faults = emulator.config.faults
    faults.token_failures, faults.token_failure_status, faults.token_retry_after_s = 3, status, 0
    try:
        summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                            seeds=_seeds(emulator))
    finally:
        faults.token_failures, faults.token_failure_status = 0, 503
        faults.token_retry_after_s = None
    assert summary.completed and not summary.artists_failed, summary.stopped_reason
    assert emulator.state.stats.injected[f"token_{status}"] == 3
    counted = summary.server_errors if status == 503 else summary.rate_limited
    assert counted == 3 and summary.retries == 3
    cat = emulator.catalogue
    _artists, _albums, tracks = closure(cat, [a.id for a in list(cat.artists.values())[:2]])
    assert {d["_id"] for d in mongo_db.tracks.find({}, {"_id": 1})} == tracks


def test_token_answers_cut_mid_body_are_retried_and_the_crawl_completes(
    crawl_settings, emulator, mongo_db
):
    """The token request is made inside spotipy's API call: its connection dropping mid-body
    (ChunkedEncodingError) is a connection error retried by the same policy."""
    faults = emulator.config.faults
    faults.token_cuts = 3
    try:
        summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                            seeds=_seeds(emulator))
    finally:
        faults.token_cuts = 0
    assert summary.completed and not summary.artists_failed, summary.stopped_reason
    assert emulator.state.stats.injected["token_cut"] == 3
    assert summary.connection_errors == 3 and summary.retries == 3
    assert emulator.state.stats.by_route["/api/token"] == 4  # 3 cut, then one token for all
    cat = emulator.catalogue
    _artists, _albums, tracks = closure(cat, [a.id for a in list(cat.artists.values())[:2]])
    assert {d["_id"] for d in mongo_db.tracks.find({}, {"_id": 1})} == tracks


def test_a_token_endpoint_that_stays_down_stops_the_run_without_its_html(
    crawl_settings, emulator, mongo_db
):
    settings = crawl_settings.model_copy(update={"crawl_max_retries": 2})
    emulator.config.faults.token_failures = 1000
    try:
        summary = run_crawl(settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                            seeds=_seeds(emulator))
    finally:
        emulator.config.faults.token_failures = 0
    reason = summary.stopped_reason
    assert not summary.completed and "token endpoint unavailable (HTTP 503)" in reason
    # Retried (3 attempts), not read as a credentials problem, no response body in the text.
    assert emulator.state.stats.injected["token_503"] == 3
    assert "SPOTIFY_CLIENT" not in reason and "<" not in reason and "html" not in reason.lower()
    assert mongo_db.crawl_runs.find_one({"_id": summary.crawl_id})["status"] == "stopped"


def test_refused_client_credentials_stop_the_run_naming_the_settings_not_the_secret(
    crawl_settings, small_catalogue, mongo_db
):
    config = EmulatorConfig(client_id="the-app", client_secret="the-right-secret")
    with running_emulator(small_catalogue, config) as handle:
        wrong = ApiEndpoint(handle.api_url, handle.token_url, "the-app", "a-wrong-secret-4711",
                            "emulator")
        summary = run_crawl(crawl_settings, endpoint=wrong, db=mongo_db, seeds=_seeds(handle))
        token_requests = handle.state.stats.by_route["/api/token"]
    reason = summary.stopped_reason
    assert not summary.completed
    assert "refused the client credentials (HTTP 400, invalid_client)" in reason
    assert "SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET" in reason
    assert "a-wrong-secret-4711" not in reason and "the-right-secret" not in reason
    assert token_requests == 1  # a refusal is not retried
    assert mongo_db.crawl_artists.count_documents({}) == 0  # nothing was marked failed


def _crawl_state(db) -> dict:
    return {
        "queue": {d["_id"]: (d["status"], d.get("last_error")) for d in db.crawl_artists.find()},
        "seeds": {d["_id"]: d["status"] for d in db.crawl_seeds.find()},
        "failures": db.crawl_failures.count_documents({}),
        "data": snapshot(db),
    }


@pytest.mark.parametrize("crawl_mode", ["auto", "development"])
def test_an_app_refused_on_every_call_stops_the_run_and_keeps_what_is_stored(
    crawl_settings, emulator, small_catalogue, mongo_db, crawl_mode
):
    seeds = _seeds(emulator, 3)
    first = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                      seeds=seeds, artists_per_run=1)
    assert first.completed and first.artists_done == 1 and first.artists_pending > 0
    before = _crawl_state(mongo_db)
    settings = crawl_settings.model_copy(update={"crawl_mode": crawl_mode})
    with running_emulator(small_catalogue, EmulatorConfig(**NO_PREMIUM)) as refusing:
        summary = run_crawl(settings, endpoint=emulator_endpoint(refusing), db=mongo_db,
                            seeds=seeds)
        answered = dict(refusing.state.stats.by_status)
    reason = summary.stopped_reason
    assert not summary.completed and "refused with 403" in reason
    assert "Spotify Premium" in reason and "developer dashboard" in reason
    # Two refused calls settle it; no artist or seed was marked failed for them.
    assert answered == {"200": 1, "403": 2}  # the token, then the two refused calls
    assert not summary.artists_failed and not summary.seeds_unresolved
    assert _crawl_state(mongo_db) == before
    assert mongo_db.crawl_runs.find_one({"_id": summary.crawl_id})["status"] == "stopped"


def test_lakehouse_crawl_exits_non_zero_when_every_call_is_refused(
    small_catalogue, mongo_db, tmp_path
):
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("Daft Punk\n", encoding="utf-8")
    with running_emulator(small_catalogue, EmulatorConfig(**NO_PREMIUM)) as refusing:
        env = dict(os.environ, SPOTIFY_CLIENT_ID=refusing.client_id,
                   SPOTIFY_CLIENT_SECRET=refusing.client_secret, SPOTIFY_API_URL=refusing.api_url,
                   SPOTIFY_TOKEN_URL=refusing.token_url, MONGODB_DATABASE=mongo_db.name,
                   CRAWL_SEED_FILE=str(seed_file), COLUMNS="300")
        done = subprocess.run([sys.executable, "-m", "lakehouse.cli", "crawl"], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "stopped early" in done.stdout and "Spotify Premium" in done.stdout
    assert mongo_db.crawl_runs.find_one({})["status"] == "stopped"
    assert mongo_db.crawl_artists.count_documents({}) == 0
