"""Ctrl-C inside a deferred step arrives when the step ends; a second one stops it at once.

Each case runs in its own interpreter and sends itself a real SIGINT, so a broken handler can
only fail its case, never interrupt pytest."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import os, signal, sys, time
from lakehouse.interrupts import deferred_ctrl_c

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.3)  # the handler runs here, between bytecodes

steps = []
if {ignored}:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    with deferred_ctrl_c("the outer step", "costly"):
        with deferred_ctrl_c("the inner step", "costly too"):
            for _ in range({presses}):
                ctrl_c()
            steps.append("inner done")
        steps.append("outer done")
    steps.append("after")
except KeyboardInterrupt:
    steps.append("KeyboardInterrupt")
print(",".join(steps))
"""


def run_case(presses: int, ignored: bool = False) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.format(presses=presses, ignored=ignored)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )


def test_one_ctrl_c_is_held_until_the_outermost_step_ends() -> None:
    result = run_case(presses=1)
    assert result.stdout.strip() == "inner done,outer done,KeyboardInterrupt"
    # Told once, by the step that holds it, with the way out.
    assert result.stderr.count("Ctrl-C: finishing") == 1
    assert (
        "Ctrl-C: finishing the outer step first, then stopping. Press Ctrl-C again to stop now"
        " (costly)." in result.stderr
    )


def test_a_second_ctrl_c_stops_the_step_at_once() -> None:
    assert run_case(presses=2).stdout.strip() == "KeyboardInterrupt"


@pytest.mark.parametrize("presses", [0, 1])
def test_without_ctrl_c_or_with_sigint_ignored_the_steps_just_run(presses: int) -> None:
    result = run_case(presses=presses, ignored=presses == 1)
    assert result.stdout.strip() == "inner done,outer done,after"
    assert "Ctrl-C" not in result.stderr
