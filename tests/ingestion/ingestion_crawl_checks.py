"""Helpers of the crawl tests: what a complete crawl must contain, and collection snapshots."""

from __future__ import annotations

from ingestion.crawl.store import ENTITY_COLLECTIONS, content_hash


def closure(cat, seed_ids: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Artists, albums and tracks reachable from the seeds (what an expanding crawl must get)."""
    artists, albums, tracks = set(), set(), set()
    queue = list(seed_ids)
    while queue:
        artist_id = queue.pop()
        if artist_id in artists:
            continue
        artists.add(artist_id)
        for album_id, _group in cat.releases[artist_id]:
            album = cat.albums[album_id]
            albums.add(album_id)
            queue += album.artist_ids
            for track_id in album.track_ids:
                tracks.add(track_id)
                queue += cat.tracks[track_id].artist_ids
    return artists, albums, tracks


def snapshot(db) -> dict[str, dict[str, tuple]]:
    """Per entity collection: id -> (content hash, source); asserts hashes match payloads."""
    result = {}
    for name in ENTITY_COLLECTIONS:
        docs = {}
        for doc in db[name].find({}):
            assert doc["_content_hash"] == content_hash(doc), f"{name} {doc['_id']} hash"
            docs[doc["_id"]] = (doc["_content_hash"], doc["_source"])
        result[name] = docs
    result["crawl_track_features"] = {
        d["_id"]: (d["status"], d["reason"]) for d in db["crawl_track_features"].find({})
    }
    return result
