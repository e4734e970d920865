"""Register the bronze Delta tables in the Spark metastore, through the Spark Thrift Server.

dbt sources (`source('bronze', 'tracks')`) resolve to `bronze.<table>`; the tables are external
Delta tables at their LAKE_ROOT locations, so the metastore only points at what delta-rs wrote:
Spark reads the newest Delta version on every query, no refresh needed after an export.
Registering is idempotent; a table registered at another location (LAKE_ROOT changed) is
re-pointed. The schema is DBT_BRONZE_SCHEMA (default `bronze`, the schema dbt's sources read),
checked to be a plain identifier; table names come from the fixed list in bronze_tables and
locations from settings: no user text is formatted into SQL (the location is a bound parameter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ingestion.bronze_tables import all_tables, ensure_table, table_location
from lakehouse.settings import Settings, get_settings

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


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


def bronze_schema(settings: Settings) -> str:
    """DBT_BRONZE_SCHEMA, accepted only as a plain identifier (it goes into DDL)."""
    schema = settings.dbt_bronze_schema
    if not _IDENTIFIER.match(schema):
        raise ValueError(
            f"DBT_BRONZE_SCHEMA {schema!r} is not a valid schema name: use lower-case letters,"
            " digits and '_'."
        )
    return schema


def _qualified(schema: str, name: str) -> str:
    # The schema passed bronze_schema(); table names come from bronze_tables.all_tables().
    return f"`{schema}`.`{name}`"


def _execute(cursor: Any, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall() if cursor.description else []


def _current_location(cursor: Any, schema: str, name: str) -> str | None:
    """Where the metastore says the table lives, or None when it is not registered."""
    listed = _execute(cursor, f"SHOW TABLES IN `{schema}` LIKE %(name)s", {"name": name})
    if not any(row[1] == name for row in listed):
        return None
    for row in _execute(cursor, f"DESCRIBE TABLE EXTENDED {_qualified(schema, name)}"):
        if row[0] == "Location":
            return row[1]
    return ""


def register_bronze_tables(settings: Settings | None = None) -> list[Registration]:
    """Create the bronze schema and one external Delta table per bronze table (idempotent)."""
    from spark_thrift.client import connect

    settings = settings or get_settings()
    schema = bronze_schema(settings)
    for table in all_tables():  # Spark cannot register a Delta location that has no table yet
        ensure_table(settings, table.name)
    done: list[Registration] = []
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            _execute(cursor, f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
            for table in all_tables():
                done.append(_register(cursor, settings, schema, table.name))
        finally:
            cursor.close()
    return done


def _register(cursor: Any, settings: Settings, schema: str, name: str) -> Registration:
    location = table_location(settings, name)
    current = _current_location(cursor, schema, name)
    if current is not None and normalise_location(current) == normalise_location(location):
        return Registration(f"{schema}.{name}", location, "unchanged")
    action = "created"
    if current is not None:
        # An external table: DROP forgets the metastore entry, the Delta files stay.
        _execute(cursor, f"DROP TABLE {_qualified(schema, name)}")
        action = "relocated"
    _execute(
        cursor,
        f"CREATE TABLE IF NOT EXISTS {_qualified(schema, name)} USING delta LOCATION %(location)s",
        {"location": location},
    )
    return Registration(f"{schema}.{name}", location, action)
