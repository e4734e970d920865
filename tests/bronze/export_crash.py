"""Simulated crashes of the bronze export, shared by its tests."""

from __future__ import annotations

import pytest

from ingestion import bronze_export


class SimulatedCrash(Exception):
    pass


def crash_on_commit(monkeypatch: pytest.MonkeyPatch, failing_call: int) -> list[int]:
    """Make the `failing_call`-th Delta commit of the export raise, like a killed process."""
    calls: list[int] = []
    real = bronze_export._EntityWriter._commit

    def commit(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == failing_call:
            raise SimulatedCrash(f"killed at commit {failing_call}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(bronze_export._EntityWriter, "_commit", commit)
    return calls
