"""The lake's write lock: one process at a time, re-entrant within the process that holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lakehouse.exclusive_lock import LAKE_WRITE, describe_holder, lake_writer
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
