"""MongoDB documents shaped like the crawler's (docs/contracts.md, section MongoDB).

Payloads follow the Spotify Web API objects (docs/spotify_api.md); the bookkeeping keys
`_ingested_at`, `_source`, `_crawl_id`, `_content_hash` are added like the crawler adds them.
Also used by benchmarks/bronze_export.py to generate large collections.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from ingestion.spotify_ids import derived_id

BASE_TIME = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
MARKETS = ["AR", "AU", "BR", "CA", "DE", "ES", "FR", "GB", "JP", "MX", "SE", "US"]


def sid(kind: str, n: int) -> str:
    return derived_id(kind, n)


def _links(kind: str, spotify_id: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{spotify_id}"},
        "href": f"https://api.spotify.com/v1/{kind}s/{spotify_id}",
        "uri": f"spotify:{kind}:{spotify_id}",
    }


def artist_payload(n: int, popularity: int = 50) -> dict[str, Any]:
    artist_id = sid("artist", n)
    return {
        "id": artist_id,
        "name": f"Artist {n} Ñandú",
        "genres": ["indie rock", "dream pop"][: 1 + n % 2],
        "popularity": popularity,
        "followers": {"href": None, "total": 1000 + n},
        "images": [
            {"url": f"https://i.scdn.co/image/{artist_id}640", "height": 640, "width": 640},
            {"url": f"https://i.scdn.co/image/{artist_id}160", "height": 160, "width": 160},
        ],
        "type": "artist",
        **_links("artist", artist_id),
    }


def simplified_artist(n: int) -> dict[str, Any]:
    artist_id = sid("artist", n)
    name = f"Artist {n} Ñandú"
    return {"id": artist_id, "name": name, "type": "artist", **_links("artist", artist_id)}


def album_payload(n: int) -> dict[str, Any]:
    album_id = sid("album", n)
    tracks = [simplified_track(n * 10 + i, n) for i in range(2)]
    return {
        "id": album_id,
        "name": f"Album {n}",
        "album_type": "album",
        "album_group": "album",
        "total_tracks": len(tracks),
        "release_date": "1981-12" if n % 3 == 0 else "1981-12-15",
        "release_date_precision": "month" if n % 3 == 0 else "day",
        "artists": [simplified_artist(n)],
        "images": [{"url": f"https://i.scdn.co/image/{album_id}", "height": 300, "width": 300}],
        "available_markets": MARKETS,
        "copyrights": [{"text": "(C) 1981 Label", "type": "C"}],
        "external_ids": {"upc": f"00{n:010d}"},
        "genres": [],
        "label": "Label",
        "popularity": 40,
        "tracks": {
            "href": f"https://api.spotify.com/v1/albums/{album_id}/tracks",
            "items": tracks,
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(tracks),
        },
        "type": "album",
        **_links("album", album_id),
    }


def simplified_track(n: int, album_n: int) -> dict[str, Any]:
    track_id = sid("track", n)
    return {
        "id": track_id,
        "name": f"Track {n} — «live»",
        "artists": [simplified_artist(album_n), simplified_artist(album_n + 1)],
        "disc_number": 1,
        "track_number": 1 + n % 10,
        "duration_ms": 180_000 + n,
        "explicit": n % 5 == 0,
        "is_local": False,
        "preview_url": None,
        "available_markets": MARKETS,
        "type": "track",
        **_links("track", track_id),
    }


def track_payload(n: int) -> dict[str, Any]:
    album_n = n // 10
    album_id = sid("album", album_n)
    track = simplified_track(n, album_n)
    track.update(
        {
            "album": {
                "id": album_id,
                "name": f"Album {album_n}",
                "album_type": "album",
                "release_date": "1981-12-15",
                "release_date_precision": "day",
                "artists": [simplified_artist(album_n)],
                "images": [],
                "type": "album",
                **_links("album", album_id),
            },
            "external_ids": {"isrc": f"USRC1{n:07d}"},
            "popularity": n % 101,
            "is_playable": True,
        }
    )
    return track


def audio_features_payload(n: int) -> dict[str, Any]:
    track_id = sid("track", n)
    return {
        "id": track_id,
        "danceability": 0.5 + (n % 40) / 100,
        "energy": 0.7,
        "key": n % 12 - 1,
        "loudness": -7.25,
        "mode": n % 2,
        "speechiness": 0.04,
        "acousticness": 0.12,
        "instrumentalness": 0.0,
        "liveness": 0.1,
        "valence": 0.6,
        "tempo": 120.0 + n % 30,
        "time_signature": 4,
        "duration_ms": 180_000 + n,
        "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{track_id}",
        "track_href": f"https://api.spotify.com/v1/tracks/{track_id}",
        "type": "audio_features",
        "uri": f"spotify:track:{track_id}",
    }


PAYLOADS = {
    "artists": artist_payload,
    "albums": album_payload,
    "tracks": track_payload,
    "audio_features": audio_features_payload,
}


def content_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document(
    payload: dict[str, Any],
    ingested_at: dt.datetime,
    crawl_id: str = "crawl-1",
    source: str = "emulator",
) -> dict[str, Any]:
    """A MongoDB document as the crawler upserts it."""
    return {
        "_id": payload["id"],
        **payload,
        "_ingested_at": ingested_at,
        "_source": source,
        "_crawl_id": crawl_id,
        "_content_hash": content_hash(payload),
    }


def documents(
    entity: str,
    start: int,
    count: int,
    ingested_at: dt.datetime,
    spacing: dt.timedelta = dt.timedelta(milliseconds=1),
    **kw: Any,
) -> list[dict[str, Any]]:
    """`count` documents numbered from `start`, stamped `spacing` apart from `ingested_at`."""
    make = PAYLOADS[entity]
    return [
        document(make(n), ingested_at + (n - start) * spacing, **kw)
        for n in range(start, start + count)
    ]
