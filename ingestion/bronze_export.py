"""MongoDB -> bronze Delta export: incremental by watermark, idempotent, crash-safe.

For each entity collection the export reads what changed since the last export, validates it
(bad documents go to the quarantine with a reason), drops the versions bronze already holds and
appends the rest to `LAKE_ROOT/bronze/<entity>` with delta-rs, which writes local paths and
`hdfs://` URLs through the same code.

What changed comes from two places (BRONZE_CHANGE_CAPTURE):
- `scan`: the documents whose `_ingested_at` is at or after the watermark minus an overlap, an
  indexed range query on MongoDB; the default there.
- `journal`: the crawler's change journal (ingestion/change_journal.py), which the export always
  consumes; the default on FerretDB, whose SQLite backend answers the range query by decoding the
  whole collection. The first export of a table (no watermark) reads the whole collection too,
  and so does the re-run of a first export that crashed part-way: its chunk commits repeat the
  previous watermark, which is none, so nothing says what bronze holds yet.
`rescan=True` (`lakehouse export --rescan`) reads the whole collection as well as the journal,
whatever the watermark: documents written by other tools (mongoimport, a restored dump, hand
edits) have no journal entry and may carry an `_ingested_at` older than the watermark, so no
range from the watermark would find them.

Why it cannot duplicate or lose documents:
- The watermark lives in the custom metadata of the bronze table's own Delta commits, so it is
  committed atomically with the rows it covers: there is no moment where data and watermark
  disagree. Large exports commit in chunks; only the last commit of a run moves the watermark, the
  earlier ones repeat the previous one. A crash mid-run therefore restarts from the old watermark.
- Rows are deduplicated on (id, content_hash, ingested_at) against what bronze already holds in
  the re-read window, so re-reading (overlap, re-run after a crash) never writes a row twice,
  while a payload that changes back to an earlier version (A -> B -> A) is still a new version.
- The new watermark is capped at the moment the export started reading: a document stamped
  earlier but committed to MongoDB while the cursor ran is picked up by the next run, together
  with the overlap (BRONZE_OVERLAP_S) that covers stamping-to-commit delay and clock skew.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from ingestion import change_journal
from ingestion.bronze_quarantine import QuarantineRecord, write_quarantine
from ingestion.bronze_tables import (
    ENTITIES,
    ENTITY_SCHEMA,
    QUARANTINE,
    ensure_table,
    table_uri,
)
from ingestion.bronze_validation import Rejection, ValidDocument, validate
from lakehouse import exclusive_lock
from lakehouse.settings import Settings, get_settings

WATERMARK_KEY = "lakehouse.bronze.watermark"
BATCH_KEY = "lakehouse.bronze.batch_id"
COMPLETE_KEY = "lakehouse.bronze.complete"
DEDUPE_KEYS = ["id", "content_hash", "ingested_at"]
# `_ingested_at` values that are not datetimes: matched explicitly so they reach the quarantine
# (a range filter on dates never matches them); each branch can use an index on real MongoDB.
_NOT_A_DATE = ["string", "number", "bool", "object", "array", "objectId", "timestamp"]

ProgressCallback = Callable[[str, int], None]


class ExportError(RuntimeError):
    """The export could not run (MongoDB unreachable, lake not writable); nothing half-done."""


class ExportRefused(ExportError, exclusive_lock.LakeBusy):
    """Another job is writing the lake, so the export did not start."""


@dataclass
class EntityExport:
    entity: str
    read: int = 0  # documents read from MongoDB
    exported: int = 0  # new bronze rows
    unchanged: int = 0  # versions bronze already held (overlap, re-run)
    rejected: int = 0  # documents that failed validation in this run
    quarantined: int = 0  # of those, newly written to the quarantine
    commits: int = 0
    scanned: bool = False  # read the collection too (else the change journal alone)
    journal_read: int = 0  # of `read`, documents from the change journal
    read_seconds: float = 0.0  # of `seconds`, waiting for MongoDB to send the documents
    watermark_before: dt.datetime | None = None
    watermark_after: dt.datetime | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class ExportSummary:
    batch_id: str
    lake_root: str
    entities: list[EntityExport] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(e.read for e in self.entities)

    @property
    def exported(self) -> int:
        return sum(e.exported for e in self.entities)

    @property
    def unchanged(self) -> int:
        return sum(e.unchanged for e in self.entities)

    @property
    def journal_read(self) -> int:
        return sum(e.journal_read for e in self.entities)

    @property
    def rejected(self) -> int:
        return sum(e.rejected for e in self.entities)

    @property
    def quarantined(self) -> int:
        return sum(e.quarantined for e in self.entities)

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.entities)


def new_batch_id() -> str:
    """Sortable and unique: UTC time of the run plus a random suffix."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


# --- watermark ------------------------------------------------------------------------------------
def read_watermark(table: DeltaTable) -> tuple[bool, dt.datetime | None]:
    """(found, watermark) from the newest commit that carries one.

    found=False means no export ever committed here (or its log entries were cleaned up):
    the caller then re-reads everything, which the deduplication makes safe.
    """
    for limit in (25, None):  # the newest commits first; the whole log only if needed
        for commit in table.history(limit=limit):
            if WATERMARK_KEY in commit:
                value = commit[WATERMARK_KEY]
                return True, dt.datetime.fromisoformat(value) if value else None
    return False, None


def _format_watermark(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


# --- reading MongoDB ------------------------------------------------------------------------------
def mongo_filter(since: dt.datetime | None) -> dict:
    """Documents at or after `since`, plus those whose `_ingested_at` is unusable."""
    if since is None:
        return {}
    return {
        "$or": [
            {"_ingested_at": {"$gte": since}},
            {"_ingested_at": None},  # missing or null
            {"_ingested_at": {"$type": _NOT_A_DATE}},
        ]
    }


def _raw_documents(collection: Collection, query: dict, result: EntityExport) -> Iterator[bytes]:
    """Documents as BSON bytes: decoding happens per document, so one bad one cannot stop us."""
    raw = collection.with_options(codec_options=CodecOptions(document_class=RawBSONDocument))
    yield from _timed((doc.raw for doc in raw.find(query, batch_size=2000)), result)


def _timed(documents: Iterator[bytes], result: EntityExport) -> Iterator[bytes]:
    """Times the waits on the server (`result.read_seconds`): on FerretDB they dominate."""
    while True:
        began = time.perf_counter()
        doc = next(documents, None)
        result.read_seconds += time.perf_counter() - began
        if doc is None:
            return
        yield doc


def _ensure_index(collection: Collection, result: EntityExport) -> None:
    """An `_ingested_at` index makes the incremental read proportional to what changed."""
    try:
        collection.create_index("_ingested_at")
    except PyMongoError as exc:  # exists under another name, or a read-only user
        if "already exists" not in str(exc):
            result.notes.append(f"no _ingested_at index ({type(exc).__name__})")


# --- deduplication --------------------------------------------------------------------------------
def _existing_keys(table: DeltaTable, lower: dt.datetime | None) -> pa.Table:
    """(id, content_hash, ingested_at) of the bronze rows in the re-read window."""
    dataset = table.to_pyarrow_dataset()
    if lower is None:
        return dataset.to_table(columns=DEDUPE_KEYS)
    bound = pa.scalar(lower, ENTITY_SCHEMA.field("ingested_at").type)
    return dataset.to_table(columns=DEDUPE_KEYS, filter=pc.field("ingested_at") >= bound)


def _new_rows(chunk: pa.Table, existing: pa.Table) -> pa.Table:
    """The chunk's rows whose version bronze does not hold yet (and no repeats inside it)."""
    if chunk.num_rows == 0:
        return chunk
    # Repeats inside the chunk (a document the cursor returned twice): keep the first.
    indexed = chunk.append_column("_row", pa.array(range(chunk.num_rows), pa.int64()))
    firsts = indexed.group_by(DEDUPE_KEYS, use_threads=False).aggregate([("_row", "min")])
    chunk = chunk.take(firsts["_row_min"].sort())
    if existing.num_rows == 0:
        return chunk
    fresh = chunk.join(existing, keys=DEDUPE_KEYS, join_type="left anti", use_threads=False)
    return fresh.select(ENTITY_SCHEMA.names).cast(ENTITY_SCHEMA)


# --- writing --------------------------------------------------------------------------------------
class _EntityWriter:
    """Buffers valid documents and commits them in chunks, watermark in the last commit."""

    def __init__(self, settings: Settings, entity: str, batch_id: str, result: EntityExport):
        self.settings = settings
        self.entity = entity
        self.batch_id = batch_id
        self.result = result
        self.uri = table_uri(settings, entity)
        self.table = ensure_table(settings, entity)
        self.buffer: list[ValidDocument] = []
        self.rejections: list[Rejection] = []
        self.existing = pa.table({})
        self.covered = False
        self.covered_from: dt.datetime | None = None

    def cover(self, lower: dt.datetime | None) -> None:
        """Make `existing` hold every bronze key stamped at or after `lower` (None: all).

        Loaded lazily and widened only when a chunk reaches further back: journal entries left by
        a crashed export can predate the watermark's overlap.
        """
        if self.covered and (
            self.covered_from is None or (lower is not None and lower >= self.covered_from)
        ):
            return
        self.table.update_incremental()  # our own earlier commits of this run included
        self.existing = _existing_keys(self.table, lower)
        self.covered, self.covered_from = True, lower

    def add(self, doc: ValidDocument) -> None:
        self.buffer.append(doc)
        if len(self.buffer) >= self.settings.bronze_chunk_rows:
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        chunk = self._to_arrow(self.buffer)
        self.buffer = []
        if chunk.num_rows:
            self.cover(pc.min(chunk["ingested_at"]).as_py())
        fresh = _new_rows(chunk, self.existing)
        self.result.unchanged += chunk.num_rows - fresh.num_rows
        if final:
            # Quarantine first: a crash between the two leaves the watermark where it was, so
            # the re-run finds the same rejections and the quarantine deduplicates them.
            records = [
                QuarantineRecord(self.entity, r.doc_id, r.reason, r.raw) for r in self.rejections
            ]
            self.result.quarantined += write_quarantine(self.settings, records, self.batch_id)
        watermark = self.result.watermark_after if final else self.result.watermark_before
        moved = final and watermark != self.result.watermark_before
        if fresh.num_rows == 0 and not moved:
            return
        self._commit(fresh, watermark, final)
        self.result.exported += fresh.num_rows
        self.result.commits += 1
        keys = fresh.select(DEDUPE_KEYS)
        self.existing = (
            pa.concat_tables([self.existing, keys], promote_options="permissive")
            if self.existing.num_columns
            else keys
        )

    def _commit(self, rows: pa.Table, watermark: dt.datetime | None, final: bool) -> None:
        metadata = {
            WATERMARK_KEY: _format_watermark(watermark),
            BATCH_KEY: self.batch_id,
            COMPLETE_KEY: "true" if final else "false",
        }
        write_deltalake(
            self.uri,
            rows,
            mode="append",
            commit_properties=CommitProperties(custom_metadata=metadata),
        )

    def _to_arrow(self, docs: list[ValidDocument]) -> pa.Table:
        now = dt.datetime.now(dt.UTC)
        return pa.table(
            {
                "id": [d.id for d in docs],
                "payload": [d.payload for d in docs],
                "content_hash": [d.content_hash for d in docs],
                "ingested_at": [d.ingested_at for d in docs],
                "source": [d.source for d in docs],
                "crawl_id": [d.crawl_id for d in docs],
                "batch_id": [self.batch_id] * len(docs),
                "exported_at": [now] * len(docs),
            },
            schema=ENTITY_SCHEMA,
        )


def _scan_from(
    watermark: dt.datetime | None, settings: Settings, rescan: bool
) -> dt.datetime | None:
    """Where the MongoDB read starts: the overlap before the watermark, or everything (None).

    A rescan ignores the watermark: it exists to find documents the journal never saw, which
    may be stamped long before it. Reading everything is safe because every chunk is anti-joined
    with all of bronze's keys (`cover(None)`), so only versions bronze lacks are written.
    """
    if rescan or watermark is None:
        return None
    return watermark - dt.timedelta(seconds=settings.bronze_overlap_s)


def _missing_watermark_note(
    found: bool, watermark: dt.datetime | None, version: int
) -> str | None:
    """Why a table that already has commits is read whole again, if it is (version 0 is the
    empty table `ensure_table` created: a plain first export, nothing to say)."""
    if watermark is not None or version == 0:
        return None
    if found:  # the chunk commits of a run that never reached its last commit
        return ("no export of this table completed yet (an earlier one stopped part-way): "
                "re-read everything (deduplicated)")
    return "no watermark in the table log: re-read everything (deduplicated)"


def export_entity(
    db: Database,
    settings: Settings,
    entity: str,
    batch_id: str,
    capture: change_journal.ChangeCapture = "scan",
    rescan: bool = False,
    progress: ProgressCallback | None = None,
) -> EntityExport:
    """Export one collection into its bronze table; see the module docstring for the rules."""
    started = time.perf_counter()
    result = EntityExport(entity)
    writer = _EntityWriter(settings, entity, batch_id, result)
    found, watermark = read_watermark(writer.table)
    result.watermark_before = result.watermark_after = watermark
    note = _missing_watermark_note(found, watermark, writer.table.version())
    if note:
        result.notes.append(note)
    # Claimed before the scan: every document written from here on has an entry in the new
    # journal, which the next export reads.
    claimed = change_journal.claim(db, entity, batch_id)
    read_started = dt.datetime.now(dt.UTC)
    # No watermark, whether none was ever committed or a first export stopped after some chunks
    # (found, but empty): the journal alone would miss every document it never held.
    result.scanned = capture == "scan" or rescan or watermark is None
    newest: dict[str, dt.datetime | None] = {"stamp": None}

    def take(raw: bytes) -> None:
        result.read += 1
        checked = validate(entity, raw)
        stamp = checked.ingested_at
        if stamp is not None and (newest["stamp"] is None or stamp > newest["stamp"]):
            newest["stamp"] = stamp
        if isinstance(checked, Rejection):
            result.rejected += 1
            writer.rejections.append(checked)
        else:
            writer.add(checked)
        if progress and result.read % 1000 == 0:
            progress(entity, result.read)

    if result.scanned:
        since = _scan_from(watermark, settings, rescan)
        writer.cover(since)
        collection = db[entity]
        _ensure_index(collection, result)
        for raw in _raw_documents(collection, mongo_filter(since), result):
            take(raw)
    before = result.read
    for raw in _timed(change_journal.entries(db, claimed), result):
        take(raw)
    result.journal_read = result.read - before
    if newest["stamp"] is not None:
        candidate = min(newest["stamp"], read_started)
        if watermark is None or candidate > watermark:
            result.watermark_after = candidate
    writer.flush(final=True)
    change_journal.release(db, claimed)  # only now: a crash before this re-reads, deduplicated
    if progress:
        progress(entity, result.read)
    result.seconds = time.perf_counter() - started
    return result


def holding_the_lake(
    settings: Settings,
    batch_id: str,
    uses: frozenset[str] = frozenset({exclusive_lock.FERRETDB}),
) -> AbstractContextManager[None]:
    """The lake's write lock as export `batch_id` holds it (ExportRefused when another job
    has it). An export reads MongoDB; `lakehouse export` takes it first with the Thrift Server in
    `uses` too, to hold it through the registration of the tables that follows."""
    return exclusive_lock.lake_writer(
        settings, f"bronze export batch {batch_id}", refuse=ExportRefused, uses=uses)


def export_all(
    settings: Settings | None = None,
    entities: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    batch_id: str | None = None,
    rescan: bool = False,
) -> ExportSummary:
    """Export every entity collection (or the given ones); one batch id for the whole run.

    rescan: also read every document of each collection, ignoring the watermark, to find
    documents written by tools other than the crawler (no journal entry, any `_ingested_at`);
    versions bronze already holds are skipped, not written again.
    """
    settings = settings or get_settings()
    chosen = list(entities or ENTITIES)
    unknown = sorted(set(chosen) - set(ENTITIES))
    if unknown:
        raise ExportError(f"unknown entity {', '.join(unknown)}; choose from {', '.join(ENTITIES)}")
    summary = ExportSummary(batch_id or new_batch_id(), settings.lake_uri)
    # Two exports at once would both read the same journal entries and append them twice.
    with holding_the_lake(settings, summary.batch_id):
        _export_entities(settings, chosen, summary, rescan, progress)
    return summary


def _export_entities(
    settings: Settings,
    chosen: list[str],
    summary: ExportSummary,
    rescan: bool,
    progress: ProgressCallback | None,
) -> None:
    from ingestion.mongodb import access_refused_message, client

    try:
        # dbt sources expect the quarantine to exist even when nothing was ever rejected.
        ensure_table(settings, QUARANTINE)
        with client(settings) as mongo:
            mongo.admin.command("ping")
            db = mongo[settings.mongodb_database]
            capture = change_journal.resolve(db, settings.bronze_change_capture)
            for entity in chosen:
                summary.entities.append(
                    export_entity(db, settings, entity, summary.batch_id, capture, rescan, progress)
                )
    except (DeltaError, OSError) as exc:  # delta-rs reports HDFS/IO failures as OSError
        raise ExportError(
            f"writing the bronze tables under {settings.lake_uri} failed ({exc}). Check that"
            " LAKE_ROOT is reachable and writable; the export is safe to re-run."
        ) from exc
    except PyMongoError as exc:
        refused = access_refused_message(settings, exc)
        if refused:
            raise ExportError(f"{refused} The export is safe to re-run.") from exc
        raise ExportError(
            f"MongoDB at {settings.mongodb_display} failed during the export"
            f" ({type(exc).__name__}: {exc}). Start it with `lakehouse services up` or fix"
            " MONGODB_URI; the export is safe to re-run."
        ) from exc
