"""A Spotify Web API emulator: a real HTTP server on 127.0.0.1 with a deterministic catalogue.

Entry points: `running_emulator(...)` (context manager, in-process on a free port) and
`lakehouse emulator` (standalone). See docs/ingestion.md.
"""

from ingestion.emulator.catalogue import Catalogue, generate_catalogue, normalise_name
from ingestion.emulator.csv_catalogue import CatalogueCsvError, catalogue_from_csv
from ingestion.emulator.rendering import DEVELOPMENT, EXTENDED, MODES
from ingestion.emulator.server import (
    EmulatorHandle,
    build_catalogue,
    running_emulator,
    serve_forever,
)
from ingestion.emulator.traffic import EmulatorConfig, FaultConfig

__all__ = [
    "DEVELOPMENT",
    "EXTENDED",
    "MODES",
    "Catalogue",
    "CatalogueCsvError",
    "EmulatorConfig",
    "EmulatorHandle",
    "FaultConfig",
    "build_catalogue",
    "catalogue_from_csv",
    "generate_catalogue",
    "normalise_name",
    "running_emulator",
    "serve_forever",
]
