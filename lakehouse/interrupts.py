"""Ctrl-C during a step that must not stop halfway (publishing gold) waits for the step to end.

Publishing commits one Delta table after another; a KeyboardInterrupt between two commits would
leave gold half new, half old until the next publish. Inside `deferred_ctrl_c` the first Ctrl-C
is held and delivered when the step is done; a second one stops at once, for a step that hangs.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred_ctrl_c(step: str, if_stopped_now: str) -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until `step` ends; `if_stopped_now` says what a second one costs."""
    # Python runs signal handlers in the main thread only, and an ignored SIGINT (nohup, a
    # background job) has nothing to hold.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    # An enclosing step already holds Ctrl-C (the flow's publish stage around the publish itself).
    if previous in (signal.SIG_IGN, None) or getattr(previous, "holds_ctrl_c", False):
        yield
        return
    presses = 0

    def hold(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        print(
            f"\nCtrl-C: finishing {step} first, then stopping. Press Ctrl-C again to stop now"
            f" ({if_stopped_now}).",
            file=sys.stderr,
            flush=True,
        )

    hold.holds_ctrl_c = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if presses:
        # Delivered to the handler that was there before (by default: KeyboardInterrupt).
        signal.raise_signal(signal.SIGINT)
