"""Deployments: the crawl on an interval, the pipeline on demand.

Serve them against a Prefect server (bound to loopback):
    prefect server start --host 127.0.0.1 --port 4200          # UI at http://127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api lakehouse orchestrate serve
    PREFECT_API_URL=http://127.0.0.1:4200/api prefect deployment run spotify-pipeline/pipeline
"""

from __future__ import annotations

import datetime as dt

from lakehouse.settings import Settings
from orchestration.flows import crawl_flow, pipeline_flow

CRAWL_DEPLOYMENT = "crawl-on-interval"
PIPELINE_DEPLOYMENT = "pipeline"


def build_deployments(settings: Settings) -> list:
    crawl = crawl_flow.to_deployment(
        name=CRAWL_DEPLOYMENT,
        interval=dt.timedelta(minutes=settings.crawl_interval_minutes),
        parameters={"artists_per_run": settings.crawl_artists_per_run, "mode": "auto"},
        description="Crawl the next pending artists (plus due retries) into MongoDB.",
        tags=["spotify", "ingestion"],
    )
    pipeline = pipeline_flow.to_deployment(
        name=PIPELINE_DEPLOYMENT,
        parameters={
            "crawl": True,
            "artists_per_run": settings.pipeline_artists_per_run,
            "mode": "auto",
            "full_refresh": False,
            "train": True,
        },
        description="Crawl, export, dbt build, quality gate, publish and train, on demand.",
        tags=["spotify", "pipeline"],
    )
    return [crawl, pipeline]


def serve(settings: Settings) -> None:
    """Serve both deployments from this process until interrupted (needs PREFECT_API_URL)."""
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(settings))
