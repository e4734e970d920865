"""One holder at a time for a named job on this machine: an OS file lock in DATA_DIR/run.

The kernel releases the lock when the holder dies, so a job killed with `kill -9` leaves a lock
file but no lock and the next run simply proceeds. A second job is refused at once (within half
a second, `_CHECK_GRACE_S`), told who holds the lock. The lock guards one machine: with a shared
LAKE_ROOT on HDFS, run the writers from one orchestrator only.

The lake's writers (bronze export, features import, dbt build, publish) share one lock,
`lake_writer`: two exports or imports would append the same rows twice, a dbt build beside an
export would read half a batch (tracks whose albums land a moment later fail its relationship
tests), and two builds, or a build and a publish, would commit to the same tables at once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from lakehouse.settings import Settings

LAKE_WRITE = "lake-write"

# The local services a job may declare it uses (lakehouse/services.py names them so). A job that
# does not pass `uses` (None) is taken to use every service: `services down` refuses to stop any
# under it. `uses=frozenset()` says the job uses none.
FERRETDB, THRIFT = "ferretdb", "thrift"
ALL_SERVICES = frozenset({FERRETDB, THRIFT})

# A job waits this long for a lock before it is refused. `is_held` (`services down` asking which
# jobs run) takes a free lock for an instant to test it; a job starting in that instant must not
# be refused, and told of a holder that does not exist.
_CHECK_GRACE_S = 0.5


class LockHeld(RuntimeError):
    """Another process holds the lock; the message describes the holder."""


class LakeBusy(LockHeld):
    """Another writer holds the lake's write lock; the message names it and what to do."""


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
    uses: frozenset[str] | None = None,
) -> Iterator[None]:
    """Hold lock `name` for the block; `holder` (a run or batch id) is shown to those refused.

    refuse: builds the exception raised when the lock is held, from the holder's description.
    uses: the local services the job needs while it holds the lock (FERRETDB, THRIFT), so that
    `services down` can stop the others; None (the default) means all of them.
    """
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(settings, name), timeout=_CHECK_GRACE_S)
    try:
        lock.acquire()
    except Timeout as exc:
        raise refuse(describe_holder(settings, name)) from exc
    try:
        since = dt.datetime.now(dt.UTC).isoformat()
        held = {"pid": os.getpid(), "holder": holder, "since": since}
        if uses is not None:
            held["uses"] = sorted(uses)
        _holder_path(settings, name).write_text(json.dumps(held))
        yield
    finally:
        _holder_path(settings, name).unlink(missing_ok=True)
        lock.release()


def describe_holder(settings: Settings, name: str) -> str:
    held = _read_holder(_holder_path(settings, name))
    if held is None:
        return "holder unknown"
    return f"{held['holder']}, pid {held['pid']}, since {held['since']}"


def _read_holder(path: Path) -> dict | None:
    try:
        held = json.loads(path.read_text())
        return held if {"holder", "pid", "since"} <= held.keys() else None
    except (OSError, ValueError, AttributeError):
        return None


def is_held(settings: Settings, name: str) -> bool:
    """Whether a live process holds lock `name` now (a holder file left by a killed job is not
    enough: the kernel released its lock). A lock that cannot be opened counts as held."""
    lock = FileLock(lock_path(settings, name), timeout=0)
    try:
        lock.acquire()
    except (Timeout, OSError):
        return True
    lock.release()
    return False


def running_jobs(settings: Settings, services: set[str] | None = None) -> list[str]:
    """The jobs holding a lock on this machine now, one line per process with each lock's
    holder (a pipeline run holds the pipeline lock and, by stage, the crawl or lake-write one).

    services: only the processes with a job that uses one of these services (a job that did not
    say which it uses counts as using all); None: every process.
    """
    return [job.line for job in running_processes(settings)
            if services is None or not job.uses.isdisjoint(services)]


@dataclass(frozen=True)
class RunningProcess:
    """A process holding one or more job locks, as `running_jobs` lists it."""

    line: str  # "<holder>, <holder> (pid N, since T)"
    uses: frozenset[str]  # the services its jobs use together; a job that did not say: all


def running_processes(settings: Settings) -> list[RunningProcess]:
    """One look at the job locks (each free one is taken for an instant): the processes holding
    them, in lock-name order."""
    by_pid: dict[int, list[dict]] = {}
    for path in sorted(settings.run_dir.glob("*.holder.json")):
        held = _read_holder(path)
        if held is not None and is_held(settings, path.name.removesuffix(".holder.json")):
            by_pid.setdefault(held["pid"], []).append(held)
    return [
        RunningProcess(
            f"{', '.join(h['holder'] for h in held)} (pid {pid},"
            f" since {min(h['since'] for h in held)})",
            frozenset().union(*(_uses(h) for h in held)),
        )
        for pid, held in by_pid.items()
    ]


def _uses(held: dict) -> frozenset[str]:
    uses = held.get("uses")
    return frozenset(uses) if isinstance(uses, list) else ALL_SERVICES


# Lake locks held, with their depth and the outermost job's `uses`, per (lock file, thread):
# lake_writer is re-entrant within one thread only. Another thread of the same process must not
# slip in as "nested": the first holder's exit would release the lock under it. It gets its own
# file lock, so it is refused.
_lake_holds: dict[tuple[Path, int], tuple[int, frozenset[str] | None]] = {}
_lake_holds_guard = threading.Lock()


@contextmanager
def lake_writer(
    settings: Settings,
    job: str,
    refuse: Callable[[str], Exception] = LakeBusy,
    uses: frozenset[str] | None = None,
) -> Iterator[None]:
    """Hold the lake's write lock while `job` (e.g. "dbt build into gold_audit") writes.

    Re-entrant within one thread, so a job that keeps the lake across several steps (the
    pipeline from export to publish, write-audit-publish) calls the single writers inside it
    (Prefect runs a flow's directly called tasks in the flow's thread); the outermost job's
    `uses` is the one recorded, so a nested job may not use a service the outer one did not
    declare (ValueError: a programming error, found by the tests of that path).
    refuse: the exception type raised, with a message naming the holder, when another process
    holds the lock.
    uses: the local services the job needs (see `exclusive`); None: all of them.
    """
    key = (lock_path(settings, LAKE_WRITE), threading.get_ident())
    with _lake_holds_guard:
        nested = key in _lake_holds
        if nested:
            depth, outer_uses = _lake_holds[key]
            if outer_uses is not None and (uses is None or not uses <= outer_uses):
                raise ValueError(
                    f"{job} uses {sorted(uses) if uses is not None else 'every service'}, but"
                    f" the job holding the lake around it declared only {sorted(outer_uses)}:"
                    " `services down` would stop a service under it. Add it to the outer job's"
                    " `uses`."
                )
            _lake_holds[key] = (depth + 1, outer_uses)
    if nested:
        try:
            yield
        finally:
            with _lake_holds_guard:
                depth, outer_uses = _lake_holds[key]
                _lake_holds[key] = (depth - 1, outer_uses)
        return
    with exclusive(settings, LAKE_WRITE, job, lambda holder: refuse(lake_busy(job, holder)),
                   uses):
        with _lake_holds_guard:
            _lake_holds[key] = (1, uses)
        try:
            yield
        finally:
            with _lake_holds_guard:
                del _lake_holds[key]


def lake_busy(job: str, holder: str) -> str:
    return (
        f"{job} was refused: another job is writing the lake on this machine ({holder}). The"
        " lake's writers (bronze export, features import, dbt build, publish) take turns: two"
        " exports would append the same rows twice, and a dbt build beside an export would read"
        " half a batch. Wait for it to finish, then run again."
    )
