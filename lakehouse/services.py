"""The local services: FerretDB (MongoDB wire protocol) and the Spark Thrift Server with Delta.

`up` starts what is not running and waits until each one answers a real request (a MongoDB ping,
a `SELECT 1` over Thrift); `down` stops exactly the processes `up` recorded; `status` reports
each service's address and health.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psutil
from filelock import FileLock, Timeout

from ingestion import ferretdb_server, mongodb
from lakehouse import exclusive_lock
from lakehouse.settings import Settings
from lakehouse.supervisor import (
    ManagedProcess,
    ServiceError,
    port_is_free,
    port_owner,
    wait_until_healthy,
)
from spark_thrift import client as thrift_client
from spark_thrift import launcher


def _settings_ok() -> None:
    """The default settings check: nothing to check beyond what `prepare` checks."""


@dataclass(frozen=True)
class Launch:
    """How to start a service's process: `pass_fds` are descriptors it must inherit (a lock it
    holds while it lives); the starter closes its own copies once the process has them."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: tuple[int, ...] = ()

    def close_fds(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)


@dataclass(frozen=True)
class Service:
    name: str
    title: str
    host: str
    port: int
    prepare: Callable[[], Launch]
    # Whether the server answers. Raises ServiceError when it answers but the settings cannot
    # work (a refused login), so that is named instead of "does not answer".
    probe: Callable[[], bool]
    start_timeout_s: float
    process: ManagedProcess
    # Configured to use a server this project does not run, and the setting that says so.
    external_setting: str | None = None
    # Where the configured server is, when host:port does not say it (the MongoDB URI with its
    # credentials removed).
    external_display: str | None = None
    # Raises ServiceError when the settings cannot work at all (a malformed MONGODB_URI): checked
    # before probing, so a bad setting is not reported as a server that does not answer.
    check_settings: Callable[[], None] = _settings_ok

    @property
    def external(self) -> bool:
        return self.external_setting is not None

    @property
    def address(self) -> str:
        return self.external_display or f"{self.host}:{self.port}"


@dataclass
class ServiceState:
    name: str
    title: str
    address: str
    running: bool
    healthy: bool
    pid: int | None
    managed: bool
    detail: str = ""
    # Why the settings cannot work (a malformed URI, a refused login), with the fix; "" if none.
    problem: str = ""


def _managed(settings: Settings, name: str) -> ManagedProcess:
    return ManagedProcess(
        name=name,
        pid_file=settings.run_dir / f"{name}.pid",
        log_file=settings.service_log(name),
    )


def _ferretdb(settings: Settings) -> Service:
    def prepare() -> Launch:
        return Launch(ferretdb_server.build_command(settings), dict(os.environ), settings.data_dir)

    return Service(
        name=exclusive_lock.FERRETDB,
        title="MongoDB (FerretDB)" if settings.mongodb_is_local else "MongoDB",
        host=settings.ferretdb_host,
        port=settings.ferretdb_port,
        prepare=prepare,
        # Raises ServiceError for a refused login: a server that answers but never will.
        probe=lambda: mongodb.answers(settings, mongodb.probe_timeout_ms(settings)),
        start_timeout_s=30,
        process=_managed(settings, exclusive_lock.FERRETDB),
        external_setting=None if settings.mongodb_is_local else "MONGODB_URI",
        external_display=None if settings.mongodb_is_local else settings.mongodb_display,
        check_settings=lambda: mongodb.check_uri(settings),
    )


def _thrift(settings: Settings) -> Service:
    def prepare() -> Launch:
        java = launcher.check_java(settings)
        command = launcher.build_command(settings)
        env = launcher.build_env(settings, java)
        claim = launcher.claim_data_dir(settings)  # held by the server while it lives
        if claim is None:  # a file system without locks: nothing is known safe to clear
            return Launch(command, env, launcher.spark_dir(settings))
        try:
            launcher.clear_leftovers(settings)
        except BaseException:
            os.close(claim)
            raise
        return Launch(command, env, launcher.spark_dir(settings), pass_fds=(claim,))

    return Service(
        name=exclusive_lock.THRIFT,
        title="Spark Thrift Server (Delta)",
        host=settings.thrift_host,
        port=settings.thrift_port,
        prepare=prepare,
        probe=lambda: thrift_client.is_healthy(settings),
        start_timeout_s=settings.thrift_start_timeout_s,
        process=_managed(settings, exclusive_lock.THRIFT),
        external_setting=None if settings.thrift_is_local else "THRIFT_HOST",
    )


def all_services(settings: Settings) -> list[Service]:
    return [_ferretdb(settings), _thrift(settings)]


def select(settings: Settings, names: list[str] | None) -> list[Service]:
    services = all_services(settings)
    if not names:
        return services
    known = {s.name for s in services}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ServiceError(f"Unknown service(s) {unknown}; choose from {sorted(known)}.")
    return [s for s in services if s.name in names]


def start(service: Service) -> str:
    """Start one service (or reuse it) and return a one-line report.

    Two starts at once (two `make run`s) take turns: the second waits for the first to finish
    and then finds the service running. Without that, both see a free port, the loser's process
    dies, and the winner can be left with no pid file, so `services down` cannot stop it.
    """
    if service.external:
        return _start_unlocked(service)
    lock = FileLock(
        service.process.pid_file.with_suffix(".start.lock"), timeout=service.start_timeout_s + 60
    )
    service.process.pid_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock:
            return _start_unlocked(service)
    except Timeout as exc:
        raise ServiceError(
            f"{service.title}: another start of it has not finished after"
            f" {lock.timeout:.0f} s. Check `lakehouse services status`."
        ) from exc


def _start_unlocked(service: Service) -> str:
    service.check_settings()
    if service.external:
        warning = _leftover_warning(service)
        try:
            answered = service.probe()
        except ServiceError as exc:  # it answers, but refuses (a wrong login)
            raise ServiceError(f"{exc}{warning}") from None
        if answered:
            return f"{service.title}: using the configured external server{warning}"
        raise ServiceError(
            f"{service.title}: the configured server ({service.external_setting} at"
            f" {service.address}) does not answer. Check the setting and network access, or"
            f" unset {service.external_setting} to use the local one.{warning}"
        )
    running = service.process.running_process()
    if running is not None:
        moved = moved_message(service, running.pid)
        if moved:
            raise ServiceError(moved)
        if service.probe():
            return f"{service.title}: already running (pid {running.pid}) on {service.address}"
        # Ours but not answering yet (e.g. still starting): wait for it rather than start twice.
        waited = wait_until_healthy(
            service.process,
            running,
            service.probe,
            timeout_s=service.start_timeout_s,
            what=service.title,
        )
        return f"{service.title}: healthy after {waited:.1f} s (pid {running.pid})"
    _check_port_free(service)
    launch = service.prepare()
    try:
        proc = service.process.start(
            launch.command, env=launch.env, cwd=launch.cwd, address=service.address,
            pass_fds=launch.pass_fds,
        )
    finally:
        launch.close_fds()
    waited = wait_until_healthy(
        service.process, proc, service.probe, timeout_s=service.start_timeout_s, what=service.title
    )
    return (
        f"{service.title}: started (pid {proc.pid}) on {service.address}, healthy in {waited:.1f} s"
    )


def moved_message(service: Service, pid: int) -> str | None:
    """Why our running server is not the one the settings name (started for another address),
    or None. Probing the new address would time out and then stop a healthy server."""
    recorded = service.process.recorded_address()
    if not recorded or recorded == service.address:
        return None
    return (
        f"{service.title} is running (pid {pid}) on {recorded}, but the settings now say"
        f" {service.address}. Stop it first with `lakehouse services down --only {service.name}`,"
        f" or set {service.name.upper()}_HOST/{service.name.upper()}_PORT back."
    )


def _check_port_free(service: Service) -> None:
    if not port_is_free(service.host, service.port):
        raise ServiceError(
            f"{service.title}: port {service.port} on {service.host} is already in use by "
            f"{port_owner(service.port)}. Stop that process, or choose another port "
            f"({service.name.upper()}_PORT in .env)."
        )


def run_in_foreground(service: Service) -> NoReturn:
    """Become the service: exec its command in this process, logging to this terminal.

    For a supervisor that owns the process itself (a container's entry point, systemd): the
    server gets this pid and the supervisor's signals, and no pid file is written, so `services
    down` leaves it alone. spark-submit execs its JVM in turn, so the JVM is the process.
    """
    if service.external:
        raise ServiceError(
            f"{service.title}: {service.external_setting} points at an external server, so"
            f" there is nothing to run here. Unset {service.external_setting} to run it locally."
        )
    _check_port_free(service)
    launch = service.prepare()
    for fd in launch.pass_fds:
        os.set_inheritable(fd, True)
    launch.cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(launch.cwd)
    os.execvpe(launch.command[0], launch.command, launch.env)  # noqa: S606 (argv from settings)


# The pid file, not the current settings, says what this project started. A local server started
# by `services up` before `.env` was switched to an external one (Atlas after `make run`) still
# runs and holds its port: `down` stops it and `status` shows it, whatever the settings say now.
def _leftover(service: Service) -> psutil.Process | None:
    """The recorded local process of a service now configured as external, if it still runs."""
    return service.process.running_process() if service.external else None


def _leftover_note(service: Service, pid: int) -> str:
    return (
        f"local process still running (pid {pid}), not used:"
        f" {service.external_setting} points elsewhere"
    )


def _leftover_warning(service: Service) -> str:
    leftover = _leftover(service)
    if leftover is None:
        return ""
    return (
        f" (warning: {_leftover_note(service, leftover.pid)}; stop it with"
        f" `lakehouse services down --only {service.name}`)"
    )


def refuse_while_jobs_run(settings: Settings, chosen: list[Service]) -> None:
    """Raise ServiceError naming the running jobs when one of `chosen` runs and a job that uses
    it (a crawl, an export, a dbt build, a pipeline run) holds a lock on this machine: stopping
    the service under it would fail the job part-way. Nothing is stopped then, and the message
    says how to stop the chosen services no job uses: a crawl uses only MongoDB, a dbt build,
    a publish or a write-audit-publish only the Thrift Server."""
    # A local server left running after its setting pointed elsewhere serves no job.
    running = [s for s in chosen if not s.external and s.process.running_process() is not None]
    processes = exclusive_lock.running_processes(settings) if running else []
    in_use = [s for s in running if any(s.name in p.uses for p in processes)]
    if not in_use:
        return
    jobs = [p.line for p in processes if any(s.name in p.uses for s in in_use)]
    them = "it" if len(in_use) == 1 else "them"
    message = (
        f"Not stopping {' and '.join(s.title for s in in_use)}: a job is running on this"
        f" machine and may be using {them} ({'; '.join(jobs)}). Stopping {them} now would fail"
        " the job part-way. Wait for the job to finish, or stop it first (Ctrl-C where it runs,"
        " or kill the pid), then run `lakehouse services down` again; `--force` stops"
        f" {them} anyway."
    )
    for free in (s for s in running if s not in in_use):
        message += (
            f" No running job uses the {free.title}: `lakehouse services down --only"
            f" {free.name}` stops it now."
        )
    raise ServiceError(message)


def stop(service: Service) -> str:
    # Stopped by its pid file whatever the settings say now (PID-reuse safe, see ManagedProcess).
    stopped = service.process.stop()
    if service.external:
        if stopped:
            return (
                f"{service.title}: stopped the local server left running (not used:"
                f" {service.external_setting} points elsewhere)"
            )
        return f"{service.title}: external ({service.external_setting}), not stopped"
    if stopped:
        return f"{service.title}: stopped"
    return f"{service.title}: not running (nothing to stop)"


def state(service: Service) -> ServiceState:
    proc = service.process.running_process()  # also when external: a leftover must show
    try:
        service.check_settings()
        healthy, problem = service.probe(), ""
    except ServiceError as exc:
        healthy, problem = False, str(exc)
    if service.external:
        detail = f"external ({service.external_setting})"
        if proc is not None:
            detail += f"; {_leftover_note(service, proc.pid)}"
    elif proc is None and healthy:
        detail = "answering, but not started by this project"
    elif proc is not None and not healthy:
        detail = f"process alive but not answering; see {service.process.log_file}"
    else:
        detail = ""
    # The problem is whole sentences (what is wrong, the fix), so it follows the state's label.
    detail = ". ".join(part for part in (detail, problem) if part)
    return ServiceState(
        name=service.name,
        title=service.title,
        address=service.address,
        running=proc is not None or service.external,
        healthy=healthy,
        pid=proc.pid if proc else None,
        managed=proc is not None,
        detail=detail,
        problem=problem,
    )
