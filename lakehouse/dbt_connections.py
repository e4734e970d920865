"""How dbt-spark talks to the Spark Thrift Server when the lakehouse runs dbt in-process.

dbt-spark's Thrift connections are patched in three ways, each for a fault seen in this project:
- a sub-second poll of running statements (its profile takes whole seconds only);
- no query cancelling on Ctrl-C (cancelling could deadlock dbt's worker threads);
- a stall timeout: PyHive's socket has no timeout, so a server that accepts connections but
  stops answering (a JVM stuck in garbage collection, a process stopped with Ctrl-Z, a paused
  container) kept a build waiting for ever, holding the lake lock and the pipeline lock;
- a server that goes away mid-build (crashed, killed) ends the build with one error that says
  so: before, every node in flight failed with a bare transport error ("unexpected exception",
  "TSocket read 0 bytes", "Could not connect to any of ...") and nothing said why.

dbt-spark runs every statement asynchronously and polls it, so each exchange with the server is
short however long the statement runs. The longest are the status polls, which the server holds
until the statement ends or 5 s pass (hive.server2.long.polling.timeout): during a full build
on 2 cores they took 0.55 s at the median and 5.02 s at most, every other call at most 0.21 s
(142 sessions, 367 statements, 2026-12-07). A wait of THRIFT_STALL_TIMEOUT_S (default 300,
at least 10) for one answer means the server has stopped answering, not that a model is slow.
The first such wait, or the first sign that the server is gone, ends the build: every later
statement and connection of it fails at once, instead of each waiting or failing in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lakehouse.settings import Settings
from spark_thrift.client import (
    GONE,
    STALLED,
    USERNAME,
    close_socket,
    gone_message,
    lost,
    lost_cause,
    plain_transport,
    use_guarded_cursors,
)


class ThriftLost(RuntimeError):
    """The Thrift Server stopped answering or went away during a dbt command."""


def stalled_message(settings: Settings) -> str:
    timeout_s = settings.thrift_stall_timeout_s
    return (
        f"The Spark Thrift Server at {settings.thrift_host}:{settings.thrift_port} stopped"
        f" answering: no reply within {timeout_s:g} s (THRIFT_STALL_TIMEOUT_S). It is stuck or"
        " suspended (a JVM in a long garbage collection or out of memory, a process stopped with"
        " Ctrl-Z, a paused container), so dbt stopped: the models it finished are kept, the rest"
        " did not run. Look at the server's log (`lakehouse services status`), resume or restart"
        " it (`lakehouse services down`, then `lakehouse services up`), then run again."
    )


def lost_message(settings: Settings, cause: str) -> str:
    """The dbt command's error once the server was lost (STALLED or GONE)."""
    if cause == STALLED:
        return stalled_message(settings)
    return gone_message(
        settings, "dbt stopped: the models it finished are kept, the rest did not run. "
    )


def _node_message(settings: Settings | None, cause: str) -> str:
    # Every node after the loss fails with this and dbt lists each: the full story (what is
    # kept, what to do) is the command's own error, once.
    server = "the Spark Thrift Server"
    if settings is not None:
        server += f" at {settings.thrift_host}:{settings.thrift_port}"
    if cause == GONE:
        return f"{server} went away (stopped or crashed): build stopped"
    within = f" (no reply within {settings.thrift_stall_timeout_s:g} s)" if settings else ""
    return f"{server} stopped answering{within}: build stopped"


class _Build:
    """The dbt command running in this process: its settings and whether, and why, the server
    was lost (STALLED or GONE; the first cause seen)."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.cause = ""
        self._lock = threading.Lock()

    def reset(self, settings: Settings | None) -> None:
        self.settings, self.cause = settings, ""

    def check(self) -> None:
        if self.cause and self.settings is not None:
            raise ThriftLost(_node_message(self.settings, self.cause))

    def lose(self, cause: str) -> ThriftLost:
        with self._lock:
            self.cause = self.cause or cause
        return ThriftLost(_node_message(self.settings, self.cause))

    def cause_of(self, exc: BaseException, handle: Any = None) -> str:
        """Why `exc` (raised talking to the server) means the server is lost, or ""."""
        if self.settings is None:  # dbt-spark used outside `dbt_connections`
            return ""
        address = (self.settings.thrift_host, self.settings.thrift_port)
        return (lost(handle) if handle is not None else "") or lost_cause(exc, *address)


_BUILD = _Build()


@contextmanager
def dbt_connections(settings: Settings) -> Iterator[_Build]:
    """Patch dbt-spark for one dbt command run with `settings`; yields its state (`cause`: why
    the server was lost, if it was), which is cleared when the block ends (read it inside)."""
    _patch_once()
    _BUILD.reset(settings)
    try:
        yield _BUILD
    finally:
        _BUILD.reset(None)


def _timed_connect(real_connect: Callable[..., Any]) -> Callable[..., Any]:
    """`hive.connect` as dbt-spark calls it, with the stall timeout from the handshake on; a
    server lost by then ends the build."""

    def connect(*args: Any, **kwargs: Any) -> Any:
        _BUILD.check()
        settings = _BUILD.settings
        plain = (
            settings is not None
            and not args
            and kwargs.get("thrift_transport") is None
            and kwargs.get("auth") in (None, "NONE")
            and kwargs.get("password") is None
            and kwargs.get("kerberos_service_name") is None
        )
        if not plain:  # another auth or transport: dbt-spark's own connect, untouched
            return real_connect(*args, **kwargs)
        assert settings is not None
        transport = plain_transport(
            kwargs["host"], kwargs["port"], settings.thrift_stall_timeout_s,
            username=kwargs.get("username") or USERNAME,
        )
        try:
            conn = real_connect(
                thrift_transport=transport,
                username=kwargs.get("username"),
                configuration=kwargs.get("configuration"),
            )
        except Exception as exc:  # thrift raises transport errors of several types
            cause = _BUILD.cause_of(exc)
            if cause:
                raise _BUILD.lose(cause) from exc
            raise
        # dbt-spark polls its statements itself.
        use_guarded_cursors(conn, (kwargs["host"], kwargs["port"]), polled=False)
        return conn

    return connect


def _patch_once() -> None:
    from dbt.adapters.spark import connections
    from dbt.adapters.spark.impl import SparkAdapter

    wrapper = connections.PyhiveConnectionWrapper
    if getattr(wrapper, "_lakehouse_patched", False):
        return
    # Declared not cancellable, dbt lets the running statements finish on Ctrl-C, starts no new
    # node and stops. Otherwise dbt-spark sends each CancelOperation on the Thrift connection its
    # worker thread is reading at that moment: Thrift transports are not thread-safe, the reply
    # can go to the worker, and dbt then waits for it for ever, holding the lock the workers need
    # (seen in a test: the main thread in recv_CancelOperation, every worker in
    # get_thread_connection).
    SparkAdapter.is_cancelable = classmethod(lambda cls: False)  # type: ignore[method-assign]

    if connections.hive is not None:
        connections.hive = _HiveModule(_timed_connect(connections.hive.connect))

    original_init = wrapper.__init__
    original_close = wrapper.close

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if _BUILD.settings is not None:
            # dbt-spark waits `poll_interval` seconds between polls of every statement and its
            # profile takes whole seconds only: at 1 s a 0.3 s statement costs 1 s, and a build
            # runs a few hundred statements. Each poll is one cheap Thrift call.
            self.poll_interval = _BUILD.settings.dbt_poll_interval_s

    def loss_checked(original: Callable[..., Any]) -> Callable[..., Any]:
        """Every call of the wrapper that talks to the server: refused once the server is lost,
        and a timeout or a gone server (marked on the connection by its cursor, or seen here)
        ends the build."""

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            _BUILD.check()
            try:
                return original(self, *args, **kwargs)
            except Exception as exc:
                # Raised as ThriftLost, not as the transport error: dbt-spark would retry a
                # lost connection on the same transport.
                cause = _BUILD.cause_of(exc, self.handle)
                if cause:
                    raise _BUILD.lose(cause) from exc
                raise

        return call

    def close(self: Any) -> None:
        # Once the server is lost, closing the session politely would wait for a stuck server
        # once more per connection, or fail on a gone one: drop the socket instead (the server,
        # if any, ends the session on its side).
        transport = getattr(self.handle, "_transport", None)
        if (_BUILD.cause or lost(self.handle)) and close_socket(transport):
            return
        try:
            original_close(self)
        except Exception as exc:
            # Lost after the node's last statement (a server shutting down fails the close of
            # it): the node's work is done, as in client._close_session. A later node finds the
            # loss on its own and stops the build; if none follows, the build is complete.
            if not _BUILD.cause_of(exc, self.handle):
                raise
            close_socket(transport)

    wrapper.__init__ = init
    wrapper._execute_with_polling = loss_checked(wrapper._execute_with_polling)
    wrapper.fetchall = loss_checked(wrapper.fetchall)
    wrapper.description = property(loss_checked(wrapper.description.fget))
    wrapper.close = close
    wrapper._lakehouse_patched = True


class _HiveModule:
    """Stands for `pyhive.hive` inside dbt-spark's connections module: `connect` is timed, the
    rest (used for types and errors) is the real module's."""

    def __init__(self, connect: Callable[..., Any]) -> None:
        self.connect = connect

    def __getattr__(self, name: str) -> Any:
        from pyhive import hive

        return getattr(hive, name)
