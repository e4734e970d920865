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
    """Publishing stopped part-way; `published` are the tables already committed to gold.

    With nothing `pending`, every table's data is committed and `cause` says what lags behind
    it (a table's description, the names in the Spark metastore)."""

    def __init__(self, published: list[PublishedTable], pending: list[str], cause: str) -> None:
        self.published = published
        self.pending = pending
        self.cause = cause
        super().__init__(cause)


class PublishInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped publishing part-way (a second one: the first waits for the publish,
    lakehouse/interrupts.py); `published` are the tables committed to gold, `pending` the rest.

    Still a KeyboardInterrupt, so every caller stops as for any Ctrl-C."""

    def __init__(
        self, published: list[PublishedTable], pending: list[str], audit_schema: str
    ) -> None:
        self.published = published
        self.pending = pending
        super().__init__(
            f"Publishing was stopped by Ctrl-C: {self.gold_state()}. The audited tables are"
            f" unchanged in {audit_schema}: run `lakehouse publish --skip-dbt` to publish them."
        )

    def gold_state(self) -> str:
        """What gold holds now, table by table."""
        new = ", ".join(p.name for p in self.published)
        total = len(self.published) + len(self.pending)
        if not self.published:
            return "no table had been committed, so gold is unchanged"
        if not self.pending:
            return (
                f"all {total} tables were committed ({new}); what follows their rows (the last"
                " table's description, the names in the Spark metastore) may lag until the next"
                " publish"
            )
        return (
            f"after {len(self.published)} of {total} tables, gold holds the new version of"
            f" {new} and the previous one of {', '.join(self.pending)} until the next publish"
        )


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


class _TableCopy:
    """One table's publish, in the two commits that can fail apart: the rows', then the
    description's. Once the rows' commit lands, gold serves the new data whatever follows."""

    def __init__(
        self, settings: Settings, name: str, audit_schema: str, version: int | None
    ) -> None:
        from deltalake import DeltaTable

        self.name = name
        self.source = DeltaTable(settings.lake_path(audit_schema, name), version=version)
        self.target = settings.lake_path(settings.gold_schema, name)
        self.previous = table_version(settings, settings.gold_schema, name)
        self.rows = CountedRows(self.source)
        self.description = self.source.metadata().description

    def commit_rows(self) -> PublishedTable:
        from deltalake import DeltaTable, write_deltalake

        write_deltalake(
            self.target,
            self.rows.reader(),
            mode="overwrite",
            schema_mode="overwrite",
            description=self.description,
        )
        return self._published(DeltaTable(self.target).version())

    def landed(self) -> PublishedTable | None:
        """The table as published if its rows' commit landed, else None. Asked after a Ctrl-C
        during the write: delta-rs writes on threads of its own, which Python's signal handler
        never interrupts, so the KeyboardInterrupt comes once its commit is done."""
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(self.target):
            return None
        version = DeltaTable(self.target).version()
        return None if version == self.previous else self._published(version)

    def copy_description(self, published: PublishedTable) -> None:
        """delta-rs sets a description only when it creates a table and keeps it on an
        overwrite: without this, a model's edited description would never reach gold."""
        from deltalake import DeltaTable

        if self.description is None:
            return
        gold = DeltaTable(self.target)
        if gold.metadata().description != self.description:
            gold.alter.set_table_description(self.description)
            published.published_version = gold.version()

    def _published(self, version: int) -> PublishedTable:
        return PublishedTable(
            name=self.name,
            audit_version=self.source.version(),
            published_version=version,
            previous_version=self.previous,
            rows=self.rows.count,
        )


def publish_table(
    settings: Settings, name: str, audit_schema: str = AUDIT_SCHEMA, version: int | None = None
) -> PublishedTable:
    """Copy one audit table (at `version`, default its latest) to gold as a new Delta version.

    Rows, schema (with the column comments dbt persisted) and the table's description are
    copied; the rows stream through (CountedRows)."""
    copy = _TableCopy(settings, name, audit_schema, version)
    published = copy.commit_rows()
    copy.copy_description(published)
    return published


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

    Raises PublishIncomplete naming what was and was not committed when a table fails. What
    fails after every table's rows are committed (a description, the metastore registration)
    leaves the data published (consumers read by path) and raises it too, with nothing pending.
    Ctrl-C raises PublishInterrupted, naming the tables committed.
    """
    if settings.gold_schema == audit_schema:
        raise RuntimeError(
            f"GOLD_SCHEMA is `{settings.gold_schema}`, the audit schema itself: publishing would"
            " copy the audited tables onto themselves. Set GOLD_SCHEMA to the schema consumers"
            " read (default `gold`)."
        )
    # A dbt build into gold (`lakehouse transform`) would commit to the same tables meanwhile.
    with exclusive_lock.lake_writer(settings,
                                    f"publish of {audit_schema} to {settings.gold_schema}",
                                    uses=frozenset({exclusive_lock.THRIFT})):
        names = publish_order(audit_tables(settings, audit_schema))
        if not names:
            raise RuntimeError(
                f"Nothing to publish: schema `{audit_schema}` has no Delta tables. Build gold into"
                " it first (`lakehouse transform --audit`)."
            )
        published: list[PublishedTable] = []
        lagging: list[str] = []  # what lags behind rows already committed
        copy: _TableCopy | None = None  # the table being published
        try:
            for name in names:
                copy = None
                try:
                    copy = _TableCopy(settings, name, audit_schema, (versions or {}).get(name))
                    table = copy.commit_rows()
                except Exception as exc:
                    pending = names[len(published) :]
                    raise PublishIncomplete(
                        published, pending, f"publishing {name}: {type(exc).__name__}: {exc}"
                    ) from exc
                published.append(table)
                lagging += _description_copied(copy, table)
            lagging += _registered(settings, names)
        except KeyboardInterrupt as exc:
            unlisted = copy is not None and copy.name not in {p.name for p in published}
            if unlisted and (landed := copy.landed()) is not None:
                published.append(landed)
            raise PublishInterrupted(published, names[len(published) :], audit_schema) from exc
        if lagging:
            raise PublishIncomplete(published, [], "; ".join(lagging))
    return published


def _description_copied(copy: _TableCopy, published: PublishedTable) -> list[str]:
    """[] once the description is on gold; else why not (the table's rows are published)."""
    try:
        copy.copy_description(published)
    except Exception as exc:
        return [
            f"setting the description of {published.name}: {type(exc).__name__}: {exc} (its rows"
            " are published; gold keeps its previous description until the next publish)"
        ]
    return []


def _registered(settings: Settings, names: list[str]) -> list[str]:
    """[] once `<gold>.<table>` resolves in the Spark metastore; else why not."""
    try:
        register_published(settings, names)
    except Exception as exc:
        return [
            f"registering {settings.gold_schema}.<table> in the Spark metastore:"
            f" {type(exc).__name__}: {exc}; `{settings.gold_schema}.<table>` may not resolve"
            " over Thrift/JDBC until the next publish"
        ]
    return []
