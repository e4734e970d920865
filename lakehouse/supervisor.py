"""Start, find and stop background processes that this project owns.

A started process gets a pid file (JSON: pid, process start time, command) and a log file under
the data folder. The start time is what makes `stop` safe: a pid reused by an unrelated process
after a reboot does not match, so we never signal a process we did not start.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


class ServiceError(RuntimeError):
    """A service could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid_file: Path
    log_file: Path

    # -- pid file --------------------------------------------------------------------------
    def read_record(self) -> dict | None:
        try:
            return json.loads(self.pid_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def running_process(self) -> psutil.Process | None:
        """The live process recorded in the pid file, or None (a stale pid file is removed)."""
        record = self.read_record()
        if record is None:
            return None
        try:
            proc = psutil.Process(int(record["pid"]))
            same_start = _same_start(proc, record)
            if same_start and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except (psutil.Error, KeyError, ValueError):
            pass
        self.pid_file.unlink(missing_ok=True)
        return None

    def recorded_address(self) -> str:
        """The host:port the running process was started for ("" if not recorded)."""
        return str((self.read_record() or {}).get("address") or "")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        address: str = "",
        pass_fds: Sequence[int] = (),
    ) -> psutil.Process:
        """Start the command in its own session and record it; `address` (host:port) is kept in
        the record, so a later start with other settings can tell the server has moved.
        `pass_fds` stay open in the process (see subprocess.Popen)."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        cwd.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            # A new session: the service survives the CLI exiting, and its whole process
            # group (spark-submit forks a JVM) can be signalled at once.
            popen = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
        proc = psutil.Process(popen.pid)
        record = {
            "pid": popen.pid,
            "create_time": proc.create_time(),
            "boot_time": psutil.boot_time(),
            "boot_id": _boot_id(),
            "command": list(command),
            "address": address,
        }
        self.pid_file.write_text(json.dumps(record))
        return proc

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM (then SIGCONT) the process group we started, SIGKILL what is left after the
        timeout."""
        proc = self.running_process()
        if proc is None:
            return False
        family = [proc, *proc.children(recursive=True)]
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            # A stopped process (Ctrl-Z, `kill -STOP`, a paused container) keeps SIGTERM pending
            # until it runs again: resume it so it can shut down cleanly now, not be SIGKILLed
            # after the timeout. SIGCONT to a running process does nothing.
            os.killpg(proc.pid, signal.SIGCONT)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()
        _gone, alive = psutil.wait_procs(family, timeout=timeout_s)
        for leftover in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()
        psutil.wait_procs(alive, timeout=5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


def _same_start(proc: psutil.Process, record: dict) -> bool:
    """Whether `proc` is the process the pid file recorded, not another one given its pid since.

    Its start time is compared as recorded and as time since boot: on Linux psutil adds the
    boot time read now to the start, so a wall-clock step (an NTP correction, a virtual machine
    paused and resumed) moves every process's create_time. A check on create_time alone then
    takes running servers for stale, removes their pid files and leaves them running, out of
    `services down`'s reach: the likely cause of a CI run here where both services' pid files
    vanished mid-run while their servers ran on (the kernel log shows the VM forked then).

    Time since boot says nothing across a reboot (a boot script starts the same things at the
    same uptime, often at the same pids), so a record from an earlier boot never matches: no
    process outlives one."""
    boot_id, recorded_boot_id = _boot_id(), record.get("boot_id")
    if boot_id and recorded_boot_id and boot_id != recorded_boot_id:
        return False
    created, recorded = proc.create_time(), float(record["create_time"])
    if abs(created - recorded) < 1.0:
        return True
    booted = record.get("boot_time")  # absent from pid files written before it was recorded
    if booted is None:
        return False
    return abs((created - psutil.boot_time()) - (recorded - float(booted))) < 1.0


def _boot_id() -> str:
    """This boot's id (Linux: a random UUID the kernel draws at each boot), "" elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stream_addresses(host: str, port: int) -> list[tuple]:
    """(family, type, proto, canonname, sockaddr) of each address `host` names: an IPv6 host
    (`::1`, `::`) needs an AF_INET6 socket, and `localhost` may name both 127.0.0.1 and ::1.
    An empty host means every interface, as it does to `bind`."""
    return socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on `host:port`: the port binds on every address of `host`
    that this machine has (an address family it lacks, e.g. no IPv6, is skipped)."""
    try:
        addresses = _stream_addresses(host, port)
    except OSError:  # a host that does not resolve: nothing could listen there
        return False
    bound = False
    for family, kind, proto, _name, sockaddr in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                continue  # this address is not usable here (no IPv6, not one of our addresses)
            bound = True
    return bound


def port_owner(port: int) -> str:
    """Best-effort 'pid N (name)' of whoever listens on a TCP port."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                return "another process"
    except (psutil.Error, OSError):
        pass
    return "another process"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (for tests and ephemeral services); `host` may be an
    IPv6 address."""
    family, kind, proto, _name, sockaddr = _stream_addresses(host, 0)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.bind(sockaddr)
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def accepts_connections(address: str, timeout_s: float = 1.0) -> bool:
    """port_open for a recorded address ("host:port", IPv6 hosts bare or in brackets); False for
    an address without a port (a recorded URI)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return False
    return port_open(host.strip("[]"), int(port), timeout_s)


def wait_until_healthy(
    process: ManagedProcess,
    proc: psutil.Process,
    probe: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
) -> float:
    """Poll `probe` until it answers; fail fast with the log tail if the process dies.

    The deadline is checked between probes, so each probe must return in bounded time (the
    Thrift and MongoDB probes carry their own timeouts); the wait may overrun by one probe."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            if (process.read_record() or {}).get("pid") == proc.pid:  # not another start's record
                process.pid_file.unlink(missing_ok=True)
            raise ServiceError(
                f"{what} exited during start-up. Last lines of {process.log_file}:\n"
                f"{process.log_tail()}"
            )
        if probe():
            return time.monotonic() - started
        time.sleep(0.5)
    # Whether the port is open tells a server that never got as far as listening (still
    # starting: raise the timeout) from one that listens but does not answer (stuck).
    address = process.recorded_address()
    stuck = accepts_connections(address)
    process.stop()
    if stuck:
        raise ServiceError(
            f"{what} accepts connections on {address} but did not answer its health check"
            f" within {timeout_s:.0f} s, so it was stopped. A server that accepts but never"
            " answers is stuck or suspended (a JVM in a long garbage collection, a process"
            " stopped with Ctrl-Z or SIGSTOP, a paused container); start it again, and if it"
            f" hangs again, its log says why. Last lines of {process.log_file}:\n"
            f"{process.log_tail()}"
        )
    raise ServiceError(
        f"{what} did not answer within {timeout_s:.0f} s and was stopped. "
        f"Last lines of {process.log_file}:\n{process.log_tail()}"
    )
