#!/usr/bin/env bash
# Idempotent set-up of everything the project needs on this machine, all of it cached:
#   1. .venv with the Python stack (pip cache; skipped when pyproject/constraints are unchanged)
#   2. the Delta Lake (+ Hive LLAP common) jars for the Spark Thrift Server (Maven, ~/.m2)
#      -> spark_thrift/jars/
#   3. the local MongoDB-compatible server, FerretDB, built from ingestion/ferretdb (Go caches)
#      -> .tools/bin/ferretdb-local; and the jars of a one-node HDFS the tests run (Maven)
#   4. with --browser (`make test` adds it): Debian's chromium + chromium-driver for the
#      end-to-end app tests, and glibc's locale sources (`locales`) for the set-up timing test
# Missing system tools (Java, Maven) are installed with apt-get when running as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
WANT_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    *) echo "usage: scripts/setup.sh [--browser]" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
# EPOCHREALTIME has the locale's decimal separator (a comma in de_DE): make it a point for awk.
now() { echo "${EPOCHREALTIME/,/.}"; }
seconds_since() { LC_ALL=C awk -v now="$(now)" -v then="$1" 'BEGIN { printf "%.1f", now - then }'; }
start=$(now)
step_name="" step_start=""
step() {
  # Log how long the step before took, unless it rounds to 0.0 s (skipped), as
  # "[setup] took 12.3 s: <step>" (benchmarks/setup_time.py reads these lines); then start
  # timing the next step (none when called bare).
  local took
  if [ -n "$step_name" ]; then
    took=$(seconds_since "$step_start")
    [ "$took" = 0.0 ] || log "took $took s: $step_name"
  fi
  step_name="${1:-}" step_start=$(now)
}

apt_install() {
  # Only as root and only for what is missing; `apt-get update` once per run.
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "$1 is missing. Install it ($2) and re-run."
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    log "apt-get update"; apt-get update -qq; APT_UPDATED=1
  fi
  log "installing $2 with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2 >/dev/null
}

# --- system tools ------------------------------------------------------------------------------
step "system tools"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: the project needs Python 3.11 (set PYTHON=...)."
command -v java >/dev/null || apt_install "Java 17+" "openjdk-17-jdk-headless"
command -v mvn >/dev/null || apt_install "Maven" "maven"
command -v go >/dev/null || die "Go (>= 1.24) is missing: install it from go.dev/dl and re-run."

# --- 1. Python environment --------------------------------------------------------------------
step "Python environment"
if [ ! -x .venv/bin/python ]; then
  log "creating .venv ($("$PYTHON" --version))"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies (first time: ~2 min, pyspark builds locally; ~1.5 min from the pip cache)"
  .venv/bin/pip install --quiet -c constraints.txt -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
else
  log "Python dependencies up to date"
fi

# --- 2. Thrift Server jars --------------------------------------------------------------------
step "Thrift Server jars"
jars_ok=1
for jar in delta-spark_4.1_2.13-4.3.1.jar delta-storage-4.3.1.jar hive-llap-common-2.3.10.jar; do
  [ -f "spark_thrift/jars/$jar" ] || jars_ok=0
done
if [ "$jars_ok" = 0 ]; then
  log "fetching the Thrift Server jars (Delta, Hive LLAP common) with Maven"
  mvn -q -B -f spark_thrift/pom.xml dependency:copy-dependencies
else
  log "Thrift Server jars present"
fi

# --- 2b. single-node HDFS for the tests (hadoop-minicluster from Maven Central) -------------------
step "HDFS test jars"
if [ -z "$(ls tests/bronze/hdfs/jars/hadoop-minicluster-*.jar 2>/dev/null)" ]; then
  log "fetching the HDFS test cluster jars with Maven (first time: ~10 s, ~100 MB)"
  mvn -q -B -f tests/bronze/hdfs/pom.xml dependency:copy-dependencies
else
  log "HDFS test jars present"
fi

# --- 3. FerretDB ---------------------------------------------------------------------------------
step "FerretDB"
bin=.tools/bin/ferretdb-local
if [ ! -x "$bin" ] || [ -n "$(find ingestion/ferretdb -newer "$bin" -type f 2>/dev/null)" ]; then
  log "building FerretDB (first time: ~1 min from the Go module proxy)"
  mkdir -p .tools/bin
  (cd ingestion/ferretdb && GOFLAGS=-mod=readonly go build -trimpath -o "$ROOT/$bin" .)
else
  log "FerretDB binary present"
fi

# --- 4. test tools: browser for end-to-end tests, locale sources -----------------------------------
if [ "$WANT_BROWSER" = 1 ]; then
  step "test tools"
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install "Chromium" "chromium chromium-driver"
  else
    log "chromium present"
  fi
  # tests/runtime/test_setup_step_times.py compiles a decimal-comma locale (de_DE) from these.
  if [ ! -f /usr/share/i18n/locales/de_DE ]; then
    apt_install "glibc's locale sources" "locales"
  fi
fi

step
log "done in $(seconds_since "$start") s"
