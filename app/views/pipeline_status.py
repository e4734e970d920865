"""Pipeline status: last runs, row counts per layer, quality-gate results, data freshness."""

from __future__ import annotations

import json

import streamlit as st

from app import pipeline_records
from app.display_format import age, code, md, timestamp
from lakehouse.settings import get_settings

settings = get_settings()
st.title("Pipeline status")
records = pipeline_records.read_records(settings)
for problem in records.problems:
    st.error(problem)

# --- runs -----------------------------------------------------------------------------------
st.header("Last runs")
if not records.runs:
    st.info("No pipeline run recorded yet: `make run` (or `lakehouse run`) records one here.")
else:
    last = records.runs[0]
    icon = {"completed": "✅", "failed": "❌", "interrupted": "⏹️"}.get(last.status, "⏳")
    st.markdown(f"{icon} Last run **{md(last.status)}**, started {timestamp(last.started_at)}"
                f" ({age(last.started_at)}).")
    if last.status == "failed":
        st.error(f"Failed at stage {code(last.failed_stage or '?')}: {md(last.error or '')}")
    elif last.status == "interrupted":
        where = f"during stage {code(last.failed_stage)}" if last.failed_stage else "between stages"
        st.warning(f"Stopped by Ctrl-C {where}; run the pipeline again to carry on.")
    st.dataframe(pipeline_records.runs_frame(records.runs), hide_index=True, width="stretch")
    stages = pipeline_records.stages_frame(last)
    if not stages.empty:
        with st.expander("Stages of the last run"):
            st.dataframe(stages, hide_index=True, width="stretch")

    st.header("Row counts per layer")
    counted = next((run for run in records.runs if run.layer_counts), None)
    if counted is None:
        st.caption("No run recorded row counts yet.")
    else:
        st.caption(f"As counted by the run of {timestamp(counted.started_at)}"
                   f" ({md(counted.status)}).")
        st.dataframe(pipeline_records.layer_counts_frame(counted), width="stretch")

# --- quality --------------------------------------------------------------------------------
st.header("Quality gate")
if not records.audits:
    st.info("No quality audit recorded yet (`lakehouse quality` runs the gate).")
else:
    audit = records.audits[0]
    if audit.passed:
        st.success(f"Last audit passed ({audit.expectations_evaluated} expectations,"
                   f" {timestamp(audit.finished_at)}): gold was published.")
    else:
        # A publish that stops part-way has committed some tables (listed in the audit).
        outcome = ("gold was partly published (tables below)"
                   if audit.failed_stage == "publish" and audit.tables
                   else "gold was not published")
        st.error(f"Last audit FAILED at {code(audit.failed_stage or '?')}"
                 f" ({timestamp(audit.finished_at)}): {outcome}.")
        for failure in audit.failures[:20]:
            st.markdown(f"- {md(failure)}")
    st.dataframe(pipeline_records.audits_frame(records.audits), hide_index=True, width="stretch")
    if audit.tables:
        with st.expander("Tables of the last audit"):
            st.code(json.dumps(audit.tables, indent=2, default=str), language="json")
    if audit.data_docs_url:
        st.markdown(f"[Great Expectations data docs]({audit.data_docs_url})")

# --- freshness ----------------------------------------------------------------------------
st.header("Data freshness")
fresh = pipeline_records.freshness(settings)
if fresh.empty:
    st.info("No bronze or gold tables in the lake yet.")
else:
    shown = fresh.assign(**{
        "newest record": fresh["newest record"].map(timestamp),
        "last commit": fresh["last commit"].map(timestamp),
        "age": fresh["last commit"].map(age),
    })
    st.dataframe(shown, hide_index=True, width="stretch")

st.header("Recommender")
try:
    from ml.artifact import ArtifactError, read_manifest

    info = read_manifest(settings)
except ArtifactError as exc:
    st.info(str(exc))
else:
    manifest = info.manifest
    st.markdown(f"Model **{md(info.version)}**, trained {md(manifest.get('created_at', '?'))}"
                f" on {manifest.get('rows', '?')} tracks"
                f" (feature set {md(manifest.get('features', {}).get('feature_set', '?'))}).")
