"""One track: album art, credits, album, release date, audio features, preview, recommendations."""

from __future__ import annotations

import streamlit as st

from app import cached_data, dashboard_charts, recommendations
from app.display_format import duration, md, number, release_date
from app.page_support import (
    link_album,
    link_artist,
    link_track,
    missing_entity,
    page_id,
    require_catalogue,
)
from lakehouse.settings import get_settings

PITCH_CLASSES = ("C", "C♯/D♭", "D", "D♯/E♭", "E", "F", "F♯/G♭", "G", "G♯/A♭", "A", "A♯/B♭", "B")

catalogue = require_catalogue()
track_id = page_id("track")
track = catalogue.track(track_id)
if track is None:
    missing_entity("track", track_id)

art, details = st.columns([1, 2])
with art:
    if track["album_image_url"]:
        st.image(track["album_image_url"], width="stretch",
                 caption=track["album_name"] or None)
    else:
        st.markdown("### 🎵")
        st.caption("No album art")
with details:
    st.title(md(track["track_name"] or track["track_id"]), anchor=False)  # title is Markdown
    credited = list(zip(track["artist_ids"] or [], track["artist_names"] or [], strict=False))
    st.markdown("**Artists**" if len(credited) > 1 else "**Artist**")
    if not credited:
        st.caption("unknown artist")
    for artist_id, artist_name in credited:
        link_artist(artist_id, artist_name or artist_id)
    st.markdown("**Album**")
    link_album(track["album_id"], track["album_name"] or track["album_id"])
    facts = {
        "Released": release_date(track["release_date"], track["release_date_precision"],
                                 track["release_year"]),
        "Length": duration(track["duration_ms"]),
        "Popularity": number(track["popularity"]),
        "Explicit": {True: "yes", False: "no"}.get(track["explicit"], "unknown"),
    }
    for column, (name, value) in zip(st.columns(len(facts)), facts.items(), strict=True):
        column.metric(name, value)
    genres = track["genres"] or []
    st.markdown("**Genres:** " + (md(", ".join(genres)) if genres else "*none recorded*"))

st.subheader("Preview")
if track["preview_url"]:
    st.audio(track["preview_url"])
else:
    st.caption("Spotify has no 30-second preview for this track.")

st.subheader("Audio features")
if track["has_audio_features"]:
    source = {"api": "Spotify audio-features API", "imported": "imported features CSV"}.get(
        track["features_source"], "unknown source")
    st.altair_chart(dashboard_charts.track_features(track), width="stretch")
    key = track["key"]
    values = {
        "Tempo": f"{number(track['tempo'])} bpm",
        "Loudness": f"{number(track['loudness'], 1)} dB",
        "Key": PITCH_CLASSES[key] if key is not None and 0 <= key < 12 else "none detected",
        "Mode": {1: "major", 0: "minor"}.get(track["mode"], "unknown"),
        "Time signature": f"{number(track['time_signature'])}/4",
    }
    for column, (name, value) in zip(st.columns(len(values)), values.items(), strict=True):
        column.metric(name, value)
    st.caption(f"Source: {source}.")
else:
    st.info(
        "Audio features unavailable for this track. Spotify serves audio features only to"
        " apps with extended access (development-mode apps get none); import them from the"
        " Spotify Tracks Dataset CSV with `lakehouse import-features FILE`, then rerun the"
        " pipeline. Recommendations fall back to metadata (genres, era, length)."
    )

st.subheader("You may also like")
answer = recommendations.for_track(cached_data.recommender(get_settings()), track["track_id"])
if answer.message:
    st.info(answer.message)
for item in answer.items:
    name, reason = st.columns([2, 3])
    with name:
        label = f"{item.track_name} — {', '.join(item.artist_names) or 'unknown artist'}"
        if catalogue.has_track(item.track_id):
            link_track(item.track_id, label)
        else:
            st.markdown(md(label))
    reason.caption(f"{md(item.reason)} · similarity {item.score:.2f}")
if answer.model_version:
    st.caption(f"Recommender model {answer.model_version}.")
