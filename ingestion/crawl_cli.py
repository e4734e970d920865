"""`lakehouse emulator` and `lakehouse crawl` (registered by lakehouse/cli.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ingestion.crawl import ApiEndpoint, CrawlSummary, Progress
    from lakehouse.settings import Settings

console = Console()
err_console = Console(stderr=True)

EXIT_STOPPED = 3  # stopped early (wait budget, refused credentials or app); work stays queued


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def emulator(
    artists: Annotated[
        int | None, typer.Option(help="Generated catalogue size [EMULATOR_ARTISTS]")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Catalogue seed [EMULATOR_SEED]")] = None,
    mode: Annotated[str | None, typer.Option(help="extended | development [EMULATOR_MODE]")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address [EMULATOR_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [EMULATOR_PORT]")] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per window, 0 = unlimited")
    ] = None,
    window: Annotated[
        float | None, typer.Option(help="Rate-limit rolling window in seconds")
    ] = None,
    fault_429: Annotated[float, typer.Option(help="Share of requests answered 429")] = 0.0,
    fault_5xx: Annotated[float, typer.Option(help="Share of requests answered 500/502/503")] = 0.0,
    fault_slow: Annotated[float, typer.Option(help="Share of requests delayed by --slow-s")] = 0.0,
    slow_s: Annotated[float, typer.Option(help="Delay of slow responses")] = 2.0,
    fault_truncated: Annotated[float, typer.Option(help="Share of answers cut in half")] = 0.0,
    fault_malformed: Annotated[
        float, typer.Option(help="Share of answers of the wrong shape")
    ] = 0.0,
    retry_after: Annotated[int, typer.Option(help="Retry-After of injected 429s")] = 1,
    owner_premium: Annotated[
        bool,
        typer.Option(help="--no-owner-premium: the app owner lacks Premium, every call is 403"
                     " (development mode only)"),
    ] = True,
    csv: Annotated[
        Path | None, typer.Option(help="Serve a 'Spotify Tracks Dataset' CSV instead")
    ] = None,
    csv_limit: Annotated[int | None, typer.Option(help="Read at most this many CSV tracks")] = None,
) -> None:
    """Run the Spotify Web API emulator in the foreground (Ctrl-C stops it)."""
    from ingestion.emulator import (
        CatalogueCsvError,
        EmulatorConfig,
        FaultConfig,
        build_catalogue,
        serve_forever,
    )
    from lakehouse.settings import get_settings

    settings = get_settings()
    config = EmulatorConfig(
        mode=mode or settings.emulator_mode,
        rate_limit=settings.emulator_rate_limit if rate_limit is None else rate_limit,
        rate_window_s=window or settings.emulator_rate_window_s,
        faults=FaultConfig(
            rate_429=fault_429,
            rate_5xx=fault_5xx,
            rate_slow=fault_slow,
            slow_s=slow_s,
            rate_truncated=fault_truncated,
            rate_malformed=fault_malformed,
            retry_after_s=retry_after,
        ),
        owner_premium=owner_premium,
    )
    try:
        config.validate()
        with console.status("building the catalogue ..."):
            catalogue = build_catalogue(
                artists or settings.emulator_artists,
                settings.emulator_seed if seed is None else seed,
                csv,
                csv_limit,
            )
    except (ValueError, CatalogueCsvError, OSError) as exc:
        raise _fail(str(exc)) from exc
    host = host or settings.emulator_host
    port = port or settings.emulator_port
    console.print(
        f"Spotify emulator ({config.mode} mode): {len(catalogue.artists)} artists, "
        f"{len(catalogue.albums)} albums, {len(catalogue.tracks)} tracks\n"
        f"  API   http://{host}:{port}/v1/   (SPOTIFY_API_URL)\n"
        f"  token http://{host}:{port}/api/token   (SPOTIFY_TOKEN_URL; any client id/secret)\n"
        f"  rate limit: {config.rate_limit or 'none'} per {config.rate_window_s:g}s",
        highlight=False,
    )
    serve_forever(catalogue, config, host, port)


def crawl(
    seeds: Annotated[
        Path | None, typer.Option(help="Seed file: artist names or ids [CRAWL_SEED_FILE]")
    ] = None,
    artists_per_run: Annotated[
        int | None, typer.Option(help="Pending artists taken [CRAWL_ARTISTS_PER_RUN]")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="auto | extended | development [CRAWL_MODE]")
    ] = None,
    emulator_artists: Annotated[
        int | None, typer.Option(help="Emulator catalogue size, no credentials")
    ] = None,
    emulator_mode: Annotated[
        str | None, typer.Option(help="Emulator mode when it is started")
    ] = None,
    retry_given_up: Annotated[
        bool,
        typer.Option("--retry-given-up", help="Ask again for the albums given up as gone"
                     " (404 / null in CRAWL_ALBUM_GIVE_UP_AFTER runs)"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Crawl Spotify into MongoDB (the emulator when no credentials are set), incrementally."""
    from ingestion.crawl import (
        CrawlBusy,
        CrawlStoreError,
        SeedFileError,
        crawl_endpoint,
        run_crawl,
    )
    from ingestion.mongodb import connection_problem
    from lakehouse.settings import get_settings

    settings = get_settings()
    if mode:
        settings = settings.model_copy(update={"crawl_mode": mode})
    # A malformed MONGODB_URI or a refused login is named as such, not as "not reachable".
    problem = connection_problem(settings)
    if problem:
        raise _fail(problem)
    announce = (lambda _message: None) if as_json else _say
    with crawl_endpoint(
        settings, emulator_artists=emulator_artists, emulator_mode=emulator_mode, announce=announce
    ) as endpoint:
        try:
            summary = _run_with_progress(
                partial(run_crawl, retry_given_up=retry_given_up), settings, endpoint, seeds,
                artists_per_run, as_json
            )
        except (SeedFileError, CrawlBusy, CrawlStoreError) as exc:
            raise _fail(str(exc)) from exc
    if as_json:
        print(json.dumps(summary.to_dict(), default=str))
    else:
        _print_summary(summary)
    if not summary.completed:
        raise typer.Exit(EXIT_STOPPED)


def _say(message: str) -> None:
    console.print(message, highlight=False)


def _run_with_progress(
    run_crawl: Callable[..., CrawlSummary],
    settings: Settings,
    endpoint: ApiEndpoint,
    seeds: Path | None,
    per_run: int | None,
    quiet: bool,
) -> CrawlSummary:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as ProgressBar

    if quiet:
        return run_crawl(settings, endpoint=endpoint, seed_file=seeds, artists_per_run=per_run)
    columns = (
        TextColumn("[bold]crawl[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("artists  {task.fields[requests]} requests"),
        TimeElapsedColumn(),
    )
    with ProgressBar(*columns, console=console, transient=False) as bar:
        task = bar.add_task("crawl", total=None, requests=0)

        def report(p: Progress) -> None:
            bar.update(
                task, total=p.artists_total, completed=p.artists_processed, requests=p.requests
            )

        return run_crawl(
            settings, endpoint=endpoint, seed_file=seeds, artists_per_run=per_run, progress=report
        )


def _print_summary(s: CrawlSummary) -> None:
    console.print(
        f"\n[bold]Crawl {s.crawl_id}[/] ({s.source}, {s.mode} mode) in {s.elapsed_s:.1f}s: "
        f"{s.artists_done} artists done, {len(s.artists_failed)} failed, "
        f"{s.artists_not_found} not found, {s.artists_pending} still queued "
        f"({s.artists_discovered} newly discovered); {s.albums_completed} albums stored, "
        f"{s.albums_given_up} given up as not found"
        + (f", {s.albums_reset} given-up albums asked for again." if s.albums_reset else "."),
        highlight=False,
    )
    requests = Table("endpoint", "requests", title="API requests")
    for name, count in sorted(s.requests_by_endpoint.items()):
        requests.add_row(name, str(count))
    requests.add_row("[bold]total[/]", f"[bold]{s.requests_total}[/]")
    console.print(requests)
    console.print(
        f"429s: {s.rate_limited}  5xx: {s.server_errors}  connection errors: "
        f"{s.connection_errors}  malformed answers: {s.malformed_responses}  retries: "
        f"{s.retries}  waited: {s.waited_s:.1f}s",
        highlight=False,
    )
    entities = Table("collection", "new", "changed", "unchanged", title="MongoDB documents")
    for name, c in s.entities.items():
        entities.add_row(name, str(c["new"]), str(c["changed"]), str(c["unchanged"]))
    console.print(entities)
    backfill = (
        f" {s.features_backfilled} stored tracks got the features refused when they were"
        f" crawled ({s.features_backfill_left} still without them)."
        if s.features_backfilled or s.features_backfill_left
        else ""
    )
    console.print(
        f"Audio features: {s.features_note}; {s.features_unavailable} tracks recorded "
        f"as unavailable.{backfill}",
        highlight=False,
    )
    for seed in s.seeds_unresolved:
        console.print(
            f"[yellow]unresolved seed[/] {seed['entry']!r}: {seed['reason']}", highlight=False
        )
    for failed in s.artists_failed:
        console.print(
            f"[red]failed artist[/] {failed['artist_id']}: {failed['reason']} (retried next run)",
            highlight=False,
        )
    if s.albums_given_up:
        console.print(
            f"[yellow]albums given up[/] {s.albums_given_up}: the API answered 404 / null for "
            "them in CRAWL_ALBUM_GIVE_UP_AFTER runs; they are skipped from now on "
            "(crawl_albums status not_found; `lakehouse crawl --retry-given-up` asks again)",
            highlight=False,
        )
    if s.stopped_reason:
        console.print(f"[yellow]stopped early:[/] {s.stopped_reason}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this component's commands to the `lakehouse` CLI."""
    app.command("emulator")(emulator)
    app.command("crawl")(crawl)
