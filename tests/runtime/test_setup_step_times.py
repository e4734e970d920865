"""scripts/setup.sh logs how long each step took, as benchmarks/setup_time.py reads it, in any
locale: bash's EPOCHREALTIME has the locale's decimal separator (a comma in de_DE), and awk
printed "0,4" there, so the benchmark found no step at all.

The real setup.sh runs in a copy of the repository's layout where everything is set up except
the Thrift Server jars; a stand-in `mvn` first on PATH takes 0.3 s to "fetch" them, so that
one step is timed. Nothing is installed or downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from lake_support import missing_prerequisite

from lakehouse.settings import REPO_ROOT

MAVEN_TAKES_S = 0.3
LOCALE_SOURCE = Path("/usr/share/i18n/locales/de_DE")
DONE_LINE = re.compile(r"\[setup\]\S* done in ([0-9]+\.[0-9]) s$")


def _setup_time_benchmark() -> ModuleType:
    path = REPO_ROOT / "benchmarks" / "setup_time.py"
    spec = importlib.util.spec_from_file_location("setup_time", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _set_up_but_the_thrift_jars(root: Path) -> None:
    """The files setup.sh looks for, as a finished set-up leaves them, minus the Thrift jars."""
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    inputs = b""
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy2(REPO_ROOT / name, root / name)
        inputs += (root / name).read_bytes()
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (root / ".venv" / f".installed-{hashlib.sha256(inputs).hexdigest()[:16]}").touch()
    (root / "tests" / "bronze" / "hdfs" / "jars").mkdir(parents=True)
    (root / "tests" / "bronze" / "hdfs" / "jars" / "hadoop-minicluster-0.jar").touch()
    (root / "ingestion" / "ferretdb").mkdir(parents=True)
    (root / ".tools" / "bin").mkdir(parents=True)
    ferretdb = root / ".tools" / "bin" / "ferretdb-local"
    ferretdb.touch(mode=0o755)


def _slow_maven(bin_dir: Path) -> None:
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(f"#!/bin/sh\nsleep {MAVEN_TAKES_S}\n")
    mvn.chmod(0o755)


@pytest.fixture(scope="module")
def comma_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a German locale, compiled into a folder of the test's own (a machine
    may have only C and POSIX compiled)."""
    if shutil.which("localedef") is None or not LOCALE_SOURCE.is_file():
        missing_prerequisite(
            f"glibc's locale compiler or sources are missing (localedef, {LOCALE_SOURCE}):"
            " install Debian's `locales` package (`scripts/setup.sh --browser` does, as root)"
        )
    folder = tmp_path_factory.mktemp("locales")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(folder / "de_DE.UTF-8")],
                   check=True, capture_output=True)
    env = {"LOCPATH": str(folder), "LC_ALL": "de_DE.UTF-8"}
    shown = subprocess.run(["bash", "-c", "echo $EPOCHREALTIME"], env={**os.environ, **env},
                           capture_output=True, text=True, check=True)
    assert "," in shown.stdout, f"the locale was not used: EPOCHREALTIME is {shown.stdout!r}"
    return env


@pytest.mark.parametrize("locale", ["C", "de_DE"])
def test_setup_logs_each_step_it_ran_with_its_time(
    locale: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = tmp_path / "repo"
    _set_up_but_the_thrift_jars(root)
    _slow_maven(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.update(request.getfixturevalue("comma_locale") if locale == "de_DE" else {"LC_ALL": "C"})

    ran = subprocess.run(["bash", str(root / "scripts" / "setup.sh")], env=env,
                         capture_output=True, text=True, timeout=60)

    assert ran.returncode == 0, ran.stderr
    benchmark = _setup_time_benchmark()
    # Only the step that did something has a time; the skipped ones stay silent.
    steps = benchmark.step_seconds(ran.stdout)
    assert list(steps) == ["Thrift Server jars"], ran.stdout
    assert MAVEN_TAKES_S <= steps["Thrift Server jars"] < 10
    done = [m for line in benchmark.ANSI.sub("", ran.stdout).splitlines()
            if (m := DONE_LINE.search(line))]
    assert len(done) == 1, ran.stdout
    assert float(done[0][1]) >= steps["Thrift Server jars"]
