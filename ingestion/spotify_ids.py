"""Spotify ids: 22 base-62 characters. Shared by the emulator (to mint ids) and the crawler
(to tell an id from an artist name in a seed list)."""

from __future__ import annotations

import hashlib
import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 22
_ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")
# Forms people paste: spotify:artist:ID and https://open.spotify.com/artist/ID?si=...
_URI_RE = re.compile(r"^spotify:(?P<kind>[a-z]+):(?P<id>[0-9A-Za-z]{22})$")
# The id must end the path (or be followed by `/`, a query or a fragment): a longer one is
# malformed, as in the URI form, not cut to its first 22 characters.
_URL_RE = re.compile(
    r"^https?://open\.spotify\.com/(?:intl-[a-z-]+/)?(?P<kind>[a-z]+)/(?P<id>[0-9A-Za-z]{22})"
    r"(?:[/?#]|$)"
)


def is_spotify_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def parse_spotify_ref(value: str, kind: str = "artist") -> str | None:
    """The id in a bare id, a spotify: URI or an open.spotify.com URL of `kind`; else None."""
    value = value.strip()
    if is_spotify_id(value):
        return value
    for pattern in (_URI_RE, _URL_RE):
        match = pattern.match(value)
        if match and match.group("kind") == kind:
            return match.group("id")
    return None


def derived_id(*parts: object) -> str:
    """A deterministic Spotify-shaped id from any key (same parts -> same id)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    number = int.from_bytes(digest, "big") % (62**ID_LENGTH)
    chars = []
    for _ in range(ID_LENGTH):
        number, rem = divmod(number, 62)
        chars.append(BASE62[rem])
    return "".join(reversed(chars))
