"""The Spotify crawler: spotipy -> MongoDB, incremental, resumable, honest about failures.

`run_crawl(settings, ...)` is the one entry point (the CLI and the Prefect flow call it).
Without Spotify credentials, pass `endpoint=emulator_endpoint(handle)` for a running emulator,
or use `lakehouse crawl`, which starts one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pymongo.database import Database

from ingestion.crawl.api_client import ApiEndpoint, CrawlStopped, RequestFailed, SpotifyApi
from ingestion.crawl.pipeline import Crawler, Progress, ProgressCallback
from ingestion.crawl.seeds import SeedFileError, read_seed_file
from ingestion.crawl.summary import CrawlSummary
from lakehouse.settings import Settings

if TYPE_CHECKING:
    from ingestion.emulator import EmulatorHandle

OFFICIAL_API_HOST = "api.spotify.com"

__all__ = [
    "ApiEndpoint",
    "CrawlStopped",
    "CrawlSummary",
    "Progress",
    "RequestFailed",
    "SeedFileError",
    "emulator_endpoint",
    "new_crawl_id",
    "run_crawl",
    "spotify_endpoint",
]


def spotify_endpoint(settings: Settings) -> ApiEndpoint:
    """The configured Spotify API (needs SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)."""
    if not settings.has_spotify_credentials:
        raise ValueError(
            "no Spotify credentials: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET in .env, "
            "or crawl the emulator (`lakehouse crawl` starts it when they are unset)"
        )
    source = "spotify" if OFFICIAL_API_HOST in settings.spotify_api_url else "emulator"
    return ApiEndpoint(
        api_url=settings.spotify_api_url,
        token_url=settings.spotify_token_url,
        client_id=settings.spotify_client_id.get_secret_value(),
        client_secret=settings.spotify_client_secret.get_secret_value(),
        source=source,
    )


def emulator_endpoint(handle: EmulatorHandle) -> ApiEndpoint:
    return ApiEndpoint(handle.api_url, handle.token_url, handle.client_id, handle.client_secret,
                       "emulator")


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
) -> CrawlSummary:
    """Run one incremental crawl and return what it did.

    endpoint: where to crawl (default: Spotify from settings; raises without credentials).
    db: the MongoDB database (default: MONGODB_DATABASE on the configured server).
    seeds / seed_file: seed entries (default: CRAWL_SEED_FILE). Already resolved seeds cost
    nothing on later runs. artists_per_run: pending artists taken (default
    CRAWL_ARTISTS_PER_RUN), failed ones are retried on top.
    """
    endpoint = endpoint or spotify_endpoint(settings)
    entries = seeds if seeds is not None else read_seed_file(seed_file or settings.crawl_seed_file)
    crawl_id = crawl_id or new_crawl_id()
    if db is None:
        from ingestion.mongodb import database

        db = database(settings)
    api = SpotifyApi(endpoint, settings)
    per_run = settings.crawl_artists_per_run if artists_per_run is None else artists_per_run
    return Crawler(api, db, settings, crawl_id, progress).run(entries, per_run)
