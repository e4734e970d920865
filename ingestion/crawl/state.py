"""Crawl bookkeeping in MongoDB (collections prefixed `crawl_`, ignored by the bronze export).

- crawl_runs: one document per run (mode, counts, stop reason)
- crawl_seeds: each seed line -> resolved artist id, or unresolved with the reason
- crawl_artists: the work queue, per artist: pending/done/failed/not_found, attempts, last error
- crawl_albums: albums whose tracks and features are all stored (`done`), or that the API
  answered 404 / null for in `crawl_album_give_up_after` runs (`not_found`: given up); both
  are skipped by later artists
- crawl_failures: every failed work item with its reason and attempts (retried next run);
  `resolved` with `resolution` `succeeded` (a retry worked) or `given_up` (album gone)
- crawl_track_features: tracks without audio features, and why

Everything is an idempotent upsert, so a run killed at any point (kill -9) leaves a state the
next run simply continues from.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.database import Database

PENDING, DONE, FAILED, NOT_FOUND = "pending", "done", "failed", "not_found"
SUCCEEDED, GIVEN_UP = "succeeded", "given_up"  # how a crawl_failures record was resolved


def _now() -> datetime:
    return datetime.now(UTC)


class CrawlState:
    def __init__(self, db: Database, crawl_id: str) -> None:
        self.db, self.crawl_id = db, crawl_id
        self.artists = db["crawl_artists"]
        self.albums = db["crawl_albums"]
        self.seeds = db["crawl_seeds"]
        self.failures = db["crawl_failures"]
        self.features = db["crawl_track_features"]
        self.runs = db["crawl_runs"]
        self._queued: set[str] | None = None  # ids in crawl_artists (read once per run)

    def ensure_indexes(self) -> None:
        self.artists.create_index([("status", ASCENDING), ("seq", ASCENDING)])
        self.failures.create_index([("kind", ASCENDING), ("item_id", ASCENDING)], unique=True)
        self.failures.create_index([("resolved", ASCENDING)])
        self.features.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, info: dict) -> None:
        # A run still "running" here was killed (one crawl at a time): say so in its record.
        self.runs.update_many({"status": "running"},
                              {"$set": {"status": "interrupted", "interrupted_seen_by":
                                        self.crawl_id}})
        self.runs.insert_one({"_id": self.crawl_id, "started_at": _now(), "status": "running",
                              **info})

    def finish_run(self, status: str, summary: dict) -> None:
        self.runs.update_one({"_id": self.crawl_id},
                             {"$set": {"status": status, "finished_at": _now(), **summary}})

    # -- seeds --------------------------------------------------------------------------------
    def seed(self, key: str) -> dict | None:
        return self.seeds.find_one({"_id": key})

    def record_seed(self, key: str, **fields: object) -> None:
        self.seeds.update_one(
            {"_id": key},
            {"$set": {**fields, "crawl_id": self.crawl_id, "updated_at": _now()},
             "$inc": {"attempts": 1}},
            upsert=True,
        )

    # -- artist queue -------------------------------------------------------------------------
    def enqueue(self, artist_ids: list[str], origin: str, via: str | None = None) -> int:
        """Queue artists not seen before (existing entries keep their status). Returns new."""
        if self._queued is None:
            self._queued = {d["_id"] for d in self.artists.find({}, {"_id": 1})}
        artist_ids = [a for a in dict.fromkeys(artist_ids) if a not in self._queued]
        if not artist_ids:
            return 0
        self._queued.update(artist_ids)
        base = time.time_ns()
        ops = [
            UpdateOne(
                {"_id": artist_id},
                {"$setOnInsert": {"status": PENDING, "attempts": 0, "seq": base + i,
                                  "origin": origin, "via": via, "queued_at": _now()}},
                upsert=True,
            )
            for i, artist_id in enumerate(artist_ids)
        ]
        return self.artists.bulk_write(ops, ordered=False).upserted_count

    def failed(self) -> list[str]:
        """Artists whose last attempt failed: retried on every run."""
        return [d["_id"] for d in self.artists.find({"status": FAILED}).sort("seq", ASCENDING)]

    def pending(self, limit: int) -> list[str]:
        """The next pending artists in queue order (seeds and discoveries, first come first)."""
        found = self.artists.find({"status": PENDING}).sort("seq", ASCENDING).limit(limit)
        return [d["_id"] for d in found]

    def count(self, status: str) -> int:
        return self.artists.count_documents({"status": status})

    def mark_artists(self, artist_ids: list[str], status: str) -> None:
        if artist_ids:
            self.artists.update_many(
                {"_id": {"$in": artist_ids}},
                {"$set": {"status": status, "crawl_id": self.crawl_id, "updated_at": _now(),
                          "last_error": None}, "$inc": {"attempts": 1}},
            )

    def mark_artist_failed(self, artist_id: str, reason: str, status: str = FAILED) -> None:
        self.artists.update_one(
            {"_id": artist_id},
            {"$set": {"status": status, "last_error": reason, "crawl_id": self.crawl_id,
                      "updated_at": _now()}, "$inc": {"attempts": 1}},
        )

    # -- albums -------------------------------------------------------------------------------
    def settled_albums(self, album_ids: list[str] | set[str]) -> set[str]:
        """Albums nothing is fetched for any more: complete (done) or given up (not_found)."""
        if not album_ids:
            return set()
        found = self.albums.find(
            {"_id": {"$in": list(album_ids)}, "status": {"$in": [DONE, NOT_FOUND]}}, {"_id": 1})
        return {d["_id"] for d in found}

    def give_up_album(self, album_id: str, reason: str, not_found_runs: int,
                      artist_ids: list[str]) -> None:
        """The API said the album does not exist in `not_found_runs` runs: stop asking for it.
        `artists` = the artists that listed it then (whom to set pending again on a reset)."""
        self.albums.update_one(
            {"_id": album_id},
            {"$set": {"status": NOT_FOUND, "reason": reason, "not_found_runs": not_found_runs,
                      "artists": artist_ids, "crawl_id": self.crawl_id, "updated_at": _now()}},
            upsert=True,
        )
        self.failures.update_one(
            {"_id": f"album:{album_id}"},
            {"$set": {"resolved": True, "resolution": GIVEN_UP, "resolved_at": _now(),
                      "resolved_by": self.crawl_id}},
        )

    def reset_given_up_albums(self) -> int:
        """Ask again for every given-up album (`lakehouse crawl --retry-given-up`); returns how
        many. The artists that listed them go back to pending first, so a kill between the two
        steps leaves the albums still skipped (run it again) rather than nobody to ask for them.
        The failure records keep their history; their count of 404 / null runs restarts."""
        gone = list(self.albums.find({"status": NOT_FOUND}, {"artists": 1}))
        if not gone:
            return 0
        album_ids = [d["_id"] for d in gone]
        artist_ids = sorted({a for d in gone for a in d.get("artists") or []})
        if artist_ids:
            self.artists.update_many(
                {"_id": {"$in": artist_ids}},
                {"$set": {"status": PENDING, "crawl_id": self.crawl_id, "updated_at": _now()}},
            )
        self.failures.update_many(
            {"_id": {"$in": [f"album:{a}" for a in album_ids]}},
            {"$set": {"resolved": False, "resolution": "reset", "reset_at": _now(),
                      "reset_by": self.crawl_id},
             "$unset": {"not_found_runs": ""}},
        )
        self.albums.delete_many({"_id": {"$in": album_ids}, "status": NOT_FOUND})
        return len(album_ids)

    def mark_albums_done(self, tracks_by_album: dict[str, int]) -> None:
        ops = [
            UpdateOne({"_id": album_id},
                      {"$set": {"status": DONE, "tracks": n, "crawl_id": self.crawl_id,
                                "updated_at": _now()}}, upsert=True)
            for album_id, n in tracks_by_album.items()
        ]
        if ops:
            self.albums.bulk_write(ops, ordered=False)

    # -- failures -----------------------------------------------------------------------------
    def record_failure(self, kind: str, item_id: str, reason: str, artist_id: str | None,
                       *, not_found: bool = False) -> int:
        """Record a failed work item (retried next run). `not_found`: the answer says the item
        does not exist (an album's 404 / null; call once per run), counted in `not_found_runs`.
        Returns that count: the runs with such an answer since the item last succeeded."""
        doc = self.failures.find_one_and_update(
            {"_id": f"{kind}:{item_id}"},
            {"$set": {"kind": kind, "item_id": item_id, "reason": reason, "artist_id": artist_id,
                      "resolved": False, "crawl_id": self.crawl_id, "last_failed_at": _now()},
             "$setOnInsert": {"first_failed_at": _now()},
             "$inc": {"attempts": 1, **({"not_found_runs": 1} if not_found else {})}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc.get("not_found_runs", 0))

    def resolve_failures(self, kind: str, item_ids: list[str] | set[str]) -> None:
        if item_ids:
            # A success also clears the count of "not found" answers: only runs since the album
            # last worked count towards giving it up.
            self.failures.update_many(
                {"_id": {"$in": [f"{kind}:{i}" for i in item_ids]}, "resolved": False},
                {"$set": {"resolved": True, "resolution": SUCCEEDED, "resolved_at": _now(),
                          "resolved_by": self.crawl_id},
                 "$unset": {"not_found_runs": ""}},
            )

    def open_failures(self, kind: str) -> list[str]:
        return [d["item_id"] for d in self.failures.find({"kind": kind, "resolved": False})]

    # -- audio features -----------------------------------------------------------------------
    @staticmethod
    def _refused(null_answer: str) -> dict:
        """Tracks recorded without features for a refusal, not for a per-track null answer."""
        return {"status": "unavailable", "reason": {"$ne": null_answer}}

    def tracks_refused_features(self, limit: int, null_answer: str) -> list[str]:
        """Oldest record first, so a capped backfill works through them over runs."""
        cursor = self.features.find(self._refused(null_answer), {"_id": 1}).sort(
            [("updated_at", 1), ("_id", 1)]).limit(limit)
        return [d["_id"] for d in cursor]

    def count_refused_features(self, null_answer: str) -> int:
        return self.features.count_documents(self._refused(null_answer))

    def clear_features_unavailable(self, track_ids: list[str]) -> None:
        """The tracks have features now: no longer listed as without."""
        if track_ids:
            self.features.delete_many({"_id": {"$in": track_ids}})

    def record_features_unavailable(self, reasons: dict[str, str]) -> int:
        """Store 'no audio features' per track; only new or changed reasons are written."""
        if not reasons:
            return 0
        known = {
            d["_id"]: d.get("reason")
            for d in self.features.find({"_id": {"$in": list(reasons)}}, {"reason": 1})
        }
        ops = [
            UpdateOne({"_id": track_id},
                      {"$set": {"status": "unavailable", "reason": reason,
                                "crawl_id": self.crawl_id, "updated_at": _now()}}, upsert=True)
            for track_id, reason in reasons.items()
            if known.get(track_id) != reason
        ]
        if ops:
            self.features.bulk_write(ops, ordered=False)
        return len(reasons)
