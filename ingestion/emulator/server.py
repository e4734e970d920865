"""Run the emulator: in-process in a background thread (tests, `lakehouse crawl` without
credentials, other components) or in the foreground (`lakehouse emulator`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import uvicorn

from ingestion.emulator.app import EmulatorState, create_app
from ingestion.emulator.catalogue import Catalogue, generate_catalogue
from ingestion.emulator.csv_catalogue import catalogue_from_csv
from ingestion.emulator.traffic import EmulatorConfig
from lakehouse.supervisor import free_port

# Credentials the crawler presents to an emulator that accepts any pair.
EMULATOR_CLIENT_ID = "emulator-client"
EMULATOR_CLIENT_SECRET = "emulator-secret"  # noqa: S105 (not a secret: the emulator takes any)


@dataclass
class EmulatorHandle:
    """A running emulator: where it listens and its live state (config can be changed live)."""

    host: str
    port: int
    state: EmulatorState

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What spotipy's `prefix` must be (with the trailing slash)."""
        return f"{self.base_url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/token"

    @property
    def client_id(self) -> str:
        return self.state.config.client_id or EMULATOR_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return self.state.config.client_secret or EMULATOR_CLIENT_SECRET

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    @property
    def catalogue(self) -> Catalogue:
        return self.state.catalogue


def build_catalogue(n_artists: int = 20, seed: int = 42, csv_path: Path | None = None,
                    csv_limit: int | None = None) -> Catalogue:
    if csv_path is not None:
        return catalogue_from_csv(csv_path, limit=csv_limit)
    return generate_catalogue(n_artists, seed)


@contextmanager
def running_emulator(
    catalogue: Catalogue | None = None,
    config: EmulatorConfig | None = None,
    *,
    n_artists: int = 20,
    seed: int = 42,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[EmulatorHandle]:
    """Serve the emulator on host:port (0 = a free port) in a thread until the block ends."""
    catalogue = catalogue or generate_catalogue(n_artists, seed)
    app = create_app(catalogue, config or EmulatorConfig())
    port = port or free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                       lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"spotify-emulator:{port}", daemon=True)
    thread.start()
    handle = EmulatorHandle(host, port, app.state.emulator)
    try:
        _wait_ready(handle, thread)
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_ready(handle: EmulatorHandle, thread: threading.Thread, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(
                f"the emulator could not start on {handle.base_url}: is the port taken? "
                "Pick another with --port / EMULATOR_PORT."
            )
        try:
            if requests.get(f"{handle.base_url}/_emulator/health", timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"the emulator did not answer on {handle.base_url} within {timeout_s}s")


def serve_forever(catalogue: Catalogue, config: EmulatorConfig, host: str, port: int) -> None:
    """Foreground server for `lakehouse emulator` (Ctrl-C stops it)."""
    app = create_app(catalogue, config)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
