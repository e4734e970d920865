"""Two pipeline runs cannot write the same tables at once; kill -9 never leaves a stuck lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.exclusive_lock import describe_holder
from lakehouse.settings import Settings
from orchestration.pipeline_lock import LOCK_NAME, PipelineLocked, lock_path, pipeline_lock

HOLDER = """
import sys, time
from lakehouse.settings import Settings
from orchestration.pipeline_lock import pipeline_lock
with pipeline_lock(Settings(data_dir=sys.argv[1]), "run-holder"):
    print("locked", flush=True)
    time.sleep(600)
"""


def _hold_lock(data_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(PipelineLocked) as refused, pipeline_lock(settings, "run-second"):
            pytest.fail("the second run must not get the lock")
        message = str(refused.value)
        assert "Another pipeline run is in progress" in message
        assert "run-holder" in message
        assert f"pid {holder.pid}" in message
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_releases_the_lock(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    holder = _hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_path(settings).exists()  # the file stays; the OS lock is gone
    # Not refused (it does not wait: a held lock raises at once), and the new run is the holder.
    with pipeline_lock(settings, "run-after-crash"):
        held = describe_holder(settings, LOCK_NAME)
    assert held.startswith(f"run run-after-crash, pid {os.getpid()}, since ")


def test_the_lock_is_released_when_a_run_fails(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(RuntimeError, match="boom"), pipeline_lock(settings, "run-1"):
        raise RuntimeError("boom")
    with pipeline_lock(settings, "run-2"):
        pass
