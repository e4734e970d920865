"""`lakehouse app`: start the Streamlit app on APP_HOST:APP_PORT (127.0.0.1:8501 by default)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)
MAIN_SCRIPT = Path(__file__).resolve().parent / "streamlit_app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher."""
    return [
        sys.executable, "-m", "streamlit", "run", str(MAIN_SCRIPT),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]


def app_command(
    port: int = typer.Option(None, help="Port (default: APP_PORT)."),
    host: str = typer.Option(None, help="Address to bind (default: APP_HOST, 127.0.0.1)."),
) -> None:
    """Start the Streamlit app (search, recommendations, dashboards, pipeline status)."""
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import port_is_free

    settings = get_settings()
    host = host or settings.app_host
    port = port or settings.app_port
    if not port_is_free(host, port):
        err_console.print(
            f"[bold red]error:[/] port {port} on {host} is in use: stop what runs there or"
            " choose another with --port (or APP_PORT).", highlight=False)
        raise typer.Exit(1)
    console.print(f"App on http://{host}:{port}  (Ctrl+C stops it)", highlight=False)
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    command = streamlit_command(host, port)
    # Become the Streamlit server (same pid): signals to `lakehouse app` reach it directly and
    # no orphaned server is left behind when a supervisor stops this process.
    os.execve(command[0], command, env)  # noqa: S606 (fixed argv, no shell)


def register(app: typer.Typer) -> None:
    """Add this component's commands to the `lakehouse` CLI."""
    app.command("app")(app_command)
