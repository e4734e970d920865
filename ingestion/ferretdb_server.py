"""How to run the local MongoDB-compatible server (FerretDB v1, SQLite backend).

The binary is built by scripts/setup.sh from the Go module in ingestion/ferretdb/.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError

BUILD_HINT = "run `make setup` (it builds FerretDB from ingestion/ferretdb/ with Go)"


def sqlite_dir(settings: Settings) -> Path:
    return settings.data_dir / "ferretdb"


def check_binary(settings: Settings) -> Path:
    binary = settings.ferretdb_bin
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise ServiceError(f"The FerretDB binary is missing ({binary}): {BUILD_HINT}.")
    return binary


def build_command(settings: Settings) -> list[str]:
    return [
        str(check_binary(settings)),
        "-listen",
        f"{settings.ferretdb_host}:{settings.ferretdb_port}",
        "-sqlite-dir",
        str(sqlite_dir(settings)),
        "-log-level",
        "warn",
    ]
