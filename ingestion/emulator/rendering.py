"""Catalogue records -> Spotify Web API JSON, per app mode.

Object `href`/`uri`/`external_urls` look like Spotify's own (so stored documents do not depend on
where the emulator listens); paging `href`/`next`/`previous` point at the emulator's base URL,
because clients (spotipy) follow them as given.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ingestion.emulator.catalogue import Album, Artist, Catalogue, Track

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
EXTENDED = "extended"
DEVELOPMENT = "development"
MODES = (EXTENDED, DEVELOPMENT)


def _ref(kind: str, spotify_id: str) -> dict:
    return {
        "external_urls": {"spotify": f"{OPEN}/{kind}/{spotify_id}"},
        "href": f"{API}/{kind}s/{spotify_id}",
        "id": spotify_id,
        "type": kind,
        "uri": f"spotify:{kind}:{spotify_id}",
    }


def paging(items: list, *, base_url: str, path: str, params: dict, offset: int, limit: int,
           total: int) -> dict:
    """A Spotify paging object whose links are absolute URLs of this emulator."""

    def link(at: int) -> str:
        return f"{base_url}{path}?{urlencode({**params, 'offset': at, 'limit': limit})}"

    return {
        "href": link(offset),
        "items": items,
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def artist_simple(artist: Artist) -> dict:
    return {**_ref("artist", artist.id), "name": artist.name}


def artist_full(artist: Artist, mode: str) -> dict:
    doc = {
        **_ref("artist", artist.id),
        "followers": {"href": None, "total": artist.followers},
        "genres": list(artist.genres),
        "images": [dict(i) for i in artist.images],
        "name": artist.name,
        "popularity": artist.popularity,
    }
    if mode == DEVELOPMENT:  # 2026: removed for development-mode apps
        del doc["followers"], doc["popularity"]
    return doc


def album_simple(cat: Catalogue, album: Album, group: str | None = None) -> dict:
    doc = {
        **_ref("album", album.id),
        "album_type": album.album_type,
        "artists": [artist_simple(cat.artists[a]) for a in album.artist_ids],
        "available_markets": list(album.markets),
        "images": [dict(i) for i in album.images],
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": album.release_date_precision,
        "total_tracks": len(album.track_ids),
    }
    if group is not None:
        doc["album_group"] = group
    return doc


def album_tracks_page(
    cat: Catalogue, album: Album, mode: str, base_url: str, offset: int, limit: int
) -> dict:
    items = [track_simple(cat, cat.tracks[t]) for t in album.track_ids[offset : offset + limit]]
    return paging(items, base_url=base_url, path=f"/v1/albums/{album.id}/tracks", params={},
                  offset=offset, limit=limit, total=len(album.track_ids))


def album_full(cat: Catalogue, album: Album, mode: str, base_url: str) -> dict:
    doc = {
        **album_simple(cat, album),
        "copyrights": [
            {"text": f"© {album.release_date[:4]} {album.label}", "type": "C"},
            {"text": f"℗ {album.release_date[:4]} {album.label}", "type": "P"},
        ],
        "external_ids": {"upc": album.upc},
        "genres": [],
        "label": album.label,
        "popularity": album.popularity,
        "tracks": album_tracks_page(cat, album, mode, base_url, 0, 50),
    }
    if mode == DEVELOPMENT:
        del doc["label"], doc["popularity"]
    return doc


def track_simple(cat: Catalogue, track: Track) -> dict:
    album = cat.albums[track.album_id]
    return {
        **_ref("track", track.id),
        "artists": [artist_simple(cat.artists[a]) for a in track.artist_ids],
        "available_markets": list(album.markets),
        "disc_number": track.disc_number,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "is_local": False,
        "name": track.name,
        "preview_url": track.preview_url,
        "track_number": track.track_number,
    }


def track_full(cat: Catalogue, track: Track, mode: str) -> dict:
    doc = {
        **track_simple(cat, track),
        "album": album_simple(cat, cat.albums[track.album_id]),
        "external_ids": {"isrc": track.isrc},
        "popularity": track.popularity,
    }
    if mode == DEVELOPMENT:
        del doc["popularity"]
    return doc


def audio_features(track: Track) -> dict | None:
    if track.features is None:
        return None
    return {
        **track.features,
        "id": track.id,
        "analysis_url": f"{API}/audio-analysis/{track.id}",
        "track_href": f"{API}/tracks/{track.id}",
        "type": "audio_features",
        "uri": f"spotify:track:{track.id}",
    }
