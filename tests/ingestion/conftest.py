"""Fixtures of the ingestion tests: small emulator catalogues and crawl settings tuned for speed
(no real waiting on injected faults)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingestion.emulator import EmulatorConfig, FaultConfig, generate_catalogue, running_emulator
from lakehouse.settings import Settings


@pytest.fixture(scope="session")
def small_catalogue():
    return generate_catalogue(12, seed=3)


@pytest.fixture
def crawl_settings(ferretdb: Settings) -> Settings:
    """The session settings with fast backoff and small chunks (a copy: the session's stay)."""
    return ferretdb.model_copy(update={
        "crawl_backoff_base_s": 0.001,
        "crawl_backoff_max_s": 0.01,
        "crawl_max_retries": 8,
        "crawl_chunk_artists": 4,
        "crawl_artists_per_run": 1000,
        "crawl_max_total_wait_s": 60.0,
        # The emulator's injected 429s say `Retry-After: 0`; wait a token amount, not 1 s each.
        "crawl_min_retry_after_s": 0.001,
    })


@pytest.fixture
def emulator(small_catalogue) -> Iterator:
    config = EmulatorConfig(faults=FaultConfig(retry_after_s=0))
    with running_emulator(small_catalogue, config) as handle:
        yield handle
