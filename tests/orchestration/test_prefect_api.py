"""The temporary Prefect API server of a CLI run: its own session, stopped after, orphans reaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from lakehouse.settings import Settings
from orchestration.prefect_api import _process, configured_api_url, prefect_api, stop_orphans


def test_a_run_without_prefect_api_url_gets_its_own_server_out_of_the_terminals_reach(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert configured_api_url() is None  # the suite's environment has no Prefect server
    with prefect_api(settings) as url:
        assert configured_api_url() == url  # what the flow's Prefect client will use
        assert httpx.get(f"{url}/health", timeout=5).json() is True
        [pid_file] = settings.run_dir.glob("prefect-api-*.pid")
        assert pid_file.name == f"prefect-api-{os.getpid()}.pid"
        server = _process(settings, os.getpid()).running_process()
        assert server is not None
        # A new session, so not in the process group a terminal's Ctrl-C is sent to.
        assert os.getsid(server.pid) == server.pid != os.getsid(0)
        assert os.getpgid(server.pid) != os.getpgid(0)
    assert not server.is_running()
    assert not pid_file.exists()
    assert configured_api_url() is None


def test_the_server_of_a_killed_run_is_stopped_by_the_next_run(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_owner = int(gone.stdout)
    assert not psutil.pid_exists(dead_owner)
    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    orphan = _process(settings, dead_owner).start(sleep, env=os.environ, cwd=tmp_path)
    # A live run's server is not an orphan, whoever started it.
    live = _process(settings, os.getpid()).start(sleep, env=os.environ, cwd=tmp_path)
    try:
        assert stop_orphans(settings) == [dead_owner]
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
        assert not (settings.run_dir / f"prefect-api-{dead_owner}.pid").exists()
        assert live.is_running()
        assert stop_orphans(settings) == []
    finally:
        _process(settings, os.getpid()).stop(timeout_s=5)
        _process(settings, dead_owner).stop(timeout_s=5)
    assert not live.is_running() or live.status() == psutil.STATUS_ZOMBIE


def test_a_temporary_server_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    from lake_support import environment

    from lakehouse.supervisor import ServiceError

    settings = Settings(data_dir=tmp_path)
    unusable = f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/prefect.db"
    with (
        environment(PREFECT_SERVER_DATABASE_CONNECTION_URL=unusable),
        pytest.raises(ServiceError) as failed,
        prefect_api(settings),
    ):
        pytest.fail("the run must not start without its Prefect API")
    message = str(failed.value)
    assert "Prefect's temporary API server exited during start-up." in message
    assert f"Last lines of {settings.log_dir / 'prefect-api.log'}:" in message
    assert "PREFECT_API_URL (docs/orchestration.md)" in message
    assert not list(settings.run_dir.glob("prefect-api-*.pid"))
