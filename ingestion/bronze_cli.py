"""`lakehouse export` and `lakehouse import-features` (registered by lakehouse/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from ingestion.features_import import ImportSummary
    from lakehouse.settings import Settings

console = Console()
err_console = Console(stderr=True)

RegisterOption = Annotated[
    bool,
    typer.Option(
        "--register/--no-register",
        help="Register the bronze tables in the Spark metastore (needs the Thrift Server).",
    ),
]
EntityOption = Annotated[
    list[str] | None,
    typer.Option("--entity", "-e", help="Only this entity (repeatable): artists, albums, ..."),
]
FileArgument = Annotated[
    Path, typer.Argument(help="CSV in the 'Spotify Tracks Dataset' format")
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Import the file even if this exact content was imported before: it becomes the"
        " latest import of its tracks again (e.g. to undo a later file's changes).",
    ),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,} read"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _register(settings) -> None:
    from ingestion.bronze_registry import register_bronze_tables
    from lakehouse.supervisor import ServiceError

    try:
        with console.status("registering the bronze tables through the Spark Thrift Server"):
            done = register_bronze_tables(settings)
    except ServiceError as exc:
        raise _fail(
            f"the bronze data is written, but registering it failed: {exc} Then run the"
            " command again with --register (nothing is written twice)."
        ) from exc
    changed = [r for r in done if r.action != "unchanged"]
    schema = done[0].table.split(".", 1)[0] if done else settings.dbt_bronze_schema
    console.print(
        f"Registered {len(done)} tables in schema {schema}"
        + (f" ({', '.join(f'{r.table} {r.action}' for r in changed)})" if changed else ""),
        highlight=False,
    )


RescanOption = Annotated[
    bool,
    typer.Option(
        "--rescan",
        help="Also read every document of the collections, ignoring the watermark: finds"
        " documents written by tools other than the crawler (mongoimport, a restored dump,"
        " hand edits), whatever their _ingested_at. Versions already in bronze are skipped.",
    ),
]


def export(
    entity: EntityOption = None, register: RegisterOption = True, rescan: RescanOption = False
) -> None:
    """Export new and changed MongoDB documents into the bronze Delta tables (incremental)."""
    from ingestion.bronze_export import ExportError, holding_the_lake, new_batch_id
    from lakehouse.exclusive_lock import FERRETDB, THRIFT
    from lakehouse.settings import get_settings

    settings = get_settings()
    batch_id = new_batch_id()
    # One hold of the lake from the export through the registration, so that `services down`
    # leaves MongoDB and the Thrift Server to it until both are done.
    uses = frozenset({FERRETDB, THRIFT} if register else {FERRETDB})
    try:
        with holding_the_lake(settings, batch_id, uses):
            _export(settings, entity, rescan, batch_id)
            if register:
                _register(settings)
    except ExportError as exc:  # ExportRefused: another job holds the lake
        raise _fail(str(exc)) from exc


def _export(settings: Settings, entity: list[str] | None, rescan: bool, batch_id: str) -> None:
    from ingestion.bronze_export import ExportError, export_all

    with _progress() as progress:
        tasks: dict[str, int] = {}

        def report(name: str, read: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(f"exporting {name}", total=None)
            progress.update(tasks[name], completed=read)

        try:
            summary = export_all(settings, entity or None, progress=report, batch_id=batch_id,
                                 rescan=rescan)
        except ExportError as exc:
            raise _fail(str(exc)) from exc
    # Two narrow tables rather than one of nine columns: both fit an 80-column terminal.
    counts = Table(
        "entity", "read", "exported", "in bronze", "rejected", "quarantined", "s",
        title=f"bronze export {summary.batch_id} -> {summary.lake_root}",
        box=box.SIMPLE, pad_edge=False, collapse_padding=True,
        caption="in bronze: read again, already there; quarantined: newly, of the rejected",
    )  # fmt: skip
    sources = Table("entity", "watermark", "changes read from", box=box.SIMPLE, pad_edge=False,
                    collapse_padding=True)
    for e in summary.entities:
        counts.add_row(
            e.entity, f"{e.read:,}", f"{e.exported:,}", f"{e.unchanged:,}", f"{e.rejected:,}",
            f"{e.quarantined:,}", f"{e.seconds:.1f}",
        )  # fmt: skip
        sources.add_row(
            e.entity,
            e.watermark_after.isoformat(timespec="seconds") if e.watermark_after else "-",
            f"MongoDB + journal ({e.journal_read:,})" if e.scanned
            else f"journal ({e.journal_read:,})",
        )  # fmt: skip
    console.print(counts)
    console.print(sources)
    for e in summary.entities:
        for note in e.notes:
            console.print(f"[yellow]{e.entity}:[/] {note}", highlight=False)
    if summary.rejected:
        console.print(
            f"{summary.rejected:,} document(s) failed validation: see bronze.quarantine"
            " (reason and raw text).",
            highlight=False,
        )


def import_features(
    file: FileArgument, register: RegisterOption = True, force: ForceOption = False
) -> None:
    """Import audio features from a CSV into bronze.imported_audio_features (validated rows)."""
    from ingestion.bronze_export import new_batch_id
    from ingestion.features_import import FeaturesFormatError, check_file, holding_the_lake
    from lakehouse.exclusive_lock import THRIFT, LockHeld
    from lakehouse.settings import get_settings

    settings = get_settings()
    batch_id = new_batch_id()
    # One hold of the lake from the import through the registration (see `export`). A file
    # that is not the dataset is named first, whoever holds the lake.
    try:
        check_file(file)
        with holding_the_lake(settings, file, batch_id,
                              frozenset({THRIFT}) if register else frozenset()):
            _import(settings, file, force, batch_id)
            if register:
                _register(settings)
    except (FeaturesFormatError, LockHeld) as exc:
        raise _fail(str(exc)) from exc


def _import(settings: Settings, file: Path, force: bool, batch_id: str) -> None:
    from ingestion.features_import import FeaturesFormatError
    from ingestion.features_import import import_features as run_import

    with _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=None)
        try:
            summary = run_import(
                file,
                settings,
                progress=lambda rows: progress.update(task, completed=rows),
                batch_id=batch_id,
                force=force,
            )
        except FeaturesFormatError as exc:
            raise _fail(str(exc)) from exc
    earlier = summary.already_imported
    if earlier is not None:
        when = f" on {earlier.committed_at:%Y-%m-%d %H:%M} UTC" if earlier.committed_at else ""
        console.print(
            f"{summary.source_file}: nothing imported, this content (sha256"
            f" {summary.file_sha256[:12]}...) was already imported as {earlier.source_file}"
            f" (batch {earlier.batch_id}){when}. Run again with --force to import it anew.",
            highlight=False,
            soft_wrap=True,
        )
    else:
        _print_import(summary)
        if summary.rows and not summary.imported and summary.rejected:
            raise _fail(
                f"nothing imported: all {summary.rejected:,} data rows of {file} were rejected"
                " (reasons above and in bronze.quarantine). Fix the file and import it again."
            )


def _print_import(summary: ImportSummary) -> None:
    console.print(
        f"{summary.source_file}: {summary.rows:,} rows read, {summary.imported:,} imported,"
        f" {summary.duplicates:,} repeated in the file, {summary.rejected:,} rejected"
        f" ({summary.quarantined:,} newly quarantined) in {summary.seconds:.1f} s"
        f" [batch {summary.batch_id}]",
        highlight=False,
    )
    if summary.rejected:
        console.print(
            "Rejected rows are in bronze.quarantine (entity imported_audio_features) with the"
            " reason and the raw CSV line.",
            highlight=False,
        )
    if summary.undecodable:
        console.print(
            f"{summary.undecodable:,} of them hold bytes that are not UTF-8: the file was likely"
            " saved as Latin-1 / Windows-1252. Convert it, e.g. `iconv -f cp1252 -t utf-8"
            f" {summary.source_file} > {Path(summary.source_file).stem}-utf8.csv`, and import"
            " that.",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add this component's commands to the `lakehouse` CLI."""
    app.command("export")(export)
    app.command("import-features")(import_features)
