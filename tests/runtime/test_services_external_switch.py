"""A local server started by `services up` and then left behind by a switch to an external one
(`.env` set to Atlas, or THRIFT_HOST to a cluster, after `make run`): `down` must still stop it by
its pid file, `status` and `up` must show it.

A harmless `sleep` stands in for the server: it is started and recorded through the same
ManagedProcess as the real ones, so the pid file is the one `services up` writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lakehouse import services
from lakehouse.settings import Settings
from lakehouse.supervisor import free_port

CLI = str(Path(sys.executable).parent / "lakehouse")

# name -> (setting that makes it external, the external value). Nothing listens at either.
EXTERNAL = {
    "ferretdb": ("MONGODB_URI", {"mongodb_uri": "mongodb://127.0.0.1:{port}/"}),
    "thrift": ("THRIFT_HOST", {"thrift_host": "spark-thrift.invalid"}),
}


def _settings(data_dir: Path, **overrides: str) -> Settings:
    local = {"mongodb_uri": "", "thrift_host": "127.0.0.1", "ferretdb_port": free_port()}
    return Settings(_env_file=None, data_dir=data_dir, **{**local, **overrides})


def _external_settings(data_dir: Path, name: str) -> Settings:
    _setting, overrides = EXTERNAL[name]
    return _settings(
        data_dir, **{k: v.format(port=free_port()) for k, v in overrides.items()}
    )


def _service(settings: Settings, name: str, answers: bool = False) -> services.Service:
    # The probe is replaced: these tests are about the pid file, not about a network round trip.
    (service,) = services.select(settings, [name])
    return dataclasses.replace(service, probe=lambda: answers)


@pytest.fixture
def started(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, psutil.Process]]:
    """(service name, a `sleep` recorded in that service's pid file by a local-settings start)."""
    name = request.param
    local = _service(_settings(tmp_path / "data"), name)
    assert not local.external
    proc = local.process.start(
        ["sleep", "300"], env=dict(os.environ), cwd=tmp_path, address=local.address
    )
    try:
        yield name, proc
    finally:
        if proc.is_running():
            proc.kill()
            proc.wait(5)


def _gone(proc: psutil.Process) -> bool:
    try:
        proc.wait(timeout=5)
    except psutil.TimeoutExpired:
        return False
    return True


@pytest.mark.parametrize("started", sorted(EXTERNAL), indirect=True)
def test_leftover_local_server_is_shown_warned_and_stopped(
    started: tuple[str, psutil.Process], tmp_path: Path
) -> None:
    name, proc = started
    setting, _ = EXTERNAL[name]
    external = _service(_external_settings(tmp_path / "data", name), name, answers=True)
    assert external.external and external.external_setting == setting
    note = f"local process still running (pid {proc.pid}), not used: {setting} points elsewhere"

    st = services.state(external)
    assert st.pid == proc.pid
    assert note in st.detail
    assert f"external ({setting})" in st.detail

    report = services.start(external)
    assert "using the configured external server" in report
    assert note in report
    assert f"lakehouse services down --only {name}" in report
    assert proc.is_running()  # `up` warns; it does not stop anything

    stopped = services.stop(external)
    assert "stopped the local server left running" in stopped
    assert _gone(proc)
    assert not external.process.pid_file.exists()

    assert services.stop(external) == f"{external.title}: external ({setting}), not stopped"
    after = services.state(external)
    assert after.pid is None
    assert "still running" not in after.detail


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_external_down_leaves_a_reused_pid_alone(tmp_path: Path, name: str) -> None:
    """A pid file whose process start time does not match (the pid reused after a reboot) names
    no process of ours: `down` must not signal it, external settings or not."""
    external = _service(_external_settings(tmp_path / "data", name), name)
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        external.process.pid_file.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": stranger.pid, "create_time": 1.0, "command": ["ferretdb"], "address": ""}
        external.process.pid_file.write_text(json.dumps(record))
        assert services.stop(external).endswith("not stopped")
        assert stranger.poll() is None
        assert services.state(external).pid is None
    finally:
        stranger.kill()
        stranger.wait()


# Records a `sleep` in ferretdb's pid file and exits, as `services up` does: the sleep's parent
# is then gone, as a real server's is, and something other than this test reaps it once stopped.
START_AND_EXIT = """
import os, sys
from pathlib import Path
from lakehouse import services
from lakehouse.settings import Settings
settings = Settings(_env_file=None, data_dir=sys.argv[1], mongodb_uri="")
(service,) = services.select(settings, ["ferretdb"])
service.process.start(["sleep", "300"], env=dict(os.environ), cwd=Path(sys.argv[1]),
                      address=service.address)
"""


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[psutil.Process]:
    data_dir = tmp_path / "data"
    subprocess.run([sys.executable, "-c", START_AND_EXIT, str(data_dir)], check=True, timeout=60)
    record = json.loads((data_dir / "run" / "ferretdb.pid").read_text())
    proc = psutil.Process(record["pid"])
    try:
        yield proc
    finally:
        if proc.is_running():  # psutil checks it is still the same process before killing
            proc.kill()


def test_cli_down_stops_the_leftover_after_a_switch_to_atlas(
    detached: psutil.Process, tmp_path: Path
) -> None:
    """`make down` after `make run` and a switch of .env to an external MongoDB."""
    proc = detached
    assert proc.name() == "sleep"
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/",
    }
    down = subprocess.run(
        [CLI, "services", "down", "--only", "ferretdb"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert "stopped the local server left running" in " ".join(down.stdout.split())
    assert _gone(proc)
