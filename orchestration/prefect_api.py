"""The Prefect API a CLI run reports to: the configured server, else a temporary one of ours.

Without PREFECT_API_URL, Prefect would start its own temporary server as a child in the
terminal's process group, so the Ctrl-C meant for the run killed that server too, and the run
then retried its state updates against a dead API for minutes (once: two hours) before it
exited. Ours is the same `prefect server start`, but in its own session: Ctrl-C reaches only the
run, which records where it stopped and exits. It serves the UI too, so the "View at" link the
flow logs shows the run while it lasts. The server is stopped, by pid, when the run ends;
one left behind by a run that was killed (`kill -9`) is stopped by the next run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil

from lakehouse.settings import Settings
from lakehouse.supervisor import ManagedProcess, ServiceError, free_port, wait_until_healthy

NAME = "prefect-api"


def configured_api_url() -> str | None:
    """The Prefect server as Prefect itself resolves it: the environment, then the .env of the
    current folder, then the active Prefect profile."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def _process(settings: Settings, owner_pid: int) -> ManagedProcess:
    # One per CLI process, so two runs (the second refused by the pipeline lock) never stop each
    # other's server; the owner's pid in the name tells the next run whose server it was.
    return ManagedProcess(
        name=NAME,
        pid_file=settings.run_dir / f"{NAME}-{owner_pid}.pid",
        log_file=settings.log_dir / f"{NAME}.log",
    )


def stop_orphans(settings: Settings) -> list[int]:
    """Stop the temporary servers of CLI processes that are gone; return their owners' pids."""
    stopped = []
    for pid_file in sorted(settings.run_dir.glob(f"{NAME}-*.pid")):
        owner = pid_file.stem.removeprefix(f"{NAME}-")
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            _process(settings, int(owner)).stop(timeout_s=10)  # also drops the pid file
            stopped.append(int(owner))
    return stopped


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_api(settings: Settings) -> Iterator[str]:
    """Run the body against the configured Prefect API, else a temporary server (see above)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if url := configured_api_url():
        yield url
        return
    stop_orphans(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    process = _process(settings, os.getpid())
    # --no-prompt: an interactive `server start` may offer to switch the user's Prefect profile.
    proc = process.start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-scheduler", "--no-late-runs", "--analytics-off",
         "--no-prompt"],
        env=os.environ,
        cwd=settings.run_dir,
        address=f"127.0.0.1:{port}",
    )
    try:
        # Prefect's own 20 s default is tight for a first start (database migrations: 12 s on an
        # idle 2-core machine); the wait ends early anyway if the server exits.
        timeout = max(get_current_settings().server.ephemeral.startup_timeout_seconds, 60)
        try:
            wait_until_healthy(process, proc, lambda: _answers(url), timeout_s=timeout,
                               what="Prefect's temporary API server")
        except ServiceError as exc:
            raise ServiceError(
                f"{exc}\nIf it was still starting, raise"
                f" PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS above {timeout:.0f}; or run a"
                " Prefect server and set PREFECT_API_URL (docs/orchestration.md)."
            ) from exc
        with temporary_settings({PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _send_what_is_queued()
    finally:
        process.stop(timeout_s=10)


def _send_what_is_queued() -> None:
    """Prefect sends run logs and events from background workers, which drain at interpreter
    exit; by then the server is gone, and each retried for over a minute before giving up."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)
