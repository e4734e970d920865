"""`lakehouse`: the one command-line entry point, a subcommand per pipeline stage.

Components add their own subcommands through a `register(app)` function in their `cli.py`
(listed in COMPONENT_CLIS), so this file stays an index and heavy imports stay lazy.
"""

from __future__ import annotations

import importlib

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.settings import apply_offline_env, get_settings
from lakehouse.supervisor import ServiceError

apply_offline_env()

app = typer.Typer(
    help="Spotify lakehouse: crawl -> MongoDB -> Delta bronze -> dbt silver/gold -> app.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(help="Start, stop and inspect the local services.", no_args_is_help=True)
app.add_typer(services_app, name="services")

console = Console()
err_console = Console(stderr=True)

# Modules whose `register(app)` adds a component's subcommands.
COMPONENT_CLIS: list[str] = [
    "ingestion.crawl_cli",
    "ingestion.bronze_cli",
    "lakehouse.dbt_cli",
    "ml.cli",
    "quality.cli",
    "orchestration.cli",
    "app.cli",
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


ServiceOption = typer.Option(None, "--only", help="Limit to a service: ferretdb or thrift.")


@services_app.command("up")
def services_up(only: list[str] | None = ServiceOption) -> None:
    """Start FerretDB and the Spark Thrift Server (reusing running ones) and wait until healthy."""
    from lakehouse import services

    settings = get_settings()
    try:
        for service in services.select(settings, only):
            with console.status(f"starting {service.title} on {service.address} ..."):
                console.print(services.start(service), highlight=False)
    except ServiceError as exc:
        raise fail(str(exc)) from exc


@services_app.command("down")
def services_down(
    only: list[str] | None = ServiceOption,
    force: bool = typer.Option(
        False, "--force", help="Stop them even while a job (crawl, export, dbt, pipeline) runs."
    ),
) -> None:
    """Stop the services this project started (and nothing else); refused while a job uses one."""
    from lakehouse import services

    settings = get_settings()
    try:
        chosen = services.select(settings, only)
        if not force:
            services.refuse_while_jobs_run(settings, chosen)
        # Reverse order: the Thrift Server first, the database last.
        for service in reversed(chosen):
            console.print(services.stop(service), highlight=False)
    except ServiceError as exc:
        raise fail(str(exc)) from exc


@services_app.command("run")
def services_run(
    name: str = typer.Argument(..., help="The service to run: ferretdb or thrift."),
) -> None:
    """Run one service in the foreground (a container's entry point, systemd); Ctrl-C stops it."""
    from lakehouse import services

    settings = get_settings()
    try:
        (service,) = services.select(settings, [name])
        err_console.print(f"running {service.title} on {service.address}", highlight=False)
        services.run_in_foreground(service)
    except ServiceError as exc:
        raise fail(str(exc)) from exc


@services_app.command("status")
def services_status(only: list[str] | None = ServiceOption) -> None:
    """Show each service, its address, pid and health. Exit code 1 if any is not healthy."""
    from lakehouse import services

    settings = get_settings()
    try:
        states = [services.state(s) for s in services.select(settings, only)]
    except ServiceError as exc:
        raise fail(str(exc)) from exc
    table = Table("service", "address", "pid", "health", "note")
    for st in states:
        health = "[green]healthy[/]" if st.healthy else "[red]down[/]"
        table.add_row(st.title, st.address, str(st.pid or "-"), health, st.detail)
    console.print(table)
    if not all(st.healthy for st in states):
        raise typer.Exit(1)


@app.command()
def doctor() -> None:
    """Check Java, ports, jars, binaries and package versions; say what to fix."""
    from lakehouse.doctor import run_checks

    checks = run_checks(get_settings())
    table = Table("check", "result", "detail")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    console.print(table)
    problems = [c for c in checks if not c.ok]
    for check in problems:
        err_console.print(f"[red]{check.name}:[/] {check.fix}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print("All checks passed.")


@app.command()
def vacuum(
    dry_run: bool = typer.Option(False, help="List what would be deleted; delete nothing."),
    retain_hours: int | None = typer.Option(
        None, min=0, help="Keep files replaced less than this many hours ago"
        " [LAKE_VACUUM_RETAIN_HOURS]"
    ),
) -> None:
    """Delete Delta files replaced longer ago than the retention (bronze, silver, gold)."""
    from lakehouse.exclusive_lock import LockHeld
    from lakehouse.vacuum import vacuum_lake

    try:
        done = vacuum_lake(get_settings(), retain_hours=retain_hours, dry_run=dry_run)
    except LockHeld as exc:
        raise fail(str(exc)) from exc
    deleted = [t for t in done.tables if t.files]
    if deleted:
        table = Table("table", "files", "MB")
        for t in deleted:
            table.add_row(f"{t.folder}.{t.name}", str(t.files), f"{t.bytes / 1e6:.1f}")
        console.print(table)
    console.print(done.line(), highlight=False)


def _register_components() -> None:
    for module in COMPONENT_CLIS:
        importlib.import_module(module).register(app)


_register_components()

if __name__ == "__main__":
    app()
