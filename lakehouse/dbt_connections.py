"""How dbt-spark talks to the Spark Thrift Server when the lakehouse runs dbt in-process.

dbt-spark's Thrift connections are patched in three ways, each for a fault seen in this project:
- a sub-second poll of running statements (its profile takes whole seconds only);
- no query cancelling on Ctrl-C (cancelling could deadlock dbt's worker threads);
- a stall timeout: PyHive's socket has no timeout, so a server that accepts connections but
  stops answering (a JVM stuck in garbage collection, a process stopped with Ctrl-Z, a paused
  container) kept a build waiting for ever, holding the lake lock and the pipeline lock.

dbt-spark runs every statement asynchronously and polls it, so each exchange with the server is
short however long the statement runs. The longest are the status polls, which the server holds
until the statement ends or 5 s pass (hive.server2.long.polling.timeout): during a full build
on 2 cores they took 0.55 s at the median and 5.02 s at most, every other call at most 0.21 s
(142 sessions, 367 statements, 2026-12-07). A wait of THRIFT_STALL_TIMEOUT_S (default 300,
at least 10) for one answer means the server has stopped answering, not that a model is slow.
The first such wait ends the build: every later statement and connection of it fails at once,
instead of each waiting in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lakehouse.settings import Settings
from spark_thrift.client import (
    USERNAME,
    close_socket,
    is_stalled,
    plain_transport,
    timed_out,
    use_guarded_cursors,
)


class ThriftStalled(RuntimeError):
    """The Thrift Server stopped answering during a dbt command; the message says what to do."""


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


def _node_message(settings: Settings) -> str:
    # Every node after the stall fails with this and dbt lists each: the full story (what is
    # kept, what to do) is the command's own error, once.
    return (
        f"the Spark Thrift Server at {settings.thrift_host}:{settings.thrift_port} stopped"
        f" answering (no reply within {settings.thrift_stall_timeout_s:g} s): build stopped"
    )


class _Build:
    """The dbt command running in this process: its settings and whether the server stalled."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.stalled = threading.Event()

    def check(self) -> None:
        if self.stalled.is_set() and self.settings is not None:
            raise ThriftStalled(_node_message(self.settings))

    def stall(self) -> ThriftStalled:
        self.stalled.set()
        if self.settings is None:  # dbt-spark used outside `dbt_connections`
            return ThriftStalled("the Spark Thrift Server stopped answering")
        return ThriftStalled(_node_message(self.settings))


_BUILD = _Build()


@contextmanager
def dbt_connections(settings: Settings) -> Iterator[_Build]:
    """Patch dbt-spark for one dbt command run with `settings`; yields its stall state, which
    is cleared when the block ends (read it inside)."""
    _patch_once()
    _BUILD.settings = settings
    _BUILD.stalled.clear()
    try:
        yield _BUILD
    finally:
        _BUILD.settings = None
        _BUILD.stalled.clear()


def _timed_connect(real_connect: Callable[..., Any]) -> Callable[..., Any]:
    """`hive.connect` as dbt-spark calls it, with the stall timeout from the handshake on."""

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
            if timed_out(exc):
                raise _BUILD.stall() from exc
            raise
        use_guarded_cursors(conn, polled=False)  # dbt-spark polls its statements itself
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

    def stall_checked(original: Callable[..., Any]) -> Callable[..., Any]:
        """Every call of the wrapper that talks to the server: refused once the build has
        stalled, and a timeout (marked on the connection by its cursor) ends the build."""

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            _BUILD.check()
            try:
                return original(self, *args, **kwargs)
            except Exception as exc:
                # Raised as ThriftStalled, not as the transport error: dbt-spark would retry a
                # lost connection on the same transport.
                if timed_out(exc) or is_stalled(self.handle):
                    raise _BUILD.stall() from exc
                raise

        return call

    def close(self: Any) -> None:
        # After a stall, closing the session politely would wait for the stuck server once more
        # per connection: drop the socket instead (the server ends the session on its side).
        if _BUILD.stalled.is_set() and close_socket(getattr(self.handle, "_transport", None)):
            return
        original_close(self)

    wrapper.__init__ = init
    wrapper._execute_with_polling = stall_checked(wrapper._execute_with_polling)
    wrapper.fetchall = stall_checked(wrapper.fetchall)
    wrapper.description = property(stall_checked(wrapper.description.fget))
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
