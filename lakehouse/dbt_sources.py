"""Register the bronze Delta tables in the Spark metastore so dbt can read them as sources.

The bronze export writes Delta tables with delta-rs at `LAKE_ROOT/bronze/<table>`; Spark only
sees them once they are registered as external tables. Registration is idempotent
(`CREATE TABLE IF NOT EXISTS`), so running it before every `dbt build` is cheap and makes a
fresh metastore (a new machine, a wiped data dir) work without a separate step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.settings import Settings, get_settings

# The bronze tables dbt reads (docs/contracts.md). Identifiers come only from this fixed set.
BRONZE_TABLES: tuple[str, ...] = (
    "artists",
    "albums",
    "tracks",
    "audio_features",
    "imported_audio_features",
)
# Empty in normal use: a development-mode app gets no audio features, and the CSV import is
# optional. An empty table has no freshness to check (dbt would report it as an error).
OPTIONAL_BRONZE_TABLES: frozenset[str] = frozenset({"audio_features", "imported_audio_features"})
REQUIRED_TABLES: frozenset[str] = frozenset({"artists", "albums", "tracks"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class BronzeMissingError(RuntimeError):
    """A bronze table dbt cannot do without is not in the lake."""


@dataclass(frozen=True)
class Registration:
    table: str
    location: str
    present: bool


def check_identifier(name: str) -> str:
    """Schema names come from settings: accept plain identifiers only (they go into DDL)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(
            f"{name!r} is not a valid schema name: use lower-case letters, digits and '_'."
        )
    return name


def bronze_location(settings: Settings, table: str, lake_folder: str = "bronze") -> str:
    return settings.lake_path(lake_folder, table)


def is_delta_table(location: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(location)


def register_bronze_tables(
    settings: Settings | None = None,
    *,
    schema: str | None = None,
    lake_folder: str = "bronze",
    require: frozenset[str] = REQUIRED_TABLES,
) -> list[Registration]:
    """Register every bronze Delta table present under LAKE_ROOT/<lake_folder>/ in `schema`.

    Optional tables (audio_features, imported_audio_features) may be absent: the staging models
    then read nothing. A missing required table raises BronzeMissingError naming the fix.
    """
    from spark_thrift.client import connect

    settings = settings or get_settings()
    schema = check_identifier(schema or settings.dbt_bronze_schema)
    found = [
        Registration(t, loc, is_delta_table(loc))
        for t in BRONZE_TABLES
        for loc in [bronze_location(settings, t, lake_folder)]
    ]
    missing = sorted(r.table for r in found if not r.present and r.table in require)
    if missing:
        raise BronzeMissingError(
            f"No bronze Delta table for {', '.join(missing)} under "
            f"{settings.lake_path(lake_folder)}. Run the crawl and `lakehouse export` first "
            "(or point LAKE_ROOT at a lake that has bronze data)."
        )
    if lake_folder == "bronze" and schema == settings.dbt_bronze_schema:
        # The bronze component owns the registration of its tables (it also re-points a table
        # whose lake moved); use it when present.
        try:
            from ingestion.bronze_registry import register_bronze_tables as register_owned
        except ImportError:
            register_owned = None
        if register_owned is not None:
            register_owned(settings)
            return found
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for reg in found:
                if reg.present:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {schema}.{reg.table} USING delta "
                        "LOCATION %(location)s",
                        {"location": reg.location},
                    )
        finally:
            cursor.close()
    return found
