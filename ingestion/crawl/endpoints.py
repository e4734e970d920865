"""Where a crawl goes: Spotify when credentials are set, otherwise the bundled emulator (one
already listening on EMULATOR_HOST:EMULATOR_PORT, or a new in-process one for the crawl)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import requests

from ingestion.crawl.api_client import ApiEndpoint
from lakehouse.settings import Settings

if TYPE_CHECKING:
    from ingestion.emulator import EmulatorHandle

OFFICIAL_API_HOST = "api.spotify.com"


def spotify_endpoint(settings: Settings) -> ApiEndpoint:
    """The configured Spotify API (needs SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)."""
    if not settings.has_spotify_credentials:
        raise ValueError(
            "no Spotify credentials: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET in .env, "
            "or crawl the emulator (`lakehouse crawl` starts it when they are unset)"
        )
    # A SPOTIFY_API_URL other than Spotify's (e.g. a standalone emulator) is labelled as such.
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


@contextmanager
def crawl_endpoint(
    settings: Settings,
    *,
    emulator_artists: int | None = None,
    emulator_mode: str | None = None,
    announce: Callable[[str], None] = lambda _message: None,
) -> Iterator[ApiEndpoint]:
    """Spotify with credentials; else a running emulator on EMULATOR_PORT; else a new one."""
    if settings.has_spotify_credentials:
        announce(f"Crawling {settings.spotify_api_url} with the configured credentials.")
        yield spotify_endpoint(settings)
        return
    from ingestion.emulator import EmulatorConfig, running_emulator
    from ingestion.emulator.server import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
    from lakehouse.supervisor import port_is_free

    base = f"http://{settings.emulator_host}:{settings.emulator_port}"
    try:
        running = requests.get(f"{base}/_emulator/health", timeout=1).ok
    except requests.RequestException:
        running = False
    if running:
        announce(f"No Spotify credentials: crawling the emulator already running at {base}.")
        yield ApiEndpoint(f"{base}/v1/", f"{base}/api/token", EMULATOR_CLIENT_ID,
                          EMULATOR_CLIENT_SECRET, "emulator")
        return
    config = EmulatorConfig(mode=emulator_mode or settings.emulator_mode,
                            rate_limit=settings.emulator_rate_limit,
                            rate_window_s=settings.emulator_rate_window_s)
    port = settings.emulator_port
    port = port if port_is_free(settings.emulator_host, port) else 0
    size = emulator_artists or settings.emulator_artists
    with running_emulator(config=config, n_artists=size, seed=settings.emulator_seed,
                          host=settings.emulator_host, port=port) as handle:
        announce("No Spotify credentials (SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET unset): "
                 f"started the bundled emulator at {handle.base_url} ({size} artists, "
                 f"{config.mode} mode).")
        yield emulator_endpoint(handle)
