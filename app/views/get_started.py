"""Shown while the pipeline has not published gold: what is missing and the one command to run."""

from __future__ import annotations

import streamlit as st
from deltalake import DeltaTable

from app import gold_tables
from app.display_format import code
from app.gold_contract import REQUIRED_MART
from app.page_support import PIPELINE
from lakehouse.settings import get_settings

settings = get_settings()
st.title("The pipeline has not run yet")
st.markdown(
    "This app shows the **gold marts** the pipeline publishes (search, recommendations,"
    f" dashboards). There is no published `{REQUIRED_MART}` under"
    f" {code(gold_tables.gold_path(settings, REQUIRED_MART))}."
)
st.subheader("Build everything with one command")
st.code("make run", language="bash")
st.markdown(
    "It sets up what is missing, starts the local services, crawls the catalogue (the bundled"
    " Spotify emulator when no credentials are configured), exports bronze, builds silver and"
    " gold with dbt, runs the quality gate, publishes gold and trains the recommender. Or step"
    " by step: `lakehouse crawl`, `lakehouse export`, the dbt build (see the README),"
    " `lakehouse quality`, `lakehouse publish` and `lakehouse train`; `lakehouse run` does them"
    " all."
)
bronze = settings.lake_path("bronze", "tracks")
if DeltaTable.is_deltatable(bronze):
    st.info(
        "Bronze has data but gold was not published: dbt or the quality gate may have failed."
        " The pipeline status page shows the last runs and quality results."
    )
st.page_link(PIPELINE, label="Pipeline status", icon=":material/monitor_heart:")
st.caption("This page refreshes itself: reload it once the pipeline has finished.")
