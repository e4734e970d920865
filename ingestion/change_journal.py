"""The change journal: how the bronze export finds new documents without scanning MongoDB.

Every document the crawler writes is first appended, whole, to the journal collection
`bronze_journal_<entity>`, then upserted into the entity collection. The export claims the
journal by renaming it (`bronze_journal_<entity>-claimed-<batch id>`; the crawler's next write
starts a fresh journal), reads the claimed entries, commits them to bronze and only then drops the
claimed collection. So:

- an export reads what changed, not the collection: FerretDB's SQLite backend cannot use an
  index for the `_ingested_at` range query (it decodes every document), so the range scan costs
  as much as a full export however little changed;
- nothing is lost: an entry is dropped only after its Delta commit, and a document written while
  the export runs lands in the new journal, read by the next export;
- nothing is duplicated: a crash between the Delta commit and the drop leaves the claimed
  collection behind, the next export reads it again and the bronze deduplication skips the rows
  it already holds.

Journal first, document second: a crash in between leaves a journal entry for a version MongoDB
does not hold yet; bronze then records a version the crawler will store on its retry, which is
harmless (bronze is the log of versions seen). The reverse order could lose a change.

Writers other than the crawler (mongoimport, a restored dump, hand edits) do not journal.
`lakehouse export --rescan` finds their documents on either server: it reads the whole collection,
whatever the watermark, since such a document may be stamped before it. Without a rescan, only
the `scan` mode's range read can see them, and only if stamped at or after the watermark
minus the overlap (BRONZE_OVERLAP_S).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.database import Database
from pymongo.errors import OperationFailure

PREFIX = "bronze_journal_"
CLAIMED = "-claimed-"
NAMESPACE_NOT_FOUND = 26

ChangeCapture = Literal["scan", "journal"]


def journal_name(entity: str) -> str:
    return f"{PREFIX}{entity}"


def record(db: Database, entity: str, documents: list[dict]) -> None:
    """Append the documents about to be written (call before writing them)."""
    if documents:
        db[journal_name(entity)].insert_many([{"doc": d} for d in documents], ordered=True)


def claim(db: Database, entity: str, batch_id: str) -> list[str]:
    """Take the live journal for this export; returns every claimed journal, oldest first.

    Claimed journals of an earlier export that crashed before dropping them come back here too.
    """
    live = journal_name(entity)
    try:
        db[live].rename(f"{live}{CLAIMED}{batch_id}")
    except OperationFailure as exc:
        if exc.code != NAMESPACE_NOT_FOUND:  # no live journal: nothing written since last time
            raise
    return sorted(n for n in db.list_collection_names() if n.startswith(f"{live}{CLAIMED}"))


def entries(db: Database, claimed: list[str]) -> Iterator[bytes]:
    """The journaled documents as BSON bytes, in write order within each journal."""
    options = CodecOptions(document_class=RawBSONDocument)
    for name in claimed:
        for entry in db.get_collection(name, codec_options=options).find(batch_size=2000):
            doc = entry.get("doc")
            # Not written by `record`: hand the entry itself to validation, which rejects it.
            yield doc.raw if isinstance(doc, RawBSONDocument) else entry.raw


def release(db: Database, claimed: list[str]) -> None:
    """Drop claimed journals once their documents are committed to bronze."""
    for name in claimed:
        db.drop_collection(name)


def resolve(db: Database, setting: str) -> ChangeCapture:
    """`auto`: the indexed range scan on MongoDB, the journal on FerretDB (no index use)."""
    if setting in ("scan", "journal"):
        return setting  # type: ignore[return-value]
    build = db.client.admin.command("buildInfo")
    return "journal" if "ferretdbVersion" in build else "scan"
