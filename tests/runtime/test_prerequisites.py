"""A test whose prerequisite (HDFS jars, Chromium) is missing fails the suite that CI runs,
instead of being skipped while the run still passes."""

from __future__ import annotations

import subprocess

import pytest
from lake_support import REQUIRE_ALL, missing_prerequisite

from lakehouse.settings import REPO_ROOT


def test_a_missing_prerequisite_fails_when_every_one_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ALL, "1")
    with pytest.raises(pytest.fail.Exception, match=r"HDFS jars missing .*requires every"):
        missing_prerequisite("HDFS jars missing")
    monkeypatch.delenv(REQUIRE_ALL)
    with pytest.raises(pytest.skip.Exception, match="HDFS jars missing"):
        missing_prerequisite("HDFS jars missing")


def test_the_suite_script_requires_every_prerequisite() -> None:
    # What scripts/test.sh exports is what the tests see; ask bash, not the file's text.
    script = REPO_ROOT / "scripts" / "test.sh"
    lines = [line for line in script.read_text().splitlines() if line.startswith("export ")]
    shown = subprocess.run(["bash", "-c", "\n".join([*lines, f'echo "${REQUIRE_ALL}"'])],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "1"
