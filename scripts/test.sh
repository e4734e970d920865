#!/usr/bin/env bash
# Lint, then the whole test suite. Services the tests need are started by session fixtures on
# free ports with their own data folder, and stopped at the end: a running dev stack is untouched.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DBT_SEND_ANONYMOUS_USAGE_STATS=false PREFECT_SERVER_ANALYTICS_ENABLED=false
# A missing prerequisite (HDFS jars, Chromium) fails the suite instead of skipping tests.
export LAKEHOUSE_TESTS_REQUIRE_ALL=1
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then
  # pytest's 5 = no test collected: for this suite that means collection is broken.
  echo "pytest collected no tests: the suite is misconfigured (see tests/)." >&2
  exit 1
fi
exit "$rc"
