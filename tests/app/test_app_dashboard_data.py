"""Dashboard data under the genre and year filters, checked against hand-counted values."""

from __future__ import annotations

import pytest
from app_catalogue import _tables

from app import dashboard_charts, dashboard_data
from app.dashboard_data import Filters

FULL = (1980, 2020)


@pytest.fixture(scope="module")
def gold():
    return _tables(development=False)


def marts(gold, name):
    return gold[name].to_pandas()


def test_unfiltered_charts_read_the_marts(gold):
    genres = dashboard_data.genre_summary(marts(gold, "mart_genre_summary"),
                                          gold["mart_track_search"], Filters(full_years=FULL))
    assert genres.iloc[0]["genre"] == "pop"  # 4 tracks: Pharrell and Beyoncé
    assert dict(zip(genres["genre"], genres["track_count"], strict=True))["pop"] == 4
    chart = dashboard_charts.genre_distribution(genres).to_dict()
    assert chart["mark"]["type"] == "bar"


def test_year_filter_recounts_genres_from_tracks(gold):
    filters = Filters(years=(1995, 2000), full_years=FULL)
    genres = dashboard_data.genre_summary(marts(gold, "mart_genre_summary"),
                                          gold["mart_track_search"], filters)
    counts = dict(zip(genres["genre"], genres["track_count"], strict=True))
    assert counts == {"art pop": 3, "icelandic pop": 3, "icelandic rock": 2, "post-rock": 2}
    with_features = dict(zip(genres["genre"], genres["tracks_with_features"], strict=True))
    assert with_features["art pop"] == 2  # "Hunter" has no features


def test_genre_filter_recounts_year_trends_from_tracks(gold):
    filters = Filters(genres=("pop",), years=FULL, full_years=FULL)
    trends = dashboard_data.year_trends(marts(gold, "mart_release_year_trends"),
                                        gold["mart_track_search"], filters)
    assert dict(zip(trends["release_year"], trends["track_count"], strict=True)) == {
        2013: 2, 2016: 2}
    assert dict(zip(trends["release_year"], trends["explicit_share"], strict=True)) == {
        2013: 0.0, 2016: 1.0}


def test_year_filter_on_the_trends_mart(gold):
    trends = dashboard_data.year_trends(marts(gold, "mart_release_year_trends"),
                                        gold["mart_track_search"],
                                        Filters(years=(1990, 2005), full_years=FULL))
    assert list(trends["release_year"]) == [1997, 1999, 2004]


def test_top_artists_and_labels(gold):
    artists = dashboard_data.top_artists(marts(gold, "mart_artist_summary"),
                                         Filters(genres=("pop",)))
    assert list(artists["artist_name"]) == ["Beyoncé", "Pharrell Williams"]
    # A year range keeps the artists credited on a track of those years: Homogenic (Björk, 1997)
    # and Ágætis byrjun (Sigur Rós, 1999); the artists' own figures are not per year.
    in_90s = Filters(years=(1995, 2000), full_years=FULL)
    artists = dashboard_data.top_artists(marts(gold, "mart_artist_summary"), in_90s,
                                         gold["mart_track_search"])
    assert set(artists["artist_name"]) == {"Björk", "Sigur Rós"}
    artists = dashboard_data.top_artists(marts(gold, "mart_artist_summary"),
                                         Filters(genres=("pop",), years=(1995, 2000),
                                                 full_years=FULL), gold["mart_track_search"])
    assert artists.empty  # no pop track in those years
    labels = dashboard_data.top_labels(marts(gold, "mart_label_summary"),
                                       Filters(years=(1995, 2000), full_years=FULL))
    assert set(labels["label"]) == {"One Little Indian", "Smekkleysa"}
    labels = dashboard_data.top_labels(marts(gold, "mart_label_summary"), Filters())
    assert labels.iloc[0]["label"] == "Columbia"  # two albums


def test_scatter_sample_only_tracks_with_features_and_popularity(gold):
    sample = dashboard_data.scatter_sample(gold["mart_track_search"],
                                           Filters(genres=("art pop",)))
    assert sorted(sample["track_name"]) == ["Bachelorette", "Jóga"]
    layered = dashboard_charts.popularity_vs_feature(sample, "energy").to_dict()
    assert len(layered["layer"]) == 2  # points and the regression line
