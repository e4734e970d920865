"""The browsable catalogue: tracks, artists and albums from gold, with lookups and search indexes.

Built once per published gold version (app/cached_data.py caches it). Tracks come from
gold.mart_track_search; artists and albums from dim_artist / dim_album / bridge_album_artist
when published, else derived from the track credits, so the pages work on any gold that has the
search mart. Lookups are vectorised Arrow filters or dict hits: nothing scans Python rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.search_index import SearchIndex

ENTITY_KINDS = ("tracks", "artists", "albums")


def _popularity(table: pa.Table) -> np.ndarray:
    column = table.column("popularity").cast(pa.float64())
    return np.asarray(pc.fill_null(column, np.nan), dtype=float)


def _join_lists(column: pa.ChunkedArray | pa.Array, separator: str = ", ") -> pa.Array:
    joined = pc.binary_join(pc.fill_null(column, pa.scalar([], column.type)), separator)
    return pc.fill_null(joined, "")


def _frame(table: pa.Table) -> pd.DataFrame:
    """A small table as pandas, list columns as Python lists (never None)."""
    frame = table.to_pandas()
    for field_ in table.schema:
        if pa.types.is_list(field_.type):
            frame[field_.name] = frame[field_.name].map(
                lambda v: [] if v is None else list(v))
    return frame


@dataclass
class Catalogue:
    tracks: pa.Table  # mart_track_search
    artists: pa.Table  # artist_id, artist_name, genres, popularity, followers, image_url, ...
    albums: pa.Table  # album_id, album_name, release_date, label, image_url, ...
    album_artists: pa.Table  # album_id, artist_id, artist_position
    track_numbers: pa.Table | None  # track_id, disc_number, track_number (dim_track)
    indexes: dict[str, SearchIndex] = field(default_factory=dict)
    _track_row: dict[str, int] = field(default_factory=dict)
    _artist_row: dict[str, int] = field(default_factory=dict)
    _album_row: dict[str, int] = field(default_factory=dict)
    _credit_ids: pa.Array | None = None
    _credit_rows: np.ndarray | None = None

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        tracks: pa.Table,
        artists: pa.Table | None = None,
        albums: pa.Table | None = None,
        album_artists: pa.Table | None = None,
        track_numbers: pa.Table | None = None,
    ) -> Catalogue:
        credits = _credits(tracks)
        artists = artists if artists is not None else _artists_from_credits(credits)
        albums = albums if albums is not None else _albums_from_tracks(tracks)
        album_artists = album_artists if album_artists is not None else _album_credits(tracks)
        catalogue = cls(tracks, artists, albums, album_artists, track_numbers)
        catalogue._credit_ids = credits.column("artist_id").combine_chunks()
        catalogue._credit_rows = np.asarray(credits.column("row"), dtype=np.int64)
        catalogue._track_row = _row_of(tracks, "track_id")
        catalogue._artist_row = _row_of(artists, "artist_id")
        catalogue._album_row = _row_of(albums, "album_id")
        catalogue.indexes = catalogue._build_indexes()
        return catalogue

    def _build_indexes(self) -> dict[str, SearchIndex]:
        tracks, artists, albums = self.tracks, self.artists, self.albums
        artist_text = pc.binary_join_element_wise(
            pc.fill_null(artists.column("artist_name"), ""),
            _join_lists(artists.column("genres"), " "), " — ")
        album_text = pc.binary_join_element_wise(
            pc.fill_null(albums.column("album_name"), ""), self._album_artist_names(), " — ")
        return {
            "tracks": SearchIndex(tracks.column("search_text"), tracks.column("track_name"),
                                  _popularity(tracks)),
            "artists": SearchIndex(artist_text, artists.column("artist_name"),
                                   _popularity(artists)),
            "albums": SearchIndex(album_text, albums.column("album_name"), _popularity(albums)),
        }

    def _album_artist_names(self) -> pa.Array:
        """Per album row, its artists' names joined (for the album search text)."""
        links = self.album_artists.to_pandas()
        names = dict(zip(self.artists.column("artist_id").to_pylist(),
                         self.artists.column("artist_name").to_pylist(), strict=True))
        links["name"] = links["artist_id"].map(names).fillna("")
        joined = links.sort_values("artist_position").groupby("album_id")["name"].agg(" ".join)
        album_ids = self.albums.column("album_id").to_pandas()
        return pa.array(album_ids.map(joined).fillna("").tolist(), pa.string())

    # --- tracks -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.tracks.num_rows

    def track(self, track_id: str | None) -> dict[str, Any] | None:
        row = self._track_row.get(track_id or "")
        return None if row is None else self.tracks.slice(row, 1).to_pylist()[0]

    def has_track(self, track_id: str) -> bool:
        return track_id in self._track_row

    def track_rows(self, rows: np.ndarray) -> pd.DataFrame:
        return _frame(self.tracks.take(pa.array(rows, pa.int64())))

    # --- artists ------------------------------------------------------------------------------
    def artist(self, artist_id: str | None) -> dict[str, Any] | None:
        row = self._artist_row.get(artist_id or "")
        return None if row is None else self.artists.slice(row, 1).to_pylist()[0]

    def artist_rows(self, rows: np.ndarray) -> pd.DataFrame:
        return _frame(self.artists.take(pa.array(rows, pa.int64())))

    def artist_tracks(self, artist_id: str) -> pd.DataFrame:
        """The artist's tracks (any credit position), most popular first."""
        mask = np.asarray(pc.equal(self._credit_ids, artist_id), dtype=bool)
        rows = np.unique(self._credit_rows[mask])
        return _by_popularity(self.track_rows(rows))

    def artist_albums(self, artist_id: str) -> pd.DataFrame:
        links = self.album_artists.filter(pc.equal(self.album_artists.column("artist_id"),
                                                   artist_id))
        album_ids = links.column("album_id")
        albums = self.albums.filter(pc.is_in(self.albums.column("album_id"), album_ids))
        frame = _frame(albums)
        if frame.empty:
            return frame
        return frame.sort_values("release_date", ascending=False, na_position="last")

    # --- albums -------------------------------------------------------------------------------
    def album(self, album_id: str | None) -> dict[str, Any] | None:
        row = self._album_row.get(album_id or "")
        return None if row is None else self.albums.slice(row, 1).to_pylist()[0]

    def album_rows(self, rows: np.ndarray) -> pd.DataFrame:
        return _frame(self.albums.take(pa.array(rows, pa.int64())))

    def album_credits(self, album_id: str) -> list[tuple[str, str]]:
        """(artist_id, name) of the album's artists in credit order."""
        links = self.album_artists.filter(pc.equal(self.album_artists.column("album_id"),
                                                   album_id)).to_pylist()
        links.sort(key=lambda link: link.get("artist_position") or 0)
        result = []
        for link in links:
            artist = self.artist(link["artist_id"])
            result.append((link["artist_id"], (artist or {}).get("artist_name") or "unknown"))
        return result

    def album_tracks(self, album_id: str) -> pd.DataFrame:
        """The album's catalogue tracks in disc/track order when dim_track gives it."""
        tracks = self.tracks.filter(pc.equal(self.tracks.column("album_id"), album_id))
        frame = _frame(tracks)
        if frame.empty or self.track_numbers is None:
            return frame.sort_values("track_name") if not frame.empty else frame
        numbers = self.track_numbers.filter(
            pc.is_in(self.track_numbers.column("track_id"), tracks.column("track_id"))
        ).to_pandas()
        frame = frame.merge(numbers, on="track_id", how="left")
        return frame.sort_values(["disc_number", "track_number", "track_name"],
                                 na_position="last")


def _row_of(table: pa.Table, column: str) -> dict[str, int]:
    return {key: row for row, key in enumerate(table.column(column).to_pylist())}


def _by_popularity(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame.sort_values(["popularity", "track_name"], ascending=[False, True],
                             na_position="last")


def _credits(tracks: pa.Table) -> pa.Table:
    """One row per (track row, credited artist): for artist pages and derived artists."""
    ids = tracks.column("artist_ids").combine_chunks()
    names = tracks.column("artist_names").combine_chunks()
    parents = pc.list_parent_indices(ids)
    flat_names = pc.list_flatten(names)
    if len(flat_names) != len(parents):  # malformed credits: ids without names
        flat_names = pa.nulls(len(parents), pa.string())
    return pa.table({
        "row": parents,
        "artist_id": pc.list_flatten(ids),
        "artist_name": flat_names,
        "position": _positions(ids),  # within the track's credits, 1-based
        "popularity": tracks.column("popularity").combine_chunks().take(parents),
    })


def _positions(ids: pa.ListArray) -> pa.Array:
    lengths = np.asarray(pc.fill_null(pc.list_value_length(ids), 0), dtype=np.int64)
    if not lengths.sum():
        return pa.array([], pa.int64())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pa.array(np.arange(lengths.sum()) - starts + 1)


def _artists_from_credits(credits: pa.Table) -> pa.Table:
    """Artists known only from track credits (gold without dim_artist)."""
    frame = credits.to_pandas().dropna(subset=["artist_id"])
    grouped = frame.groupby("artist_id", sort=True).agg(artist_name=("artist_name", "first"))
    out = grouped.reset_index()
    return pa.table({
        "artist_id": pa.array(out["artist_id"], pa.string()),
        "artist_name": pa.array(out["artist_name"], pa.string()),
        "genres": pa.array([[]] * len(out), pa.list_(pa.string())),
        "popularity": pa.nulls(len(out), pa.int32()),
        "followers": pa.nulls(len(out), pa.int64()),
        "image_url": pa.nulls(len(out), pa.string()),
        "spotify_url": pa.nulls(len(out), pa.string()),
        "is_crawled": pa.array([False] * len(out)),
    })


def _albums_from_tracks(tracks: pa.Table) -> pa.Table:
    columns = ["album_id", "album_name", "release_date", "release_date_precision",
               "release_year", "album_image_url"]
    frame = tracks.select(columns).to_pandas().drop_duplicates("album_id")
    frame = frame.rename(columns={"album_image_url": "image_url"})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, type_ in (("album_type", pa.string()), ("label", pa.string()),
                        ("popularity", pa.int32()), ("total_tracks", pa.int32()),
                        ("spotify_url", pa.string()), ("primary_artist_id", pa.string())):
        table = table.append_column(name, pa.nulls(table.num_rows, type_))
    return table


def _album_credits(tracks: pa.Table) -> pa.Table:
    """Album artists taken from the album's tracks' credits (gold without the bridge)."""
    credits = _credits(tracks)
    album_ids = tracks.column("album_id").combine_chunks().take(credits.column("row"))
    frame = pd.DataFrame({"album_id": album_ids.to_pandas(),
                          "artist_id": credits.column("artist_id").to_pandas(),
                          "artist_position": credits.column("position").to_pandas()})
    frame = frame.dropna().sort_values("artist_position").drop_duplicates(
        ["album_id", "artist_id"])
    return pa.Table.from_pandas(frame, preserve_index=False)
