"""How to run the local MongoDB-compatible server (FerretDB v1, SQLite backend).

The binary is built by scripts/setup.sh from the Go module in ingestion/ferretdb/.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError

BUILD_HINT = "run `make setup` (it builds FerretDB from ingestion/ferretdb/ with Go)"


# ingestion/ferretdb/main.go hands the folder to FerretDB as the URL "file:<folder>/", and Go's
# url.Parse ends the path at '#' or '?' and reads '%' as an escape: FerretDB then exits at start
# with `expected path ending with "/"`, naming neither the folder nor a fix.
URL_UNSAFE_CHARS = ("#", "?", "%")


def sqlite_dir(settings: Settings) -> Path:
    return settings.data_dir / "ferretdb"


def check_sqlite_dir(settings: Settings) -> Path:
    """The SQLite folder; ServiceError naming DATA_DIR if FerretDB could not take it."""
    folder = sqlite_dir(settings)
    for char in URL_UNSAFE_CHARS:
        if char in str(folder):
            raise ServiceError(
                f"DATA_DIR ({settings.data_dir}) contains {char!r}: FerretDB's SQLite backend"
                f" takes the folder as a URL (file:<DATA_DIR>/ferretdb/), which does not read"
                f" {char!r} as part of the path. Choose a DATA_DIR without #, ? or % (in .env)."
            )
    return folder


def check_binary(settings: Settings) -> Path:
    binary = settings.ferretdb_bin
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise ServiceError(f"The FerretDB binary is missing ({binary}): {BUILD_HINT}.")
    return binary


def build_command(settings: Settings) -> list[str]:
    folder = check_sqlite_dir(settings)
    return [
        str(check_binary(settings)),
        "-listen",
        f"{settings.ferretdb_host}:{settings.ferretdb_port}",
        "-sqlite-dir",
        str(folder),
        "-log-level",
        "warn",
    ]
