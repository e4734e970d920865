"""The artist seed list: read it, and resolve names to Spotify ids through search.

A name resolves only to an artist whose name really matches: the same name ignoring case and
accents first; otherwise the closest hit if its fuzzy score reaches
CRAWL_NAME_MATCH_MIN_SCORE. Anything else is "unresolved" with the reason (never a guess).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from ingestion.emulator.catalogue import normalise_name
from ingestion.spotify_ids import parse_spotify_ref

_LOOKS_LIKE_REF = re.compile(r"^(spotify:|https?://open\.spotify\.com/)", re.IGNORECASE)


class SeedFileError(ValueError):
    """The seed file cannot be read; the message names the file and the fix."""


def read_seed_file(path: Path) -> list[str]:
    """Seed entries: one a line; blank lines and `#` comments ignored; duplicates dropped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeedFileError(
            f"seed file {path} does not exist: create it (one artist name or Spotify id a line)"
            " or point CRAWL_SEED_FILE / --seeds at one"
        ) from None
    except UnicodeDecodeError:
        raise SeedFileError(f"seed file {path} is not UTF-8 text: re-save it as UTF-8") from None
    entries = [line.strip() for line in text.splitlines()]
    return list(dict.fromkeys(e for e in entries if e and not e.startswith("#")))


@dataclass(frozen=True)
class SeedRef:
    entry: str
    artist_id: str | None  # set when the entry is an id/URI/URL
    problem: str | None  # set when the entry looks like an id but is malformed


def classify(entry: str) -> SeedRef:
    artist_id = parse_spotify_ref(entry, "artist")
    if artist_id:
        return SeedRef(entry, artist_id, None)
    if _LOOKS_LIKE_REF.match(entry):
        return SeedRef(entry, None, "malformed Spotify artist id/URI/URL (ids are 22 base-62 "
                                    "characters, e.g. spotify:artist:4tZwfgrHOc3mvqYlEYSvVi)")
    return SeedRef(entry, None, None)


@dataclass(frozen=True)
class NameMatch:
    artist: dict | None
    how: str  # "exact" | "fuzzy" | "none"
    score: float
    reason: str | None


def match_artist(name: str, candidates: list[dict], min_score: float) -> NameMatch:
    """Pick the search hit that is really `name`, or explain why none is."""
    wanted = normalise_name(name)
    if not candidates:
        return NameMatch(None, "none", 0.0, f"search for {name!r} returned no artist")
    exact = [c for c in candidates if normalise_name(c.get("name", "")) == wanted]
    if exact:
        # Same name twice (it happens): the most popular one, as Spotify's own ranking would.
        best = max(exact, key=lambda c: c.get("popularity") or 0)
        return NameMatch(best, "exact", 100.0, None)
    scored = [(fuzz.ratio(wanted, normalise_name(c.get("name", ""))), c) for c in candidates]
    score, best = max(scored, key=lambda sc: sc[0])
    if score >= min_score:
        return NameMatch(best, "fuzzy", float(score), None)
    return NameMatch(
        None, "none", float(score),
        f"no artist named {name!r} in the search results (closest: {best.get('name')!r}, "
        f"score {score:.0f} < {min_score:.0f}); fix the spelling or use the Spotify id",
    )
