"""`lakehouse services` and `lakehouse doctor` as a user runs them: lifecycle and error paths.

Each test runs the CLI in a subprocess with its own data folder and ports, so it does not touch
the session's services.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from process_support import ctrl_c, killed_after, open_files

from lakehouse.settings import Settings
from lakehouse.supervisor import free_port, port_is_free

CLI = str(Path(sys.executable).parent / "lakehouse")


def run_cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=timeout,
    )


@pytest.fixture
def private_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "FERRETDB_PORT": str(free_port()),
        "THRIFT_PORT": str(free_port()),
    }
    yield env
    run_cli("services", "down", "--force", env=env)  # never leave a process behind


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


# A pipeline run as flows.py holds its locks: the pipeline lock, then the lake's write lock.
HOLD_PIPELINE_LOCKS = """
import sys, time
from pathlib import Path
from lakehouse import exclusive_lock
from lakehouse.settings import get_settings
from orchestration.pipeline_lock import pipeline_lock

settings = get_settings()
with pipeline_lock(settings, "run-t"), exclusive_lock.lake_writer(settings, "pipeline run-t"):
    Path(sys.argv[1]).touch()  # the locks are held
    time.sleep(600)
"""

# A dbt build as dbt_runner holds the lake (the Thrift Server only), then a crawl as
# ingestion/crawl holds its lock (MongoDB only).
HOLD_BUILD_THEN_CRAWL_LOCKS = """
import sys, time
from pathlib import Path
from lakehouse import exclusive_lock
from lakehouse.settings import get_settings

settings = get_settings()
with exclusive_lock.lake_writer(settings, "dbt build into gold",
                                uses=frozenset({exclusive_lock.THRIFT})):
    Path(sys.argv[1]).touch()
    while not Path(sys.argv[1] + ".next").exists():
        time.sleep(0.05)
with exclusive_lock.exclusive(settings, "crawl", "crawl c-t",
                              uses=frozenset({exclusive_lock.FERRETDB})):
    Path(sys.argv[1] + ".crawling").touch()
    time.sleep(600)
"""


def _wait_for(path: Path, holder: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert holder.poll() is None, "the lock holder exited"
        assert time.monotonic() < deadline, f"the lock holder did not reach {path.name} in 60 s"
        time.sleep(0.05)


@contextmanager
def holding_locks(
    script: str, env: dict[str, str], ready: Path
) -> Iterator[subprocess.Popen]:
    """A process running `script` in env's DATA_DIR, once it has touched `ready`; killed after."""
    holder = subprocess.Popen([sys.executable, "-c", script, str(ready)],
                              env={**os.environ, **env})
    try:
        _wait_for(ready, holder)
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)


@pytest.fixture
def pipeline_holding_locks(
    private_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen]:
    """A process holding a pipeline run's locks in private_env's DATA_DIR; killed after."""
    with holding_locks(HOLD_PIPELINE_LOCKS, private_env, tmp_path / "held") as holder:
        yield holder


def test_services_down_is_refused_while_a_job_runs_unless_forced(
    private_env: dict[str, str], pipeline_holding_locks: subprocess.Popen
) -> None:
    holder = pipeline_holding_locks
    pid_file = Path(private_env["DATA_DIR"]) / "run" / "ferretdb.pid"
    assert run_cli("services", "up", "--only", "ferretdb", env=private_env).returncode == 0
    refused = run_cli("services", "down", env=private_env)
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert (
        "Not stopping MongoDB (FerretDB): a job is running on this machine and may be using"
        f" it (pipeline run-t, run run-t (pid {holder.pid}, since 20"
    ) in message
    assert "--force` stops it anyway" in message and "Traceback" not in message
    ferretdb_pid = json.loads(pid_file.read_text())["pid"]
    assert psutil.pid_exists(ferretdb_pid)
    assert not port_is_free("127.0.0.1", int(private_env["FERRETDB_PORT"]))

    # Nothing of ours runs for the Thrift Server: nothing to refuse.
    thrift = run_cli("services", "down", "--only", "thrift", env=private_env)
    assert thrift.returncode == 0 and "not running (nothing to stop)" in thrift.stdout

    # MONGODB_URI now points elsewhere: the local FerretDB left running serves no job.
    elsewhere = {**private_env, "MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/"}
    leftover = run_cli("services", "down", "--only", "ferretdb", env=elsewhere)
    assert leftover.returncode == 0, leftover.stderr
    assert "stopped the local server left running" in " ".join(leftover.stdout.split())
    assert port_is_free("127.0.0.1", int(private_env["FERRETDB_PORT"]))

    assert run_cli("services", "up", "--only", "ferretdb", env=private_env).returncode == 0
    forced = run_cli("services", "down", "--force", env=private_env)
    assert forced.returncode == 0 and "MongoDB (FerretDB): stopped" in forced.stdout
    assert port_is_free("127.0.0.1", int(private_env["FERRETDB_PORT"]))

    # A job killed with kill -9 leaves its holder files, but no lock: not a running job.
    assert run_cli("services", "up", "--only", "ferretdb", env=private_env).returncode == 0
    holder.kill()
    holder.wait(timeout=10)
    assert (Path(private_env["DATA_DIR"]) / "run" / "pipeline.holder.json").exists()
    after_kill = run_cli("services", "down", env=private_env)
    assert after_kill.returncode == 0, after_kill.stderr
    assert "MongoDB (FerretDB): stopped" in after_kill.stdout


def _assert_down_refused(env: dict[str, str], used: str, job: str, free: tuple[str, str]) -> None:
    """`services down` refuses `used` (title) for `job` ("<holder> (pid N"), and names the free
    service (title, name) with the command that stops it."""
    refused = run_cli("services", "down", env=env)
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert (
        f"Not stopping {used}: a job is running on this machine and may be using it ({job},"
        " since 20"
    ) in message
    assert (
        f"No running job uses the {free[0]}: `lakehouse services down --only {free[1]}` stops it"
        " now."
    ) in message


def _stop_only(env: dict[str, str], name: str, title: str) -> None:
    stopped = run_cli("services", "down", "--only", name, env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert f"{title}: stopped" in stopped.stdout
    assert port_is_free("127.0.0.1", int(env[f"{name.upper()}_PORT"]))


@pytest.mark.timeout(400)
def test_services_down_stops_what_no_running_job_uses(
    private_env: dict[str, str], tmp_path: Path
) -> None:
    """A dbt build uses the Thrift Server only: MongoDB may be stopped under it. A crawl uses
    MongoDB only: the Thrift Server (4 GB) may be stopped during a long crawl."""
    env = {**private_env, "SPARK_DRIVER_MEMORY": "1g"}
    ports = {name: int(env[f"{name.upper()}_PORT"]) for name in ("ferretdb", "thrift")}
    mongodb, thrift = "MongoDB (FerretDB)", "Spark Thrift Server (Delta)"
    up = run_cli("services", "up", env=env, timeout=300)
    assert up.returncode == 0, up.stderr
    building = tmp_path / "building"
    with holding_locks(HOLD_BUILD_THEN_CRAWL_LOCKS, env, building) as holder:
        _assert_down_refused(env, thrift, f"dbt build into gold (pid {holder.pid}",
                             (mongodb, "ferretdb"))
        assert not any(port_is_free("127.0.0.1", port) for port in ports.values())  # both kept
        _stop_only(env, "ferretdb", mongodb)
        assert run_cli("services", "up", "--only", "ferretdb", env=env).returncode == 0

        # The build is done; a crawl runs.
        Path(f"{building}.next").touch()
        _wait_for(Path(f"{building}.crawling"), holder)
        _assert_down_refused(env, mongodb, f"crawl c-t (pid {holder.pid}", (thrift, "thrift"))
        assert not any(port_is_free("127.0.0.1", port) for port in ports.values())
        _stop_only(env, "thrift", thrift)
        assert run_cli("services", "down", "--only", "ferretdb", env=env).returncode == 1
        assert not port_is_free("127.0.0.1", ports["ferretdb"])


def test_ferretdb_up_status_reuse_down(private_env: dict[str, str]) -> None:
    up = run_cli("services", "up", "--only", "ferretdb", env=private_env)
    assert up.returncode == 0, up.stderr
    assert "started" in up.stdout

    record = json.loads((Path(private_env["DATA_DIR"]) / "run" / "ferretdb.pid").read_text())
    pid = record["pid"]
    assert psutil.pid_exists(pid)
    assert (Path(private_env["DATA_DIR"]) / "logs" / "ferretdb.log").is_file()

    status = run_cli("services", "status", "--only", "ferretdb", env=private_env)
    assert status.returncode == 0
    assert "healthy" in status.stdout
    assert f"127.0.0.1:{private_env['FERRETDB_PORT']}" in status.stdout

    again = run_cli("services", "up", "--only", "ferretdb", env=private_env)
    assert again.returncode == 0
    assert f"already running (pid {pid})" in again.stdout

    # FERRETDB_PORT changed while it runs: refused at once, the running server left alone.
    port = private_env["FERRETDB_PORT"]
    moved = {**private_env, "FERRETDB_PORT": str(free_port())}
    refused = run_cli("services", "up", "--only", "ferretdb", env=moved, timeout=60)
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert f"is running (pid {pid}) on 127.0.0.1:{port}, but the settings now say" in message
    assert "lakehouse services down --only ferretdb" in message
    assert psutil.pid_exists(pid) and not port_is_free("127.0.0.1", int(port))
    doctor = run_cli("doctor", env=moved)
    assert doctor.returncode == 1
    assert "our ferretdb runs elsewhere" in " ".join(doctor.stdout.split())

    down = run_cli("services", "down", "--only", "ferretdb", env=private_env)
    assert down.returncode == 0
    assert "stopped" in down.stdout
    psutil.wait_procs([psutil.Process(pid)] if psutil.pid_exists(pid) else [], timeout=5)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert port_is_free("127.0.0.1", int(private_env["FERRETDB_PORT"]))

    after = run_cli("services", "status", "--only", "ferretdb", env=private_env)
    assert after.returncode == 1
    assert "down" in after.stdout


def test_busy_port_is_named_with_the_fix(private_env: dict[str, str], busy_port: int) -> None:
    result = run_cli(
        "services", "up", "--only", "ferretdb", env={**private_env, "FERRETDB_PORT": str(busy_port)}
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"port {busy_port} on 127.0.0.1 is already in use" in message
    assert "FERRETDB_PORT" in message


def test_missing_delta_jar_is_named_with_the_fix(
    private_env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "no-jars"
    empty.mkdir()
    result = run_cli(
        "services", "up", "--only", "thrift", env={**private_env, "SPARK_JARS_DIR": str(empty)}
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "delta-spark_4.1_2.13-4.3.1.jar" in message
    assert "make setup" in message
    assert port_is_free("127.0.0.1", int(private_env["THRIFT_PORT"]))


def test_missing_java_is_named_with_the_fix(private_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(
        "services", "up", "--only", "thrift", env={**private_env, "JAVA_HOME": str(tmp_path)}
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "has no bin/java" in message
    assert "JAVA_HOME" in message


def test_missing_ferretdb_binary_is_named_with_the_fix(
    private_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(
        "services",
        "up",
        "--only",
        "ferretdb",
        env={**private_env, "FERRETDB_BIN": str(tmp_path / "nope")},
    )
    assert result.returncode == 1
    assert "FerretDB binary is missing" in result.stderr
    assert "make setup" in result.stderr


def test_thrift_not_started_gives_the_fix(private_env: dict[str, str]) -> None:
    status = run_cli("services", "status", "--only", "thrift", env=private_env)
    assert status.returncode == 1
    assert "down" in status.stdout

    from lakehouse.settings import Settings
    from lakehouse.supervisor import ServiceError
    from spark_thrift.client import query

    settings = Settings(thrift_port=int(private_env["THRIFT_PORT"]))
    with pytest.raises(ServiceError) as raised:
        query("SELECT 1", settings=settings)
    assert f"127.0.0.1:{private_env['THRIFT_PORT']}" in str(raised.value)
    assert "lakehouse services up" in str(raised.value)


def test_doctor_passes_then_names_a_busy_port(private_env: dict[str, str], busy_port: int) -> None:
    ok = run_cli("doctor", env=private_env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All checks passed." in ok.stdout

    bad = run_cli("doctor", env={**private_env, "THRIFT_PORT": str(busy_port)})
    assert bad.returncode == 1
    assert f"port {busy_port}" in bad.stdout
    assert "THRIFT_PORT" in bad.stderr


def test_doctor_checks_an_external_mongodb_not_the_local_port(
    private_env: dict[str, str], busy_port: int, ferretdb: Settings
) -> None:
    """With MONGODB_URI set, FERRETDB_PORT is not ours to need: doctor asks the server."""
    answering = {
        **private_env,
        "MONGODB_URI": f"mongodb://127.0.0.1:{ferretdb.ferretdb_port}/",
        "FERRETDB_PORT": str(busy_port),
    }
    ok = run_cli("doctor", env=answering, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"external at mongodb://127.0.0.1:{ferretdb.ferretdb_port}/" in ok.stdout
    assert "answers" in ok.stdout
    assert f"port {busy_port}" not in ok.stdout

    silent = {**private_env, "MONGODB_URI": f"mongodb://user:s3cret-pw@127.0.0.1:{free_port()}/"}
    bad = run_cli("doctor", env=silent, timeout=120)
    assert bad.returncode == 1
    assert "mongodb://***@127.0.0.1" in bad.stdout and "does not answer" in bad.stdout
    assert "check MONGODB_URI" in " ".join(bad.stderr.split())
    assert "s3cret-pw" not in bad.stdout + bad.stderr


def test_unknown_service_is_rejected(private_env: dict[str, str]) -> None:
    result = run_cli("services", "up", "--only", "postgres", env=private_env)
    assert result.returncode == 1
    assert "Unknown service" in result.stderr
    assert "ferretdb" in result.stderr


def test_run_execs_ferretdb_in_the_foreground_until_signalled(
    private_env: dict[str, str],
) -> None:
    """`services run` (a container's entry point): the server is the CLI's own process."""

    import pymongo

    port = int(private_env["FERRETDB_PORT"])
    server = subprocess.Popen(
        [CLI, "services", "run", "ferretdb"],
        env={**os.environ, **private_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = pymongo.MongoClient(
            f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=30_000
        )
        client.run_check.items.insert_one({"_id": "a", "n": 1})
        assert client.run_check.items.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
        client.close()

        # exec, not a child: the pid the supervisor started is the one listening on the port.
        listening = {
            c.pid for c in psutil.net_connections("tcp")
            if c.laddr and c.laddr.port == port and c.status == "LISTEN"
        }  # fmt: skip
        assert listening == {server.pid}
        assert "ferretdb" in Path(psutil.Process(server.pid).exe()).name
        # The supervisor owns it: no pid file, so `services down` leaves it alone.
        assert not (Path(private_env["DATA_DIR"]) / "run" / "ferretdb.pid").exists()
        down = run_cli("services", "down", "--only", "ferretdb", env=private_env)
        assert "not running" in down.stdout
        assert server.poll() is None

        # A second one on the same port fails with the fix instead of starting.
        second = run_cli("services", "run", "ferretdb", env=private_env, timeout=60)
        assert second.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in " ".join(second.stderr.split())

        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        assert port_is_free("127.0.0.1", port)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()


@pytest.mark.timeout(300)
def test_run_thrift_holds_its_data_dir_so_a_second_server_on_it_is_refused(
    private_env: dict[str, str], tmp_path: Path
) -> None:
    """The lock on DATA_DIR's Spark folder survives `services run`'s exec into spark-submit and
    the JVM: while that server lives, no start on the same DATA_DIR clears its folders or
    starts a second server on the Derby metastore."""
    from spark_thrift import client, launcher

    settings = Settings(_env_file=None, data_dir=Path(private_env["DATA_DIR"]),
                        thrift_port=int(private_env["THRIFT_PORT"]))
    output = (tmp_path / "run-thrift.log").open("wb")  # Spark is chatty: no pipe to fill
    server = subprocess.Popen([CLI, "services", "run", "thrift"],
                              env={**os.environ, **private_env}, stdout=output,
                              stderr=subprocess.STDOUT, start_new_session=True)
    with killed_after(server), output:
        deadline = time.monotonic() + 180
        while not client.is_healthy(settings) and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "run-thrift.log").read_text()
            time.sleep(1)
        assert client.is_healthy(settings)
        assert launcher.server_lock_path(settings) in open_files(server.pid)

        other = {**private_env, "THRIFT_PORT": str(free_port())}
        up = run_cli("services", "up", "--only", "thrift", env=other, timeout=120)
        assert up.returncode == 1
        assert (
            f"error: A Spark Thrift Server already runs on {launcher.spark_dir(settings)}"
            " (DATA_DIR)"
        ) in " ".join(up.stderr.split())
        assert any(launcher.local_dir(settings).glob("blockmgr-*"))
        assert client.is_healthy(settings)

        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    # Gone, it holds nothing: a start may claim the folder again.
    claim = launcher.claim_data_dir(settings)
    assert claim is not None
    os.close(claim)


def test_run_refuses_an_external_mongodb(private_env: dict[str, str]) -> None:
    env = {**private_env, "MONGODB_URI": "mongodb://user:s3cret-pw@db.example.com:27017/"}
    result = run_cli("services", "run", "ferretdb", env=env, timeout=60)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "external server" in message and "Unset MONGODB_URI" in message
    assert "s3cret-pw" not in result.stderr + result.stdout
    # status names the configured server, without its password, not the local FerretDB port.
    status = run_cli("services", "status", "--only", "ferretdb", env=env, timeout=120)
    assert "db.example.com:27017" in status.stdout and "external" in status.stdout
    assert f"127.0.0.1:{env['FERRETDB_PORT']}" not in status.stdout
    assert "s3cret-pw" not in status.stdout + status.stderr
    up = run_cli("services", "up", "--only", "ferretdb", env=env, timeout=120)
    assert up.returncode == 1
    message = " ".join(up.stderr.split())
    assert "(MONGODB_URI at mongodb://***@db.example.com:27017/) does not answer" in message
    assert "s3cret-pw" not in up.stdout + up.stderr


def test_a_thrift_server_elsewhere_is_checked_never_started(private_env: dict[str, str]) -> None:
    """THRIFT_HOST naming another host (compose's spark-thrift, a cluster): up checks it only."""
    env = {**private_env, "THRIFT_HOST": "127.0.0.2"}
    up = run_cli("services", "up", "--only", "thrift", env=env, timeout=60)
    assert up.returncode == 1
    message = " ".join(up.stderr.split())
    assert f"(THRIFT_HOST at 127.0.0.2:{env['THRIFT_PORT']}) does not answer" in message
    assert not (Path(env["DATA_DIR"]) / "run" / "thrift.pid").exists()
    assert not (Path(env["DATA_DIR"]) / "logs" / "thrift.log").exists()

    status = run_cli("services", "status", "--only", "thrift", env=env, timeout=60)
    assert status.returncode == 1
    assert "external" in status.stdout
    down = run_cli("services", "down", "--only", "thrift", env=env, timeout=60)
    assert "external (THRIFT_HOST), not stopped" in " ".join(down.stdout.split())
    run = run_cli("services", "run", "thrift", env=env, timeout=60)
    assert run.returncode == 1
    assert "nothing to run here" in " ".join(run.stderr.split())
    doctor = run_cli("doctor", env=env, timeout=120)
    assert doctor.returncode == 1
    assert "external at 127.0.0.2" in doctor.stdout and "does not answer" in doctor.stdout


def test_ctrl_c_while_run_starts_the_services_leaves_them_stoppable(
    private_env: dict[str, str],
) -> None:
    # Ctrl-C while `lakehouse run` waits for the Thrift Server: exit 130, the fix named, and
    # both servers (the second only half-started) recorded, so `services down` stops them.
    with killed_after(subprocess.Popen(
        [CLI, "run"], env={**os.environ, "COLUMNS": "200", "SPARK_UI_PORT": "0", **private_env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )) as cli:
        first = cli.stdout.readline()
        assert first.startswith("MongoDB (FerretDB): started"), first
        run_dir = Path(private_env["DATA_DIR"]) / "run"
        for _ in range(100):  # the Thrift Server's record, written as soon as it is spawned
            if (run_dir / "thrift.pid").exists():
                break
            time.sleep(0.1)
        _, err = ctrl_c(cli, timeout=120)
    assert cli.returncode == 130
    assert " ".join(err.split()).endswith(
        "interrupted: Stopped by Ctrl-C. The local services keep running; `lakehouse services"
        " down` stops them.")
    thrift_pid = json.loads((run_dir / "thrift.pid").read_text())["pid"]
    assert psutil.pid_exists(thrift_pid)
    down = run_cli("services", "down", env=private_env)
    assert down.returncode == 0, down.stderr
    assert "Spark Thrift Server (Delta): stopped" in down.stdout
    assert "MongoDB (FerretDB): stopped" in down.stdout
    assert not psutil.pid_exists(thrift_pid) or psutil.Process(thrift_pid).status() == "zombie"
