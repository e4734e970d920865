"""Fuzzy, case- and accent-insensitive search over a precomputed text column, in memory.

Built once per published gold version (app/cached_data.py), so a query never scans or queries
whole tables: the index holds the sorted vocabulary of the normalised text and, per word, the
rows containing it (an inverted index in numpy arrays). A query word matches vocabulary words
exactly, as a prefix (typing in progress), as a substring, or fuzzily (rapidfuzz's normalised
Indel similarity, for typos); the row's relevance is the mean over the query words of its best
match, plus a bonus when the whole query is (the start of) the row's name. Results are ordered
by relevance, then popularity, then name. User input never becomes SQL or a regex.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

MAX_QUERY_CHARS = 200  # longer input is cut (nobody types more; bounds the work per query)
MAX_QUERY_WORDS = 12
PAGE_SIZE = 20

SCORE_EXACT = 100.0
SCORE_PREFIX = 90.0
SCORE_SUBSTRING = 80.0
FUZZY_WEIGHT = 0.85  # a fuzzy hit (similarity 75-99) scores 64-84: below prefix matches
FUZZY_MIN_SIMILARITY = 75.0
FUZZY_MIN_LENGTH = 4  # shorter words have too many 1-letter neighbours to be useful
SUBSTRING_MIN_LENGTH = 3
BONUS_NAME_EXACT = 15.0
BONUS_NAME_PREFIX = 8.0
BONUS_NAME_CONTAINS = 4.0

# Letters NFKD does not decompose (same list as dbt's strip_accents macro, plus a few more).
_UNDECOMPOSED = str.maketrans({
    "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ŀ": "l", "ı": "i", "ħ": "h", "ŧ": "t",
    "æ": "ae", "œ": "oe", "þ": "th", "ß": "ss",
})
_UNDECOMPOSED_CLASS = "[øđðłŀıħŧæœþß]"


def normalise_column(values: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Array:
    """Lower-case, accents removed, punctuation as single spaces: "Björk — Jóga!" -> "bjork joga".

    Vectorised in Arrow (fixed RE2 classes, never a pattern built from the input) and the one
    implementation for both the indexed column and the query, so they always agree. Matches
    dbt's search_text, which keeps the punctuation the index drops here. ASCII rows (most of a
    catalogue, and all of dbt's search_text for Latin scripts) take a cheaper path."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
        list(values), pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = pc.fill_null(array.cast(pa.string()), "")
    ascii_rows = np.asarray(pc.string_is_ascii(array), dtype=bool)
    if ascii_rows.all():
        return _ascii_words(array)
    out = np.empty(len(array), dtype=object)
    fast = np.flatnonzero(ascii_rows)
    slow = np.flatnonzero(~ascii_rows)
    if len(fast):
        out[fast] = _ascii_words(array.take(pa.array(fast))).to_numpy(zero_copy_only=False)
    out[slow] = _unicode_words(array.take(pa.array(slow))).to_numpy(zero_copy_only=False)
    return pa.array(out, pa.string())


def _ascii_words(array: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(pc.ascii_lower(array), r"[^a-z0-9]+", " ")
    return pc.utf8_trim_whitespace(text)


def _unicode_words(array: pa.Array) -> pa.Array:
    text = pc.utf8_lower(pc.utf8_normalize(array, form="NFKD"))
    text = pc.replace_substring_regex(text, r"\p{Mn}+", "")  # the accents NFKD split off
    special = np.flatnonzero(np.asarray(
        pc.match_substring_regex(text, _UNDECOMPOSED_CLASS), dtype=bool))
    if len(special):  # rare letters: Python only for the rows that have them
        values = text.to_numpy(zero_copy_only=False).copy()
        values[special] = [v.translate(_UNDECOMPOSED) for v in values[special]]
        text = pa.array(values, pa.string())
    text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(text)


def normalise(text: str | None) -> str:
    """`normalise_column` for one string (a query)."""
    if not isinstance(text, str) or not text:
        return ""
    return normalise_column([text])[0].as_py()


@dataclass(frozen=True)
class SearchPage:
    """One page of results: row numbers into the indexed table, best first."""

    rows: np.ndarray
    relevance: np.ndarray
    total: int
    page: int
    pages: int
    query: str  # the normalised query actually searched
    truncated: bool = False  # the input was longer than MAX_QUERY_CHARS

    @property
    def empty(self) -> bool:
        return self.total == 0


def _empty_page(query: str = "", truncated: bool = False) -> SearchPage:
    return SearchPage(np.empty(0, np.int64), np.empty(0), 0, 1, 0, query, truncated)


class SearchIndex:
    """An inverted index over `texts` with `names` (shown, bonus) and `popularity` (tie-break)."""

    def __init__(
        self,
        texts: pa.Array | pa.ChunkedArray | Sequence[str | None],
        names: pa.Array | pa.ChunkedArray | Sequence[str | None],
        popularity: np.ndarray | None = None,
    ) -> None:
        normalised = normalise_column(texts)
        self.size = len(normalised)
        self.names = normalise_column(names)
        if len(self.names) != self.size:
            raise ValueError("texts and names must have the same length")
        self.popularity = (
            np.full(self.size, -1.0) if popularity is None
            else np.clip(np.nan_to_num(np.asarray(popularity, dtype=float), nan=-1.0), -1, 100)
        )  # Spotify's 0-100; -1 = unknown (ranked last)
        # Alphabetical rank of each name: the last tie-break, sorted as integers per query.
        self._name_rank = np.asarray(pc.rank(self.names, sort_keys="ascending",
                                             tiebreaker="first"), dtype=np.int64)
        self._build(normalised)

    def _build(self, normalised: pa.Array) -> None:
        words = pc.utf8_split_whitespace(normalised)
        flat = pc.list_flatten(words)
        rows = np.asarray(pc.list_parent_indices(words), dtype=np.int64)
        encoded = pc.dictionary_encode(flat).combine_chunks() if isinstance(
            flat, pa.ChunkedArray) else pc.dictionary_encode(flat)
        order = np.asarray(pc.array_sort_indices(encoded.dictionary), dtype=np.int64)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[np.asarray(encoded.indices, dtype=np.int64)]
        # One posting per (word, row), sorted by word then row.
        width = max(self.size, 1)
        keys = np.sort(codes * width + rows)
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
        self._post_rows = keys % width
        self._vocab_array = encoded.dictionary.take(pa.array(order, pa.int64()))
        self.vocab: list[str] = self._vocab_array.to_pylist()
        self._starts = np.searchsorted(keys // width, np.arange(len(self.vocab) + 1))

    # --- matching ---------------------------------------------------------------------------
    def _word_matches(self, word: str) -> dict[int, float]:
        """Vocabulary entries matching one query word, with their score."""
        vocab = self.vocab
        scores: dict[int, float] = {}
        low = bisect.bisect_left(vocab, word)
        high = bisect.bisect_left(vocab, word + "\U0010ffff")
        for code in range(low, high):  # the word itself and words it starts
            scores[code] = SCORE_EXACT if vocab[code] == word else SCORE_PREFIX
        if len(word) >= SUBSTRING_MIN_LENGTH or not word.isascii():
            inside = pc.match_substring(self._vocab_array, word)  # a literal, not a pattern
            for code in np.flatnonzero(np.asarray(inside, dtype=bool)).tolist():
                scores.setdefault(code, SCORE_SUBSTRING)
        if len(word) >= FUZZY_MIN_LENGTH and vocab:
            similarity = process.cdist(
                [word], vocab, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_SIMILARITY,
                dtype=np.uint8, workers=1,
            )[0]
            for code in np.flatnonzero(similarity).tolist():
                fuzzy = round(float(similarity[code]) * FUZZY_WEIGHT, 1)
                if fuzzy > scores.get(code, 0.0):
                    scores[code] = fuzzy
        return scores

    def _row_scores(self, word: str) -> np.ndarray:
        """Per row, its best match for `word` (0 = none)."""
        best = np.zeros(self.size, dtype=np.float32)
        by_score: dict[float, list[int]] = {}
        for code, score in self._word_matches(word).items():
            by_score.setdefault(score, []).append(code)
        for score in sorted(by_score):  # ascending: a better match overwrites a worse one
            codes = by_score[score]
            rows = np.concatenate(
                [self._post_rows[self._starts[c]:self._starts[c + 1]] for c in codes])
            best[rows] = score
        return best

    def _relevance(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(self.size, dtype=np.float32)
        matched = np.zeros(self.size, dtype=np.int16)
        for word in words:
            scores = self._row_scores(word)
            total += scores
            matched += scores > 0
        # Every word must match; if no row has them all, rows with most of them.
        need = len(words)
        candidates = np.flatnonzero(matched >= need)
        if not len(candidates) and need > 1:
            candidates = np.flatnonzero(matched >= math.ceil(need / 2))
        return candidates, total[candidates] / need

    def _name_bonus(self, candidates: np.ndarray, query: str) -> np.ndarray:
        names = self.names.take(pa.array(candidates, pa.int64()))
        exact = np.asarray(pc.fill_null(pc.equal(names, query), False), dtype=bool)
        prefix = np.asarray(pc.fill_null(pc.starts_with(names, query), False), dtype=bool)
        contains = np.asarray(
            pc.fill_null(pc.match_substring(names, query), False), dtype=bool)
        return np.select(
            [exact, prefix, contains], [BONUS_NAME_EXACT, BONUS_NAME_PREFIX, BONUS_NAME_CONTAINS],
            0.0)

    def _page_order(self, candidates: np.ndarray, relevance: np.ndarray, top: int) -> np.ndarray:
        """Positions of the `top` best candidates, best first: relevance, then popularity, then
        name. One int64 key per candidate, so only the top needs sorting (argpartition)."""
        n = max(self.size, 1)
        key = ((relevance.astype(np.int64) * 102 + (self.popularity[candidates].astype(np.int64)
                                                    + 1)) * n
               + (n - 1 - self._name_rank[candidates]))
        if top < len(key):
            best = np.argpartition(-key, top - 1)[:top]
            return best[np.argsort(-key[best], kind="stable")]
        return np.argsort(-key, kind="stable")

    # --- the one public query ------------------------------------------------------------------
    def search(self, query: str | None, page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
        """Page `page` (1-based) of the rows matching `query`, best first. Never raises on
        input text: empty or punctuation-only input gives an empty page."""
        text = query if isinstance(query, str) else ""
        truncated = len(text) > MAX_QUERY_CHARS
        normalised = normalise(text[:MAX_QUERY_CHARS])
        words = list(dict.fromkeys(normalised.split()))[:MAX_QUERY_WORDS]
        if not words or self.size == 0:
            return _empty_page(normalised, truncated)
        candidates, relevance = self._relevance(words)
        if not len(candidates):
            return _empty_page(normalised, truncated)
        relevance = np.round(relevance + self._name_bonus(candidates, normalised))
        page_size = max(1, int(page_size))
        pages = math.ceil(len(candidates) / page_size)
        page = min(max(1, int(page)), pages)
        chosen = self._page_order(candidates, relevance, page * page_size)[(page - 1) * page_size:]
        return SearchPage(
            rows=candidates[chosen], relevance=relevance[chosen], total=len(candidates),
            page=page, pages=pages, query=normalised, truncated=truncated,
        )
