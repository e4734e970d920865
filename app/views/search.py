"""Search tracks, artists and albums: fuzzy, accent-insensitive, paginated, best first."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app.display_format import md, names, number, release_date
from app.page_support import link_album, link_artist, link_track, require_catalogue
from app.search_index import MAX_QUERY_CHARS, PAGE_SIZE

KINDS = {"Tracks": "tracks", "Artists": "artists", "Albums": "albums"}

catalogue = require_catalogue()
st.title("Search the catalogue")

initial = st.query_params.get("q", "")
query = st.text_input(
    "Search", value=initial if isinstance(initial, str) else "", key="query",
    placeholder="A track, artist or album: partial words, typos and missing accents are fine",
)
label = st.radio("Search in", list(KINDS), horizontal=True, key="kind")
kind = KINDS[label]

# A new query or kind starts again at page 1; the page number lives in the session.
signature = (query, kind)
if st.session_state.get("search_signature") != signature:
    st.session_state["search_signature"] = signature
    st.session_state["search_page"] = 1
if query.strip():
    st.query_params["q"] = query
else:
    st.query_params.pop("q", None)


def _turn(step: int) -> None:
    st.session_state["search_page"] = max(1, st.session_state.get("search_page", 1) + step)


def _show_tracks(rows: np.ndarray, relevance: np.ndarray | None) -> None:
    frame = catalogue.track_rows(rows)
    for position, track in enumerate(frame.itertuples(index=False)):
        left, middle, right = st.columns([5, 4, 2])
        with left:
            link_track(track.track_id, track.track_name)
        middle.markdown(md(names(track.artist_names)) + "  \n" + f"*{md(track.album_name)}*")
        meta = [release_date(track.release_date, track.release_date_precision,
                             track.release_year), f"popularity {number(track.popularity)}"]
        if relevance is not None:
            meta.append(f"match {int(relevance[position])}")
        right.caption(" · ".join(meta))


def _show_artists(rows: np.ndarray, relevance: np.ndarray) -> None:
    frame = catalogue.artist_rows(rows)
    for position, artist in enumerate(frame.itertuples(index=False)):
        left, middle, right = st.columns([5, 4, 2])
        with left:
            link_artist(artist.artist_id, artist.artist_name)
        middle.caption(md(", ".join(artist.genres[:4])) or "no genres")
        right.caption(f"popularity {number(artist.popularity)} · match {int(relevance[position])}")


def _show_albums(rows: np.ndarray, relevance: np.ndarray) -> None:
    frame = catalogue.album_rows(rows)
    for position, album in enumerate(frame.itertuples(index=False)):
        left, middle, right = st.columns([5, 4, 2])
        with left:
            link_album(album.album_id, album.album_name)
        credits = catalogue.album_credits(album.album_id)
        middle.caption(md(", ".join(name for _, name in credits)) or "unknown artist")
        right.caption(" · ".join([
            release_date(album.release_date, album.release_date_precision, album.release_year),
            f"match {int(relevance[position])}"]))


SHOW = {"tracks": _show_tracks, "artists": _show_artists, "albums": _show_albums}

if not query.strip():
    st.caption(f"{len(catalogue):,} tracks, {catalogue.artists.num_rows:,} artists and"
               f" {catalogue.albums.num_rows:,} albums in the catalogue.")
    popularity = catalogue.indexes["tracks"].popularity
    if len(popularity) and popularity.max() >= 0:
        st.subheader("Most popular tracks")
        top = np.argsort(-popularity, kind="stable")[:10]
        _show_tracks(top, None)
    st.stop()

result = catalogue.indexes[kind].search(query, page=st.session_state["search_page"],
                                        page_size=PAGE_SIZE)
if result.truncated:
    st.caption(f"Only the first {MAX_QUERY_CHARS} characters of the query are used.")
if result.empty:
    if result.query:
        st.info(f"No {kind} match “{md(query.strip()[:80])}”. Check the spelling, use fewer"
                " words, or search in another category.")
    else:
        st.info("Type letters or digits to search (punctuation alone matches nothing).")
    st.stop()

st.session_state["search_page"] = result.page
st.caption(f"{result.total:,} {kind} found · page {result.page} of {result.pages}")
SHOW[kind](result.rows, result.relevance)

previous, status, following = st.columns([1, 3, 1])
previous.button("← Previous", on_click=_turn, args=(-1,), disabled=result.page <= 1,
                key="search_previous")
status.caption(f"Page {result.page} of {result.pages}")
following.button("Next →", on_click=_turn, args=(1,), disabled=result.page >= result.pages,
                 key="search_next")
