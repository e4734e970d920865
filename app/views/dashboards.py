"""Catalogue dashboards from the analytics gold marts, with genre and year filters."""

from __future__ import annotations

import pyarrow.compute as pc
import streamlit as st

from app import cached_data, dashboard_charts, dashboard_data
from app.dashboard_data import SCATTER_FEATURES, Filters
from app.display_format import md, number
from app.page_support import require_catalogue
from lakehouse.settings import get_settings

settings = get_settings()
catalogue = require_catalogue()
marts = {name: cached_data.analytics_mart(settings, name) for name in (
    "mart_entity_counts", "mart_artist_summary", "mart_genre_summary",
    "mart_release_year_trends", "mart_label_summary")}
missing = [name for name, frame in marts.items() if frame is None]

st.title("Catalogue dashboards")
if missing:
    st.warning(f"Not published yet: {', '.join(missing)}. The charts that need them are"
               " skipped; rerun the pipeline (`make run`).")

counts = marts["mart_entity_counts"]
if counts is not None and not counts.empty:
    values = dict(zip(counts["entity"], counts["row_count"], strict=True))
    headline = {"Artists": "artists", "Albums": "albums", "Tracks": "tracks",
                "With audio features": "tracks_with_audio_features", "Genres": "genres",
                "Labels": "labels"}
    for column, (label, entity) in zip(st.columns(len(headline)), headline.items(), strict=True):
        column.metric(label, number(values.get(entity)))

# --- filters ------------------------------------------------------------------------------------
tracks = catalogue.tracks
genre_mart = marts["mart_genre_summary"]
all_genres = sorted(genre_mart["genre"]) if genre_mart is not None else []
span = pc.min_max(tracks.column("release_year")).as_py()
full_years = (span["min"], span["max"]) if span["min"] is not None else None
with st.sidebar:
    st.header("Filters")
    chosen_genres = st.multiselect("Genres", all_genres, key="dash_genres",
                                   placeholder="All genres")
    chosen_years = None
    if full_years and full_years[0] < full_years[1]:
        chosen_years = st.slider("Release years", full_years[0], full_years[1], full_years,
                                 key="dash_years")
filters = Filters(tuple(chosen_genres), tuple(chosen_years) if chosen_years else full_years,
                  full_years)
has_features = bool(pc.any(pc.fill_null(tracks.column("has_audio_features"), False)).as_py())

FEATURES_NOTE = ("Audio features are unavailable in this catalogue (development-mode Spotify"
                 " data): import them with `lakehouse import-features FILE` to fill this chart.")

# --- genres -------------------------------------------------------------------------------------
st.header("Genres")
genres = dashboard_data.genre_summary(genre_mart, tracks, filters)
if genres.empty:
    st.info("No genres recorded for the artists in scope (Spotify returns no genres in"
            " development mode, and many artists have none).")
else:
    left, right = st.columns(2)
    left.altair_chart(dashboard_charts.genre_distribution(genres), width="stretch")
    if genres["tracks_with_features"].sum() > 0:
        right.altair_chart(dashboard_charts.genre_profiles(genres), width="stretch")
    else:
        right.info(FEATURES_NOTE)

# --- popularity vs features -----------------------------------------------------------------------
st.header("Popularity versus audio features")
feature = st.selectbox("Feature", SCATTER_FEATURES, key="dash_feature",
                       format_func=lambda f: dashboard_charts.FEATURE_LABELS.get(f, f))
sample = dashboard_data.scatter_sample(tracks, filters)
if sample.empty:
    st.info(FEATURES_NOTE if not has_features else
            "No track in scope has both popularity and audio features (popularity is missing"
            " for development-mode data).")
else:
    st.altair_chart(dashboard_charts.popularity_vs_feature(sample, feature), width="stretch")
    st.caption(f"{len(sample):,} tracks shown (a random sample when there are more).")

# --- release years ------------------------------------------------------------------------------
st.header("Release-year trends")
trends = dashboard_data.year_trends(marts["mart_release_year_trends"], tracks, filters)
if trends.empty:
    st.info("No release years in scope.")
else:
    left, right = st.columns(2)
    left.altair_chart(dashboard_charts.release_year_counts(trends), width="stretch")
    if trends.get("tracks_with_features") is not None and trends["tracks_with_features"].fillna(
            0).sum() > 0:
        right.altair_chart(dashboard_charts.release_year_sound(trends), width="stretch")
    else:
        right.info(FEATURES_NOTE)

# --- artists and labels ---------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.header("Top artists")
    artists = dashboard_data.top_artists(marts["mart_artist_summary"], filters, tracks)
    if artists.empty:
        st.info("No artists in scope.")
    else:
        st.altair_chart(dashboard_charts.top_artists(artists), width="stretch")
        if artists["metric"].iloc[0] != "popularity":
            st.caption(f"Ranked by {md(artists['metric'].iloc[0])}: popularity is unknown"
                       " (development-mode data).")
    if filters.by_year:  # the artists are in range, their figures are not per year
        st.caption(dashboard_data.BY_YEAR_NOTE)
with right:
    st.header("Labels")
    labels = dashboard_data.top_labels(marts["mart_label_summary"], filters)
    if labels.empty:
        st.info("No record labels in scope (Spotify does not return labels in development"
                " mode).")
    else:
        st.altair_chart(dashboard_charts.top_labels(labels), width="stretch")
    if filters.by_genre:
        st.caption(dashboard_data.NOT_BY_GENRE)
