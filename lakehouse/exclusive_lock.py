"""One holder at a time for a named job on this machine: an OS file lock in DATA_DIR/run.

The kernel releases the lock when the holder dies, so a job killed with `kill -9` leaves a lock
file but no lock and the next run simply proceeds. A second job is refused at once (no waiting),
told who holds the lock. The lock guards one machine: with a shared LAKE_ROOT on HDFS, run the
writers from one orchestrator only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lakehouse.settings import Settings


class LockHeld(RuntimeError):
    """Another process holds the lock; the message describes the holder."""


def lock_path(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.lock"


def _holder_path(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.holder.json"


@contextmanager
def exclusive(
    settings: Settings,
    name: str,
    holder: str,
    refuse: Callable[[str], Exception] = LockHeld,
) -> Iterator[None]:
    """Hold lock `name` for the block; `holder` (a run or batch id) is shown to those refused.

    refuse: builds the exception raised when the lock is held, from the holder's description.
    """
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(settings, name), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise refuse(describe_holder(settings, name)) from exc
    try:
        since = dt.datetime.now(dt.UTC).isoformat()
        _holder_path(settings, name).write_text(
            json.dumps({"pid": os.getpid(), "holder": holder, "since": since})
        )
        yield
    finally:
        _holder_path(settings, name).unlink(missing_ok=True)
        lock.release()


def describe_holder(settings: Settings, name: str) -> str:
    try:
        held = json.loads(_holder_path(settings, name).read_text())
        return f"{held['holder']}, pid {held['pid']}, since {held['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
