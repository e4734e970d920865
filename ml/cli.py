"""Subcommands of the recommender (registered by lakehouse/cli.py).

`lakehouse train`, and under `lakehouse ml`: `evaluate`, `recommend`, `info`.
Heavy modules (numpy, scikit-learn, deltalake) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

ml_app = typer.Typer(help="Recommender: evaluate, query and inspect.", no_args_is_help=True)

BackendOption = typer.Option(
    None, "--backend", help="Gold reader: delta, thrift or flight (default: ML_GOLD_BACKEND)."
)

OutputOption = typer.Option(
    None, help="JSON file to write (a .md is written beside it)."
    " Default: DATA_DIR/models/recommender/evaluation.json"
)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _expected_errors() -> tuple[type[Exception], ...]:
    from lakehouse.supervisor import ServiceError
    from ml.artifact import ArtifactError
    from ml.features import FeatureError
    from ml.gold_reader import GoldReadError
    from ml.recommend import TrackNotSearchableError, UnknownTrackError

    return (ArtifactError, FeatureError, GoldReadError, ServiceError, UnknownTrackError,
            TrackNotSearchableError, ValueError)


def train_command(
    backend: str | None = BackendOption,
    features: str = typer.Option("all", help="all (audio + metadata) or audio (audio only)."),
    index: str = typer.Option("auto", help="auto, exact or ivf (approximate, recall measured)."),
) -> None:
    """Train the recommender on the published gold mart and save a new artifact version."""
    from lakehouse.settings import get_settings
    from ml.training import train

    settings = get_settings()
    try:
        with console.status("training ...") as status:
            info = train(settings, backend=backend, feature_set=features, index_kind=index,
                         progress=lambda message: status.update(f"{message} ..."))
    except _expected_errors() as exc:
        raise _fail(str(exc)) from exc
    _print_manifest(info.manifest, info.path)


def _print_manifest(manifest: dict, path: Path) -> None:
    feats, index = manifest["features"], manifest["index"]
    table = Table("", "", show_header=False)
    table.add_row("version", manifest["version"])
    table.add_row("path", str(path))
    table.add_row("tracks", f"{manifest['rows']} ({feats['searchable_tracks']} searchable,"
                  f" {feats['tracks_with_audio_features']} with audio features)")
    table.add_row("features", f"{feats['feature_set']}, {feats['dims']} dims")
    for source, gold in manifest.get("gold_tables", {}).items():
        table.add_row("trained from", f"{source} v{gold['delta_version']} ({gold['backend']})")
    recall = index.get("recall_at_10")
    detail = index["kind"] + (f", n_lists={index['n_lists']}, n_probe={index['n_probe']}"
                              if index["kind"] == "ivf" else "")
    table.add_row("index", f"{detail}, recall@10 {recall}")
    if "train_seconds" in manifest:
        table.add_row("took", f"{manifest['train_seconds']} s")
    console.print(table)
    for note in feats.get("notes", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@ml_app.command("evaluate")
def evaluate_command(
    k: int = typer.Option(10, "-k", help="Recommendations per query."),
    sample: int = typer.Option(500, help="Number of query tracks (seeded sample)."),
    seed: int = typer.Option(0, help="Random seed of the query sample."),
    output: Path | None = OutputOption,
    backend: str | None = BackendOption,
) -> None:
    """Genre-precision@k of audio-only, all-features, the seed's method and random."""
    from lakehouse.settings import get_settings
    from ml.evaluate import evaluate

    try:
        with console.status("evaluating (builds both models on the same gold data) ..."):
            report, path = evaluate(get_settings(), k, sample, seed, output, backend)
    except _expected_errors() as exc:
        raise _fail(str(exc)) from exc
    table = Table("method", f"genre-precision@{k}", "queries", "note",
                  title=f"{report.catalogue_rows} tracks, {report.sample} queries")
    for m in report.methods:
        table.add_row(m.label, "n/a" if m.precision is None else f"{m.precision:.3f}",
                      str(m.queries), m.note)
    console.print(table)
    console.print(f"written to {path} and {path.with_suffix('.md')}", highlight=False)


@ml_app.command("recommend")
def recommend_command(
    track_id: str = typer.Argument(..., help="Spotify track id from the catalogue."),
    k: int = typer.Option(10, "-k", help="Number of recommendations."),
    max_per_artist: int | None = typer.Option(None, help="At most this many per artist."),
    version: str | None = typer.Option(None, help="Artifact version (default: latest)."),
) -> None:
    """Recommend tracks similar to TRACK_ID with the latest trained artifact."""
    from lakehouse.settings import get_settings
    from ml.artifact import load_recommender

    try:
        recommender = load_recommender(get_settings(), version)
        results = recommender.recommend(track_id, k=k, max_per_artist=max_per_artist)
    except _expected_errors() as exc:
        raise _fail(str(exc)) from exc
    table = Table("#", "track", "artists", "score", "why")
    for i, rec in enumerate(results, 1):
        table.add_row(str(i), f"{rec.track_name} ({rec.track_id})", ", ".join(rec.artist_names),
                      f"{rec.score:.3f}", rec.reason)
    console.print(table)


@ml_app.command("info")
def info_command(
    version: str | None = typer.Option(None, help="Artifact version (default: latest)."),
) -> None:
    """Show what an artifact was trained from (gold table versions, features, index)."""
    from lakehouse.settings import get_settings
    from ml.artifact import read_manifest

    try:
        info = read_manifest(get_settings(), version)
    except _expected_errors() as exc:
        raise _fail(str(exc)) from exc
    _print_manifest(info.manifest, info.path)


def register(app: typer.Typer) -> None:
    """Add `lakehouse train` and the `lakehouse ml ...` group."""
    app.command("train")(train_command)
    app.add_typer(ml_app, name="ml")
