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

st.set_page_config(page_title="Spotify lakehouse", page_icon=":material/headphones:",
                   layout="wide")


def page(path: str, title: str, icon: str, url_path: str, **options) -> st.Page:
    return st.Page(path, title=title, icon=f":material/{icon}:", url_path=url_path, **options)


settings = get_settings()
status_page = page(PIPELINE, "Pipeline status", "monitor_heart", "pipeline")
if cached_data.gold_ready(settings):
    pages = {
        "Explore": [
            page(SEARCH, "Search", "search", "search", default=True),
            page(DASHBOARDS, "Dashboards", "bar_chart", "dashboards"),
        ],
        "Operations": [status_page],
        # Detail pages are reached through links (?id=...), not from the menu.
        "Details": [
            page(TRACK, "Track", "music_note", "track", visibility="hidden"),
            page(ARTIST, "Artist", "mic", "artist", visibility="hidden"),
            page(ALBUM, "Album", "album", "album", visibility="hidden"),
        ],
    }
else:
    pages = {
        "Start": [page(GET_STARTED, "Get started", "build", "start", default=True)],
        "Operations": [status_page],
    }

with st.sidebar:
    if st.button("Reload data", help="Read the latest published gold and model now"):
        cached_data.refresh()

st.navigation(pages).run()
