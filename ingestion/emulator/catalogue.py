"""The emulator's catalogue: artists, albums, tracks and audio features, generated
deterministically from (seed, n_artists) with realistic variety, or loaded from a CSV.

Records are compact dataclasses; `rendering.py` turns them into API-shaped JSON per app mode.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from ingestion.emulator import names
from ingestion.emulator.genre_profiles import FAMILIES, GENRE_PROFILES, GENRES, artist_offset
from ingestion.emulator.genre_profiles import draw_features as _draw_features
from ingestion.spotify_ids import derived_id

GROUP_ORDER = ("album", "single", "compilation", "appears_on")
MARKETS = ("AR", "BR", "CA", "DE", "ES", "FR", "GB", "JP", "KR", "MX", "SE", "US")
LABELS = ("Columbia", "XL Recordings", "Sub Pop", "Warp", "Domino", "Interscope", "Rimas",
          "Blue Note", "Deutsche Grammophon", "Because Music", "HYBE", "Independent")


@dataclass
class Artist:
    id: str
    name: str
    genres: list[str]
    profile_genres: list[str]  # what the features are drawn from (an artist may list no genre)
    popularity: int
    followers: int
    images: list[dict]


@dataclass
class Album:
    id: str
    name: str
    album_type: str  # album | single | compilation
    artist_ids: list[str]
    release_date: str
    release_date_precision: str  # year | month | day
    images: list[dict]
    label: str
    popularity: int
    upc: str
    markets: tuple[str, ...]
    track_ids: list[str] = field(default_factory=list)


@dataclass
class Track:
    id: str
    name: str
    artist_ids: list[str]
    album_id: str
    disc_number: int
    track_number: int
    duration_ms: int
    explicit: bool
    popularity: int
    isrc: str
    preview_url: str | None
    features: dict | None  # None: Spotify has no audio features for this track


def normalise_name(text: str) -> str:
    """Case- and accent-insensitive form of a name, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@dataclass
class Catalogue:
    artists: dict[str, Artist] = field(default_factory=dict)
    albums: dict[str, Album] = field(default_factory=dict)
    tracks: dict[str, Track] = field(default_factory=dict)
    # artist id -> [(album id, album_group)] in Spotify's order (group, then newest first)
    releases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def index(self) -> Catalogue:
        """Build the per-artist release lists (call after adding albums and tracks)."""
        groups: dict[str, dict[str, str]] = {a: {} for a in self.artists}
        for album in self.albums.values():
            for artist_id in album.artist_ids:
                groups[artist_id][album.id] = album.album_type
            for track_id in album.track_ids:
                for artist_id in self.tracks[track_id].artist_ids:
                    groups[artist_id].setdefault(album.id, "appears_on")
        self.releases = {}
        for artist_id, albums in groups.items():
            ordered = sorted(
                albums.items(),
                key=lambda kv: (
                    GROUP_ORDER.index(kv[1]),
                    _negated_date(self.albums[kv[0]].release_date),
                    kv[0],
                ),
            )
            self.releases[artist_id] = ordered
        return self

    def search_artists(self, query: str) -> list[Artist]:
        """Artists ranked like a search engine: exact name, then close names, popular first."""
        text = query.strip()
        if text.lower().startswith("artist:"):
            text = text[len("artist:") :]
        wanted = normalise_name(text.strip().strip('"'))
        if not wanted:
            return []
        tokens = wanted.split()
        scored = []
        for artist in self.artists.values():
            name = normalise_name(artist.name)
            name_tokens = name.split()
            exact = name == wanted
            prefix = all(any(nt.startswith(t) for nt in name_tokens) for t in tokens)
            score = fuzz.WRatio(wanted, name)
            if exact or prefix or score >= 70:
                scored.append((not exact, -score, -artist.popularity, artist.id, artist))
        scored.sort(key=lambda row: row[:4])
        return [row[-1] for row in scored]

    @property
    def genres(self) -> set[str]:
        return {g for a in self.artists.values() for g in a.genres}


def _negated_date(date: str) -> tuple[int, ...]:
    parts = [int(p) for p in date.split("-")] + [1] * (3 - date.count("-") - 1)
    return tuple(-p for p in parts)


def image_list(rng: random.Random, key: str, missing_share: float) -> list[dict]:
    if rng.random() < missing_share:
        return []
    image_id = derived_id("image", key).lower()
    return [
        {"url": f"https://i.scdn.co/image/ab67616d0000{size:04d}{image_id}", "height": size,
         "width": size}
        for size in (640, 300, 64)
    ]


def _release_date(rng: random.Random) -> tuple[str, str]:
    year = rng.randint(1958, 2026)
    roll = rng.random()
    if roll < 0.12:
        return f"{year}", "year"
    month = rng.randint(1, 12)
    if roll < 0.20:
        return f"{year}-{month:02d}", "month"
    return f"{year}-{month:02d}-{rng.randint(1, 28):02d}", "day"


def _artist_genres(rng: random.Random) -> tuple[list[str], list[str]]:
    primary = rng.choice(GENRES)
    related = [g for g in FAMILIES[GENRE_PROFILES[primary].family] if g != primary]
    count = rng.choices([0, 1, 2, 3], weights=[12, 40, 33, 15])[0]
    listed = [primary, *rng.sample(related, min(len(related), max(0, count - 1)))][:count]
    # With no listed genre the features still follow a (hidden) style.
    return listed, listed or [primary]


def _unique_name(rng: random.Random, taken: set[str], index: int) -> str:
    if index < len(names.WELL_KNOWN_NAMES):
        return names.WELL_KNOWN_NAMES[index]
    for _ in range(50):
        candidate = names.artist_name(rng)
        if normalise_name(candidate) not in taken:
            return candidate
    return f"{names.artist_name(rng)} {index}"


def generate_catalogue(n_artists: int, seed: int = 42) -> Catalogue:
    """A catalogue of `n_artists` artists with their releases; same inputs -> same catalogue."""
    if n_artists < 1:
        raise ValueError("n_artists must be at least 1")
    rng = random.Random(f"spotify-emulator:{seed}")  # noqa: S311 (simulation, not crypto)
    cat = Catalogue()
    offsets: dict[str, tuple[float, ...]] = {}
    taken: set[str] = set()
    for i in range(n_artists):
        name = _unique_name(rng, taken, i)
        taken.add(normalise_name(name))
        listed, profile = _artist_genres(rng)
        artist_id = derived_id(seed, "artist", i)
        cat.artists[artist_id] = Artist(
            id=artist_id,
            name=name,
            genres=listed,
            profile_genres=profile,
            popularity=int(rng.betavariate(2, 3) * 100),
            followers=int(10 ** rng.uniform(2, 7.5)),
            images=image_list(rng, artist_id, missing_share=0.10),
        )
        offsets[artist_id] = artist_offset(rng)
    pool = _ArtistPool(list(cat.artists))
    for artist_id in pool.ids:
        _generate_releases(rng, cat, artist_id, pool, offsets, seed)
    return cat.index()


class _ArtistPool:
    """The catalogue's artist ids, to draw guest artists from "everyone but these".

    A draw from `range(n)` makes the same random calls as a draw from a list of n items, so a
    seed gives the same catalogue as copying the list of the others at every draw did, without
    that O(artists) copy per track (which made large catalogues quadratic to generate).
    """

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.position = {artist_id: i for i, artist_id in enumerate(ids)}

    def _excluded_positions(self, excluded: list[str]) -> list[int]:
        return sorted({self.position[artist_id] for artist_id in excluded})

    def _other(self, index: int, skipped: list[int]) -> str:
        """The `index`-th id of the list without the `skipped` positions (sorted)."""
        for position in skipped:
            if position <= index:
                index += 1
        return self.ids[index]

    def choice(self, rng: random.Random, excluded: list[str]) -> str:
        skipped = self._excluded_positions(excluded)
        return self._other(rng.choice(range(len(self.ids) - len(skipped))), skipped)

    def sample(self, rng: random.Random, excluded: list[str], most: Callable[[], int]
               ) -> list[str]:
        """Up to most() distinct other ids (most() is drawn after the exclusion, as before)."""
        skipped = self._excluded_positions(excluded)
        n_others = len(self.ids) - len(skipped)
        picks = rng.sample(range(n_others), min(n_others, most()))
        return [self._other(i, skipped) for i in picks]


def _release_count(rng: random.Random) -> int:
    if rng.random() < 0.08:  # a prolific artist: many singles, pages of artist albums
        return rng.randint(12, 26)
    return rng.choices([1, 2, 3, 4, 5, 6, 8], weights=[10, 18, 22, 18, 14, 10, 8])[0]


def _track_count(rng: random.Random, album_type: str) -> int:
    if album_type == "single":
        return rng.randint(1, 3)
    if album_type == "compilation":
        # Some compilations are longer than one page (50) of album tracks.
        return rng.randint(51, 68) if rng.random() < 0.25 else rng.randint(12, 24)
    return rng.randint(7, 16)


def _generate_releases(
    rng: random.Random,
    cat: Catalogue,
    artist_id: str,
    pool: _ArtistPool,
    offsets: dict[str, tuple[float, ...]],
    seed: int,
) -> None:
    for n in range(_release_count(rng)):
        album_type = rng.choices(["album", "single", "compilation"], weights=[45, 45, 10])[0]
        album_artists = [artist_id]
        if len(pool.ids) > 1 and rng.random() < 0.07:
            album_artists.append(pool.choice(rng, excluded=[artist_id]))
        album_id = derived_id(seed, "album", artist_id, n)
        date, precision = _release_date(rng)
        markets = MARKETS if rng.random() < 0.85 else tuple(rng.sample(MARKETS, 4))
        album = Album(
            id=album_id,
            name=names.title(rng, 1, 3),
            album_type=album_type,
            artist_ids=album_artists,
            release_date=date,
            release_date_precision=precision,
            images=image_list(rng, album_id, missing_share=0.05),
            label=rng.choice(LABELS),
            popularity=int(rng.betavariate(2, 4) * 100),
            upc=f"{rng.randrange(10**11, 10**12)}",
            markets=markets,
        )
        cat.albums[album_id] = album
        for t in range(_track_count(rng, album_type)):
            track = _generate_track(rng, cat, album, t, pool, offsets, seed)
            cat.tracks[track.id] = track
            album.track_ids.append(track.id)


def _generate_track(
    rng: random.Random,
    cat: Catalogue,
    album: Album,
    position: int,
    pool: _ArtistPool,
    offsets: dict[str, tuple[float, ...]],
    seed: int,
) -> Track:
    track_id = derived_id(seed, "track", album.id, position)
    credits = list(album.artist_ids)
    if rng.random() < 0.22:  # featured artists: several artists per track
        credits += pool.sample(rng, excluded=credits, most=lambda: rng.randint(1, 2))
    primary = cat.artists[credits[0]]
    duration = int(min(900_000, max(45_000, rng.gauss(215_000, 55_000))))
    urban = any(GENRE_PROFILES[g].family == "urban" for g in primary.profile_genres)
    features = None
    if rng.random() >= 0.06:  # ~6% of tracks have no audio features at all
        features = _draw_features(rng, primary.profile_genres, offsets[primary.id], duration)
    return Track(
        id=track_id,
        name=names.title(rng),
        artist_ids=credits,
        album_id=album.id,
        disc_number=1 if position < 40 else 2,
        track_number=position + 1 if position < 40 else position - 39,
        duration_ms=duration,
        explicit=rng.random() < (0.45 if urban else 0.08),
        popularity=int(rng.betavariate(2, 4) * 100),
        isrc=f"QZ{rng.randrange(10**9, 10**10)}",
        preview_url=None if rng.random() < 0.9 else f"https://p.scdn.co/mp3-preview/{track_id}",
        features=features,
    )
