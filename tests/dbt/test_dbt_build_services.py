"""A dbt build is a job of the Thrift Server only: while it runs, `lakehouse services down` may
stop MongoDB, and refuses to stop the Thrift Server under it."""

from __future__ import annotations

import threading
from pathlib import Path

import dbt_catalogue as cat
import pytest
from dbt_fixtures import scoped, write_and_register

from lakehouse import dbt_runner
from lakehouse.dbt_runner import Progress
from lakehouse.exclusive_lock import FERRETDB, THRIFT, running_jobs
from lakehouse.settings import Settings

pytestmark = pytest.mark.services


def test_a_running_dbt_build_is_a_job_of_the_thrift_server_not_of_mongodb(
    thrift: Settings, tmp_path: Path
) -> None:
    settings = scoped(thrift, "build_jobs").model_copy(
        update={"lake_root": str(tmp_path / "lake")})
    write_and_register(settings, cat.first_batch())
    seen: list[tuple[list[str], list[str]]] = []
    guard = threading.Lock()  # dbt reports from its worker threads

    def look(_event: Progress) -> None:
        jobs = running_jobs(settings, {THRIFT}), running_jobs(settings, {FERRETDB})
        with guard:
            seen.append(jobs)

    summary = dbt_runner.build(
        settings, register_sources=False, unit_tests=False,
        select=["stg_spotify__artists"], exclude=["resource_type:test"], on_progress=look,
    )

    assert summary.success and seen
    for thrift_jobs, mongodb_jobs in seen:
        assert [job.split(" (pid ")[0] for job in thrift_jobs] == [
            f"dbt build into {settings.dbt_gold_schema}"]
        assert mongodb_jobs == []
    assert running_jobs(settings) == []  # released at the end
