"""Which catalogue rows are versions of the same song (remaster, live, single vs album cut...).

Two tracks are the same song when their normalised names and normalised artists match. The
name is lower-cased, accent-stripped, and loses version suffixes ("- Remastered 2011",
"(Live)", "[feat. X]") and punctuation. Everything runs in Arrow compute: no Python loop per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Version markers: everything after " - " and any bracketed part is a version label, not the song.
_SUFFIX = r"\s+-\s+.*$"
_BRACKETS = r"\s*[\(\[][^\)\]]*[\)\]]"
_FEAT = r"\s+(feat\.?|ft\.?|featuring)\s+.*$"


def normalise_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case, strip accents and punctuation, collapse spaces."""
    text = pc.utf8_normalize(pc.fill_null(values, ""), "NFKD")
    text = pc.replace_substring_regex(text, r"\p{Mn}", "")  # combining accents
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(text)


def normalise_song_name(names: pa.Array | pa.ChunkedArray) -> pa.Array:
    text = pc.utf8_lower(pc.fill_null(names, ""))
    for pattern in (_SUFFIX, _BRACKETS, _FEAT):
        text = pc.replace_substring_regex(text, pattern, "")
    return normalise_text(text)


def song_keys(table: pa.Table) -> np.ndarray:
    """An int32 code per row; equal codes = same song (same normalised name and artists)."""
    name = normalise_song_name(table.column("track_name"))
    artist_names = table.column("artist_names")
    empty = pa.scalar([], artist_names.type)
    artist_names = pc.if_else(pc.is_null(artist_names), empty, artist_names)
    artists = normalise_text(pc.binary_join(artist_names, "\x1f"))
    key = pc.binary_join_element_wise(name, artists, "\x1e")
    # A track without a usable name is only ever the same song as itself.
    key = pc.if_else(pc.equal(name, ""), table.column("track_id"), key)
    return np.asarray(pc.dictionary_encode(key).combine_chunks().indices, dtype=np.int32)


def artist_codes(table: pa.Table) -> np.ndarray:
    """An int32 code per row for its primary artist (for the per-artist cap)."""
    primary = pc.fill_null(table.column("primary_artist_id"), "")
    return np.asarray(pc.dictionary_encode(primary).combine_chunks().indices, dtype=np.int32)
