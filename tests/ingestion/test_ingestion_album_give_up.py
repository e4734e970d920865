"""An album Spotify lists under an artist but no longer serves (404 / null) is given up after
CRAWL_ALBUM_GIVE_UP_AFTER runs instead of keeping its artist failed forever; an album whose
requests fail transiently (5xx) is never given up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.crawl import emulator_endpoint, run_crawl

REPO_ROOT = Path(__file__).resolve().parents[2]

GIVE_UP_AFTER = 3


def _artist_and_shared_album(cat) -> tuple[str, str, str]:
    """(artist A, album X that A lists, another artist B that lists X too), A with more
    releases than X alone, so that A has other albums to store."""
    for artist_id in cat.artists:
        listers: dict[str, list[str]] = {}
        for other, releases in cat.releases.items():
            for album_id, _group in releases:
                listers.setdefault(album_id, []).append(other)
        for album_id, _group in cat.releases[artist_id]:
            others = [a for a in listers[album_id] if a != artist_id]
            if others and len(cat.releases[artist_id]) > 1:
                return artist_id, album_id, others[0]
    raise AssertionError("the catalogue has no album listed by two artists")


def _settings(crawl_settings, give_up_after: int = GIVE_UP_AFTER):
    # Only the seeds are crawled (no discovered artists): each run is exactly "the artist".
    return crawl_settings.model_copy(update={"crawl_expand_discovered": False,
                                             "crawl_max_retries": 1,
                                             "crawl_album_give_up_after": give_up_after})


def _stored_ids(db, collection: str) -> set[str]:
    return {d["_id"] for d in db[collection].find({}, {"_id": 1})}


@pytest.mark.parametrize("mode", ["extended", "development"])
def test_a_missing_album_is_given_up_after_n_runs_and_its_artist_is_done(
    crawl_settings, emulator, mongo_db, mode
):
    """Extended mode: GET /albums?ids= answers null for the album; development mode:
    GET /albums/{id} answers 404 Resource not found. Both are "the album is gone"."""
    cat = emulator.catalogue
    artist, album, other = _artist_and_shared_album(cat)
    settings, endpoint = _settings(crawl_settings), emulator_endpoint(emulator)
    others = {a for a, _group in cat.releases[artist]} - {album}
    emulator.config.mode = mode
    emulator.config.album_faults = {album: 404}
    try:
        for run in range(1, GIVE_UP_AFTER):
            summary = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
            assert summary.completed and summary.albums_given_up == 0
            assert [f["artist_id"] for f in summary.artists_failed] == [artist]
            reason = summary.artists_failed[0]["reason"]
            assert f"album {album} not found" in reason
            assert f"{run} of {GIVE_UP_AFTER} runs before it is given up" in reason
            state = mongo_db.crawl_artists.find_one({"_id": artist})
            assert state["status"] == "failed"
            failure = mongo_db.crawl_failures.find_one({"_id": f"album:{album}"})
            assert failure["attempts"] == failure["not_found_runs"] == run
            assert failure["resolved"] is False
            assert mongo_db.crawl_albums.find_one({"_id": album}) is None
            # The artist's other albums are stored (and not fetched again on the next run).
            assert _stored_ids(mongo_db, "albums") == others
            assert emulator.state.stats.injected["album_404"] == run  # asked once per run

        given_up = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
        assert given_up.completed and not given_up.artists_failed
        assert given_up.albums_given_up == 1 and given_up.artists_done == 1
        assert mongo_db.crawl_artists.find_one({"_id": artist})["status"] == "done"
        marker = mongo_db.crawl_albums.find_one({"_id": album})
        assert marker["status"] == "not_found" and marker["not_found_runs"] == GIVE_UP_AFTER
        assert marker["artists"] == [artist]
        assert ("null" if mode == "extended" else "404") in marker["reason"]
        failure = mongo_db.crawl_failures.find_one({"_id": f"album:{album}"})
        assert failure["resolved"] is True and failure["resolution"] == "given_up"
        assert failure["attempts"] == GIVE_UP_AFTER
        assert mongo_db.crawl_failures.count_documents({"resolved": False}) == 0
        assert _stored_ids(mongo_db, "albums") == others
        assert not set(cat.albums[album].track_ids) & _stored_ids(mongo_db, "tracks")
        run_record = mongo_db.crawl_runs.find_one({"_id": given_up.crawl_id})
        assert run_record["albums_given_up"] == 1
        assert emulator.state.stats.injected["album_404"] == GIVE_UP_AFTER

        # Another artist that lists the given-up album later: done, the album not asked for.
        later = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist, other])
        assert later.completed and later.artists_done == 1 and not later.artists_failed
        assert later.albums_given_up == 0
        assert mongo_db.crawl_artists.find_one({"_id": other})["status"] == "done"
        assert emulator.state.stats.injected["album_404"] == GIVE_UP_AFTER
        assert album not in _stored_ids(mongo_db, "albums")
    finally:
        emulator.config.mode = "extended"
        emulator.config.album_faults = {}


def test_a_failing_album_is_retried_every_run_and_never_given_up(crawl_settings, emulator,
                                                                 mongo_db):
    """5xx after the retries says nothing about the album existing: the artist stays failed
    however many runs it takes, those runs do not count towards giving up, and the album is
    stored once it answers."""
    cat = emulator.catalogue
    artist, album, _other = _artist_and_shared_album(cat)
    settings, endpoint = _settings(crawl_settings, give_up_after=2), emulator_endpoint(emulator)
    emulator.config.album_faults = {album: 503}
    try:
        for run in range(1, 4):  # more runs than the give-up limit
            summary = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
            assert summary.completed and summary.albums_given_up == 0
            assert [f["artist_id"] for f in summary.artists_failed] == [artist]
            assert "server error 503" in summary.artists_failed[0]["reason"]
            assert mongo_db.crawl_artists.find_one({"_id": artist})["status"] == "failed"
            failure = mongo_db.crawl_failures.find_one({"_id": f"album:{album}"})
            assert failure["attempts"] == run and failure["resolved"] is False
            assert "not_found_runs" not in failure
            assert mongo_db.crawl_albums.find_one({"_id": album}) is None

        # Now it answers 404: the first run of that answer, not the fourth failure.
        emulator.config.album_faults = {album: 404}
        gone_once = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
        assert gone_once.albums_given_up == 0
        assert "1 of 2 runs before it is given up" in gone_once.artists_failed[0]["reason"]

        emulator.config.album_faults = {}
        healed = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
    finally:
        emulator.config.album_faults = {}
    assert healed.completed and not healed.artists_failed and healed.albums_given_up == 0
    assert mongo_db.crawl_artists.find_one({"_id": artist})["status"] == "done"
    assert mongo_db.crawl_albums.find_one({"_id": album})["status"] == "done"
    assert _stored_ids(mongo_db, "albums") == {a for a, _group in cat.releases[artist]}
    failure = mongo_db.crawl_failures.find_one({"_id": f"album:{album}"})
    assert failure["resolved"] is True and failure["resolution"] == "succeeded"
    assert "not_found_runs" not in failure


def test_retry_given_up_asks_again_for_an_album_that_came_back(crawl_settings, emulator,
                                                               mongo_db, tmp_path):
    """`lakehouse crawl --retry-given-up`: the given-up album is requested again and stored
    once Spotify serves it again; a plain run keeps skipping it."""
    cat = emulator.catalogue
    artist, album, _other = _artist_and_shared_album(cat)
    settings, endpoint = _settings(crawl_settings, give_up_after=1), emulator_endpoint(emulator)
    emulator.config.album_faults = {album: 404}
    try:
        first = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
    finally:
        emulator.config.album_faults = {}
    assert first.albums_given_up == 1
    assert mongo_db.crawl_albums.find_one({"_id": album})["status"] == "not_found"

    plain = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=[artist])
    assert plain.albums_reset == 0 and plain.albums_completed == 0
    assert album not in _stored_ids(mongo_db, "albums")

    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text(f"{artist}\n", encoding="utf-8")
    env = dict(os.environ, SPOTIFY_CLIENT_ID=emulator.client_id,
               SPOTIFY_CLIENT_SECRET=emulator.client_secret, SPOTIFY_API_URL=emulator.api_url,
               SPOTIFY_TOKEN_URL=emulator.token_url, MONGODB_DATABASE=mongo_db.name,
               CRAWL_SEED_FILE=str(seed_file), CRAWL_EXPAND_DISCOVERED="false")
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "crawl", "--retry-given-up", "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["albums_reset"] == 1 and summary["albums_given_up"] == 0
    assert summary["artists_done"] == 1 and not summary["artists_failed"]
    assert album in _stored_ids(mongo_db, "albums")
    assert set(cat.albums[album].track_ids) <= _stored_ids(mongo_db, "tracks")
    assert mongo_db.crawl_albums.find_one({"_id": album})["status"] == "done"
    assert mongo_db.crawl_artists.find_one({"_id": artist})["status"] == "done"
    failure = mongo_db.crawl_failures.find_one({"_id": f"album:{album}"})
    assert failure["resolved"] is True and failure["resolution"] == "succeeded"
    assert "not_found_runs" not in failure and failure["reset_by"] == summary["crawl_id"]
