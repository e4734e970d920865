"""Altair charts of the dashboards and the track page (pure functions: data in, chart out)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from app.dashboard_data import UNIT_FEATURES

FEATURE_LABELS = {
    "danceability": "danceability", "energy": "energy", "valence": "mood (valence)",
    "acousticness": "acousticness", "instrumentalness": "instrumentalness",
    "speechiness": "speechiness", "liveness": "liveness", "tempo": "tempo (bpm)",
    "loudness": "loudness (dB)",
}


def genre_distribution(genres: pd.DataFrame, top: int = 25) -> alt.Chart:
    data = genres.head(top)[["genre", "track_count", "tracks_with_features"]]
    return alt.Chart(data, title="Tracks per genre").mark_bar().encode(
        x=alt.X("track_count:Q", title="tracks"),
        y=alt.Y("genre:N", sort="-x", title=None),
        tooltip=["genre", "track_count", "tracks_with_features"],
    )


def genre_profiles(genres: pd.DataFrame, top: int = 25) -> alt.Chart:
    """Heatmap: average audio features (0-1) per genre."""
    columns = [f"avg_{f}" for f in UNIT_FEATURES]
    data = genres[genres["tracks_with_features"] > 0].head(top)[["genre", *columns]]
    long = data.melt("genre", var_name="feature", value_name="average")
    long["feature"] = long["feature"].str.removeprefix("avg_").map(FEATURE_LABELS)
    return alt.Chart(long, title="Audio profile per genre").mark_rect().encode(
        x=alt.X("feature:N", title=None),
        y=alt.Y("genre:N", title=None, sort=list(data["genre"])),
        color=alt.Color("average:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis")),
        tooltip=["genre", "feature", alt.Tooltip("average:Q", format=".2f")],
    )


def popularity_vs_feature(sample: pd.DataFrame, feature: str) -> alt.LayerChart:
    label = FEATURE_LABELS.get(feature, feature)
    points = alt.Chart(sample, title=f"Popularity vs {label}").mark_circle(
        size=18, opacity=0.35).encode(
        x=alt.X(f"{feature}:Q", title=label),
        y=alt.Y("popularity:Q", title="popularity"),
        tooltip=["track_name", "artist_names_joined", "release_year", "popularity",
                 alt.Tooltip(f"{feature}:Q", format=".2f")],
    )
    trend = points.transform_regression(feature, "popularity").mark_line(color="firebrick")
    return points + trend


def release_year_counts(trends: pd.DataFrame) -> alt.Chart:
    return alt.Chart(trends, title="Tracks released per year").mark_bar().encode(
        x=alt.X("release_year:O", title="release year"),
        y=alt.Y("track_count:Q", title="tracks"),
        tooltip=["release_year", "track_count",
                 alt.Tooltip("explicit_share:Q", format=".0%", title="explicit")],
    )


def release_year_sound(trends: pd.DataFrame) -> alt.Chart:
    columns = [c for c in (f"avg_{f}" for f in ("danceability", "energy", "valence",
                                                 "acousticness")) if c in trends]
    long = trends[["release_year", *columns]].melt(
        "release_year", var_name="feature", value_name="average").dropna()
    long["feature"] = long["feature"].str.removeprefix("avg_").map(FEATURE_LABELS)
    return alt.Chart(long, title="Sound of each year (average features)").mark_line(
        point=True).encode(
        x=alt.X("release_year:O", title="release year"),
        y=alt.Y("average:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("feature:N", title=None),
        tooltip=["release_year", "feature", alt.Tooltip("average:Q", format=".2f")],
    )


def top_artists(artists: pd.DataFrame) -> alt.Chart:
    metric = str(artists["metric"].iloc[0])
    return alt.Chart(artists, title=f"Top artists by {metric}").mark_bar().encode(
        x=alt.X("value:Q", title=metric),
        y=alt.Y("artist_name:N", sort="-x", title=None),
        tooltip=["artist_name", "popularity", "followers", "track_count", "album_count"],
    )


def top_labels(labels: pd.DataFrame) -> alt.Chart:
    return alt.Chart(labels, title="Labels by albums in the catalogue").mark_bar().encode(
        x=alt.X("album_count:Q", title="albums"),
        y=alt.Y("label:N", sort="-x", title=None),
        tooltip=["label", "album_count", "track_count", "artist_count", "first_release_year",
                 "last_release_year"],
    )


def track_features(track: dict[str, Any]) -> alt.Chart:
    """The track page's bars: the 0-1 audio features of one track."""
    data = pd.DataFrame({
        "feature": [FEATURE_LABELS[f] for f in UNIT_FEATURES],
        "value": [track.get(f) for f in UNIT_FEATURES],
    }).dropna()
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        y=alt.Y("feature:N", title=None, sort=None),
        tooltip=["feature", alt.Tooltip("value:Q", format=".2f")],
    ).properties(height=200)
