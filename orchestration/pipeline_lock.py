"""One pipeline run at a time: an OS file lock, released by the kernel when the holder dies.

A second run is refused at once with who holds the lock; a run killed with `kill -9` leaves a
lock file but no lock, so the next run simply proceeds. (The lock guards one machine: with a
shared LAKE_ROOT on HDFS, run the pipeline from one orchestrator only.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lakehouse.settings import Settings


class PipelineLocked(RuntimeError):
    """Another pipeline run holds the lock."""


def lock_path(settings: Settings) -> Path:
    return settings.run_dir / "pipeline.lock"


def _holder_path(settings: Settings) -> Path:
    return settings.run_dir / "pipeline.holder.json"


@contextmanager
def pipeline_lock(settings: Settings, run_id: str) -> Iterator[None]:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(settings), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise PipelineLocked(
            "Another pipeline run is in progress "
            f"({_describe_holder(settings)}); it writes the same tables, so this run was "
            "refused. Wait for it to finish (or stop it), then run again."
        ) from exc
    try:
        _holder_path(settings).write_text(
            json.dumps(
                {"pid": os.getpid(), "run_id": run_id, "since": dt.datetime.now(dt.UTC).isoformat()}
            )
        )
        yield
    finally:
        _holder_path(settings).unlink(missing_ok=True)
        lock.release()


def _describe_holder(settings: Settings) -> str:
    try:
        holder = json.loads(_holder_path(settings).read_text())
        return f"run {holder['run_id']}, pid {holder['pid']}, since {holder['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
