"""How values are shown on the pages (dates at their precision, durations, missing values)."""

from __future__ import annotations

import datetime as dt
import math

MISSING = "—"


def _missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA: how a null reaches a page (pandas turns a nullable int column
    into float with NaN, a date column's nulls into None or NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # only NaN and NaT differ from themselves
    except TypeError:  # pd.NA: its comparison is NA, which has no truth value
        return True


def release_date(
    value: dt.date | None, precision: str | None, year: int | float | None = None
) -> str:
    """A release date at the precision Spotify gave it: "1981", "Dec 1981" or "15 Dec 1981".

    Without a date, the release year alone (an int even when pandas made the column float).
    The precision is compared case-insensitively; missing or unknown means day.
    """
    if _missing(value):
        return "unknown" if _missing(year) or not year else str(int(year))
    precision = precision.lower() if isinstance(precision, str) else None
    if precision == "year":
        return f"{value.year}"
    if precision == "month":
        return value.strftime("%b %Y")
    return f"{value.day} {value.strftime('%b %Y')}"


def duration(ms: float | int | None) -> str:
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return MISSING
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:,.{digits}f}"


def names(values: list[str] | None) -> str:
    return ", ".join(v for v in values or [] if v) or "unknown artist"


def timestamp(value: dt.datetime | None) -> str:
    if value is None or value != value:  # None, NaN or NaT
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'5 min ago', '3 h ago', '2 days ago'."""
    if value is None or value != value:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = ((now or dt.datetime.now(dt.UTC)) - value).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{round(seconds / 60)} min ago"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


# Markdown syntax, Streamlit's `$` (LaTeX), `:` (emoji, icons, `:red[...]`) and `&` (HTML
# character references: "&amp;" would show as "&").
_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()#+-.!|~<>$:&"})


def md(text: object) -> str:
    """Catalogue text made literal for Streamlit's Markdown (names like "*NSYNC", "[x]" or
    "$uicideboy$"), including `st.title`, which renders its text as Markdown too."""
    return str(text if text is not None else "").translate(_MARKDOWN_SPECIAL)


def code(text: object) -> str:
    """Text as a Markdown code span (backslash escapes do not work inside one)."""
    return "`" + str(text if text is not None else "").replace("`", "'").replace("\n", " ") + "`"
