"""Benchmark of the set-up step (`scripts/setup.sh`, what `make run` runs before the job).

Clones the repository's HEAD into a scratch folder and runs `scripts/setup.sh` three times, as
a user would meet it:
  1. cold: a fresh clone with empty pip, Maven and Go caches (every package is downloaded and
     pyspark's wheel is built);
  2. fresh clone, warm caches: a second clone, with the pip, Maven and Go module and build
     caches the first run filled (a new checkout on a machine that set up the project before);
  3. again: `scripts/setup.sh` once more in that clone, with everything in place.
The caches are scratch folders too (PIP_CACHE_DIR, MAVEN_OPTS=-Dmaven.repo.local, GOMODCACHE,
GOCACHE), so the user's own caches are neither used nor filled; the machine's registry settings
(pip.conf, ~/.m2/settings.xml, `go env`) still apply, as they do for `make run`. `--own-caches`
skips the cold run and uses the user's caches instead. A failed run keeps the scratch folder
and its logs. Each step's time is the "took N s" line setup.sh logs. Needs only
the Python standard library, so it runs before any set-up:

    python3 benchmarks/setup_time.py [--own-caches] [--keep]
Results: benchmarks/results/setup_time.json and .md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
STEP_LINE = re.compile(r"\[setup\]\S* took ([0-9.]+) s: (.+)$")  # setup.sh prints a point
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What set-up leaves in a clone, as the README's "What gets installed where" table lists it.
OUTPUTS = {
    "Python venv": ".venv",
    "Thrift Server jars": "spark_thrift/jars",
    "HDFS test jars": "tests/bronze/hdfs/jars",
    "FerretDB binary": ".tools/bin",
}


def scratch_caches(root: Path) -> dict[str, Path]:
    return {name: root / "caches" / name for name in ("pip", "maven", "go-modules", "go-build")}


def cache_env(caches: dict[str, Path] | None) -> dict[str, str]:
    env = dict(os.environ)
    # An activated venv's python3.11 would become the clone's base interpreter.
    if venv := env.pop("VIRTUAL_ENV", None):
        env["PATH"] = os.pathsep.join(
            p for p in env["PATH"].split(os.pathsep) if not p.startswith(venv))
    if caches is not None:
        env["PIP_CACHE_DIR"] = str(caches["pip"])
        env["MAVEN_OPTS"] = f"{env.get('MAVEN_OPTS', '')} -Dmaven.repo.local={caches['maven']}"
        env["GOMODCACHE"] = str(caches["go-modules"])
        env["GOCACHE"] = str(caches["go-build"])
    return env


def clone(target: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)


def step_seconds(output: str) -> dict[str, float]:
    """The steps setup.sh timed; a step it skipped (< 0.1 s) logs no line."""
    steps = {}
    for line in ANSI.sub("", output).splitlines():
        if match := STEP_LINE.search(line):
            steps[match.group(2).strip()] = float(match.group(1))
    return steps


def run_setup(checkout: Path, env: dict[str, str], label: str, log: Path) -> dict:
    print(f"{label}: scripts/setup.sh in {checkout} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(["scripts/setup.sh"], cwd=checkout, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = round(time.perf_counter() - started, 1)
    log.write_text(done.stdout)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-30:])
        sys.exit(f"{label}: scripts/setup.sh exited {done.returncode} after {wall} s"
                 f" (whole log: {log}):\n{tail}")
    result = {"run": label, "wall_seconds": wall, "step_seconds": step_seconds(done.stdout)}
    print(json.dumps(result), flush=True)
    return result


def size_mb(path: Path) -> float | None:
    """Bytes of the files under `path`, in MB (10^6 bytes)."""
    if not path.exists():
        return None
    total = sum(
        f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 1e6, 1)


def tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, text=True, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not run: {exc}"
    return ANSI.sub("", (done.stdout or done.stderr).strip().splitlines()[0])  # mvn colours it


def remove_tree(path: Path) -> None:
    # Go's module cache is read-only; make each entry writable before deleting it.
    def make_writable(function, target, _info) -> None:
        os.chmod(target, stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
        function(target)

    for folder in [path, *[p for p in path.rglob("*") if p.is_dir() and not p.is_symlink()]]:
        folder.chmod(folder.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(path, onerror=make_writable)


def clone_commit(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, text=True,
                          capture_output=True, check=True).stdout.strip()


def measure(work: Path, own_caches: bool) -> dict:
    caches = None if own_caches else scratch_caches(work)
    env = cache_env(caches)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    runs = []
    if caches is not None:
        clone(work / "cold")
        runs.append(run_setup(work / "cold", env, "cold (empty caches)", work / "cold.log"))
    clone(work / "warm")
    runs.append(run_setup(work / "warm", env, "fresh clone, warm caches", work / "warm.log"))
    runs.append(run_setup(work / "warm", env, "again (all in place)", work / "again.log"))
    return {
        "benchmark": "setup_time",
        "started_at": started_at,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": clone_commit(work / "warm"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "caches": "the user's own" if own_caches else "scratch, empty before the cold run",
        "pip_find_links": os.environ.get("PIP_FIND_LINKS") or None,
        "tools": {
            "python": tool_version([os.environ.get("PYTHON", "python3.11"), "--version"]),
            "java": tool_version(["java", "-version"]),
            "maven": tool_version(["mvn", "-v"]),
            "go": tool_version(["go", "version"]),
        },
        "runs": runs,
        "output_mb": {name: size_mb(work / "warm" / rel) for name, rel in OUTPUTS.items()},
        "cache_mb": {name: size_mb(path) for name, path in (caches or {}).items()},
    }


def _seconds(value: float | None) -> str:
    return "skipped" if value is None else f"{value:,} s"


def markdown(result: dict) -> str:
    runs = result["runs"]
    steps = list(dict.fromkeys(s for run in runs for s in run["step_seconds"]))
    lines = [
        "# set-up benchmark (`scripts/setup.sh`)",
        "",
        f"Measured {result.get('started_at', '?')} to {result['measured_at']} at commit"
        f" {result['commit']} on"
        f" {result['machine']} (load average {result['load_average_at_end']} at the end);"
        f" caches: {result['caches']}. Downloads come from PyPI, Maven Central and the Go"
        " module proxy, so the cold run depends on the network. Command:"
        " `python3 benchmarks/setup_time.py`.",
        "",
        "| step | " + " | ".join(run["run"] for run in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for step in steps:
        cells = [_seconds(run["step_seconds"].get(step)) for run in runs]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("| **`scripts/setup.sh` wall time** | "
                 + " | ".join(f"**{run['wall_seconds']:,} s**" for run in runs) + " |")
    lines += [
        "",
        "\"skipped\": setup.sh logged no time for the step (it rounds to 0.0 s: the step's"
        " output was in place, or, for system tools, all were there). Not measured:"
        " `make test`'s extra `--browser` step, which installs Debian's chromium system-wide"
        " with apt-get once per machine.",
        "",
        "| what set-up leaves in the clone | MB |",
        "|---|---:|",
    ]
    lines += [f"| {name} (`{OUTPUTS[name]}`) | {mb:,} |"
              for name, mb in result["output_mb"].items() if mb is not None]
    if result["cache_mb"]:
        lines += ["", "| cache filled by the cold run | MB |", "|---|---:|"]
        lines += [f"| {name} | {mb:,} |" for name, mb in result["cache_mb"].items()
                  if mb is not None]
    lines += ["", "Tools: " + "; ".join(f"{k}: {v}" for k, v in result["tools"].items()) + "."]
    if result["pip_find_links"]:
        lines.append(f"pip also looked for wheels in `{result['pip_find_links']}`"
                     " (PIP_FIND_LINKS of the machine).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--own-caches", action="store_true",
                        help="skip the cold run; use (and fill) the user's own caches")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the .json")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        result = json.loads((RESULTS / "setup_time.json").read_text())
    else:
        work = Path(tempfile.mkdtemp(prefix="bench_setup_"))
        try:
            result = measure(work, args.own_caches)
        except BaseException:
            print(f"kept {work} (its *.log files are setup.sh's output)", file=sys.stderr)
            raise
        if args.keep:
            print(f"kept {work}")
        else:
            remove_tree(work)
        (RESULTS / "setup_time.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "setup_time.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
