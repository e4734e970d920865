"""Entity documents in MongoDB (docs/contracts.md): one collection per entity, `_id` = Spotify
id, the API payload plus `_ingested_at`, `_source`, `_crawl_id`, `_content_hash`.

Writes are upserts by `_id`, and a payload whose hash is already stored is not rewritten, so
re-crawling unchanged data writes nothing and replays after a crash create no duplicates. Every
write is journaled first (ingestion/change_journal.py) so the bronze export reads only changes.
Links under the API base the crawl used (an emulator's host:port) are stored in Spotify's own
form, so where the API listened never changes a document or its hash.
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


SPOTIFY_API_BASE = "https://api.spotify.com/v1/"


def canonical_links(value: object, api_base: str) -> object:
    """`value` with every string starting with `api_base` rebased onto Spotify's own API URL.

    An emulator (or any stand-in) writes its own host:port into paging links (`tracks.href`,
    `tracks.next` of a full album) because clients follow them; stored documents and their
    hashes must not depend on where the API listened. Returns new containers (the input is
    left alone)."""
    if isinstance(value, str):
        return SPOTIFY_API_BASE + value[len(api_base):] if value.startswith(api_base) else value
    if isinstance(value, dict):
        return {k: canonical_links(v, api_base) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_links(v, api_base) for v in value]
    return value


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
    def __init__(self, db: Database, source: str, crawl_id: str, api_url: str | None = None
                 ) -> None:
        """api_url: the API base the payloads came from; links under it are stored in
        Spotify's form (see `canonical_links`). None or Spotify's own: stored as they are."""
        self.db, self.source, self.crawl_id = db, source, crawl_id
        base = (api_url or SPOTIFY_API_BASE).rstrip("/") + "/"
        self._api_base = None if base == SPOTIFY_API_BASE else base
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
        if self._api_base is not None:
            payloads = [canonical_links(p, self._api_base) for p in payloads]
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
