"""Serve a real catalogue: build the emulator's catalogue from a CSV in the public
"Spotify Tracks Dataset" format (columns listed in docs/spotify_api.md).

The CSV has names but no artist/album ids: those are derived deterministically from the names
(same file -> same ids). Artist genres are the union of their tracks' `track_genre`. Release
dates are not in the file: a stable year is derived from the album key (precision "year").
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from ingestion.emulator.catalogue import Album, Artist, Catalogue, Track, image_list
from ingestion.spotify_ids import derived_id, is_spotify_id

FEATURE_COLUMNS = ("danceability", "energy", "speechiness", "acousticness", "instrumentalness",
                   "liveness", "valence", "loudness", "tempo")
REQUIRED_COLUMNS = {"track_id", "artists", "album_name", "track_name", "duration_ms",
                    "explicit", "key", "mode", "time_signature", "track_genre", *FEATURE_COLUMNS}


class CatalogueCsvError(ValueError):
    """The CSV cannot be served; the message names the file, the row and the fix."""


def _features(row: dict, duration_ms: int) -> dict | None:
    try:
        values = {c: float(row[c]) for c in FEATURE_COLUMNS}
        values.update(key=int(float(row["key"])), mode=int(float(row["mode"])),
                      time_signature=int(float(row["time_signature"])), duration_ms=duration_ms)
    except (TypeError, ValueError):
        return None  # a row without usable features: served as "no audio features"
    return values


def catalogue_from_csv(path: Path | str, limit: int | None = None) -> Catalogue:
    """Read up to `limit` distinct tracks from the CSV at `path`."""
    path = Path(path)
    cat = Catalogue()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise CatalogueCsvError(
                f"{path}: missing columns {sorted(missing)}; expected the Spotify Tracks Dataset "
                f"columns ({', '.join(sorted(REQUIRED_COLUMNS))})"
            )
        for line, row in enumerate(reader, start=2):
            if limit is not None and len(cat.tracks) >= limit:
                break
            _add_row(cat, row, path, line)
    if not cat.tracks:
        raise CatalogueCsvError(f"{path}: no track rows; the file needs at least one data row")
    return cat.index()


def _add_row(cat: Catalogue, row: dict, path: Path, line: int) -> None:
    artist_names = [n.strip() for n in (row["artists"] or "").split(";") if n.strip()]
    if not artist_names or not row["track_name"]:
        raise CatalogueCsvError(f"{path}:{line}: empty artists or track_name; fix or drop the row")
    genre = (row.get("track_genre") or "").strip()
    artist_ids = []
    for name in artist_names:
        artist_id = derived_id("csv-artist", name.casefold())
        artist = cat.artists.get(artist_id)
        if artist is None:
            rng = random.Random(artist_id)  # noqa: S311 (simulation)
            artist = Artist(artist_id, name, [], [], rng.randint(5, 90),
                            int(10 ** rng.uniform(2, 7)), image_list(rng, artist_id, 0.1))
            cat.artists[artist_id] = artist
        if genre and genre not in artist.genres:
            artist.genres.append(genre)
        artist_ids.append(artist_id)
    track_id = row["track_id"].strip()
    if not is_spotify_id(track_id):
        track_id = derived_id("csv-track", row["track_name"], *artist_names)
    if track_id in cat.tracks:  # the dataset lists one track once per genre
        return
    album = _album_for(cat, row["album_name"] or row["track_name"], artist_ids)
    duration = int(float(row["duration_ms"] or 0))
    popularity = row.get("popularity")
    cat.tracks[track_id] = Track(
        id=track_id,
        name=row["track_name"],
        artist_ids=artist_ids,
        album_id=album.id,
        disc_number=1,
        track_number=len(album.track_ids) + 1,
        duration_ms=duration,
        explicit=str(row["explicit"]).strip().lower() in {"true", "1"},
        popularity=int(float(popularity)) if popularity not in (None, "") else 0,
        isrc=f"QZ{int(derived_id('isrc', track_id).encode().hex(), 16) % 10**10:010d}",
        preview_url=None,
        features=_features(row, duration),
    )
    album.track_ids.append(track_id)
    album.album_type = "single" if len(album.track_ids) <= 3 else "album"


def _album_for(cat: Catalogue, name: str, artist_ids: list[str]) -> Album:
    album_id = derived_id("csv-album", artist_ids[0], name.casefold())
    album = cat.albums.get(album_id)
    if album is None:
        rng = random.Random(album_id)  # noqa: S311 (simulation)
        album = Album(album_id, name, "single", [artist_ids[0]], str(rng.randint(1960, 2023)),
                      "year", image_list(rng, album_id, 0.05), "Independent",
                      rng.randint(0, 80), f"{rng.randrange(10**11, 10**12)}",
                      ("GB", "US"))
        cat.albums[album_id] = album
    return album
