"""Peak resident memory of process trees, sampled in a background thread (benchmarks only)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import psutil


class PeakRss:
    """Samples the summed RSS of some process trees every `interval_s` while in the `with` block.

    `roots` is called at every sample, so it can name processes that appear during the run
    (services started in their own session are not children of the command that started them).
    `parts` (optional) splits each sample by process tree, at the same instant: name -> roots.
    A process counts in the first part whose trees hold it, so a service that the command
    started (and that is its child) counts as the service, not the command; `peak_by_part`
    holds each part's own peak.
    """

    def __init__(
        self,
        roots: Callable[[], Iterable[int]],
        interval_s: float = 0.5,
        parts: Mapping[str, Callable[[], Iterable[int]]] | None = None,
    ) -> None:
        self.roots = roots
        self.interval_s = interval_s
        self.parts = dict(parts or {})
        self.peak = 0
        self.peak_by_part = dict.fromkeys(self.parts, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss(roots: Iterable[int], seen: set[int]) -> int:
        total = 0
        for pid in roots:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                commands: dict[int, list[str]] = {}
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        # Also for processes already counted: a child spawned since then must
                        # still be recognised as their fork.
                        commands[proc.pid] = proc.cmdline()
                    if proc.pid in seen:
                        continue
                    seen.add(proc.pid)
                    with contextlib.suppress(psutil.Error):
                        command = commands.get(proc.pid)
                        if proc is not root and command and command == commands.get(proc.ppid()):
                            # A child that has not exec'd yet (a JVM starting a command does
                            # posix_spawn: the child shares the parent's memory until exec).
                            # Its RSS is the parent's pages again: counting it doubles the JVM.
                            continue
                        total += proc.memory_info().rss
        return total

    def _sample(self) -> None:
        seen: set[int] = set()
        now = {name: self._tree_rss(roots(), seen) for name, roots in self.parts.items()}
        for name, rss in now.items():
            self.peak_by_part[name] = max(self.peak_by_part[name], rss)
        # `seen` holds the parts' processes: the roots' trees add only what no part claimed.
        self.peak = max(self.peak, sum(now.values()) + self._tree_rss(self.roots(), seen))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
