"""A pid file names its process by pid and start time. A wall-clock step between the start and
a later check (an NTP correction, a virtual machine paused and resumed) moves psutil's
create_time of every process on Linux, where it adds the boot time read now; the time since
boot does not move. The record must still name the running server, and a different process at
the same pid must still not pass for it.

The clock step is played on the record's side: its create_time and boot_time both moved by the
step, exactly what they look like to a check made after a real step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lakehouse.supervisor import ManagedProcess

STEP_S = 3600.0
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux, where this project runs its tests


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[ManagedProcess, psutil.Process]]:
    process = ManagedProcess("server", tmp_path / "server.pid", tmp_path / "server.log")
    proc = process.start(["sleep", "300"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    yield process, proc
    if proc.is_running():  # by the process, not the pid file: some tests make it stale
        proc.kill()
        proc.wait(5)


def _rewrite(process: ManagedProcess, **changes: float | str | None) -> None:
    record = json.loads(process.pid_file.read_text())
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    process.pid_file.write_text(json.dumps(record))


def test_the_record_holds_the_boot_time_and_id(recorded) -> None:
    process, proc = recorded
    record = json.loads(process.pid_file.read_text())
    assert record["boot_time"] == psutil.boot_time()
    assert record["boot_id"] == BOOT_ID.read_text().strip()
    assert process.running_process().pid == proc.pid


def test_a_clock_step_since_the_start_keeps_the_server_known(recorded) -> None:
    process, proc = recorded
    record = json.loads(process.pid_file.read_text())
    _rewrite(process, create_time=record["create_time"] - STEP_S,
             boot_time=record["boot_time"] - STEP_S)
    running = process.running_process()
    assert running is not None and running.pid == proc.pid
    assert process.pid_file.exists()
    assert process.stop(timeout_s=5)  # `services down` still reaches it
    assert not proc.is_running()


def test_another_process_at_the_recorded_pid_is_not_the_server(recorded) -> None:
    process, _proc = recorded
    record = json.loads(process.pid_file.read_text())
    # Started an hour apart by the clock and by the time since boot: not the recorded process.
    _rewrite(process, create_time=record["create_time"] - STEP_S)
    assert process.running_process() is None
    assert not process.pid_file.exists()


def test_a_record_from_an_earlier_boot_never_names_a_process(recorded) -> None:
    process, proc = recorded
    record = json.loads(process.pid_file.read_text())
    # The same time since boot, an earlier boot: a boot script starting the same things again.
    _rewrite(process, create_time=record["create_time"] - STEP_S,
             boot_time=record["boot_time"] - STEP_S,
             boot_id="00000000-0000-4000-8000-000000000000")
    assert process.running_process() is None
    assert not process.stop(timeout_s=5)  # `services down` leaves the process alone
    assert proc.is_running()


def test_a_pid_file_from_before_boot_time_was_recorded_goes_by_create_time(recorded) -> None:
    process, proc = recorded
    _rewrite(process, boot_time=None)
    assert process.running_process().pid == proc.pid
    record = json.loads(process.pid_file.read_text())
    _rewrite(process, create_time=record["create_time"] - STEP_S)
    assert process.running_process() is None
