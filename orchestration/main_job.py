"""The main job behind `make run` / `lakehouse run`: services up, the pipeline flow, a report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from lakehouse.settings import Settings


def start_services(settings: Settings, console: Console) -> None:
    from lakehouse import services

    for service in services.all_services(settings):
        with console.status(f"starting {service.title} on {service.address} ..."):
            console.print(services.start(service), highlight=False)


def run_pipeline(settings: Settings, **parameters: Any) -> dict[str, Any]:
    from orchestration.flows import pipeline_flow

    return pipeline_flow(**parameters)


def print_report(report: dict[str, Any], settings: Settings, console: Console) -> None:
    stages = Table("stage", "status", "seconds")
    for name, stage in report["stages"].items():
        stages.add_row(name, stage["status"], f"{stage['seconds']:.1f}")
    console.print(stages)

    counts = Table("layer", "table", "rows")
    for layer, tables in report["layer_counts"].items():
        for table, rows in tables.items():
            counts.add_row(layer, table, str(rows))
    console.print(counts)

    quality = report["stages"].get("quality", {}).get("result") or {}
    if quality:
        console.print(
            f"Quality gate: passed ({quality['evaluated']} expectations). "
            f"Data docs: {quality['docs']}",
            highlight=False,
        )
    if report.get("model_version"):
        console.print(f"Recommender: version {report['model_version']}", highlight=False)
    next_steps = [
        f"  lakehouse app        # the Streamlit app on http://{settings.app_host}:{settings.app_port}",
        "  lakehouse docs       # dbt docs on http://127.0.0.1:8580",
        f"  Spark SQL (JDBC):    jdbc:hive2://{settings.thrift_host}:{settings.thrift_port}",
    ]
    # Servers named by MONGODB_URI / THRIFT_HOST are someone else's to stop.
    if settings.mongodb_is_local or settings.thrift_is_local:
        next_steps.append("  lakehouse services down   # stop the services")
    console.print(
        f"Run {report['run_id']} {report['status']} in {report['seconds']:.0f} s.\nNext:\n"
        + "\n".join(next_steps),
        highlight=False,
    )
