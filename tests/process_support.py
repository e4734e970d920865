"""CLI commands a test starts as a terminal runs a foreground job: in a process group of their
own, so a test can send the group a Ctrl-C, and no process outlives the test."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def killed_after(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Yield `proc`; whatever the test did, SIGKILL its group if it is still running after."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ctrl_c(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """SIGINT to the whole group, as a terminal's Ctrl-C; then its (stdout, stderr)."""
    os.killpg(proc.pid, signal.SIGINT)
    return proc.communicate(timeout=timeout)
