"""The crawler against the emulator and the local MongoDB server (FerretDB through pymongo)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

import pytest
from ingestion_crawl_checks import closure, snapshot

from ingestion import crawl_cli
from ingestion.crawl import CrawlBusy, emulator_endpoint, run_crawl
from ingestion.crawl.store import content_hash
from ingestion.emulator import EmulatorConfig, running_emulator
from ingestion.mongodb import client


def _seed_names(handle, n: int = 3) -> list[str]:
    return [a.name for a in list(handle.catalogue.artists.values())[:n]]


def test_extended_crawl_stores_everything_reachable_with_all_artists(
    crawl_settings, emulator, mongo_db
):
    cat = emulator.catalogue
    seeds = _seed_names(emulator)
    summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                        seeds=seeds)
    assert summary.completed and summary.mode == "extended" and summary.features_available
    seed_ids = [a.id for a in list(cat.artists.values())[:3]]
    artists, albums, tracks = closure(cat, seed_ids)
    assert {d["_id"] for d in mongo_db.artists.find({}, {"_id": 1})} == artists
    assert {d["_id"] for d in mongo_db.albums.find({}, {"_id": 1})} == albums
    assert {d["_id"] for d in mongo_db.tracks.find({}, {"_id": 1})} == tracks
    assert summary.artists_done == len(artists) and summary.artists_pending == 0

    # Every artist of every track and album is kept, in credit order.
    stored_tracks = list(mongo_db.tracks.find({}))
    for doc in stored_tracks:
        assert [a["id"] for a in doc["artists"]] == cat.tracks[doc["_id"]].artist_ids
        assert doc["album"]["id"] == cat.tracks[doc["_id"]].album_id
        assert "popularity" in doc and "external_ids" in doc  # full track objects
    multi = sum(len(d["artists"]) > 1 for d in stored_tracks)
    assert multi == sum(len(cat.tracks[t].artist_ids) > 1 for t in tracks) > 0
    per_album = Counter(d["album"]["id"] for d in stored_tracks)
    for doc in mongo_db.albums.find({}):
        assert [a["id"] for a in doc["artists"]] == cat.albums[doc["_id"]].artist_ids
        # Albums longer than one page of tracks still have all their tracks stored.
        assert per_album[doc["_id"]] == doc["total_tracks"]
    assert any(cat.albums[a].track_ids[50:] for a in albums)

    # Audio features for tracks that have them; "unavailable" recorded for the others.
    with_features = {t for t in tracks if cat.tracks[t].features}
    assert {d["_id"] for d in mongo_db.audio_features.find({}, {"_id": 1})} == with_features
    unavailable = {d["_id"]: d["reason"] for d in mongo_db.crawl_track_features.find({})}
    assert set(unavailable) == tracks - with_features
    assert summary.features_unavailable == len(unavailable)
    assert all("null" in reason for reason in unavailable.values())

    # Contract metadata on every document.
    doc = mongo_db.artists.find_one({"_id": seed_ids[0]})
    assert doc["_source"] == "emulator" and doc["_crawl_id"] == summary.crawl_id
    assert isinstance(doc["_ingested_at"], datetime)
    assert doc["_content_hash"] == content_hash(doc)
    assert summary.entities["tracks"]["new"] == len(tracks)
    # Batched endpoints, no request per album for tracks on one-page albums.
    assert summary.requests_by_endpoint["album_tracks"] == sum(
        (len(cat.albums[a].track_ids) - 1) // 50 for a in albums)


def test_rerunning_a_finished_crawl_writes_nothing(crawl_settings, emulator, mongo_db):
    endpoint, seeds = emulator_endpoint(emulator), _seed_names(emulator)
    first = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds)
    before = {d["_id"]: (d["_ingested_at"], d["_crawl_id"]) for d in mongo_db.tracks.find({})}
    again = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds)
    assert again.documents_written == 0
    assert again.artists_done == 0 and again.requests_total <= 2  # the mode probes only
    assert "search" not in again.requests_by_endpoint  # resolved seeds are remembered
    after = {d["_id"]: (d["_ingested_at"], d["_crawl_id"]) for d in mongo_db.tracks.find({})}
    assert after == before and first.crawl_id != again.crawl_id
    assert mongo_db.crawl_runs.count_documents({"status": "completed"}) == 2


def test_a_running_crawl_is_a_job_of_mongodb_not_of_the_thrift_server(
    crawl_settings, emulator, mongo_db
):
    """So `lakehouse services down --only thrift` may free the Thrift Server's memory during a
    long crawl, and `services down` still refuses to stop MongoDB under it."""
    from lakehouse.exclusive_lock import FERRETDB, THRIFT, running_jobs

    seen: list[tuple[list[str], list[str]]] = []

    def look(_progress) -> None:
        seen.append((running_jobs(crawl_settings, {FERRETDB}),
                     running_jobs(crawl_settings, {THRIFT})))

    summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                        seeds=_seed_names(emulator), progress=look)
    assert summary.completed and seen
    for mongodb_jobs, thrift_jobs in seen:
        assert [job.split(" (pid ")[0] for job in mongodb_jobs] == [f"crawl {summary.crawl_id}"]
        assert thrift_jobs == []
    assert running_jobs(crawl_settings, {FERRETDB}) == []  # released at the end


def test_a_second_crawl_at_once_is_refused_and_touches_nothing(crawl_settings, emulator, mongo_db):
    """Two crawls share one queue: the second would take the same artists and mark the first's
    run interrupted."""
    from lakehouse.exclusive_lock import exclusive

    endpoint, seeds = emulator_endpoint(emulator), _seed_names(emulator)
    with (
        exclusive(crawl_settings, "crawl", "crawl held-by-test"),
        pytest.raises(CrawlBusy) as refused,
    ):
        run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds)
    message = str(refused.value)
    assert "was refused: another crawl is running on this machine (crawl held-by-test, pid" in (
        message)
    assert mongo_db.crawl_runs.count_documents({}) == 0
    assert mongo_db.tracks.count_documents({}) == 0
    assert sum(emulator.state.stats.by_route.values()) == 0  # not one API call

    done = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds)  # released
    assert done.completed and done.documents_written > 0


def test_runs_are_incremental_in_queue_order(crawl_settings, emulator, mongo_db):
    endpoint, seeds = emulator_endpoint(emulator), _seed_names(emulator, 5)
    first = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds,
                      artists_per_run=2)
    done = [d["_id"] for d in mongo_db.crawl_artists.find({"status": "done"})]
    resolved = [mongo_db.crawl_seeds.find_one({"_id": s})["artist_id"] for s in seeds]
    assert sorted(done) == sorted(resolved[:2])  # seeds first, in file order
    # Pending: the other seeds and every artist credited on the two done artists' releases.
    cat = emulator.catalogue
    credited = {a for artist in resolved[:2] for album_id, _group in cat.releases[artist]
                for a in [*cat.albums[album_id].artist_ids,
                          *(t for track_id in cat.albums[album_id].track_ids
                            for t in cat.tracks[track_id].artist_ids)]}
    queued = (set(resolved) | credited) - set(resolved[:2])
    assert first.artists_done == 2 and first.artists_pending == len(queued)
    assert {d["_id"] for d in mongo_db.crawl_artists.find({"status": "pending"})} == queued
    second = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=seeds,
                       artists_per_run=1000)
    # The second run takes everything left, including artists it discovers itself: every
    # artist reachable from the seeds is done, each once.
    reachable, _albums, _tracks = closure(cat, resolved)
    assert second.artists_done == len(reachable) - 2 and second.artists_pending == 0
    assert {d["_id"] for d in mongo_db.crawl_artists.find({"status": "done"})} == reachable
    assert mongo_db.crawl_artists.count_documents({"status": {"$ne": "done"}}) == 0


def test_development_mode_degrades_without_batch_endpoints_or_features(
    crawl_settings, emulator, mongo_db
):
    emulator.config.mode = "development"
    try:
        summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                            seeds=_seed_names(emulator))
    finally:
        emulator.config.mode = "extended"
    cat = emulator.catalogue
    artists, albums, tracks = closure(cat, [a.id for a in list(cat.artists.values())[:3]])
    assert summary.completed and summary.mode == "development"
    assert not summary.features_available and "development" in summary.features_note
    # Only the one detection probe touched a batch endpoint; nothing asked for features.
    assert summary.requests_by_endpoint["artists_batch"] == 1
    assert not {"albums_batch", "tracks_batch", "audio_features_batch"} & set(
        summary.requests_by_endpoint)
    assert summary.requests_by_endpoint["album"] == len(albums)
    assert mongo_db.audio_features.count_documents({}) == 0
    assert mongo_db.crawl_track_features.count_documents({}) == len(tracks)
    assert summary.features_unavailable == len(tracks)
    assert mongo_db.artists.count_documents({}) == len(artists)
    assert mongo_db.artists.count_documents({"popularity": {"$exists": True}}) == 0
    assert mongo_db.albums.count_documents({"label": {"$exists": True}}) == 0
    assert mongo_db.tracks.count_documents({}) == len(tracks)
    track = mongo_db.tracks.find_one({})
    assert track["album"] == {"id": cat.tracks[track["_id"]].album_id}
    assert [a["id"] for a in track["artists"]] == cat.tracks[track["_id"]].artist_ids
    # Artists with more releases than one development page (10) were paged through.
    paged = [a for a in artists if len(cat.releases[a]) > 10]
    assert paged and summary.requests_by_endpoint["artist_albums"] > len(artists)


def test_features_refused_in_development_mode_are_fetched_once_the_app_is_extended(
    crawl_settings, emulator, mongo_db
):
    # A team crawls with a development-mode app, then gets extended quota: the tracks already
    # stored get their features too (capped per run), not only the tracks crawled from then on.
    endpoint = emulator_endpoint(emulator)
    emulator.config.mode = "development"
    try:
        run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=_seed_names(emulator))
    finally:
        emulator.config.mode = "extended"
    cat = emulator.catalogue
    _, _, tracks = closure(cat, [a.id for a in list(cat.artists.values())[:3]])
    with_features = {t for t in tracks if cat.tracks[t].features}
    assert mongo_db.audio_features.count_documents({}) == 0
    assert 150 < len(with_features) < len(tracks)

    capped = crawl_settings.model_copy(update={"crawl_features_backfill_per_run": 150})
    first = run_crawl(capped, endpoint=endpoint, db=mongo_db, seeds=[], artists_per_run=0)
    assert first.completed and first.features_available and first.artists_done == 0
    assert first.requests_by_endpoint["audio_features_batch"] == 1 + 2  # the probe, 100 + 50
    stored = {d["_id"] for d in mongo_db.audio_features.find({}, {"_id": 1})}
    assert first.features_backfilled == len(stored) <= 150 and stored <= with_features
    assert first.features_backfill_left == len(tracks) - 150
    assert (f"{first.features_backfilled} stored tracks got the features refused when they were"
            f" crawled ({first.features_backfill_left} still without them).") in _printed(first)

    second = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=[],
                       artists_per_run=0)
    assert second.features_backfilled == len(with_features) - len(stored)
    assert second.features_backfill_left == 0
    assert {d["_id"] for d in mongo_db.audio_features.find({}, {"_id": 1})} == with_features
    doc = mongo_db.audio_features.find_one({})
    assert doc["_crawl_id"] in (first.crawl_id, second.crawl_id)
    assert doc["danceability"] == cat.tracks[doc["_id"]].features["danceability"]
    # What is left listed is what the API has no features for, and it is not asked again.
    unavailable = {d["_id"]: d["reason"] for d in mongo_db.crawl_track_features.find({})}
    assert set(unavailable) == tracks - with_features
    assert all("null answer" in reason for reason in unavailable.values())
    third = run_crawl(crawl_settings, endpoint=endpoint, db=mongo_db, seeds=[],
                      artists_per_run=0)
    assert third.features_backfilled == 0
    assert third.requests_by_endpoint.get("audio_features_batch") == 1  # the probe only
    assert "stored tracks got the features" not in _printed(third)


def _printed(summary) -> str:
    """What `lakehouse crawl` prints for this summary, on one line."""
    with crawl_cli.console.capture() as shown:
        crawl_cli._print_summary(summary)
    return " ".join(shown.get().split())


def test_seed_names_are_matched_for_real_and_the_rest_recorded(crawl_settings, emulator,
                                                              mongo_db):
    seeds = ["daft punk", "Beyonce", "Daft Punkk", "Zzyzx Nonexistent Orchestra",
             "spotify:artist:tooShort", "0" * 22]
    summary = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                        seeds=seeds, artists_per_run=0)
    by_entry = {d["_id"]: d for d in mongo_db.crawl_seeds.find({})}
    daft = next(a for a in emulator.catalogue.artists.values() if a.name == "Daft Punk")
    assert by_entry["daft punk"]["artist_id"] == daft.id
    assert by_entry["daft punk"]["match"] == "exact"
    assert by_entry["Beyonce"]["matched_name"] == "Beyoncé"
    assert by_entry["Daft Punkk"]["match"] == "fuzzy"
    assert by_entry["Daft Punkk"]["artist_id"] == daft.id
    nobody = by_entry["Zzyzx Nonexistent Orchestra"]
    assert nobody["status"] == "unresolved" and "artist_id" not in nobody
    assert "no artist named" in nobody["reason"] or "returned no artist" in nobody["reason"]
    assert by_entry["spotify:artist:tooShort"]["status"] == "unresolved"
    assert "malformed" in by_entry["spotify:artist:tooShort"]["reason"]
    assert {s["entry"] for s in summary.seeds_unresolved} == {
        "Zzyzx Nonexistent Orchestra", "spotify:artist:tooShort"}
    # A well-formed id nobody has: queued, then "not_found" (404) with the reason, not retried.
    unknown = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                        seeds=["0" * 22], artists_per_run=1000)
    state = mongo_db.crawl_artists.find_one({"_id": "0" * 22})
    assert state["status"] == "not_found" and "404" in state["last_error"]
    assert unknown.artists_not_found == 1


# What each fault, retried to the end of the budget, leaves as the failure's reason.
GIVE_UP_REASON = {"rate_truncated": "malformed response", "rate_malformed": "malformed response",
                  "rate_5xx": "server error",
                  "rate_cut": "connection error: ChunkedEncodingError"}


@pytest.mark.parametrize("fault", list(GIVE_UP_REASON))
def test_bad_responses_are_recorded_as_failures_and_retried_next_run(
    crawl_settings, emulator, mongo_db, fault
):
    endpoint, seeds = emulator_endpoint(emulator), _seed_names(emulator, 2)
    settings = crawl_settings.model_copy(update={"crawl_max_retries": 2})
    # Resolve seeds and detect the mode on a healthy API, then break every answer.
    run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=seeds, artists_per_run=0)
    setattr(emulator.config.faults, fault, 1.0)
    try:
        broken = run_crawl(settings.model_copy(update={"crawl_mode": "extended"}),
                           endpoint=endpoint, db=mongo_db, seeds=seeds, artists_per_run=1000)
    finally:
        setattr(emulator.config.faults, fault, 0.0)
    assert broken.completed and broken.artists_done == 0 and len(broken.artists_failed) == 2
    expected = GIVE_UP_REASON[fault]
    assert all(expected in f["reason"] for f in broken.artists_failed)
    failures = list(mongo_db.crawl_failures.find({"kind": "artist"}))
    assert len(failures) == 2 and all(not f["resolved"] and expected in f["reason"]
                                      for f in failures)
    assert mongo_db.crawl_artists.count_documents({"status": "failed"}) == 2
    assert mongo_db.tracks.count_documents({}) == 0

    healed = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=seeds,
                       artists_per_run=1000)
    assert healed.completed and not healed.artists_failed
    assert mongo_db.crawl_artists.count_documents({"status": {"$ne": "done"}}) == 0
    assert mongo_db.crawl_failures.count_documents({"kind": "artist", "resolved": False}) == 0
    assert mongo_db.tracks.count_documents({}) > 0


def test_wait_budget_stops_the_run_cleanly_and_keeps_the_work(crawl_settings, emulator,
                                                               mongo_db, ferretdb):
    """429s start once the first chunk (2 of 4 seed artists) is fetched; their Retry-After
    exceeds the wait budget: the run stops, the fetched chunk is stored and marked done, the
    rest stays pending, and the next run completes it as a clean crawl would."""
    seeds = _seed_names(emulator, 4)
    settings = crawl_settings.model_copy(update={"crawl_max_total_wait_s": 5.0,
                                                 "crawl_chunk_artists": 2})
    endpoint, faults = emulator_endpoint(emulator), emulator.config.faults
    scratch = f"{mongo_db.name}_ref"
    with client(ferretdb) as mongo:
        try:
            first, first_chunk = _first_chunk_alone(settings, endpoint, mongo[scratch], seeds)
            # The same requests again, then every answer is a 429 asking for 120 s.
            faults.clean_requests, faults.rate_429 = first.requests_total, 1.0
            faults.retry_after_s = 120
            try:
                stopped = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=seeds)
            finally:
                faults.clean_requests, faults.rate_429, faults.retry_after_s = 0, 0.0, 0
            _assert_stopped_after_the_first_chunk(stopped, mongo_db, emulator, first_chunk,
                                                  "wait budget")
            assert stopped.requests_total == first.requests_total + 1  # the refused one

            _, resumed_data, reference = _resume_and_crawl_clean(
                settings, endpoint, mongo_db, mongo[scratch], seeds)
            assert resumed_data == reference
        finally:
            mongo.drop_database(scratch)


def test_an_exceeded_quota_stops_the_run_at_once_and_the_next_run_completes(
    crawl_settings, emulator, mongo_db, ferretdb
):
    """The app's quota runs out once the first chunk (2 of 4 seed artists) is fetched. A 429
    with reason QUOTA_EXCEEDED is not the rolling window: the run stops on the first one without
    waiting, although its Retry-After (1 s) fits the wait budget, stores the fetched chunk and
    leaves the rest pending; with the quota lifted the next run ends as a clean crawl does."""
    seeds = _seed_names(emulator, 4)
    settings = crawl_settings.model_copy(update={"crawl_max_total_wait_s": 5.0,
                                                 "crawl_chunk_artists": 2})
    endpoint, config = emulator_endpoint(emulator), emulator.config
    scratch = f"{mongo_db.name}_ref"
    with client(ferretdb) as mongo:
        try:
            first, first_chunk = _first_chunk_alone(settings, endpoint, mongo[scratch], seeds)
            # What is left of the quota pays for exactly the requests of the first chunk.
            config.quota_requests = emulator.state.quota.used + first.requests_total
            config.quota_retry_after_s = 1
            try:
                stopped = run_crawl(settings, endpoint=endpoint, db=mongo_db, seeds=seeds)
            finally:
                config.quota_requests = 0  # lifted
            _assert_stopped_after_the_first_chunk(stopped, mongo_db, emulator, first_chunk,
                                                  "quota is exceeded")
            reason = stopped.stopped_reason
            assert "(429 QUOTA_EXCEEDED, Retry-After 1 s)" in reason
            assert "pending artists stay queued" in reason and "extended quota" in reason
            assert emulator.client_secret not in reason
            # Asked once and never again: no retry, no wait, one quota 429 at the emulator.
            assert stopped.retries == 0 and stopped.requests_total == first.requests_total + 1
            assert emulator.state.stats.quota_exceeded == 1
            assert emulator.state.stats.rate_limited == 0

            resumed, after_quota, reference = _resume_and_crawl_clean(
                settings, endpoint, mongo_db, mongo[scratch], seeds)
            assert resumed.rate_limited == 0 and resumed.artists_pending == 0
            assert {k: len(v) for k, v in after_quota.items()} == {
                k: len(v) for k, v in reference.items()}
            assert after_quota == reference
        finally:
            mongo.drop_database(scratch)


def _first_chunk_alone(settings, endpoint, scratch_db, seeds):
    """What the first chunk (2 seed artists) costs and stores: the same crawl, limited to that
    chunk, in a scratch database that is dropped again. (summary, snapshot)"""
    first = run_crawl(settings, endpoint=endpoint, db=scratch_db, seeds=seeds, artists_per_run=2)
    assert first.completed and first.artists_done == 2
    first_chunk = snapshot(scratch_db)
    scratch_db.client.drop_database(scratch_db.name)
    return first, first_chunk


def _resume_and_crawl_clean(settings, endpoint, db, scratch_db, seeds):
    """The next run on `db` completes everything; then a clean crawl into `scratch_db` to compare
    with. (the resumed run's summary, snapshot of `db`, snapshot of the clean crawl)"""
    resumed = run_crawl(settings, endpoint=endpoint, db=db, seeds=seeds)
    assert resumed.completed and not resumed.artists_failed
    assert db.crawl_artists.count_documents({"status": {"$ne": "done"}}) == 0
    clean = run_crawl(settings, endpoint=endpoint, db=scratch_db, seeds=seeds)
    assert clean.completed
    return resumed, snapshot(db), snapshot(scratch_db)


def _assert_stopped_after_the_first_chunk(summary, db, emulator, first_chunk, why: str) -> None:
    assert not summary.completed and why in summary.stopped_reason
    assert summary.rate_limited == 1 and summary.waited_s == 0  # the first 429 stopped it
    run = db.crawl_runs.find_one({"_id": summary.crawl_id})
    assert run["status"] == "stopped" and run["stopped_reason"] == summary.stopped_reason
    # Exactly what the first chunk stores: its artists' releases, their tracks, credits.
    assert snapshot(db) == first_chunk and first_chunk["tracks"]
    cat = emulator.catalogue
    seed_ids = [db.crawl_seeds.find_one({"_id": a.name})["artist_id"]
                for a in list(cat.artists.values())[:4]]
    albums = {a for artist in seed_ids[:2] for a, _group in cat.releases[artist]}
    assert set(first_chunk["albums"]) == albums
    assert set(first_chunk["tracks"]) == {t for a in albums for t in cat.albums[a].track_ids}
    assert set(seed_ids[:2]) <= set(first_chunk["artists"])
    status = {d["_id"]: d["status"] for d in db.crawl_artists.find({})}
    assert [status[a] for a in seed_ids] == ["done", "done", "pending", "pending"]
    assert summary.artists_done == 2 and "failed" not in status.values()
    assert db.crawl_failures.count_documents({}) == 0


def test_endless_429s_with_retry_after_0_end_on_the_wait_budget(crawl_settings, emulator,
                                                                 mongo_db):
    # Every request answers 429 with `Retry-After: 0` (conftest): only the minimum wait per 429
    # makes the waiting add up to the budget; without it the crawler retried forever.
    settings = crawl_settings.model_copy(update={"crawl_max_total_wait_s": 0.2,
                                                 "crawl_min_retry_after_s": 0.01})
    assert emulator.config.faults.retry_after_s == 0
    result: dict = {}

    def crawl() -> None:
        result["summary"] = run_crawl(settings, endpoint=emulator_endpoint(emulator),
                                      db=mongo_db, seeds=_seed_names(emulator))

    worker = threading.Thread(target=crawl, daemon=True)
    emulator.config.faults.rate_429 = 1.0
    try:
        worker.start()
        worker.join(timeout=20)
        still_retrying = worker.is_alive()
    finally:
        emulator.config.faults.rate_429 = 0.0  # lets a crawl stuck in the loop finish
        worker.join(timeout=60)
    assert not still_retrying, "the crawl was still retrying 429s after 20 s"
    summary = result["summary"]
    assert not summary.completed and "wait budget" in summary.stopped_reason
    # Each 429 but the last was waited on for the minimum, until the budget (20 x 0.01 s, give
    # or take float rounding) was spent.
    assert summary.retries == summary.rate_limited - 1
    assert 19 <= summary.retries <= 20
    assert summary.waited_s == pytest.approx(0.01 * summary.retries) and summary.waited_s <= 0.2
    run = mongo_db.crawl_runs.find_one({"_id": summary.crawl_id})
    assert run["status"] == "stopped"
    assert mongo_db.crawl_artists.count_documents({"status": "failed"}) == 0


def _stored(db, collection: str) -> dict[str, dict]:
    """Documents without the per-run metadata (when and by which run they were written)."""
    return {d["_id"]: {k: v for k, v in d.items() if k not in ("_ingested_at", "_crawl_id")}
            for d in db[collection].find({})}


def test_the_same_albums_via_emulators_on_two_ports_store_identical_documents(
    crawl_settings, emulator, mongo_db, ferretdb, small_catalogue
):
    seeds = _seed_names(emulator)
    run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db, seeds=seeds)
    other_db = f"{mongo_db.name}_b"
    with client(ferretdb) as mongo:
        try:
            with running_emulator(small_catalogue, EmulatorConfig()) as elsewhere:
                assert elsewhere.port != emulator.port
                run_crawl(crawl_settings, endpoint=emulator_endpoint(elsewhere),
                          db=mongo[other_db], seeds=seeds)
            for name in ("artists", "albums", "tracks", "audio_features"):
                assert _stored(mongo[other_db], name) == _stored(mongo_db, name), name
        finally:
            mongo.drop_database(other_db)
    # The album's own page of tracks links to Spotify, not to whichever port served it.
    long_album = next(d for d in mongo_db.albums.find({}) if d["tracks"]["next"])
    assert long_album["tracks"]["href"].startswith(
        f"https://api.spotify.com/v1/albums/{long_album['_id']}/tracks")
    assert long_album["tracks"]["next"].startswith("https://api.spotify.com/v1/albums/")
    assert long_album["_content_hash"] == content_hash(long_album)
