"""`lakehouse quality` and `lakehouse publish` (registered by lakehouse/cli.py)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def quality_command(
    gold_schema: str = typer.Option(
        "gold_audit", help="Gold schema to validate: gold_audit (being audited) or gold."
    ),
) -> None:
    """Run the Great Expectations checkpoint on silver and gold and build the data docs."""
    from lakehouse.settings import get_settings
    from quality.config import ConfigError
    from quality.gate import run_gate

    try:
        with console.status("running the Great Expectations checkpoint (Spark) ..."):
            result = run_gate(get_settings(), gold_schema=gold_schema)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    _print_gate(result)
    if not result.passed:
        raise typer.Exit(1)


def _print_gate(result) -> None:
    verdict = "[green]passed[/]" if result.passed else "[red]FAILED[/]"
    console.print(f"Quality gate {verdict}: {result.evaluated} expectations evaluated.")
    for skipped in result.skipped:
        console.print(f"  skipped: {skipped}", highlight=False)
    for failure in result.failures:
        err_console.print(f"  [red]x[/] {failure}", highlight=False, soft_wrap=True)
    if result.data_docs_url:
        console.print(f"Data docs: {result.data_docs_url}", highlight=False)


def publish_command(
    skip_dbt: bool = typer.Option(False, help="Audit the gold_audit tables already built."),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental models from scratch."),
) -> None:
    """Write-audit-publish: dbt build into gold_audit, run the gate, publish gold if all pass."""
    from lakehouse.exclusive_lock import LockHeld
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import ServiceError
    from quality.publish import PublishInterrupted
    from quality.write_audit_publish import QualityGateFailed, audit_and_publish

    try:
        outcome = audit_and_publish(
            get_settings(),
            run_dbt=not skip_dbt,
            full_refresh=full_refresh,
            on_stage=lambda stage: console.print(f"[bold]>[/] {stage}"),
        )
    except (QualityGateFailed, ServiceError, LockHeld) as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except PublishInterrupted as exc:
        # Typer would exit 130 (128 + SIGINT) silently: say what gold holds now.
        err_console.print(f"[bold yellow]interrupted:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from exc
    console.print(f"dbt: {outcome.dbt_line}", highlight=False)
    _print_gate(outcome.gate)
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    table = Table("table", "rows", "audit version", "published version", "previous")
    for p in outcome.published:
        table.add_row(
            p.name,
            str(p.rows),
            str(p.audit_version),
            str(p.published_version),
            "-" if p.previous_version is None else str(p.previous_version),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("quality")(quality_command)
    app.command("publish")(publish_command)
