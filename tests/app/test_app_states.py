"""The app before the pipeline ran, on development-mode data, and the pipeline status page."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from app_catalogue import write_gold
from deltalake import write_deltalake

from app import gold_tables


def texts(at, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def test_pipeline_not_run_shows_get_started(empty_lake, open_page):
    at = open_page()
    assert texts(at, "title") == ["The pipeline has not run yet"]
    assert [c.value for c in at.code] == ["make run"]
    assert any("mart_track_search" in m for m in texts(at, "markdown"))
    # The gold path is a code span, where a Markdown escape would show as a stray backslash.
    missing = next(m for m in texts(at, "markdown") if "There is no published" in m)
    assert "/mart_track_search`" in missing and "\\" not in missing
    # Any other page URL also lands on the get-started page (those pages do not exist yet).
    at.query_params.update({"id": "t_joga"})
    at.run()
    assert texts(at, "title") == ["The pipeline has not run yet"]
    # The status page exists and says nothing was recorded.
    at = open_page("pipeline_status")
    assert any("No pipeline run recorded yet" in i for i in texts(at, "info"))
    assert any("No bronze or gold tables" in i for i in texts(at, "info"))
    assert any("No trained recommender" in i for i in texts(at, "info"))


def test_get_started_points_at_failed_gate_when_bronze_exists(empty_lake, open_page):
    write_deltalake(empty_lake.lake_path("bronze", "tracks"),
                    pa.table({"id": ["x"], "payload": ["{}"]}))
    at = open_page()
    assert any("quality gate may have failed" in i for i in texts(at, "info"))


def test_app_appears_once_gold_is_published(empty_lake, open_page):
    at = open_page()
    assert texts(at, "title") == ["The pipeline has not run yet"]
    write_gold(empty_lake)
    at.run()
    assert texts(at, "title") == ["Search the catalogue"]


def test_gold_missing_a_column_gives_a_clear_error(empty_lake, open_page):
    tables = write_gold(empty_lake)
    broken = tables["mart_track_search"].drop_columns(["search_text"])
    write_deltalake(gold_tables.gold_path(empty_lake, "mart_track_search"), broken,
                    mode="overwrite", schema_mode="overwrite")
    at = open_page()
    errors = texts(at, "error")
    assert any("has no column(s) search_text" in e and "Rebuild" in e for e in errors)


class TestDevelopmentMode:
    """Development-mode gold: no features, popularity, genres or labels; no recommender."""

    @pytest.fixture(autouse=True)
    def lake(self, dev_lake):
        return dev_lake

    def test_search_works_without_popularity(self, open_page):
        at = open_page()
        assert "Most popular tracks" not in texts(at, "subheader")
        at.text_input(key="query").input("bjork").run()
        assert "3 tracks found · page 1 of 1" in texts(at, "caption")

    def test_track_page_says_features_and_recommender_missing(self, open_page):
        at = open_page("track", id="t_joga")
        infos = " ".join(texts(at, "info"))
        assert "Audio features unavailable" in infos
        assert "No recommendations yet" in infos and "lakehouse train" in infos
        assert {m.label: m.value for m in at.metric}["Popularity"] == "—"
        assert "**Genres:** *none recorded*" in texts(at, "markdown")

    def test_dashboards_explain_missing_data(self, open_page):
        at = open_page("dashboards")
        infos = " ".join(texts(at, "info"))
        assert "No genres recorded" in infos
        assert "Audio features are unavailable" in infos
        assert "No record labels" in infos
        # Top artists fall back to track counts when popularity and followers are unknown.
        assert any("Ranked by track\\_count" in c for c in texts(at, "caption"))
        assert not at.exception

    def test_artist_and_album_pages(self, open_page):
        at = open_page("artist", id="a_bjork")
        assert {m.label: m.value for m in at.metric} == {"Popularity": "—", "Followers": "—"}
        at = open_page("album", id="al_homo")
        assert {m.label: m.value for m in at.metric}["Label"] == "—"


def test_pipeline_status_shows_runs_audits_counts_and_freshness(empty_lake, open_page):
    from orchestration.run_log import PipelineRun, record
    from quality.audit_log import AuditRecord
    from quality.audit_log import record as record_audit

    write_gold(empty_lake)
    ingested = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)
    write_deltalake(empty_lake.lake_path("bronze", "tracks"), pa.table({
        "id": ["a", "b"], "ingested_at": pa.array([ingested, ingested - dt.timedelta(days=1)],
                                                  pa.timestamp("us", tz="UTC")),
        "exported_at": pa.array([ingested, ingested], pa.timestamp("us", tz="UTC")),
    }))
    start = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    record(empty_lake, PipelineRun(
        run_id="run-ok", flow="pipeline", started_at=start,
        finished_at=start + dt.timedelta(minutes=4), status="completed",
        stages={"crawl": {"status": "ok", "seconds": 30.5, "artists": 6}},
        layer_counts={"mongodb": {"tracks": 40}, "bronze": {"tracks": 41},
                      "gold": {"mart_track_search": 43}},
        model_version="20261121T090400Z-abc"))
    later = start + dt.timedelta(hours=1)
    record(empty_lake, PipelineRun(
        run_id="run-bad", flow="pipeline", started_at=later, finished_at=later,
        status="failed", failed_stage="quality", error="3 expectations failed"))
    record_audit(empty_lake, AuditRecord(
        started_at=later, finished_at=later, passed=False, failed_stage="expectations",
        failures=["gold.mart_track_search: track_id not unique"], expectations_evaluated=57,
        tables=[{"table": "gold_audit.mart_track_search", "version": 3}]))

    at = open_page("pipeline_status")
    assert not texts(at, "exception")
    errors = " ".join(texts(at, "error"))
    assert "Failed at stage `quality`: 3 expectations failed" in errors
    assert "Last audit FAILED at `expectations`" in errors
    assert "gold was not published" in errors
    assert any("track\\_id not unique" in m for m in texts(at, "markdown"))
    frames = [df.value for df in at.dataframe]
    runs = frames[0]
    assert list(runs["run id"]) == ["run-bad", "run-ok"]
    assert list(runs["status"]) == ["failed", "completed"]
    # Row counts per layer: from the latest run that counted (the failed one did not).
    assert "As counted by the run of 2026-11-21 09:00:00 UTC (completed)." in texts(
        at, "caption")
    counts = next(f for f in frames if "mongodb" in f.columns)
    assert counts.loc["tracks", "mongodb"] == 40 and counts.loc["tracks", "bronze"] == 41
    assert counts.loc["mart_track_search", "gold"] == 43
    audits = next(f for f in frames if "expectations" in f.columns)
    assert list(audits["result"]) == ["FAILED"] and list(audits["expectations"]) == [57]
    freshness = next(f for f in frames if "newest record" in f.columns)
    bronze = freshness[freshness["layer"] == "bronze"].iloc[0]
    assert (bronze["table"], bronze["newest record"]) == ("tracks", "2026-11-20 08:30:00 UTC")
    gold = set(freshness[freshness["layer"] == "gold"]["table"])
    assert {"mart_track_search", "dim_artist", "mart_genre_summary"} <= gold


def test_pipeline_status_says_where_ctrl_c_stopped_the_last_run(empty_lake, open_page):
    from orchestration.run_log import PipelineRun, record

    write_gold(empty_lake)
    start = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
    record(empty_lake, PipelineRun(
        run_id="run-stopped", flow="pipeline", started_at=start, finished_at=start,
        status="interrupted", failed_stage="dbt", error="stopped by Ctrl-C (SIGINT)",
        stages={"export": {"status": "ok", "seconds": 3.0},
                "dbt": {"status": "interrupted", "seconds": 12.5}}))

    at = open_page("pipeline_status")
    assert not texts(at, "exception") and not texts(at, "error")
    assert "Stopped by Ctrl-C during stage `dbt`" in " ".join(texts(at, "warning"))
    assert any("Last run **interrupted**" in m for m in texts(at, "markdown"))


def test_pipeline_status_says_when_a_publish_stopped_part_way(empty_lake, open_page):
    from quality.audit_log import AuditRecord
    from quality.audit_log import record as record_audit

    write_gold(empty_lake)
    at_time = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    record_audit(empty_lake, AuditRecord(
        started_at=at_time, finished_at=at_time, passed=False, failed_stage="publish",
        failures=["publishing mart_track_search: OSError: disk full"], expectations_evaluated=57,
        tables=[{"name": "dim_track", "audit_version": 4, "published_version": 9}]))

    at = open_page("pipeline_status")
    errors = " ".join(texts(at, "error"))
    assert "Last audit FAILED at `publish`" in errors
    assert "gold was partly published (tables below)" in errors


def test_layer_counts_of_the_last_run(empty_lake):
    from app.pipeline_records import layer_counts_frame
    from orchestration.run_log import PipelineRun

    run = PipelineRun(run_id="r", flow="pipeline", started_at=dt.datetime.now(dt.UTC),
                      layer_counts={"mongodb": {"tracks": 40}, "bronze": {"tracks": 41},
                                    "gold": {"mart_track_search": 43}})
    frame = layer_counts_frame(run)
    assert frame.loc["tracks", "mongodb"] == 40 and frame.loc["tracks", "bronze"] == 41
    assert frame.loc["mart_track_search", "gold"] == 43
