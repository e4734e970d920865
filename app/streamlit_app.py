"""The app's entry point: `lakehouse app` runs `streamlit run app/streamlit_app.py`.

Registers the pages with st.navigation. Until the pipeline has published the gold marts, only the
"get started" and pipeline status pages exist (any other URL lands on "get started").
"""

from __future__ import annotations

import streamlit as st

from app import cached_data
from app.page_support import (
    ALBUM,
    ARTIST,
    DASHBOARDS,
    GET_STARTED,
    PIPELINE,
    SEARCH,
    TRACK,
)
from lakehouse.settings import get_settings

st.set_page_config(page_title="Spotify lakehouse", page_icon="🎧", layout="wide")

settings = get_settings()
status_page = st.Page(PIPELINE, title="Pipeline status", icon="🩺", url_path="pipeline")
if cached_data.gold_ready(settings):
    pages = {
        "Explore": [
            st.Page(SEARCH, title="Search", icon="🔎", url_path="search", default=True),
            st.Page(DASHBOARDS, title="Dashboards", icon="📊", url_path="dashboards"),
        ],
        "Operations": [status_page],
        # Detail pages are reached through links (?id=...), not from the menu.
        "Details": [
            st.Page(TRACK, title="Track", icon="🎵", url_path="track", visibility="hidden"),
            st.Page(ARTIST, title="Artist", icon="🎤", url_path="artist", visibility="hidden"),
            st.Page(ALBUM, title="Album", icon="💿", url_path="album", visibility="hidden"),
        ],
    }
else:
    pages = {
        "Start": [st.Page(GET_STARTED, title="Get started", icon="🛠️", url_path="start",
                          default=True)],
        "Operations": [status_page],
    }

with st.sidebar:
    if st.button("Reload data", help="Read the latest published gold and model now"):
        cached_data.refresh()

st.navigation(pages).run()
