"""Dashboard data: the analytics marts, narrowed by the page's genre and year filters.

Without filters the charts read the analytics marts as dbt built them. A filter the mart has no
dimension for (years on the genre summary, genres on the release-year trends) is answered from
the track search mart instead, with the same definitions (a track counts once per genre of any
credited artist; averages over tracks with audio features), vectorised in Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

UNIT_FEATURES = ("danceability", "energy", "valence", "acousticness", "instrumentalness",
                 "speechiness", "liveness")
SCATTER_FEATURES = (*UNIT_FEATURES, "tempo", "loudness")
SCATTER_POINTS = 4000  # a sample keeps the browser responsive at any catalogue size


# The artist and label marts have no release-year or genre dimension of their own: a year range
# keeps the artists credited on a track released in it, with their all-time figures; labels are
# not filtered by genre at all.
BY_YEAR_NOTE = ("With a year range, top artists are those credited on a track released in it;"
                " popularity, followers and track counts cover all their releases.")
NOT_BY_GENRE = ("Labels are not filtered by genre: Spotify gives genres to artists, not to"
                " labels, and a label releases many artists.")


@dataclass(frozen=True)
class Filters:
    genres: tuple[str, ...] = ()
    years: tuple[int, int] | None = None  # inclusive; None = all years
    full_years: tuple[int, int] | None = None  # the catalogue's span (filter inactive if equal)

    @property
    def by_genre(self) -> bool:
        return bool(self.genres)

    @property
    def by_year(self) -> bool:
        return self.years is not None and self.years != self.full_years


def tracks_in_scope(tracks: pa.Table, filters: Filters) -> pa.Table:
    """The catalogue tracks the filters keep."""
    mask = pa.array(np.ones(tracks.num_rows, dtype=bool))
    if filters.by_year:
        low, high = filters.years
        year = tracks.column("release_year")
        mask = pc.and_(mask, pc.fill_null(
            pc.and_(pc.greater_equal(year, low), pc.less_equal(year, high)), False))
    if filters.by_genre:
        genres = tracks.column("genres").combine_chunks()
        hits = pc.is_in(pc.list_flatten(genres), pa.array(filters.genres, pa.string()))
        parents = np.asarray(pc.list_parent_indices(genres))[np.asarray(hits, dtype=bool)]
        in_genre = np.zeros(tracks.num_rows, dtype=bool)
        in_genre[parents] = True
        mask = pc.and_(mask, pa.array(in_genre))
    return tracks.filter(mask)


def _feature_means(table: pa.Table, keys: list[str]) -> pd.DataFrame:
    features = table.filter(pc.fill_null(table.column("has_audio_features"), False))
    aggregations = [(f, "mean") for f in (*UNIT_FEATURES, "loudness", "tempo")]
    means = features.group_by(keys).aggregate(
        [*aggregations, ("track_id", "count")]).to_pandas()
    rename = {f"{f}_mean": f"avg_{f}" for f in (*UNIT_FEATURES, "loudness", "tempo")}
    return means.rename(columns={**rename, "track_id_count": "tracks_with_features"})


def genre_summary(mart: pd.DataFrame | None, tracks: pa.Table, filters: Filters) -> pd.DataFrame:
    """Per genre: track_count, tracks_with_features, avg_track_popularity, avg_<feature>."""
    if filters.by_year or mart is None:
        scope = tracks_in_scope(tracks, Filters(years=filters.years, full_years=filters.full_years))
        genres = scope.column("genres").combine_chunks()
        parents = pc.list_parent_indices(genres)
        exploded = scope.select(
            ["track_id", "popularity", "has_audio_features", *UNIT_FEATURES, "loudness", "tempo"]
        ).take(parents).append_column("genre", pc.list_flatten(genres))
        counts = exploded.group_by("genre").aggregate(
            [("track_id", "count"), ("popularity", "mean")]).to_pandas().rename(
            columns={"track_id_count": "track_count", "popularity_mean": "avg_track_popularity"})
        frame = counts.merge(_feature_means(exploded, ["genre"]), on="genre", how="left")
        frame["tracks_with_features"] = frame["tracks_with_features"].fillna(0).astype(int)
    else:
        frame = mart.copy()
    if filters.by_genre:
        frame = frame[frame["genre"].isin(filters.genres)]
    return frame.sort_values(["track_count", "genre"], ascending=[False, True]).reset_index(
        drop=True)


def year_trends(mart: pd.DataFrame | None, tracks: pa.Table, filters: Filters) -> pd.DataFrame:
    """Per release year: track_count, explicit_share, avg_track_popularity, avg_<feature>."""
    if filters.by_genre or mart is None:
        scope = tracks_in_scope(tracks, filters)
        scope = scope.filter(pc.is_valid(scope.column("release_year")))
        explicit = pc.cast(pc.fill_null(scope.column("explicit"), False), pa.float64())
        scope = scope.append_column("explicit_value", explicit)
        frame = scope.group_by("release_year").aggregate(
            [("track_id", "count"), ("explicit_value", "mean"), ("popularity", "mean")]
        ).to_pandas().rename(columns={"track_id_count": "track_count",
                                      "explicit_value_mean": "explicit_share",
                                      "popularity_mean": "avg_track_popularity"})
        frame = frame.merge(_feature_means(scope, ["release_year"]), on="release_year",
                            how="left")
    else:
        frame = mart.copy()
        if filters.years is not None:
            low, high = filters.years
            frame = frame[frame["release_year"].between(low, high)]
    return frame.sort_values("release_year").reset_index(drop=True)


def top_artists(mart: pd.DataFrame | None, filters: Filters, tracks: pa.Table | None = None,
                n: int = 20) -> pd.DataFrame:
    """The most popular (else most followed, else most prolific) artists of the genres, among
    those credited on a track of the year range (needs `tracks`, the catalogue's)."""
    if mart is None or mart.empty:
        return pd.DataFrame()
    frame = mart
    if filters.by_year and tracks is not None:
        in_years = tracks_in_scope(tracks, Filters(years=filters.years,
                                                   full_years=filters.full_years))
        credited = pc.unique(pc.list_flatten(in_years.column("artist_ids"))).to_pylist()
        frame = frame[frame["artist_id"].isin(credited)]
    if filters.by_genre:
        wanted = set(filters.genres)
        frame = frame[frame["genres"].map(
            lambda g: g is not None and bool(wanted.intersection(list(g))))]
    for metric in ("popularity", "followers", "track_count"):
        if frame[metric].notna().any():
            chosen = frame[frame[metric].notna()].nlargest(n, metric)
            return chosen.assign(metric=metric, value=chosen[metric].astype(float))
    return pd.DataFrame()


def top_labels(mart: pd.DataFrame | None, filters: Filters, n: int = 20) -> pd.DataFrame:
    """Labels with the most albums whose releases overlap the year filter."""
    if mart is None or mart.empty:
        return pd.DataFrame()
    frame = mart
    if filters.years is not None:
        low, high = filters.years
        frame = frame[(frame["last_release_year"].fillna(high) >= low)
                      & (frame["first_release_year"].fillna(low) <= high)]
    return frame.sort_values(["album_count", "track_count", "label"],
                             ascending=[False, False, True]).head(n)


def scatter_sample(tracks: pa.Table, filters: Filters, seed: int = 0) -> pd.DataFrame:
    """Tracks with both popularity and audio features, sampled for the scatter plot."""
    scope = tracks_in_scope(tracks, filters)
    usable = pc.and_(pc.fill_null(scope.column("has_audio_features"), False),
                     pc.is_valid(scope.column("popularity")))
    scope = scope.filter(usable)
    if scope.num_rows > SCATTER_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(scope.num_rows, SCATTER_POINTS,
                                                          replace=False))
        scope = scope.take(pa.array(rows))
    columns = ["track_name", "artist_names_joined", "release_year", "popularity",
               *SCATTER_FEATURES]
    return scope.select([c for c in columns if c in scope.column_names]).to_pandas()
