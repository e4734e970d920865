"""The Spotify crawler: spotipy -> MongoDB, incremental, resumable, honest about failures.

`run_crawl(settings, ...)` is the one entry point (the CLI and the Prefect flow call it).
Without Spotify credentials, pass `endpoint=emulator_endpoint(handle)` for a running emulator,
or use `lakehouse crawl`, which starts one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure

from ingestion.crawl.api_client import ApiEndpoint, CrawlStopped, RequestFailed, SpotifyApi
from ingestion.crawl.endpoints import crawl_endpoint, emulator_endpoint, spotify_endpoint
from ingestion.crawl.pipeline import Crawler, Progress, ProgressCallback
from ingestion.crawl.seeds import SeedFileError, read_seed_file
from ingestion.crawl.summary import CrawlSummary
from ingestion.mongodb import access_refused_message, database, unreachable_fix
from lakehouse.exclusive_lock import FERRETDB, LockHeld, exclusive
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "ApiEndpoint",
    "CrawlBusy",
    "CrawlStopped",
    "CrawlStoreError",
    "CrawlSummary",
    "Progress",
    "RequestFailed",
    "SeedFileError",
    "crawl_endpoint",
    "emulator_endpoint",
    "new_crawl_id",
    "run_crawl",
    "spotify_endpoint",
]


class CrawlBusy(LockHeld):
    """Another crawl holds the crawl lock; the message names it."""


class CrawlStoreError(RuntimeError):
    """MongoDB could not be reached during a crawl (stopped, crashed, network), or refused the
    login or a write; the message says what to fix and how to resume. Other MongoDB errors
    (bugs) propagate as they are."""


def store_failed_message(settings: Settings, crawl_id: str, exc: ConnectionFailure) -> str:
    # pymongo's server-selection message ends in a long topology description: keep its start.
    cause = str(exc).split(", Topology Description: ")[0]
    if len(cause) > 240:
        cause = cause[:240] + "..."
    return (
        f"MongoDB at {settings.mongodb_display} could not be reached during crawl {crawl_id}"
        f" ({type(exc).__name__}: {cause}). What the crawl stored before is kept:"
        f" {unreachable_fix(settings)}, then crawl again; it resumes with the artists still"
        " pending."
    )


def store_refused_message(crawl_id: str, refused: str) -> str:
    return (
        f"crawl {crawl_id} stopped: {refused} What the crawl stored before is kept; crawl again"
        " once that is fixed, it resumes with the artists still pending."
    )


def new_crawl_id() -> str:
    return f"crawl-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def run_crawl(
    settings: Settings,
    *,
    endpoint: ApiEndpoint | None = None,
    db: Database | None = None,
    seeds: list[str] | None = None,
    seed_file: Path | None = None,
    artists_per_run: int | None = None,
    crawl_id: str | None = None,
    progress: ProgressCallback | None = None,
    retry_given_up: bool = False,
) -> CrawlSummary:
    """Run one incremental crawl and return what it did.

    endpoint: where to crawl (default: Spotify when SPOTIFY_CLIENT_ID/SECRET are set, else
    the emulator on EMULATOR_PORT if one runs, else an in-process emulator for this call).
    db: the MongoDB database (default: MONGODB_DATABASE on the configured server).
    seeds / seed_file: seed entries (default: CRAWL_SEED_FILE). Already resolved seeds cost
    nothing on later runs. artists_per_run: pending artists taken (default
    CRAWL_ARTISTS_PER_RUN), failed ones are retried on top. retry_given_up: ask again for the
    albums given up as gone (their artists go back to pending first).
    """
    entries = seeds if seeds is not None else read_seed_file(seed_file or settings.crawl_seed_file)
    if endpoint is None:  # Spotify with credentials, else the bundled emulator
        with crawl_endpoint(settings, announce=log.info) as default:
            return run_crawl(settings, endpoint=default, db=db, seeds=entries,
                             artists_per_run=artists_per_run, crawl_id=crawl_id,
                             progress=progress, retry_given_up=retry_given_up)
    crawl_id = crawl_id or new_crawl_id()
    if db is None:
        db = database(settings)
    api = SpotifyApi(endpoint, settings)
    per_run = settings.crawl_artists_per_run if artists_per_run is None else artists_per_run
    # Crawls share one queue in MongoDB: two at once would take the same pending artists, spend
    # the rate limit twice and mark each other's run interrupted. One at a time per machine
    # (the CLI, the pipeline and the interval deployment all come through here).
    # It uses MongoDB only: `services down --only thrift` may stop the Thrift Server meanwhile.
    with exclusive(settings, "crawl", f"crawl {crawl_id}", lambda held: CrawlBusy(
        f"crawl {crawl_id} was refused: another crawl is running on this machine ({held})."
        " Crawls share one queue in MongoDB; wait for it to finish, then run again."
    ), uses=frozenset({FERRETDB})):
        log.info("crawl %s: %s via %r", crawl_id, endpoint.source, endpoint)
        try:
            return Crawler(api, db, settings, crawl_id, progress).run(
                entries, per_run, retry_given_up=retry_given_up)
        except ConnectionFailure as exc:
            raise CrawlStoreError(store_failed_message(settings, crawl_id, exc)) from exc
        except OperationFailure as exc:
            refused = access_refused_message(settings, exc)
            if refused is None:
                raise
            raise CrawlStoreError(store_refused_message(crawl_id, refused)) from exc

