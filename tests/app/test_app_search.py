"""Search: normalisation, matching kinds, ranking, pagination, and a fuzz test of odd input."""

from __future__ import annotations

import random

import numpy as np
import pytest
from app_catalogue import INTERLUDES, _tables

from app.catalogue import Catalogue
from app.search_index import MAX_QUERY_CHARS, SearchIndex, normalise


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    t = _tables(development=False)
    return Catalogue.build(t["mart_track_search"], t["dim_artist"], t["dim_album"],
                           t["bridge_album_artist"], t["dim_track"])


def names(catalogue: Catalogue, kind: str, query: str, page: int = 1) -> list[str]:
    result = catalogue.indexes[kind].search(query, page=page)
    column = {"tracks": "track_name", "artists": "artist_name", "albums": "album_name"}[kind]
    table = {"tracks": catalogue.tracks, "artists": catalogue.artists,
             "albums": catalogue.albums}[kind]
    return [table.column(column)[int(r)].as_py() for r in result.rows]


@pytest.mark.parametrize(("raw", "expected"), [
    ("Björk — Jóga!", "bjork joga"),
    ("SIGUR RÓS", "sigur ros"),
    ("Ærøskøbing Straße", "aeroskobing strasse"),
    ("Motörhead's  Ace-of-Spades", "motorhead s ace of spades"),
    ("Đorđe Balašević", "dorde balasevic"),
    ("東京事変", "東京事変"),
    ("'; DROP TABLE tracks; --", "drop table tracks"),
    ("", ""),
    (None, ""),
])
def test_normalise_folds_case_accents_and_punctuation(raw, expected):
    assert normalise(raw) == expected


def test_accent_and_case_insensitive(catalogue):
    assert names(catalogue, "artists", "bjork")[0] == "Björk"
    assert names(catalogue, "artists", "BJÖRK")[0] == "Björk"
    assert names(catalogue, "artists", "motorhead")[0] == "Motörhead"
    assert names(catalogue, "albums", "agaetis byrjun")[0] == "Ágætis byrjun"
    assert names(catalogue, "tracks", "staralfur") == ["Starálfur"]
    assert names(catalogue, "artists", "Beyonce")[0] == "Beyoncé"


def test_partial_prefix_and_substring(catalogue):
    assert names(catalogue, "tracks", "bachel") == ["Bachelorette"]  # typing in progress
    assert names(catalogue, "tracks", "lucky")[0].startswith("Get Lucky")  # a word inside
    assert "Svefn-g-englar" in names(catalogue, "tracks", "englar")
    assert names(catalogue, "artists", "東京")[0] == "東京事変"  # non-Latin prefix


def test_fuzzy_matches_typos(catalogue):
    assert names(catalogue, "artists", "daft pnuk")[0] == "Daft Punk"
    assert names(catalogue, "tracks", "formaton")[0] == "Formation"
    assert names(catalogue, "artists", "pharel williams")[0] == "Pharrell Williams"


def test_multi_artist_track_found_by_each_artist(catalogue):
    for artist in ("daft punk", "pharrell", "nile rodgers"):
        assert any(n.startswith("Get Lucky") for n in names(catalogue, "tracks", artist)), artist


def test_ranked_by_relevance_then_popularity(catalogue):
    # "ace of spades": the track of that name first, then Motörhead's other track (album match)
    found = names(catalogue, "tracks", "ace of spades")
    assert found[:2] == ["Ace of Spades", "Jailbait"]
    # Equal relevance (every Björk track matches the artist): most popular first.
    result = catalogue.indexes["tracks"].search("bjork")
    popularity = catalogue.indexes["tracks"].popularity[result.rows]
    assert len(set(result.relevance)) == 1
    assert list(popularity) == sorted(popularity, reverse=True)
    # Exact name beats a better-known partial match.
    assert names(catalogue, "tracks", "hold up")[0] == "Hold Up"


def test_pagination(catalogue):
    index = catalogue.indexes["tracks"]
    first = index.search("interlude", page=1, page_size=20)
    second = index.search("interlude", page=2, page_size=20)
    beyond = index.search("interlude", page=99, page_size=20)
    assert (first.total, first.pages) == (INTERLUDES, 2)
    assert len(first.rows) == 20 and len(second.rows) == INTERLUDES - 20
    assert not set(first.rows) & set(second.rows)
    assert beyond.page == 2 and list(beyond.rows) == list(second.rows)
    assert index.search("interlude", page=0).page == 1


@pytest.mark.parametrize("query", ["", "   ", "!!!", "—", "\x00", "'\"`;"])
def test_empty_and_punctuation_only_queries_give_empty_pages(catalogue, query):
    for kind in ("tracks", "artists", "albums"):
        result = catalogue.indexes[kind].search(query)
        assert result.empty and result.total == 0 and len(result.rows) == 0


def test_long_query_is_cut_and_flagged(catalogue):
    result = catalogue.indexes["tracks"].search("formation " * 500)
    assert result.truncated
    assert len(result.query) <= MAX_QUERY_CHARS
    assert names(catalogue, "tracks", "formation " * 500)[0] == "Formation"


def test_no_match_gives_empty_page(catalogue):
    assert catalogue.indexes["tracks"].search("zzqxv").empty


def test_empty_index():
    index = SearchIndex([], [], np.array([]))
    assert index.search("anything").empty


ODD_STRINGS = [
    "'", '"', "''", "\\", "%", "_", "%_%", "*", "?", ".*", "(", ")", "[", "]", "{", "}", "^$",
    "|", "\\d+", "(?i)", "a{1000000}", "((((((((((", "'; DROP TABLE gold.mart_track_search; --",
    "\" OR 1=1 --", "' OR ''='", "1; SELECT * FROM users", "UNION SELECT NULL,NULL--",
    "${jndi:ldap://x}", "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd", "%00",
    "\x00", "\x00bjork", "\t\n\r", "\u200b", "\u202eevil", "\ufeff", "\ud7ff", "🎵🎸🔥",
    "👩‍👩‍👧‍👦", "Ω≈ç√∫", "ß", "İ", "ǅ", "ﬁ", "Ⅻ", "①", "٣", "中文歌曲", "日本語", "한국어",
    "עברית", "العربية", "ऄ", "ÅÅÅÅ", "e\u0301\u0301\u0301", "a" * 10_000, "ab " * 3_000,
    " " * 500, "-" * 300, "🎵" * 1_000, "null", "None", "NaN", "undefined", "true", "0", "-1",
    "1e309", "björk" * 50,
]


def _random_strings(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    alphabet = ("abcdefghijklmnopqrstuvwxyzÀÉÎÕÜßæøłđ東京事変 '\"%_;\\-—()[]{}*?+.^$|\x00\t\n"
                "🎵\u0301\u200b")
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
            for _ in range(count)]


def test_fuzz_odd_strings_never_raise(catalogue):
    queries = [(q, (1, 2, -5)) for q in ODD_STRINGS] + [(q, (1,)) for q in _random_strings(300)]
    assert len(queries) > 350
    for query, pages in queries:
        for kind in ("tracks", "artists", "albums"):
            index = catalogue.indexes[kind]
            for page in pages:
                result = index.search(query, page=page)
                assert result.total >= len(result.rows)
                assert ((result.rows >= 0) & (result.rows < index.size)).all()
                assert len(result.rows) <= 20
                assert len(result.query) <= MAX_QUERY_CHARS * 4  # NFKD may expand


def test_search_never_matches_by_pattern(catalogue):
    # Regex/LIKE metacharacters are text: ".*" or "%" does not match everything.
    for query in (".*", "%", "_", "*"):
        assert catalogue.indexes["tracks"].search(query).empty
