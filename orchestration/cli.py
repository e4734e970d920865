"""`lakehouse run`, `pipeline` and `orchestrate` (registered by lakehouse/cli.py)."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)
orchestrate_app = typer.Typer(help="Prefect deployments.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _expected_errors() -> tuple[type[Exception], ...]:
    from lakehouse.supervisor import ServiceError
    from orchestration.flows import StageFailed
    from orchestration.pipeline_lock import PipelineLocked

    return (StageFailed, PipelineLocked, ServiceError)


def _run(start_services: bool, **parameters) -> None:
    from lakehouse.settings import get_settings
    from orchestration import main_job
    from orchestration.cli_logging import tracebacks_to_file
    from orchestration.flows import RunInterrupted
    from orchestration.prefect_api import prefect_api

    settings = get_settings()
    try:
        with tracebacks_to_file(settings.log_dir) as log, prefect_api(settings):
            if start_services:
                main_job.start_services(settings, console)
            report = main_job.run_pipeline(settings, **parameters)
    except _expected_errors() as exc:
        raise _fail(f"{exc}\n(The run's full log, with tracebacks: {log})") from exc
    except KeyboardInterrupt as exc:
        # 130 = 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C.
        message = str(exc) if isinstance(exc, RunInterrupted) else "Stopped by Ctrl-C."
        if start_services and (settings.mongodb_is_local or settings.thrift_is_local):
            message += " The local services keep running; `lakehouse services down` stops them."
        err_console.print(f"[bold yellow]interrupted:[/] {message}", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(130) from exc
    main_job.print_report(report, settings, console)


def run(
    artists_per_run: int | None = typer.Option(
        None, help="Artists to crawl this run [PIPELINE_ARTISTS_PER_RUN]"
    ),
) -> None:
    """The main job: start the local services and run the whole pipeline (incremental)."""
    _run(True, crawl=True, artists_per_run=artists_per_run)


def pipeline(
    crawl: bool = typer.Option(True, help="Crawl before exporting"),
    artists_per_run: int | None = typer.Option(
        None, help="Artists to crawl [PIPELINE_ARTISTS_PER_RUN]"
    ),
    mode: str = typer.Option("auto", help="Crawl mode: auto | extended | development"),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental dbt models"),
    train: bool = typer.Option(True, help="Train the recommender after publishing"),
) -> None:
    """Run the pipeline flow against services that are already up."""
    _run(
        False,
        crawl=crawl,
        artists_per_run=artists_per_run,
        mode=mode,
        full_refresh=full_refresh,
        train=train,
    )


@orchestrate_app.command("serve")
def serve() -> None:
    """Serve the crawl (interval) and pipeline (on demand) deployments; needs PREFECT_API_URL."""
    from lakehouse.settings import get_settings
    from orchestration.deployments import serve as serve_deployments
    from orchestration.prefect_api import configured_api_url

    if not configured_api_url():
        raise _fail(
            "No Prefect server is configured (PREFECT_API_URL is unset): start one with "
            "`prefect server start --host 127.0.0.1`, then export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (or put it in the .env of the folder you "
            "run from, or `prefect config set PREFECT_API_URL=...`)."
        )
    serve_deployments(get_settings())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("pipeline")(pipeline)
    app.add_typer(orchestrate_app, name="orchestrate")
