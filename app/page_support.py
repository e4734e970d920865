"""What every page shares: the page files, links between them, and the catalogue guard."""

from __future__ import annotations

import streamlit as st

from app import cached_data
from app.catalogue import Catalogue
from app.display_format import code, md
from app.gold_contract import GoldContractError
from lakehouse.settings import get_settings

# Paths relative to app/streamlit_app.py (the main script), as st.navigation registers them.
SEARCH = "views/search.py"
TRACK = "views/track.py"
ARTIST = "views/artist.py"
ALBUM = "views/album.py"
DASHBOARDS = "views/dashboards.py"
PIPELINE = "views/pipeline_status.py"
GET_STARTED = "views/get_started.py"


def require_catalogue() -> Catalogue:
    """The published catalogue, or a message and the end of this page's run."""
    try:
        catalogue = cached_data.catalogue(get_settings())
    except GoldContractError as exc:
        st.error(str(exc))
        st.stop()
    if catalogue is None:
        st.warning("The gold marts are not published (yet).")
        st.page_link(GET_STARTED, label="How to build them", icon=":material/build:")
        st.stop()
    return catalogue


def page_id(kind: str) -> str | None:
    """The entity id of a detail page, from the URL (?id=...)."""
    value = st.query_params.get("id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def missing_entity(kind: str, entity_id: str | None) -> None:
    """A detail page without a (known) id: say so, offer search, end the run."""
    if entity_id is None:
        st.info(f"No {kind} chosen: find one with the search.")
    else:
        st.error(
            f"No {kind} with id {code(entity_id)} in the published catalogue. It may not have"
            " been crawled yet, or the link is wrong.")
    st.page_link(SEARCH, label="Go to search", icon=":material/search:")
    st.stop()


def link_track(track_id: str, label: str, key: str | None = None) -> None:
    st.page_link(TRACK, label=md(label) or track_id, query_params={"id": track_id})


def link_artist(artist_id: str, label: str) -> None:
    st.page_link(ARTIST, label=md(label) or artist_id, query_params={"id": artist_id})


def link_album(album_id: str, label: str) -> None:
    st.page_link(ALBUM, label=md(label) or album_id, query_params={"id": album_id})
