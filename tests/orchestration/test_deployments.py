"""The deployments load as Prefect objects with the schedules and parameters we promise."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from prefect.utilities.callables import parameter_schema

from lakehouse.settings import Settings
from orchestration.deployments import CRAWL_DEPLOYMENT, PIPELINE_DEPLOYMENT, build_deployments
from orchestration.flows import crawl_flow, pipeline_flow


def test_crawl_runs_on_an_interval_and_the_pipeline_on_demand() -> None:
    settings = Settings(
        crawl_interval_minutes=45, crawl_artists_per_run=7, pipeline_artists_per_run=3
    )
    crawl, pipeline = build_deployments(settings)

    assert crawl.name == CRAWL_DEPLOYMENT
    assert crawl.flow_name == "spotify-crawl"
    (schedule,) = crawl.schedules
    assert schedule.schedule.interval == dt.timedelta(minutes=45)
    assert crawl.parameters == {"artists_per_run": 7, "mode": "auto"}

    assert pipeline.name == PIPELINE_DEPLOYMENT
    assert pipeline.flow_name == "spotify-pipeline"
    assert not pipeline.schedules
    assert pipeline.parameters == {
        "crawl": True,
        "artists_per_run": 3,
        "mode": "auto",
        "full_refresh": False,
        "train": True,
    }


def test_deployment_parameters_match_the_flow_signatures() -> None:
    crawl, pipeline = build_deployments(Settings())
    for deployment, flow in ((crawl, crawl_flow), (pipeline, pipeline_flow)):
        accepted = set(parameter_schema(flow.fn).properties)
        assert set(deployment.parameters) <= accepted, deployment.name


def _in_folder(folder: Path, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(folder / "prefect-home")  # no profile with a server in it
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_serve_without_a_prefect_server_names_the_setting(tmp_path: Path) -> None:
    result = _in_folder(
        tmp_path, str(Path(sys.executable).with_name("lakehouse")), "orchestrate", "serve"
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "No Prefect server is configured (PREFECT_API_URL is unset)" in message
    assert "prefect server start --host 127.0.0.1" in message


def test_serve_finds_the_prefect_server_where_prefect_does(tmp_path: Path) -> None:
    """PREFECT_API_URL in the .env of the folder it runs from counts, as it does for Prefect."""
    (tmp_path / ".env").write_text("PREFECT_API_URL=http://127.0.0.1:4299/api\n")
    probe = "from orchestration.prefect_api import configured_api_url; print(configured_api_url())"
    result = _in_folder(tmp_path, sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:4299/api"
    (tmp_path / ".env").unlink()
    assert _in_folder(tmp_path, sys.executable, "-c", probe).stdout.strip() == "None"
