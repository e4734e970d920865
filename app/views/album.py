"""One album: cover, artists, release date, label, its tracks and their genres."""

from __future__ import annotations

import streamlit as st

from app.display_format import duration, md, number, release_date
from app.page_support import (
    link_artist,
    link_track,
    missing_entity,
    page_id,
    require_catalogue,
)

catalogue = require_catalogue()
album_id = page_id("album")
album = catalogue.album(album_id)
if album is None:
    missing_entity("album", album_id)

tracks = catalogue.album_tracks(album["album_id"])
cover, details = st.columns([1, 2])
with cover:
    if album.get("image_url"):
        st.image(album["image_url"], width="stretch")
    else:
        st.markdown("### 💿")
        st.caption("No cover art")
with details:
    st.title(md(album["album_name"] or album["album_id"]), anchor=False)  # title is Markdown
    credits = catalogue.album_credits(album["album_id"])
    st.markdown("**Artists**" if len(credits) > 1 else "**Artist**")
    if not credits:
        st.caption("unknown artist")
    for artist_id, name in credits:
        link_artist(artist_id, name)
    facts = {
        "Released": release_date(album.get("release_date"), album.get("release_date_precision"),
                                 album.get("release_year")),
        "Type": album.get("album_type") or "—",
        "Label": album.get("label") or "—",
        "Popularity": number(album.get("popularity")),
    }
    for column, (name, value) in zip(st.columns(len(facts)), facts.items(), strict=True):
        column.metric(name, value)
    genres = sorted({genre for values in tracks.get("genres", []) for genre in values})
    st.markdown("**Genres:** " + (md(", ".join(genres)) if genres else "*none recorded*"))

total = album.get("total_tracks")
st.subheader(f"Tracks ({len(tracks)}" + (f" of {total})" if total else ")"))
if tracks.empty:
    st.caption("No tracks of this album in the catalogue.")
for position, track in enumerate(tracks.itertuples(index=False), start=1):
    number_, name, meta = st.columns([1, 7, 2])
    listed = getattr(track, "track_number", None)  # NaN when dim_track lacks the track
    number_.caption(str(int(listed)) if listed is not None and listed == listed else str(position))
    with name:
        link_track(track.track_id, track.track_name)
    meta.caption(duration(track.duration_ms))
