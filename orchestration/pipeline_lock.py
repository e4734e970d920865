"""One pipeline run at a time (lakehouse/exclusive_lock.py): a second run is refused at once with
who holds the lock; a run killed with `kill -9` leaves no lock behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse import exclusive_lock
from lakehouse.settings import Settings

LOCK_NAME = "pipeline"


class PipelineLocked(RuntimeError):
    """Another pipeline run holds the lock."""


def lock_path(settings: Settings) -> Path:
    return exclusive_lock.lock_path(settings, LOCK_NAME)


def _refused(holder: str) -> PipelineLocked:
    return PipelineLocked(
        f"Another pipeline run is in progress ({holder}); it writes the same tables, so this run"
        " was refused. Wait for it to finish (or stop it), then run again."
    )


@contextmanager
def pipeline_lock(settings: Settings, run_id: str) -> Iterator[None]:
    with exclusive_lock.exclusive(settings, LOCK_NAME, f"run {run_id}", refuse=_refused):
        yield
