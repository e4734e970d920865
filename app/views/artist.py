"""One artist: picture, genres, popularity and followers, their tracks and albums."""

from __future__ import annotations

import streamlit as st

from app.display_format import md, number, release_date
from app.page_support import (
    link_album,
    link_track,
    missing_entity,
    page_id,
    require_catalogue,
)

TRACKS_SHOWN = 25

catalogue = require_catalogue()
artist_id = page_id("artist")
artist = catalogue.artist(artist_id)
if artist is None:
    missing_entity("artist", artist_id)

picture, details = st.columns([1, 3])
with picture:
    if artist.get("image_url"):
        st.image(artist["image_url"], width="stretch")
    else:
        st.markdown("### 🎤")
        st.caption("No picture")
with details:
    st.title(md(artist["artist_name"] or artist["artist_id"]), anchor=False)  # title is Markdown
    genres = artist.get("genres") or []
    st.markdown("**Genres:** " + (md(", ".join(genres)) if genres else "*none recorded*"))
    left, right = st.columns(2)
    left.metric("Popularity", number(artist.get("popularity")))
    right.metric("Followers", number(artist.get("followers")))
    if not artist.get("is_crawled"):
        st.caption("Known from track or album credits only: this artist was not crawled, so"
                   " genres, popularity and followers are unknown.")
    if artist.get("spotify_url"):
        st.link_button("Open in Spotify", artist["spotify_url"])

tracks = catalogue.artist_tracks(artist["artist_id"])
st.subheader(f"Tracks ({len(tracks)})")
if tracks.empty:
    st.caption("No tracks of this artist in the catalogue.")
for track in tracks.head(TRACKS_SHOWN).itertuples(index=False):
    name, album, meta = st.columns([4, 4, 2])
    with name:
        link_track(track.track_id, track.track_name)
    album.caption(md(track.album_name))
    meta.caption(f"popularity {number(track.popularity)}")
if len(tracks) > TRACKS_SHOWN:
    st.caption(f"… and {len(tracks) - TRACKS_SHOWN} more (most popular shown).")

albums = catalogue.artist_albums(artist["artist_id"])
st.subheader(f"Albums ({len(albums)})")
if albums.empty:
    st.caption("No albums of this artist in the catalogue.")
for album in albums.itertuples(index=False):
    name, meta = st.columns([6, 3])
    with name:
        link_album(album.album_id, album.album_name)
    meta.caption(" · ".join(filter(None, [
        release_date(album.release_date, album.release_date_precision, album.release_year),
        album.album_type])))
