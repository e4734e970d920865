"""`lakehouse transform` (dbt build with a progress view), `lakehouse freshness` (dbt source
freshness of the bronze tables) and `lakehouse docs` (dbt docs site).

Registered by lakehouse/cli.py; dbt and the runner are imported inside the commands so the CLI
starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from lakehouse.dbt_runner import DbtRunSummary
    from lakehouse.settings import Settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _summary_table(summary: DbtRunSummary) -> Table:
    table = Table("", "passed", "failed", title="dbt build")
    table.add_row("models", str(summary.models_passed), str(summary.models_failed))
    table.add_row("tests", str(summary.tests_passed), str(summary.tests_failed))
    table.add_row("warnings / skipped", str(summary.warnings), str(summary.skipped))
    return table


def _with_status(label: str, call: Callable[[Settings], T]) -> T:
    """Run `call(settings)` under a spinner; a server that is down or a dbt failure exits 1 with
    the runner's message (which names the fix)."""
    from lakehouse import dbt_runner
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import ServiceError

    try:
        with console.status(label):
            return call(get_settings())
    except (ServiceError, dbt_runner.DbtRunError) as exc:
        raise _fail(str(exc)) from exc


AUDIT_SCHEMA = "gold_audit"
SELECT_OPTION = typer.Option(
    None, "--select", "-s", help="dbt selector(s), e.g. marts or stg_spotify__tracks+."
)
EXCLUDE_OPTION = typer.Option(None, "--exclude", help="dbt selector(s) to skip.")


def transform(
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild incremental models from scratch."
    ),
    select: list[str] | None = SELECT_OPTION,
    exclude: list[str] | None = EXCLUDE_OPTION,
    target_schema: str | None = typer.Option(
        None,
        "--target-schema",
        help="Build the gold marts into this schema (and LAKE_ROOT/<schema>/), e.g. gold_audit"
        " for write-audit-publish. Default: DBT_GOLD_SCHEMA (gold).",
    ),
    audit: bool = typer.Option(
        False, "--audit", help="Shortcut for --target-schema gold_audit (write-audit-publish)."
    ),
) -> None:
    """Run `dbt build` (models, tests, unit tests) on the Spark Thrift Server; print a summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from lakehouse import dbt_runner
    from lakehouse.dbt_sources import BronzeMissingError
    from lakehouse.exclusive_lock import LockHeld
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import ServiceError

    settings = get_settings()
    if audit:
        target_schema = target_schema or AUDIT_SCHEMA
    if (target_schema or settings.dbt_gold_schema) == settings.gold_schema:
        # Allowed (a development lake), but consumers read this schema: say it skips the gate.
        err_console.print(
            f"[yellow]note:[/] building the marts straight into `{settings.gold_schema}`, which"
            " Dremio, the app and the recommender read, without the Great Expectations gate."
            " Use `lakehouse publish` for gated gold, or --audit / --target-schema <schema>.",
            highlight=False,
            soft_wrap=True,
        )
    with Progress(
        TextColumn("[bold]dbt build[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("parsing the project ...", total=None)

        def on_progress(event: dbt_runner.Progress) -> None:
            if not event.done:
                progress.update(task, total=event.total, description=event.name)
                return
            progress.advance(task)
            if event.status in dbt_runner.FAILED:
                progress.console.print(
                    f"[red]{event.status}[/] {event.resource_type} {event.name}", highlight=False
                )

        try:
            summary = dbt_runner.build(
                settings,
                full_refresh=full_refresh,
                select=select or (),
                exclude=exclude or (),
                gold_schema=target_schema,
                on_progress=on_progress,
            )
        except (
            ServiceError, BronzeMissingError, dbt_runner.DbtRunError, LockHeld, ValueError
        ) as exc:
            raise _fail(str(exc)) from exc
        except KeyboardInterrupt:
            err_console.print(
                "[bold yellow]interrupted:[/] dbt finished the statements it was running and"
                " started no others. The models it finished are kept (each is one Delta"
                " commit); run `lakehouse transform` again to build the rest.",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(130) from None
    console.print(_summary_table(summary))
    for node in summary.failed_nodes:
        err_console.print(
            f"[red]{node.status}[/] {node.resource_type} {node.name}: {node.message}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(summary.line(), highlight=False)
    if not summary.success:
        raise typer.Exit(1)


FRESHNESS_STYLE = {"pass": "green", "warn": "yellow", "empty": "dim"}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def freshness() -> None:
    """Check how recent each bronze table is (dbt source freshness); exit 1 if one is stale.

    Thresholds are the sources' `freshness` in dbt_spotify (warn after 7 days, error after 30).
    """
    from lakehouse import dbt_runner

    results = _with_status("dbt source freshness ...", dbt_runner.source_freshness)
    table = Table("bronze table", "newest row (UTC)", "age", "status", title="source freshness")
    for r in results:
        newest = r.max_loaded_at.strftime("%Y-%m-%d %H:%M") if r.max_loaded_at else "-"
        style = FRESHNESS_STYLE.get(r.status, "red")
        table.add_row(r.table, newest, _age(r.age_s), f"[{style}]{r.status}[/]")
    console.print(table)
    for r in results:
        if r.message and r.status not in FRESHNESS_STYLE:
            err_console.print(f"[red]{r.table}[/]: {r.message}", highlight=False, soft_wrap=True)
    if any(r.status not in FRESHNESS_STYLE for r in results):
        raise typer.Exit(1)


DOCS_HOST = "127.0.0.1"  # loopback only: the site lists every table and column of the lake


def _check_docs_port(port: int) -> None:
    from lakehouse.supervisor import port_is_free, port_owner

    if not port_is_free(DOCS_HOST, port):
        raise _fail(_docs_port_busy(port, port_owner(port)))


def _docs_port_busy(port: int, owner: str) -> str:
    return (
        f"port {port} on {DOCS_HOST} is already in use by {owner}: stop it, or serve the docs"
        f" on another port with --port (e.g. `lakehouse docs --port {port + 1}`), or build them"
        " only with --no-serve."
    )


def docs(
    port: int = typer.Option(8580, help="Port of the docs site on 127.0.0.1."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the site after building."),
) -> None:
    """Generate the dbt docs site and serve it on 127.0.0.1 (Ctrl-C stops it)."""
    import errno
    import functools
    import http.server

    from lakehouse import dbt_runner

    if serve:  # before generating: found after it, a busy port wastes minutes of dbt
        _check_docs_port(port)
    site = _with_status("dbt docs generate ...", dbt_runner.docs_generate)
    console.print(f"docs site built in {site}", highlight=False)
    if not serve:
        return
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    try:
        server = http.server.ThreadingHTTPServer((DOCS_HOST, port), handler)
    except OSError as exc:  # taken while dbt generated the site (checked before it started)
        from lakehouse.supervisor import port_owner

        if exc.errno != errno.EADDRINUSE:
            raise
        raise _fail(_docs_port_busy(port, port_owner(port))) from exc
    with server:
        console.print(f"serving dbt docs on http://{DOCS_HOST}:{port}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")


def register(app: typer.Typer) -> None:
    """Add this component's commands to the `lakehouse` CLI."""
    app.command("transform")(transform)
    app.command("freshness")(freshness)
    app.command("docs")(docs)
