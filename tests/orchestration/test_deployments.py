"""The deployments load as Prefect objects with the schedules and parameters we promise."""

from __future__ import annotations

import datetime as dt

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
