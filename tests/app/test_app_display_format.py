"""How values are shown on the pages (app/display_format.py), as the pages receive them."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pyarrow as pa
import pytest

from app.display_format import release_date

DEC_15 = dt.date(1981, 12, 15)


@pytest.mark.parametrize(("precision", "shown"), [
    ("day", "15 Dec 1981"), ("month", "Dec 1981"), ("year", "1981"),
    # Compared case-insensitively: an upper-case precision is not shown as a full date.
    ("MONTH", "Dec 1981"), ("Year", "1981"), ("DAY", "15 Dec 1981"),
    (None, "15 Dec 1981"), (math.nan, "15 Dec 1981"),  # unknown: the whole date
])
def test_release_date_at_its_precision(precision, shown):
    assert release_date(DEC_15, precision, 1981) == shown


@pytest.mark.parametrize("missing", [None, math.nan, pd.NA, pd.NaT])
def test_release_date_without_a_date_shows_the_year_or_unknown(missing):
    assert release_date(missing, None, 1990) == "1990"
    assert release_date(missing, None, 1990.0) == "1990"  # not "1990.0"
    assert release_date(missing, None, missing) == "unknown"  # not "nan"


def test_release_dates_of_a_frame_with_null_dates_and_years():
    # The search, artist and album-list pages read rows of a pandas frame: a nullable int32
    # year becomes float64 with NaN, which once showed as "nan" and "1990.0".
    table = pa.table({
        "release_date": pa.array([None, None, DEC_15], pa.date32()),
        "release_date_precision": pa.array([None, None, "month"], pa.string()),
        "release_year": pa.array([None, 1990, 1981], pa.int32()),
    })
    frame = table.to_pandas()
    assert frame["release_year"].dtype == "float64"  # what the pages get
    shown = [release_date(row.release_date, row.release_date_precision, row.release_year)
             for row in frame.itertuples(index=False)]
    assert shown == ["unknown", "1990", "Dec 1981"]
