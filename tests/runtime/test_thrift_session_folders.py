"""Hive's per-session folders live in DATA_DIR, not /tmp. A start clears what earlier servers
left there (Hive never removes its start-up session's folder, even on a clean stop; a killed
server leaves its operation logs and Spark's scratch space), and never a running server's: the
server holds a lock on DATA_DIR's Spark folder for as long as it lives."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from process_support import open_files, service_pid

from lakehouse import services
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError
from spark_thrift import launcher
from spark_thrift.client import connect

SYSTEM_TMP = Path(tempfile.gettempdir())


def _resources_folders(folder: Path) -> set[Path]:
    return set(folder.glob("*_resources"))


def test_a_session_keeps_its_folder_in_data_dir_not_tmp(thrift: Settings) -> None:
    hive = launcher.hive_dir(thrift)
    in_tmp, in_data_dir = _resources_folders(SYSTEM_TMP), _resources_folders(hive)
    with connect(thrift) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == [(1,)]
        # While the session is open its folder exists: it must be in DATA_DIR.
        opened = _resources_folders(hive) - in_data_dir
        assert len(opened) == 1, f"no new session folder in {hive}"
        assert _resources_folders(SYSTEM_TMP) - in_tmp == set()
        assert (hive / "operation_logs").is_dir()
    # A closed session removes its own folder.
    assert _resources_folders(hive) - in_data_dir == set()


def test_the_running_server_holds_its_data_dir_so_no_start_clears_it(thrift: Settings) -> None:
    lock = launcher.server_lock_path(thrift)
    # The server process holds the lock, the process that started it does not.
    assert lock in open_files(service_pid(thrift, "thrift"))
    assert lock not in open_files("self")
    scratch = set(launcher.local_dir(thrift).iterdir())
    assert any(path.name.startswith("blockmgr-") for path in scratch)
    (service,) = services.select(thrift, ["thrift"])
    with pytest.raises(ServiceError) as refused:
        service.prepare()  # what a second start on this DATA_DIR runs first
    assert str(refused.value).startswith(
        f"A Spark Thrift Server already runs on {launcher.spark_dir(thrift)} (DATA_DIR)"
    )
    assert all(path.exists() for path in scratch), "a live server's scratch space was cleared"


def test_a_start_clears_what_earlier_servers_left_while_holding_the_data_dir(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    hive, scratch = launcher.hive_dir(settings), launcher.local_dir(settings)
    left = [
        hive / "3f0c-start-up-session_resources" / "udf.jar",
        hive / "operation_logs" / "9d1e-session" / "7a2b-operation",
        scratch / "blockmgr-5ab4" / "36" / "shuffle_0_2_0.data",
        scratch / "spark-8233" / "userFiles-ca85" / "delta-storage-4.3.1.jar",
    ]
    kept = launcher.spark_dir(settings) / "metastore_db" / "service.properties"
    for path in [*left, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")

    (thrift,) = services.select(settings, ["thrift"])
    launch = thrift.prepare()
    try:
        assert (list(hive.iterdir()), list(scratch.iterdir())) == ([], [])
        assert kept.read_bytes() == b"x"
        assert (
            f"spark.hadoop.hive.downloaded.resources.dir={hive}/${{hive.session.id}}_resources"
        ) in launch.command
        # Until the server it is for has started and the starter closed its copy, the claim
        # refuses a second start.
        with pytest.raises(ServiceError):
            thrift.prepare()
    finally:
        launch.close_fds()
    thrift.prepare().close_fds()  # released: the next start claims it


@pytest.mark.parametrize("data_dir", ["plain", "symlinked", "without_locks"])
def test_a_server_started_without_the_lock_is_found_by_its_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: str
) -> None:
    """A server an older version of this project started holds no lock, nor does any server on
    a file system without locks (some network and FUSE mounts): a start finds it by its working
    folder and command, and clears nothing. The kernel reports a working folder without
    symlinks, and DATA_DIR may have some."""
    real = tmp_path / "real"
    real.mkdir()
    settings = Settings(_env_file=None, data_dir=real)
    if data_dir == "symlinked":
        (tmp_path / "link").symlink_to(real)
        settings = Settings(_env_file=None, data_dir=tmp_path / "link")
    if data_dir == "without_locks":  # what flock says there

        def no_locks(fd: int, operation: int) -> None:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

        monkeypatch.setattr(launcher.fcntl, "flock", no_locks)
    folder = launcher.spark_dir(settings)
    left = launcher.local_dir(settings) / "blockmgr-in-use"
    left.mkdir(parents=True)
    # A process with the server's main class in its command line, working in that folder.
    looks_like_a_server = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", launcher.SERVER_CLASS], cwd=folder
    )
    try:
        with pytest.raises(ServiceError) as refused:
            launcher.claim_data_dir(settings)
        assert f"(pid {looks_like_a_server.pid}) already runs on {folder}" in str(refused.value)
        assert left.is_dir()
    finally:
        looks_like_a_server.kill()
        looks_like_a_server.wait()
    claim = launcher.claim_data_dir(settings)
    assert (claim is None) == (data_dir == "without_locks")
    if claim is not None:
        os.close(claim)


def test_a_lock_file_that_cannot_be_opened_fails_the_start_with_the_fix(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    lock = launcher.server_lock_path(settings)
    lock.mkdir(parents=True)  # not openable for writing, even by root
    with pytest.raises(ServiceError) as refused:
        launcher.claim_data_dir(settings)
    assert str(refused.value) == (
        f"Cannot open the Thrift Server's lock file {lock} (Is a directory): its DATA_DIR must be"
        " writable by this user. Fix the folder's owner or permissions, or set another DATA_DIR."
    )
