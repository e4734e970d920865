"""Where a crawl goes: Spotify when credentials are set, otherwise the bundled emulator.

Shared by `lakehouse crawl` and the Prefect flows, so both pick the same endpoint the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ingestion.crawl import ApiEndpoint, emulator_endpoint, spotify_endpoint
from lakehouse.settings import Settings


def _noop(_message: str) -> None:
    return None


@contextmanager
def crawl_endpoint(
    settings: Settings,
    *,
    emulator_artists: int | None = None,
    emulator_mode: str | None = None,
    say: Callable[[str], None] = _noop,
) -> Iterator[ApiEndpoint]:
    """Spotify with the configured credentials; else an emulator already listening on
    EMULATOR_PORT; else a new in-process emulator for the duration of the block."""
    if settings.has_spotify_credentials:
        say(f"Crawling {settings.spotify_api_url} with the configured credentials.")
        yield spotify_endpoint(settings)
        return
    yield from _emulator(settings, emulator_artists, emulator_mode, say)


def _emulator(
    settings: Settings, n_artists: int | None, mode: str | None, say: Callable[[str], None]
) -> Iterator[ApiEndpoint]:
    import requests

    from ingestion.emulator import EmulatorConfig, running_emulator
    from ingestion.emulator.server import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
    from lakehouse.supervisor import port_is_free

    base = f"http://{settings.emulator_host}:{settings.emulator_port}"
    try:
        running = requests.get(f"{base}/_emulator/health", timeout=1).ok
    except requests.RequestException:
        running = False
    if running:
        say(f"No Spotify credentials: crawling the emulator already running at {base}.")
        yield ApiEndpoint(
            f"{base}/v1/",
            f"{base}/api/token",
            EMULATOR_CLIENT_ID,
            EMULATOR_CLIENT_SECRET,
            "emulator",
        )
        return
    config = EmulatorConfig(
        mode=mode or settings.emulator_mode,
        rate_limit=settings.emulator_rate_limit,
        rate_window_s=settings.emulator_rate_window_s,
    )
    port = settings.emulator_port
    port = port if port_is_free(settings.emulator_host, port) else 0
    size = n_artists or settings.emulator_artists
    with running_emulator(
        config=config,
        n_artists=size,
        seed=settings.emulator_seed,
        host=settings.emulator_host,
        port=port,
    ) as handle:
        say(
            "No Spotify credentials (SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET unset): "
            f"started the bundled emulator at {handle.base_url} ({size} artists, "
            f"{config.mode} mode)."
        )
        yield emulator_endpoint(handle)
