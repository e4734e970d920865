"""Peak resident memory of process trees, sampled in a background thread (benchmarks only)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable

import psutil


class PeakRss:
    """Samples the summed RSS of some process trees every `interval_s` while in the `with` block.

    `roots` is called at every sample, so it can name processes that appear during the run
    (services started in their own session are not children of the command that started them).
    """

    def __init__(self, roots: Callable[[], Iterable[int]], interval_s: float = 0.5) -> None:
        self.roots = roots
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        seen: set[int] = set()
        total = 0
        for pid in self.roots():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    if proc.pid not in seen:
                        seen.add(proc.pid)
                        with contextlib.suppress(psutil.Error):
                            total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
