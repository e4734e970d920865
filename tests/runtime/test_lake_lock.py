"""The lake's write lock: one process at a time, re-entrant within the process that holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from lakehouse.exclusive_lock import LAKE_WRITE, LakeBusy, describe_holder, lake_writer
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
