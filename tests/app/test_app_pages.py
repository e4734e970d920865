"""Every page of the app through Streamlit's AppTest, on the published test catalogue."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from app_catalogue import INTERLUDES, write_gold
from deltalake import write_deltalake
from markdown_text import rendered_text
from streamlit.testing.v1 import AppTest

from app import dashboard_data, gold_tables

pytestmark = pytest.mark.usefixtures("gold_lake")


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def titles(at: AppTest) -> list[str]:
    """The page titles as a reader sees them (catalogue names are escaped Markdown)."""
    return [rendered_text(text) for text in texts(at, "title")]


def links(at: AppTest) -> list[tuple[str, str]]:
    """(label, page url with query) of the page links on the page."""
    return [(link.proto.label, link.proto.page + "?" + link.proto.query_string)
            for link in at.get("page_link")]


def search(at: AppTest, query: str, kind: str = "Tracks") -> AppTest:
    at.radio(key="kind").set_value(kind)
    at.text_input(key="query").input(query)
    return at.run()


def test_search_is_the_start_page_with_popular_tracks(open_page):
    at = open_page()
    assert texts(at, "title") == ["Search the catalogue"]
    assert "43 tracks, 9 artists and 7 albums in the catalogue." in texts(at, "caption")
    labels = [label for label, _ in links(at)]
    assert labels[0].startswith("Get Lucky")  # popularity 88, the catalogue's most popular
    assert labels[1] == "Formation"


def test_search_tracks_accent_insensitive_with_links(open_page):
    at = search(open_page(), "bjork")
    assert "3 tracks found · page 1 of 1" in texts(at, "caption")
    found = links(at)
    assert [label for label, _ in found] == ["Jóga", "Bachelorette", "Hunter"]
    assert found[0][1].endswith("track?id=t_joga")
    assert at.query_params["q"] == "bjork"


def test_search_artists_and_albums(open_page):
    at = search(open_page(), "motorhed", "Artists")  # typo and no umlaut
    assert next(label for label, _ in links(at)) == "Motörhead"
    assert links(at)[0][1].endswith("artist?id=a_motor")
    at = search(at, "agaetis", "Albums")
    assert [label for label, _ in links(at)] == ["Ágætis byrjun"]


def test_search_paginates(open_page):
    at = search(open_page(), "interlude")
    assert f"{INTERLUDES} tracks found · page 1 of 2" in texts(at, "caption")
    assert len(links(at)) == 20
    at.button(key="search_next").click().run()
    assert f"{INTERLUDES} tracks found · page 2 of 2" in texts(at, "caption")
    assert len(links(at)) == INTERLUDES - 20
    assert at.button(key="search_next").disabled
    at.button(key="search_previous").click().run()
    assert "page 1 of 2" in texts(at, "caption")[0]
    # A new query starts again at page 1.
    at.button(key="search_next").click().run()
    at = search(at, "interludes")
    assert "page 1 of 2" in texts(at, "caption")[0]


NO_LETTERS = "Type letters or digits to search (punctuation alone matches nothing)."
TRUNCATED = "Only the first 200 characters of the query are used."


def no_tracks(shown: str) -> str:
    """The no-match message; `shown` is the query as the page escapes it for Markdown."""
    return (f"No tracks match “{shown}”. Check the spelling, use fewer words, or search in"
            " another category.")


@pytest.mark.parametrize(("query", "info", "captions"), [
    # Words, but none in the catalogue: searched as text (never SQL), nothing matches.
    ("'; DROP TABLE gold.mart_track_search; --",
     no_tracks(r"'; DROP TABLE gold\.mart\_track\_search; \-\-"), []),
    # Cut to 200 characters (said so), still no match; the message quotes the first 80.
    ("x" * 1000, no_tracks("x" * 80), [TRUNCATED]),
    # No letters or digits: nothing to search, and not the start page's popular tracks.
    ("%", NO_LETTERS, []),
    ("!!!", NO_LETTERS, []),
    ("🎵🎵🎵", NO_LETTERS, []),
    ("\\", NO_LETTERS, []),
], ids=["sql", "long", "percent", "bangs", "emoji", "backslash"])
def test_search_odd_input_is_handled(open_page, query, info, captions):
    at = search(open_page(), query)
    assert not at.exception
    assert texts(at, "info") == [info]
    assert texts(at, "caption") == captions
    assert links(at) == []  # no results and no popular tracks
    assert texts(at, "subheader") == []  # not the start page's "Most popular tracks"


def test_search_no_match_says_so(open_page):
    at = search(open_page(), "zzqxv")
    assert any("No tracks match" in text for text in texts(at, "info"))


def test_track_page_multi_artist_with_preview_features_and_recommendations(open_page):
    at = open_page("track", id="t_getlucky")
    assert titles(at) == ["Get Lucky (feat. Pharrell Williams & Nile Rodgers)"]
    artist_links = [label for label, url in links(at) if "artist?id=" in url]
    assert artist_links == ["Daft Punk", "Pharrell Williams", "Nile Rodgers"]
    assert ("Random Access Memories", "album?id=al_ram") in [
        (label, url.split("/")[-1]) for label, url in links(at)]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Released"] == "May 2013"  # month precision
    assert metrics["Popularity"] == "88"
    assert metrics["Explicit"] == "no"
    assert at.get("audio")[0].proto.url.endswith("mp3-preview/lucky")
    assert at.get("image")[0].proto.imgs[0].url.endswith("image/ram")
    assert len(at.get("vega_lite_chart")) == 1  # the features chart
    recommended = [label for label, url in links(at) if "track?id=" in url]
    assert len(recommended) == 10
    assert "Get Lucky (feat. Pharrell Williams & Nile Rodgers)" not in recommended[0]
    # The nearest tracks are the other electronic ones, each with a reason and a score.
    assert {recommended[0].split(" — ")[0], recommended[1].split(" — ")[0]} == {
        "Instant Crush", "Lose Yourself to Dance"}
    reasons = [c for c in texts(at, "caption") if "similarity" in c]
    assert len(reasons) == 10 and all(len(r) > 20 for r in reasons)


def test_track_without_features_or_art(open_page):
    at = open_page("track", id="t_hunter")
    assert any("Audio features unavailable" in t for t in texts(at, "info"))
    assert not at.get("audio")
    assert "Spotify has no 30-second preview for this track." in texts(at, "caption")
    # Metadata-only recommendations still come, explained as such.
    assert any("metadata only" in c for c in texts(at, "caption"))
    at = open_page("track", id="t_svefn")  # album without cover art
    assert "No album art" in texts(at, "caption")
    assert {m.label: m.value for m in at.metric}["Released"] == "1999"  # year precision


@pytest.mark.parametrize(("page", "query"), [
    ("track", {"id": "no-such-track"}), ("artist", {"id": "no-such-artist"}),
    ("album", {"id": "no-such-album"}),
])
def test_detail_pages_with_unknown_id(open_page, page, query):
    at = open_page(page, **query)
    assert any("no-such" in e and "not" in e for e in texts(at, "error"))
    assert "Go to search" in [label for label, _ in links(at)]


@pytest.mark.parametrize("page", ["track", "artist", "album"])
def test_detail_pages_without_id(open_page, page):
    at = open_page(page)
    assert any(f"No {page} chosen" in t for t in texts(at, "info"))


def test_artist_page(open_page):
    at = open_page("artist", id="a_daft")
    assert titles(at) == ["Daft Punk"]
    assert "**Genres:** electro, french house" in texts(at, "markdown")
    assert {m.label: m.value for m in at.metric} == {"Popularity": "85",
                                                    "Followers": "9,000,000"}
    track_links = [label for label, url in links(at) if "track?id=" in url]
    assert track_links[0].startswith("Get Lucky")  # most popular first
    assert len(track_links) == 3
    assert [label for label, url in links(at) if "album?id=" in url] == [
        "Random Access Memories"]


def test_credit_only_artist_page(open_page):
    at = open_page("artist", id="a_nile")
    assert titles(at) == ["Nile Rodgers"]
    assert any("not crawled" in c for c in texts(at, "caption"))
    assert next(label for label, url in links(at) if "track?id=" in url).startswith("Get Lucky")


def test_album_page(open_page):
    at = open_page("album", id="al_homo")
    assert titles(at) == ["Homogenic"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Released"] == "22 Sep 1997" and metrics["Label"] == "One Little Indian"
    assert [label for label, url in links(at) if "track?id=" in url] == [
        "Jóga", "Bachelorette", "Hunter"]  # disc/track order from dim_track
    assert "**Genres:** art pop, icelandic pop" in texts(at, "markdown")
    at = open_page("album", id="al_kyoiku")  # non-Latin names, no cover art
    assert titles(at) == ["教育"]
    assert "No cover art" in texts(at, "caption")


# Markdown a title must not interpret: "$...$" is LaTeX in Streamlit, "[x](y)" a link, "&amp;" a
# character reference.
ODD_NAME = "$uicideboy$ [x](y) *NSYNC* &amp; #1 :red[b]"


def _renamed(tables: dict[str, pa.Table], mart: str, key: str, value: str,
             column: str) -> pa.Table:
    rows = tables[mart].to_pylist()
    for row in rows:
        if row[key] == value:
            row[column] = ODD_NAME
    return pa.Table.from_pylist(rows, schema=tables[mart].schema)


def test_detail_page_titles_show_names_literally(open_page, gold_lake):
    tables = write_gold(gold_lake, only=())  # the tables as published, nothing rewritten
    renamed = {
        "mart_track_search": _renamed(tables, "mart_track_search", "track_id", "t_ace",
                                      "track_name"),
        "dim_artist": _renamed(tables, "dim_artist", "artist_id", "a_motor", "artist_name"),
        "dim_album": _renamed(tables, "dim_album", "album_id", "al_ace", "album_name"),
    }
    try:
        for mart, table in renamed.items():
            write_deltalake(gold_tables.gold_path(gold_lake, mart), table, mode="overwrite")
        for page, entity_id in (("track", "t_ace"), ("artist", "a_motor"), ("album", "al_ace")):
            at = open_page(page, id=entity_id)
            assert titles(at) == [ODD_NAME], page
    finally:
        write_gold(gold_lake, only=tuple(renamed))


def charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """The page's Altair charts by title: (Vega-Lite spec, the data the chart plots)."""
    found = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        title = spec.get("title") or spec["layer"][0]["title"]  # the scatter is layered
        datasets = {dataset.name: pa.ipc.open_stream(dataset.data.data).read_pandas()
                    for dataset in element.proto.datasets}
        found[title] = (spec, datasets[spec["data"]["name"]])
    return found


def plotted(at: AppTest, title: str, *columns: str) -> list:
    """The values of one column (or tuples of several) a chart plots, in data order."""
    data = charts(at)[title][1]
    return list(zip(*(data[c] for c in columns), strict=True)) if len(columns) > 1 else list(
        data[columns[0]])


def test_dashboards_page(open_page):
    at = open_page("dashboards")
    assert texts(at, "title") == ["Catalogue dashboards"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tracks"] == "43" and metrics["Labels"] == "5"
    assert list(charts(at)) == [
        "Tracks per genre", "Audio profile per genre", "Popularity vs danceability",
        "Tracks released per year", "Sound of each year (average features)",
        "Top artists by popularity", "Labels by albums in the catalogue"]
    assert not at.warning
    assert len(plotted(at, "Tracks per genre", "genre")) == 11
    assert sorted(plotted(at, "Labels by albums in the catalogue", "label")) == [
        "Bronze", "Columbia", "One Little Indian", "Smekkleysa", "Toshiba EMI"]

    # One genre: Sigur Rós's two tracks on Ágætis byrjun (1999).
    at.multiselect(key="dash_genres").set_value(["icelandic rock"]).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 7
    assert plotted(at, "Tracks per genre", "genre", "track_count") == [("icelandic rock", 2)]
    assert set(plotted(at, "Audio profile per genre", "genre")) == {"icelandic rock"}
    assert sorted(plotted(at, "Popularity vs danceability", "track_name")) == [
        "Starálfur", "Svefn-g-englar"]
    assert plotted(at, "Tracks released per year", "release_year", "track_count") == [(1999, 2)]
    assert plotted(at, "Top artists by popularity", "artist_name") == ["Sigur Rós"]
    # The label mart has no genres: the page says so instead of silently showing all labels.
    assert dashboard_data.NOT_BY_GENRE in texts(at, "caption")
    assert dashboard_data.BY_YEAR_NOTE not in texts(at, "caption")

    # And a year range: the labels releasing in 1995-2000 (the label mart has no genres).
    at.slider(key="dash_years").set_value((1995, 2000)).run()
    assert not at.exception
    assert plotted(at, "Tracks per genre", "genre", "track_count") == [("icelandic rock", 2)]
    assert plotted(at, "Tracks released per year", "release_year", "track_count") == [(1999, 2)]
    assert set(plotted(at, "Labels by albums in the catalogue", "label")) == {
        "One Little Indian", "Smekkleysa"}
    assert {dashboard_data.NOT_BY_GENRE, dashboard_data.BY_YEAR_NOTE} <= set(texts(at, "caption"))

    # The year range alone: Homogenic (1997, Björk) and Ágætis byrjun (1999, Sigur Rós).
    at.multiselect(key="dash_genres").set_value([]).run()
    assert not at.exception
    assert dict(plotted(at, "Tracks per genre", "genre", "track_count")) == {
        "art pop": 3, "icelandic pop": 3, "icelandic rock": 2, "post-rock": 2}
    assert plotted(at, "Tracks released per year", "release_year", "track_count") == [
        (1997, 3), (1999, 2)]
    assert set(plotted(at, "Labels by albums in the catalogue", "label")) == {
        "One Little Indian", "Smekkleysa"}
    assert sorted(plotted(at, "Popularity vs danceability", "track_name")) == [
        "Bachelorette", "Jóga", "Starálfur", "Svefn-g-englar"]  # "Hunter" has no features
    assert dashboard_data.BY_YEAR_NOTE in texts(at, "caption")
    assert dashboard_data.NOT_BY_GENRE not in texts(at, "caption")
    assert set(plotted(at, "Top artists by popularity", "artist_name")) == {"Björk", "Sigur Rós"}

    # The scatter plots the chosen feature, over the same tracks.
    at.selectbox(key="dash_feature").set_value("tempo").run()
    assert not at.exception
    title, (spec, data) = next(
        (title, chart) for title, chart in charts(at).items() if title.startswith("Popularity"))
    assert [layer["encoding"]["x"]["field"] for layer in spec["layer"]] == ["tempo", "tempo"]
    assert title == "Popularity vs tempo (bpm)"
    assert spec["layer"][1]["transform"] == [{"on": "tempo", "regression": "popularity"}]
    assert sorted(data["track_name"]) == ["Bachelorette", "Jóga", "Starálfur", "Svefn-g-englar"]


def test_new_publish_is_picked_up(open_page, gold_lake):
    at = open_page()
    assert "43 tracks" in texts(at, "caption")[0]
    tables = write_gold(gold_lake, only=("mart_track_search",))
    smaller = tables["mart_track_search"].slice(0, 13)
    path = gold_tables.gold_path(gold_lake, "mart_track_search")
    write_deltalake(path, smaller, mode="overwrite")
    at.run()  # APP_REFRESH_S=0: the next rerun sees the new Delta version
    assert "13 tracks" in texts(at, "caption")[0]
    write_gold(gold_lake, only=("mart_track_search",))
    at.run()
    assert "43 tracks" in texts(at, "caption")[0]
