"""The app on what the real pipeline published (crawl -> bronze -> dbt -> gate -> publish -> train).

Uses the session's `built_lakehouse` (tests/conftest.py): the marts come from dbt on the Spark
Thrift Server, the records from the flow, the recommender from `lakehouse train`.
"""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable
from markdown_text import rendered_text
from streamlit.testing.v1 import AppTest

from app import gold_tables

pytestmark = pytest.mark.services


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


@pytest.fixture(scope="module")
def published(built_lakehouse):
    settings, report = built_lakehouse
    assert report["status"] == "completed"
    gold_tables.forget_probes()
    path = gold_tables.gold_path(settings, "mart_track_search")
    tracks = DeltaTable(path).to_pyarrow_table().to_pylist()
    return settings, tracks


def test_pages_on_the_published_gold(published, open_page):
    _settings, tracks = published
    track = max(tracks, key=lambda t: (t["popularity"] or 0, t["track_id"]))
    at = open_page()
    assert texts(at, "title") == ["Search the catalogue"]
    assert f"{len(tracks):,} tracks" in texts(at, "caption")[0]

    at.text_input(key="query").input(track["track_name"]).run()
    assert not at.exception
    found = [link.proto.label for link in at.get("page_link")]
    assert found and found[0] == track["track_name"]

    at = open_page("track", id=track["track_id"])
    assert [rendered_text(t) for t in texts(at, "title")] == [track["track_name"]]
    recommended = [c for c in texts(at, "caption") if "similarity" in c]
    assert len(recommended) == 10, texts(at, "info")

    artist_id = track["artist_ids"][0]
    at = open_page("artist", id=artist_id)
    assert [rendered_text(t) for t in texts(at, "title")] == [track["artist_names"][0]]
    at = open_page("album", id=track["album_id"])
    assert [rendered_text(t) for t in texts(at, "title")] == [track["album_name"]]

    at = open_page("dashboards")
    assert not at.warning  # every analytics mart is published
    # Extended-mode data has genres, audio features, popularity and labels: every chart shows.
    titles = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        titles.append(spec.get("title") or spec["layer"][0]["title"])
    assert titles == [
        "Tracks per genre", "Audio profile per genre", "Popularity vs danceability",
        "Tracks released per year", "Sound of each year (average features)",
        "Top artists by popularity", "Labels by albums in the catalogue"]

    at = open_page("pipeline_status")
    assert any("completed" in m for m in texts(at, "markdown"))
    assert any("passed" in s for s in texts(at, "success"))
