"""Publish audited gold: copy each table of the audit schema to the location consumers read.

Consumers (Dremio, ml/, app/) read LAKE_ROOT/<GOLD_SCHEMA>/<table> (default `gold`). Publishing
writes the audited rows as a new Delta version of that table (an atomic overwrite per table), so
a reader of one table sees either its previous published version or the new one, and a failed
gate never calls this.

Delta has no transaction across tables, so during a publish (seconds) a reader of several tables
can see some new and some previous versions. Dimensions go first: they only grow (staging keeps
every id it has seen), so a reader never meets a bridge, fact or mart row whose dimension row is
missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse import exclusive_lock
from lakehouse.lake import delta_tables
from lakehouse.settings import REPO_ROOT, Settings
from spark_thrift.client import query

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

AUDIT_SCHEMA = "gold_audit"
STREAM_BATCH_ROWS = 16_384
MARTS_DIR = REPO_ROOT / "dbt_spotify" / "models" / "marts"


@dataclass
class PublishedTable:
    name: str
    audit_version: int
    published_version: int
    previous_version: int | None
    rows: int


def project_marts() -> set[str]:
    """The gold models of the dbt project (a model's name is its file's stem)."""
    return {path.stem for path in MARTS_DIR.rglob("*.sql")}


def audit_tables(settings: Settings, audit_schema: str = AUDIT_SCHEMA) -> list[str]:
    """The Delta tables dbt built in the audit schema for the project's current marts.

    Found by path (views have no path). dbt never drops the table of a model that was removed or
    renamed: its folder stays in the audit schema, unchecked by the gate, and is not published.
    """
    marts = project_marts()
    return [name for name in delta_tables(settings, audit_schema) if name in marts]


# Publish order by name prefix: dimensions before what references them.
PUBLISH_ORDER = ("dim_", "bridge_", "fct_", "mart_")


class PublishIncomplete(RuntimeError):
    """Publishing stopped part-way; `published` are the tables already committed to gold."""

    def __init__(self, published: list[PublishedTable], pending: list[str], cause: str) -> None:
        self.published = published
        self.pending = pending
        self.cause = cause
        super().__init__(cause)


def publish_order(names: list[str]) -> list[str]:
    def rank(name: str) -> tuple[int, str]:
        prefixes = [i for i, prefix in enumerate(PUBLISH_ORDER) if name.startswith(prefix)]
        return (prefixes[0] if prefixes else len(PUBLISH_ORDER), name)

    return sorted(names, key=rank)


def table_version(settings: Settings, schema: str, name: str) -> int | None:
    from deltalake import DeltaTable

    path = settings.lake_path(schema, name)
    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


class CountedRows:
    """One version of a Delta table as a stream of Arrow record batches, counted as they pass.

    Streamed, a publish's memory no longer follows the table's length: it is bounded by the
    largest Parquet row group pyarrow decodes (Spark caps them at its 128 MB block size) and the
    file delta-rs buffers before writing it. Reading the whole version first took 5.5 GB for
    8M rows of `mart_track_search`; streamed, 1.6 GB, as for 4M (benchmarks/results/publish.md
    and publish_01d301a.md, the code before)."""

    def __init__(self, table: DeltaTable) -> None:
        self.dataset = table.to_pyarrow_dataset()
        self.count = 0

    def _batches(self) -> Iterator[pa.RecordBatch]:
        # One file at a time. Batches of pyarrow's default 131,072 rows took 2.5 GB instead
        # of 1.6 GB to publish 4M rows of `mart_track_search` (measured 2026-12-06).
        for batch in self.dataset.to_batches(
            batch_size=STREAM_BATCH_ROWS, batch_readahead=2, fragment_readahead=1
        ):
            self.count += batch.num_rows
            yield batch

    def reader(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(self.dataset.schema, self._batches())


def publish_table(
    settings: Settings, name: str, audit_schema: str = AUDIT_SCHEMA, version: int | None = None
) -> PublishedTable:
    """Copy one audit table (at `version`, default its latest) to gold as a new Delta version.

    Rows, schema (with the column comments dbt persisted) and the table's description are
    copied; the rows stream through (CountedRows)."""
    from deltalake import DeltaTable, write_deltalake

    source = DeltaTable(settings.lake_path(audit_schema, name), version=version)
    target = settings.lake_path(settings.gold_schema, name)
    previous = table_version(settings, settings.gold_schema, name)
    rows = CountedRows(source)
    description = source.metadata().description
    write_deltalake(
        target, rows.reader(), mode="overwrite", schema_mode="overwrite", description=description
    )
    published = DeltaTable(target)
    # delta-rs sets the description only when it creates a table and keeps it on an overwrite:
    # without this, a model's edited description would never reach gold.
    if description is not None and published.metadata().description != description:
        published.alter.set_table_description(description)
    return PublishedTable(
        name=name,
        audit_version=source.version(),
        published_version=published.version(),
        previous_version=previous,
        rows=rows.count,
    )


def register_tables(settings: Settings, schema: str, names: list[str]) -> None:
    """Make `<schema>.<table>` resolve in the Spark metastore for the Delta tables at
    LAKE_ROOT/<schema>/<table> (external tables; idempotent)."""
    query(f"CREATE SCHEMA IF NOT EXISTS {schema}", settings=settings)
    for name in names:
        location = settings.lake_uri + f"/{schema}/{name}"
        # Schema names are validated settings and table names come from a Delta listing of the
        # lake; the location holds the user's LAKE_ROOT or DATA_DIR path, so it is bound.
        query(
            f"CREATE TABLE IF NOT EXISTS {schema}.{name} USING delta "
            "LOCATION %(location)s",
            {"location": location},
            settings=settings,
        )
        query(f"REFRESH TABLE {schema}.{name}", settings=settings)


def register_published(settings: Settings, names: list[str]) -> None:
    """Make `gold.<table>` resolve in the Spark metastore (for Thrift/JDBC users and dbt docs)."""
    register_tables(settings, settings.gold_schema, names)


def publish_all(
    settings: Settings,
    audit_schema: str = AUDIT_SCHEMA,
    versions: dict[str, int] | None = None,
) -> list[PublishedTable]:
    """Publish every audit table (each at `versions[name]` when given: the version audited).

    Raises PublishIncomplete naming what was and was not committed when a table fails; a failed
    metastore registration leaves the data published (consumers read by path) and raises it too,
    with nothing pending.
    """
    if settings.gold_schema == audit_schema:
        raise RuntimeError(
            f"GOLD_SCHEMA is `{settings.gold_schema}`, the audit schema itself: publishing would"
            " copy the audited tables onto themselves. Set GOLD_SCHEMA to the schema consumers"
            " read (default `gold`)."
        )
    # A dbt build into gold (`lakehouse transform`) would commit to the same tables meanwhile.
    with exclusive_lock.lake_writer(settings,
                                    f"publish of {audit_schema} to {settings.gold_schema}"):
        names = publish_order(audit_tables(settings, audit_schema))
        if not names:
            raise RuntimeError(
                f"Nothing to publish: schema `{audit_schema}` has no Delta tables. Build gold into"
                " it first (`lakehouse transform --audit`)."
            )
        published: list[PublishedTable] = []
        for name in names:
            version = (versions or {}).get(name)
            try:
                published.append(publish_table(settings, name, audit_schema, version))
            except Exception as exc:
                pending = names[len(published) :]
                raise PublishIncomplete(
                    published, pending, f"publishing {name}: {type(exc).__name__}: {exc}"
                ) from exc
        try:
            register_published(settings, names)
        except Exception as exc:
            raise PublishIncomplete(
                published,
                [],
                f"registering {settings.gold_schema}.<table> in the Spark metastore:"
                f" {type(exc).__name__}: {exc}",
            ) from exc
    return published
