"""CLI commands a test starts as a terminal runs a foreground job: in a process group of their
own, so a test can send the group a Ctrl-C, and no process outlives the test. Also the process
of a running service, for tests that kill or suspend it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def service_pid(settings, name: str) -> int:
    """The pid of the running service `name` ("thrift", "ferretdb") of these settings."""
    from lakehouse import services

    (service,) = services.select(settings, [name])
    running = service.process.running_process()
    assert running is not None, f"{name} is not running"
    return running.pid


def open_files(pid: int | str) -> set[Path]:
    """The files process `pid` ("self" for this one) has open now (fds closed meanwhile are
    skipped: a JVM opens and closes them all the time)."""
    files = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            files.add(fd.readlink())
        except FileNotFoundError:
            continue
    return files


@contextmanager
def resumed_at_exit(pid: int) -> Iterator[None]:
    """Whatever happens in the block, a process it suspends (SIGSTOP) runs again after it."""
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# What dbt's own log (DATA_DIR/logs/dbt/dbt.log) says once it runs models, past its parse phase.
DBT_RUNS_A_MODEL = b"Began running node model."


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


def ctrl_c_and_wait(proc: subprocess.Popen, reader: threading.Thread, timeout: float) -> None:
    """ctrl_c for a process whose output a read_in_background thread gathers."""
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=timeout)
    reader.join(timeout=10)


def read_in_background(proc: subprocess.Popen) -> tuple[list[str], threading.Thread]:
    """proc's stdout lines, gathered by a thread as they come (the pipe never fills while the
    test waits on something else); join the thread once proc has ended."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    return lines, reader


def log_offset(path: Path) -> tuple[int, int]:
    """Where a log file ends now: (its inode, its size); (0, 0) when there is none yet."""
    if not path.exists():
        return 0, 0
    st = path.stat()
    return st.st_ino, st.st_size


def written_since(path: Path, since: tuple[int, int]) -> bytes:
    """What the log at `path` got after `since` (a log_offset). A log that rotated meanwhile
    (dbt's does, at 10 MB) is read from its start."""
    if not path.exists():
        return b""
    inode, size = since
    return path.read_bytes()[size if path.stat().st_ino == inode else 0 :]


def wait_for_text(
    path: Path, text: bytes, since: tuple[int, int], proc: subprocess.Popen, timeout: float
) -> bool:
    """Whether `text` was written to the log at `path` after `since` while proc still ran."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if text in written_since(path, since):
            return True
        time.sleep(0.2)
    return False
