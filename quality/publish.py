"""Publish audited gold: copy each table of the audit schema to the location consumers read.

Consumers (Dremio, ml/, app/) read LAKE_ROOT/gold/<table>. Publishing writes the audited rows as
a new Delta version of that table (an atomic overwrite per table), so a reader sees either the
previous published version or the new one, and a failed gate simply never calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse import exclusive_lock
from lakehouse.lake import delta_tables
from lakehouse.settings import Settings
from spark_thrift.client import query

AUDIT_SCHEMA = "gold_audit"
PUBLISHED_SCHEMA = "gold"


@dataclass
class PublishedTable:
    name: str
    audit_version: int
    published_version: int
    previous_version: int | None
    rows: int


def audit_tables(settings: Settings, audit_schema: str = AUDIT_SCHEMA) -> list[str]:
    """The Delta tables dbt built in the audit schema, found by path (views have no path)."""
    return delta_tables(settings, audit_schema)


def table_version(settings: Settings, schema: str, name: str) -> int | None:
    from deltalake import DeltaTable

    path = settings.lake_path(schema, name)
    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


def publish_table(
    settings: Settings, name: str, audit_schema: str = AUDIT_SCHEMA
) -> PublishedTable:
    from deltalake import DeltaTable, write_deltalake

    source = DeltaTable(settings.lake_path(audit_schema, name))
    target = settings.lake_path(PUBLISHED_SCHEMA, name)
    previous = table_version(settings, PUBLISHED_SCHEMA, name)
    data = source.to_pyarrow_table()
    write_deltalake(
        target,
        data,
        mode="overwrite",
        schema_mode="overwrite",
        description=source.metadata().description,
    )
    return PublishedTable(
        name=name,
        audit_version=source.version(),
        published_version=DeltaTable(target).version(),
        previous_version=previous,
        rows=data.num_rows,
    )


def register_published(settings: Settings, names: list[str]) -> None:
    """Make `gold.<table>` resolve in the Spark metastore (for Thrift/JDBC users and dbt docs)."""
    query(f"CREATE SCHEMA IF NOT EXISTS {PUBLISHED_SCHEMA}", settings=settings)
    for name in names:
        location = settings.lake_uri + f"/{PUBLISHED_SCHEMA}/{name}"
        # Table names come from the audit schema's listing; the location holds the user's
        # LAKE_ROOT or DATA_DIR path, so it is a bound parameter.
        query(
            f"CREATE TABLE IF NOT EXISTS {PUBLISHED_SCHEMA}.{name} USING delta "
            "LOCATION %(location)s",
            {"location": location},
            settings=settings,
        )
        query(f"REFRESH TABLE {PUBLISHED_SCHEMA}.{name}", settings=settings)


def publish_all(settings: Settings, audit_schema: str = AUDIT_SCHEMA) -> list[PublishedTable]:
    # A dbt build into gold (`lakehouse transform`) would commit to the same tables meanwhile.
    with exclusive_lock.lake_writer(settings, f"publish of {audit_schema} to {PUBLISHED_SCHEMA}"):
        names = audit_tables(settings, audit_schema)
        if not names:
            raise RuntimeError(
                f"Nothing to publish: schema `{audit_schema}` has no Delta tables. Build gold into"
                " it first (`lakehouse transform --audit`)."
            )
        published = [publish_table(settings, name, audit_schema) for name in names]
        register_published(settings, names)
    return published
