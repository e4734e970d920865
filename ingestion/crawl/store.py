"""Entity documents in MongoDB (docs/contracts.md): one collection per entity, `_id` = Spotify
id, the API payload plus `_ingested_at`, `_source`, `_crawl_id`, `_content_hash`.

Writes are upserts by `_id`, and a payload whose hash is already stored is not rewritten, so
re-crawling unchanged data writes nothing and replays after a crash create no duplicates. Every
write is journaled first (ingestion/change_journal.py) so the bronze export reads only changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ReplaceOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from ingestion import change_journal

ENTITY_COLLECTIONS = ("artists", "albums", "tracks", "audio_features")
DUPLICATE_KEY = 11000
# Up to this many documents, a collection's hashes are read once per run and kept in memory:
# FerretDB answers `_id $in [...]` with a full scan, so per-batch lookups would cost a scan each.
PRELOAD_MAX_DOCS = 250_000


def content_hash(payload: dict) -> str:
    """sha256 of the canonical JSON of the payload (keys sorted, `_`-prefixed keys excluded)."""
    clean = {k: v for k, v in payload.items() if not k.startswith("_")}
    canonical = json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class WriteCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def add(self, other: WriteCounts) -> None:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged


class DocumentStore:
    def __init__(self, db: Database, source: str, crawl_id: str) -> None:
        self.db, self.source, self.crawl_id = db, source, crawl_id
        self.counts = {name: WriteCounts() for name in ENTITY_COLLECTIONS}
        self._hashes: dict[str, dict[str, str | None]] = {}  # preloaded collections only
        self._lock = threading.Lock()  # the crawl's fetcher and writer threads share the cache

    def _stored_hashes(self, collection: str, ids: list[str]) -> dict[str, str | None]:
        coll = self.db[collection]
        with self._lock:
            if collection not in self._hashes and (
                coll.estimated_document_count() <= PRELOAD_MAX_DOCS
            ):
                self._hashes[collection] = {
                    d["_id"]: d.get("_content_hash") for d in coll.find({}, {"_content_hash": 1})
                }
            cache = self._hashes.get(collection)
            if cache is not None:
                return {i: cache[i] for i in ids if i in cache}
        found = coll.find({"_id": {"$in": ids}}, {"_content_hash": 1})
        return {d["_id"]: d.get("_content_hash") for d in found}

    def upsert(self, collection: str, payloads: list[dict]) -> WriteCounts:
        """Store API payloads (each with an `id`); returns what was new/changed/unchanged."""
        if collection not in ENTITY_COLLECTIONS:
            raise ValueError(f"unknown entity collection {collection!r}")
        by_id = {p["id"]: p for p in payloads}  # one write per id, the last answer wins
        counts = WriteCounts()
        if not by_id:
            return counts
        coll = self.db[collection]
        stored = self._stored_hashes(collection, list(by_id))
        now = datetime.now(UTC)
        inserts, replaces = [], []
        for doc_id, payload in by_id.items():
            digest = content_hash(payload)
            if stored.get(doc_id) == digest:
                counts.unchanged += 1
                continue
            if doc_id in stored:
                counts.changed += 1
            else:
                counts.new += 1
            document = {
                **payload,
                "_id": doc_id,
                "_ingested_at": now,
                "_source": self.source,
                "_crawl_id": self.crawl_id,
                "_content_hash": digest,
            }
            (replaces if doc_id in stored else inserts).append(document)
        change_journal.record(self.db, collection, inserts + replaces)
        self._write(coll, inserts, replaces)
        with self._lock:
            if collection in self._hashes:
                self._hashes[collection].update((d["_id"], d["_content_hash"]) for d in inserts)
                self._hashes[collection].update((d["_id"], d["_content_hash"]) for d in replaces)
        self.counts[collection].add(counts)
        return counts

    @staticmethod
    def _write(coll: Collection, inserts: list[dict], replaces: list[dict]) -> None:
        # insert_many is an order of magnitude faster than upserts on FerretDB; an id that
        # appeared meanwhile (a concurrent run) makes its insert fail and falls back to replace.
        if inserts:
            try:
                coll.insert_many(inserts, ordered=False)
            except BulkWriteError as exc:
                clashed = {e["op"]["_id"] for e in exc.details.get("writeErrors", [])
                           if e.get("code") == DUPLICATE_KEY}
                if len(clashed) != len(exc.details.get("writeErrors", [])):
                    raise
                replaces = replaces + [d for d in inserts if d["_id"] in clashed]
        if replaces:
            coll.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in replaces],
                            ordered=False)

    def existing_ids(self, collection: str, ids: list[str] | set[str]) -> set[str]:
        return set(self._stored_hashes(collection, list(ids))) if ids else set()
