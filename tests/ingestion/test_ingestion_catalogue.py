"""The generated catalogue: deterministic, varied like the real one, and with audio features that
follow per-genre profiles (so similarity on generated data means something). Plus CSV seeding."""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

import pytest
import requests

from ingestion.crawl.seeds import classify
from ingestion.emulator import (
    CatalogueCsvError,
    catalogue_from_csv,
    generate_catalogue,
    running_emulator,
)
from ingestion.emulator.genre_profiles import UNIT_FEATURES
from ingestion.spotify_ids import derived_id, is_spotify_id, parse_spotify_ref

ARTIST_ID = "4tZwfgrHOc3mvqYlEYSvVi"


def test_same_seed_and_size_give_the_same_catalogue():
    one, two = generate_catalogue(15, seed=9), generate_catalogue(15, seed=9)
    assert list(one.artists) == list(two.artists)
    assert [(t.id, t.name, t.features) for t in one.tracks.values()] == [
        (t.id, t.name, t.features) for t in two.tracks.values()
    ]
    other = generate_catalogue(15, seed=10)
    assert set(other.artists).isdisjoint(one.artists)
    assert all(is_spotify_id(i) for i in itertools.chain(one.artists, one.albums, one.tracks))


@pytest.mark.parametrize(("ref", "expected"), [
    (ARTIST_ID, ARTIST_ID),
    (f" spotify:artist:{ARTIST_ID} ", ARTIST_ID),
    (f"https://open.spotify.com/artist/{ARTIST_ID}", ARTIST_ID),
    (f"https://open.spotify.com/intl-de/artist/{ARTIST_ID}?si=0a1b2c", ARTIST_ID),
    (f"https://open.spotify.com/artist/{ARTIST_ID}/", ARTIST_ID),
    (f"http://open.spotify.com/artist/{ARTIST_ID}#top", ARTIST_ID),
    # Longer than 22 characters: malformed in every form, never cut to its first 22.
    (f"{ARTIST_ID}XX", None),
    (f"spotify:artist:{ARTIST_ID}XX", None),
    (f"https://open.spotify.com/artist/{ARTIST_ID}XX", None),
    (f"https://open.spotify.com/intl-de/artist/{ARTIST_ID}XX?si=0a1b2c", None),
    (f"https://open.spotify.com/artist/{ARTIST_ID}-x", None),
    (f"https://open.spotify.com/album/{ARTIST_ID}", None),  # another kind
])
def test_spotify_refs_give_the_whole_id_or_nothing(ref, expected):
    assert parse_spotify_ref(ref, "artist") == expected


def test_a_seed_url_with_a_too_long_id_is_reported_malformed_like_its_uri():
    for entry in (f"spotify:artist:{ARTIST_ID}XX",
                  f"https://open.spotify.com/artist/{ARTIST_ID}XX"):
        seed = classify(entry)
        assert seed.artist_id is None and seed.problem.startswith("malformed Spotify artist")


def test_guest_artist_draws_equal_draws_from_the_copied_list_of_the_others():
    """The pool draws "anyone but these" without copying the id list; a seed must still give
    the catalogue that drawing from the copied list gave (random.choice/sample on a list)."""
    from ingestion.emulator.catalogue import _ArtistPool

    ids = [f"a{i}" for i in range(40)]
    pool = _ArtistPool(ids)
    cases = random.Random(5)
    for _ in range(300):
        excluded = cases.sample(ids, cases.randint(1, 4))
        others = [a for a in ids if a not in excluded]
        seed = cases.random()
        listed, pooled = random.Random(seed), random.Random(seed)
        assert pool.choice(pooled, excluded) == listed.choice(others)
        want = listed.sample(others, min(len(others), listed.randint(1, 2)))
        assert pool.sample(pooled, excluded, most=lambda r=pooled: r.randint(1, 2)) == want
        assert listed.random() == pooled.random()  # the same number of draws was made
    tiny = _ArtistPool(["x", "y"])
    assert tiny.sample(random.Random(1), ["x", "y"], most=lambda: 2) == []


def test_catalogue_has_realistic_variety():
    cat = generate_catalogue(60, seed=42)
    tracks, albums, artists = cat.tracks.values(), cat.albums.values(), cat.artists.values()
    assert sum(len(t.artist_ids) > 1 for t in tracks) > 0.1 * len(tracks)
    assert any(len(t.artist_ids) >= 3 for t in tracks)
    genre_counts = {len(a.genres) for a in artists}
    assert 0 in genre_counts and max(genre_counts) >= 2
    assert {a.album_type for a in albums} == {"album", "single", "compilation"}
    assert {g for rel in cat.releases.values() for _, g in rel} == {
        "album", "single", "compilation", "appears_on"}
    assert {a.release_date_precision for a in albums} == {"year", "month", "day"}
    for album in albums:
        assert len(album.release_date.split("-")) == {"year": 1, "month": 2, "day": 3}[
            album.release_date_precision]
    assert any(not a.name.isascii() for a in artists)
    assert any(not a.images for a in artists) and any(not a.images for a in albums)
    assert 0 < sum(t.features is None for t in tracks) < 0.15 * len(tracks)
    assert any(len(a.track_ids) > 50 for a in albums)  # album tracks beyond one page
    assert any(len(r) > 10 for r in cat.releases.values())  # beyond a development-mode page
    assert len({a.name.casefold() for a in artists}) == len(cat.artists)


def _vector(features: dict) -> list[float]:
    return [features[name] for name in UNIT_FEATURES] + [features["tempo"] / 200.0]


def _distance(a: list[float], b: list[float]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def test_artists_sharing_a_genre_have_closer_audio_features_than_random_pairs():
    cat = generate_catalogue(120, seed=42)
    rng = random.Random(0)
    by_artist = {
        a.id: [_vector(cat.tracks[t].features) for alb, _ in cat.releases[a.id]
               for t in cat.albums[alb].track_ids
               if cat.tracks[t].features and cat.tracks[t].artist_ids[0] == a.id]
        for a in cat.artists.values()
    }
    listed = [a for a in cat.artists.values() if a.genres and by_artist[a.id]]
    same, random_pairs = [], []
    for _ in range(3000):
        a, b = rng.sample(listed, 2)
        pair = _distance(rng.choice(by_artist[a.id]), rng.choice(by_artist[b.id]))
        random_pairs.append(pair)
        if set(a.genres) & set(b.genres):
            same.append(pair)
    assert len(same) > 50
    mean_same, mean_random = sum(same) / len(same), sum(random_pairs) / len(random_pairs)
    # Measured ~0.6 of the random-pair distance; 0.8 leaves room for other seeds.
    assert mean_same < 0.8 * mean_random


def _write_csv(path: Path, rows: list[dict]) -> Path:
    columns = ["", "track_id", "artists", "album_name", "track_name", "popularity",
               "duration_ms", "explicit", "danceability", "energy", "key", "loudness", "mode",
               "speechiness", "acousticness", "instrumentalness", "liveness", "valence",
               "tempo", "time_signature", "track_genre"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"": i, **row})
    return path


def _row(track_id: str, artists: str, album: str, name: str, genre: str, energy: float) -> dict:
    return {"track_id": track_id, "artists": artists, "album_name": album, "track_name": name,
            "popularity": 50, "duration_ms": 200000, "explicit": "False",
            "danceability": 0.5, "energy": energy, "key": 5, "loudness": -6.0, "mode": 1,
            "speechiness": 0.05, "acousticness": 0.1, "instrumentalness": 0.0,
            "liveness": 0.1, "valence": 0.4, "tempo": 120.0, "time_signature": 4,
            "track_genre": genre}


def test_csv_catalogue_is_served_with_ids_derived_from_names(tmp_path):
    path = _write_csv(tmp_path / "tracks.csv", [
        _row("5SuOikwiRyPMVoIQDJUgSV", "Gen Hoshino", "Comedy", "Comedy", "acoustic", 0.46),
        _row("4qPNDBW1i3p13qLCt0Ki3A", "Ben Woodward;Gen Hoshino", "Ghost", "Ghost", "pop", 0.2),
        _row("5SuOikwiRyPMVoIQDJUgSV", "Gen Hoshino", "Comedy", "Comedy", "j-pop", 0.46),
    ])
    cat = catalogue_from_csv(path)
    assert len(cat.tracks) == 2  # the dataset repeats a track once per genre
    gen = cat.artists[derived_id("csv-artist", "gen hoshino")]
    assert sorted(gen.genres) == ["acoustic", "j-pop", "pop"]
    ghost = cat.tracks["4qPNDBW1i3p13qLCt0Ki3A"]
    assert [cat.artists[a].name for a in ghost.artist_ids] == ["Ben Woodward", "Gen Hoshino"]
    assert catalogue_from_csv(path).albums.keys() == cat.albums.keys()  # stable ids
    with running_emulator(cat) as handle:
        token = requests.post(handle.token_url, data={"grant_type": "client_credentials",
                              "client_id": "a", "client_secret": "b"}, timeout=5).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        got = requests.get(f"{handle.api_url}audio-features/{ghost.id}", headers=headers,
                           timeout=5).json()
    assert got["energy"] == 0.2 and got["key"] == 5 and got["id"] == ghost.id


def test_csv_with_missing_columns_names_them(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("track_id,artists\n1,x\n", encoding="utf-8")
    with pytest.raises(CatalogueCsvError, match=r"missing columns \[.*'album_name'"):
        catalogue_from_csv(path)
