"""Register the bronze Delta tables in the Spark metastore, through the Spark Thrift Server.

dbt sources (`source('bronze', 'tracks')`) resolve to `bronze.<table>`; the tables are external
Delta tables at their LAKE_ROOT locations, so the metastore only points at what delta-rs wrote:
Spark reads the newest Delta version on every query, no refresh needed after an export.
Registering is idempotent; a table registered at another location (LAKE_ROOT changed) is
re-pointed. Names come from the fixed list in bronze_tables and locations from settings: no user
text is ever formatted into SQL (the location is a bound parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestion.bronze_tables import SCHEMA_NAME, all_tables, ensure_table, table_location
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class Registration:
    table: str  # schema-qualified name
    location: str
    action: str  # created | unchanged | relocated


def normalise_location(location: str) -> str:
    """Spark shows file:///x as file:/x; compare locations in one form."""
    location = location.rstrip("/")
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            return location[len(prefix) :].replace("//", "/")
    return location


def _qualified(name: str) -> str:
    # Both parts come from fixed sets (SCHEMA_NAME, bronze_tables.all_tables()).
    return f"`{SCHEMA_NAME}`.`{name}`"


def _execute(cursor: Any, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall() if cursor.description else []


def _current_location(cursor: Any, name: str) -> str | None:
    """Where the metastore says the table lives, or None when it is not registered."""
    listed = _execute(cursor, f"SHOW TABLES IN `{SCHEMA_NAME}` LIKE %(name)s", {"name": name})
    if not any(row[1] == name for row in listed):
        return None
    for row in _execute(cursor, f"DESCRIBE TABLE EXTENDED {_qualified(name)}"):
        if row[0] == "Location":
            return row[1]
    return ""


def register_bronze_tables(settings: Settings | None = None) -> list[Registration]:
    """Create schema `bronze` and one external Delta table per bronze table (idempotent)."""
    from spark_thrift.client import connect

    settings = settings or get_settings()
    for table in all_tables():  # Spark cannot register a Delta location that has no table yet
        ensure_table(settings, table.name)
    done: list[Registration] = []
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            _execute(cursor, f"CREATE SCHEMA IF NOT EXISTS `{SCHEMA_NAME}`")
            for table in all_tables():
                done.append(_register(cursor, settings, table.name))
        finally:
            cursor.close()
    return done


def _register(cursor: Any, settings: Settings, name: str) -> Registration:
    location = table_location(settings, name)
    current = _current_location(cursor, name)
    if current is not None and normalise_location(current) == normalise_location(location):
        return Registration(f"{SCHEMA_NAME}.{name}", location, "unchanged")
    action = "created"
    if current is not None:
        # An external table: DROP forgets the metastore entry, the Delta files stay.
        _execute(cursor, f"DROP TABLE {_qualified(name)}")
        action = "relocated"
    _execute(
        cursor,
        f"CREATE TABLE IF NOT EXISTS {_qualified(name)} USING delta LOCATION %(location)s",
        {"location": location},
    )
    return Registration(f"{SCHEMA_NAME}.{name}", location, action)
