"""The lake's write lock: one process at a time, re-entrant within the process that holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lakehouse.exclusive_lock import (
    FERRETDB,
    LAKE_WRITE,
    THRIFT,
    LakeBusy,
    LockHeld,
    describe_holder,
    exclusive,
    lake_writer,
    running_jobs,
)
from lakehouse.settings import Settings

TRY_TO_WRITE = """
import sys
from lakehouse.exclusive_lock import LakeBusy, lake_writer
from lakehouse.settings import Settings
try:
    with lake_writer(Settings(data_dir=sys.argv[1]), "bronze export batch other"):
        print("locked")
except LakeBusy as exc:
    print(exc)
"""


def another_process_tries(settings: Settings) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_TO_WRITE, str(settings.data_dir)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.strip()


def test_the_holder_calls_other_writers_and_keeps_the_lake_until_it_is_done(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    with lake_writer(settings, "pipeline run-1"):
        with lake_writer(settings, "dbt build into gold_audit"):  # nested: no self-refusal
            assert describe_holder(settings, LAKE_WRITE).startswith(
                f"pipeline run-1, pid {os.getpid()}, since "
            )
        # The inner writer is done; the lake is still the pipeline's.
        refused = another_process_tries(settings)
        assert refused.startswith("bronze export batch other was refused: ")
        assert f"(pipeline run-1, pid {os.getpid()}, since " in refused
    assert another_process_tries(settings) == "locked"


def test_another_thread_of_the_holder_is_refused_not_nested(tmp_path: Path) -> None:
    """Re-entrancy is per thread: a second thread nested in would lose the lock when the first
    holder's block ends, while it is still writing."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    outcome: list[str] = []

    def other_thread_writes() -> None:
        try:
            with lake_writer(settings, "dbt build in another thread"):
                outcome.append("locked")
        except LakeBusy as exc:
            outcome.append(str(exc))

    with lake_writer(settings, "pipeline run-1"):
        thread = threading.Thread(target=other_thread_writes)
        thread.start()
        thread.join(timeout=30)
    (message,) = outcome
    assert message.startswith("dbt build in another thread was refused: ")
    assert f"(pipeline run-1, pid {os.getpid()}, since " in message
    assert another_process_tries(settings) == "locked"  # released once, cleanly


HOLD_CRAWL_LOCK = """
import sys, time
from lakehouse.exclusive_lock import exclusive
from lakehouse.settings import Settings
with exclusive(Settings(data_dir=sys.argv[1]), "crawl", "crawl crawl-other"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_running_jobs_lists_each_holding_process_once_and_skips_dead_or_broken_holders(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert running_jobs(settings) == []  # no run folder yet
    other = subprocess.Popen([sys.executable, "-c", HOLD_CRAWL_LOCK, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        run = settings.run_dir
        # Left by a job killed with kill -9: a holder file, no lock. And a file that is no holder.
        (run / "export.holder.json").write_text(
            '{"holder": "bronze export batch 7", "pid": 999999, "since": "2026-01-01T00:00:00"}')
        (run / "broken.holder.json").write_text("{not json")
        with exclusive(settings, "pipeline", "run run-1"), lake_writer(settings, "pipeline run-1"):
            jobs = running_jobs(settings)
        ours = [job for job in jobs if f"(pid {os.getpid()}, " in job]
        theirs = [job for job in jobs if f"(pid {other.pid}, " in job]
        assert len(jobs) == 2 and len(ours) == 1 and len(theirs) == 1
        # One line per process, every lock it holds, from its earliest `since`.
        assert ours[0].startswith("pipeline run-1, run run-1 (pid ")
        assert theirs[0].startswith("crawl crawl-other (pid ")
        assert "bronze export batch 7" not in " ".join(jobs)
    finally:
        other.kill()
        other.wait(timeout=10)
    assert running_jobs(settings) == []  # the kernel released the dead holder's lock


HOLD_CRAWL_LOCK_USING_MONGODB = """
import sys, time
from lakehouse.exclusive_lock import FERRETDB, exclusive
from lakehouse.settings import Settings
with exclusive(Settings(data_dir=sys.argv[1]), "crawl", "crawl crawl-other",
               uses=frozenset({FERRETDB})):
    print("held", flush=True)
    time.sleep(600)
"""


def test_running_jobs_of_a_service_leave_out_the_jobs_that_do_not_use_it(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    crawl = subprocess.Popen([sys.executable, "-c", HOLD_CRAWL_LOCK_USING_MONGODB, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert crawl.stdout is not None and crawl.stdout.readline().strip() == "held"
        # This process: a dbt build, which uses the Thrift Server only.
        with lake_writer(settings, "dbt build into gold", uses=frozenset({THRIFT})):
            every = running_jobs(settings)
            for_mongodb = running_jobs(settings, {FERRETDB})
            for_thrift = running_jobs(settings, {THRIFT})
            for_both = running_jobs(settings, {FERRETDB, THRIFT})
        assert len(every) == 2 and for_both == every
        assert [job.split(" (pid ")[0] for job in for_mongodb] == ["crawl crawl-other"]
        assert f"(pid {crawl.pid}, " in for_mongodb[0]
        assert [job.split(" (pid ")[0] for job in for_thrift] == ["dbt build into gold"]

        # A job that says nothing of what it uses counts as using every service, and a process
        # with such a job is listed with all its jobs.
        with exclusive(settings, "pipeline", "run run-1"), lake_writer(
                settings, "pipeline run-1", uses=frozenset({THRIFT})):
            jobs = running_jobs(settings, {FERRETDB})
        ours = [job for job in jobs if f"(pid {os.getpid()}, " in job]
        assert len(ours) == 1 and ours[0].startswith("pipeline run-1, run run-1 (pid ")

        # A job that uses no service (vacuum) is a running job, but not one of a service's.
        with lake_writer(settings, "vacuum of the lake", uses=frozenset()):
            assert any(job.startswith("vacuum of the lake") for job in running_jobs(settings))
            assert not any(job.startswith("vacuum")
                           for job in running_jobs(settings, {FERRETDB, THRIFT}))
    finally:
        crawl.kill()
        crawl.wait(timeout=10)


def test_a_nested_lake_writer_may_not_use_a_service_the_outer_job_did_not_declare(
    tmp_path: Path,
) -> None:
    """Only the outermost holder's services are recorded: a nested job needing another one
    would have it stopped under it by `services down`."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    with lake_writer(settings, "write-audit-publish", uses=frozenset({THRIFT})):
        with lake_writer(settings, "dbt build into gold_audit", uses=frozenset({THRIFT})):
            pass
        for inner in (frozenset({FERRETDB}), None):
            with pytest.raises(ValueError, match=(
                r"bronze export batch 1 uses .*, but the job holding the lake around it declared"
                r" only \['thrift'\]")), lake_writer(settings, "bronze export batch 1", uses=inner):
                pass
        # The refusals left the outer hold as it was.
        assert [job.split(" (pid ")[0] for job in running_jobs(settings, {THRIFT})] == [
            "write-audit-publish"]
    # An outer job that uses every service may nest any other.
    with lake_writer(settings, "pipeline run-1"), lake_writer(
            settings, "bronze export batch 2", uses=frozenset({FERRETDB})):
        assert len(running_jobs(settings, {FERRETDB})) == 1
    assert running_jobs(settings) == []


def test_a_job_starting_while_running_jobs_looks_is_not_refused(tmp_path: Path) -> None:
    """Looking takes each free lock for an instant: a job starting in that instant waits for
    it instead of being refused (and told of a holder that does not exist)."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    with exclusive(settings, "crawl", "crawl crawl-1"):
        pass  # leaves the lock file and, for the looker, a stale holder file to test
    (settings.run_dir / "crawl.holder.json").write_text(
        '{"holder": "crawl crawl-0", "pid": 999999, "since": "2026-01-01T00:00:00"}')
    looking = threading.Event()
    looks = 0

    def look() -> None:
        nonlocal looks
        while not looking.is_set():
            running_jobs(settings)
            looks += 1

    looker = threading.Thread(target=look)
    looker.start()
    refused = []
    try:
        for attempt in range(300):
            try:
                with exclusive(settings, "crawl", f"crawl crawl-{attempt}"):
                    pass
            except LockHeld as exc:
                refused.append(str(exc))
    finally:
        looking.set()
        looker.join(timeout=30)
    assert looks > 100, "the looker hardly ran: the test proves nothing"
    assert refused == []
