"""Subcommands of this component (registered by lakehouse/cli.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this component's commands to the `lakehouse` CLI."""
