"""Read a gold mart as an Arrow table, from whichever engine serves gold.

One interface (`GoldReader.read(mart) -> GoldSnapshot`) with three backends, chosen by the
ML_GOLD_BACKEND setting:
- `delta`: the Delta table by path under LAKE_ROOT/<GOLD_SCHEMA>/<mart> with delta-rs (no JVM);
  the default, and the one that knows the exact Delta table version it read.
- `thrift`: `SELECT` through the Spark Thrift Server (spark_thrift/client.py): the latest version
  from `DESCRIBE HISTORY`, then exactly that version (`VERSION AS OF`), so a publish committing in
  between does not make the recorded version older than the rows.
- `flight`: Dremio over Arrow Flight (DREMIO_FLIGHT_HOST/PORT, DREMIO_USER/PASSWORD,
  DREMIO_GOLD_PATH). Dremio does not expose Delta versions, so the snapshot records none.

Mart and schema names are identifiers from a fixed set / a validated setting, never user text.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import pyarrow as pa

from lakehouse.settings import Settings

RECOMMENDER_MART = "mart_recommender_features"
KNOWN_MARTS = frozenset({RECOMMENDER_MART, "mart_track_search"})
# The CLI commands that build gold: `publish` is dbt into gold_audit + the quality gate +
# publish to gold; `run` is the whole pipeline. Shown in errors (see `lakehouse --help`).
BUILD_GOLD_HINT = (
    "`lakehouse run` (the whole pipeline) or `lakehouse publish` (dbt build into gold_audit,"
    " quality gate, publish to gold)"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Columns that are arrays in the contract (docs/contracts.md); Thrift returns them as JSON text.
ARRAY_COLUMNS = frozenset({"artist_ids", "artist_names", "genres"})


class GoldReadError(RuntimeError):
    """Gold could not be read; the message names what is missing and how to fix it."""


@dataclass(frozen=True)
class GoldSnapshot:
    """The rows of one mart plus where and at which version they were read."""

    mart: str
    table: pa.Table
    backend: str
    location: str
    version: int | None
    read_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def provenance(self) -> dict:
        return {
            "table": self.mart,
            "backend": self.backend,
            "location": self.location,
            "delta_version": self.version,
            "rows": self.table.num_rows,
            "read_at": self.read_at,
        }


class GoldReader(Protocol):
    backend: str

    def read(self, mart: str = RECOMMENDER_MART) -> GoldSnapshot: ...


def _check_mart(mart: str) -> str:
    if mart not in KNOWN_MARTS:
        raise GoldReadError(f"Unknown gold mart {mart!r}; expected one of {sorted(KNOWN_MARTS)}.")
    return mart


def _check_identifier(value: str, setting: str) -> str:
    if not _IDENTIFIER.match(value):
        raise GoldReadError(f"{setting}={value!r} is not a valid identifier (letters, digits, _).")
    return value


# --- Delta by path ------------------------------------------------------------------------------
class DeltaGoldReader:
    backend = "delta"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schema = _check_identifier(settings.gold_schema, "GOLD_SCHEMA")

    def location(self, mart: str) -> str:
        return self.settings.lake_path(self.schema, mart)

    def read(self, mart: str = RECOMMENDER_MART) -> GoldSnapshot:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        location = self.location(_check_mart(mart))
        try:
            table = DeltaTable(location)
        except TableNotFoundError as exc:
            raise GoldReadError(
                f"No Delta table at {location}. Build and publish gold first: {BUILD_GOLD_HINT};"
                " or set LAKE_ROOT/GOLD_SCHEMA to where it is."
            ) from exc
        return GoldSnapshot(
            mart=mart,
            table=table.to_pyarrow_table(),
            backend=self.backend,
            location=location,
            version=table.version(),
        )


# --- Spark Thrift Server -------------------------------------------------------------------------
class ThriftGoldReader:
    backend = "thrift"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schema = _check_identifier(settings.gold_schema, "GOLD_SCHEMA")

    def read(self, mart: str = RECOMMENDER_MART) -> GoldSnapshot:
        from spark_thrift.client import connect

        name = f"{self.schema}.{_check_mart(mart)}"  # both identifiers validated above
        with connect(self.settings) as conn:
            cursor = conn.cursor()
            try:
                version = self._latest_version(cursor, name)
                cursor.execute(_select(name, version))
                columns = [d[0].split(".")[-1] for d in cursor.description]
                rows = cursor.fetchall()
            finally:
                cursor.close()
        return GoldSnapshot(
            mart=mart,
            table=_rows_to_arrow(columns, rows),
            backend=self.backend,
            location=f"thrift://{self.settings.thrift_host}:{self.settings.thrift_port}/{name}",
            version=version,
        )

    @staticmethod
    def _latest_version(cursor, name: str) -> int | None:
        try:
            cursor.execute(f"DESCRIBE HISTORY {name} LIMIT 1")
        except Exception as exc:  # PyHive wraps "table not found" in OperationalError
            raise GoldReadError(
                f"Cannot read {name} through the Spark Thrift Server: {_first_line(exc)}."
                f" Build and publish gold first ({BUILD_GOLD_HINT}) or check GOLD_SCHEMA."
            ) from exc
        columns = [d[0].split(".")[-1] for d in cursor.description]
        row = cursor.fetchone()
        return int(row[columns.index("version")]) if row else None


def _select(name: str, version: int | None) -> str:
    """The query for the rows of `name` (validated identifiers) at `version` (Delta time travel).

    `version` is the int `DESCRIBE HISTORY` reported; None (no history row) reads the latest.
    """
    if version is None:
        return f"SELECT * FROM {name}"
    return f"SELECT * FROM {name} VERSION AS OF {int(version)}"


def _first_line(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"\[[A-Z_]+\][^\n\\]*", text)  # Spark's error class, e.g. [TABLE_OR_VIEW...
    return (match.group(0) if match else text.splitlines()[0] if text else type(exc).__name__)[:300]


def _rows_to_arrow(columns: list[str], rows: list[tuple]) -> pa.Table:
    """Thrift returns complex columns as JSON text: parse the contract's array columns back."""
    data: dict[str, list] = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    for name in ARRAY_COLUMNS & data.keys():
        data[name] = [json.loads(v) if isinstance(v, str) else v for v in data[name]]
    return pa.table(data)


# --- Dremio Arrow Flight ------------------------------------------------------------------
class FlightGoldReader:
    backend = "flight"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        parts = settings.dremio_gold_path.split(".")
        self.path = [_check_identifier(p, "DREMIO_GOLD_PATH") for p in parts]

    def _missing_settings(self) -> list[str]:
        missing = []
        if not self.settings.dremio_user:
            missing.append("DREMIO_USER")
        if not self.settings.dremio_password.get_secret_value():
            missing.append("DREMIO_PASSWORD")
        return missing

    def read(self, mart: str = RECOMMENDER_MART) -> GoldSnapshot:
        from pyarrow import flight

        missing = self._missing_settings()
        if missing:
            raise GoldReadError(
                f"ML_GOLD_BACKEND=flight needs {', '.join(missing)} (Dremio credentials, in .env);"
                " or use ML_GOLD_BACKEND=delta to read gold by path."
            )
        host, port = self.settings.dremio_flight_host, self.settings.dremio_flight_port
        dotted = ".".join(f'"{p}"' for p in [*self.path, _check_mart(mart)])
        # Without a deadline a Dremio that accepts connections but does not answer (stuck,
        # paused) held the read, and the pipeline's train stage, for ever.
        deadline_s = self.settings.dremio_flight_timeout_s
        started = time.monotonic()
        try:
            client = flight.FlightClient(f"grpc+tcp://{host}:{port}")
            token = client.authenticate_basic_token(
                self.settings.dremio_user,
                self.settings.dremio_password.get_secret_value(),
                flight.FlightCallOptions(timeout=deadline_s),
            )
            options = flight.FlightCallOptions(headers=[token], timeout=deadline_s)
            descriptor = flight.FlightDescriptor.for_command(f"SELECT * FROM {dotted}")
            info = client.get_flight_info(descriptor, options)
            table = client.do_get(info.endpoints[0].ticket, options).read_all()
        except flight.FlightError as exc:
            # gRPC reports a deadline passed during the sign-in handshake as "Could not finish
            # writing before closing", not as a timeout: the clock tells them apart.
            if isinstance(exc, flight.FlightTimedOutError) or (
                time.monotonic() - started >= deadline_s
            ):
                raise GoldReadError(
                    f"Dremio Arrow Flight at {host}:{port} did not answer within {deadline_s:g} s"
                    f" (DREMIO_FLIGHT_TIMEOUT_S) reading {dotted}: Dremio is stuck, paused or"
                    " overloaded. Check it (its web UI, its log) and restart it; raise"
                    " DREMIO_FLIGHT_TIMEOUT_S if this mart rightly takes longer to stream."
                ) from exc
            # FlightError text never contains the password; keep only its first line.
            raise GoldReadError(
                f"Dremio Arrow Flight at {host}:{port} failed for {dotted}: "
                f"{_first_line(exc)}. Check DREMIO_FLIGHT_HOST/PORT, the credentials and"
                " DREMIO_GOLD_PATH."
            ) from exc
        return GoldSnapshot(
            mart=mart,
            table=table,
            backend=self.backend,
            location=f"grpc+tcp://{host}:{port}/{dotted}",
            version=None,  # Dremio does not report the Delta version it read
        )


BACKENDS: dict[str, type] = {
    "delta": DeltaGoldReader,
    "thrift": ThriftGoldReader,
    "flight": FlightGoldReader,
}


def gold_reader(settings: Settings, backend: str | None = None) -> GoldReader:
    """The reader configured by ML_GOLD_BACKEND (or `backend`, e.g. from a CLI option)."""
    name = backend or settings.ml_gold_backend
    if name not in BACKENDS:
        raise GoldReadError(f"Unknown gold backend {name!r}; expected one of {sorted(BACKENDS)}.")
    return BACKENDS[name](settings)
