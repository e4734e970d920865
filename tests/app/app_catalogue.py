"""A small, hand-made gold catalogue written as real Delta tables (the app's test data).

It has what the pages must cope with: accents and non-Latin names, a track credited to three
artists (one of them only known from the credit), a track without audio features, albums
without cover art, dates at year/month/day precision, and enough "Interlude" tracks to need a
second page of search results. The analytics marts are derived here with the dbt models'
definitions. `development=True` gives development-mode data: no audio features, popularity,
followers, labels or genres.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from app.gold_contract import FEATURE_COLUMNS, SCHEMAS
from app.search_index import normalise
from lakehouse.settings import Settings

IMG = "https://i.scdn.co/image/"
PREVIEW = "https://p.scdn.co/mp3-preview/"

ARTISTS = [
    # id, name, genres, popularity, followers, image
    ("a_bjork", "Björk", ["art pop", "icelandic pop"], 70, 3_000_000, IMG + "bjork"),
    ("a_sigur", "Sigur Rós", ["icelandic rock", "post-rock"], 60, 1_500_000, None),
    ("a_daft", "Daft Punk", ["electro", "french house"], 85, 9_000_000, IMG + "daft"),
    ("a_pharrell", "Pharrell Williams", ["pop"], 80, 5_000_000, IMG + "pharrell"),
    ("a_beyonce", "Beyoncé", ["pop", "r&b"], 90, 30_000_000, IMG + "beyonce"),
    ("a_motor", "Motörhead", ["hard rock", "metal"], 65, 2_000_000, IMG + "motor"),
    ("a_cibo", "東京事変", ["j-rock"], 55, 800_000, None),
    ("a_various", "Various Interludes", [], 10, 1_000, None),
]
CREDIT_ONLY = {"a_nile": "Nile Rodgers"}  # credited on a track, never crawled

ALBUMS = [
    # id, name, artists, release date, precision, label, popularity, image, type
    ("al_homo", "Homogenic", ["a_bjork"], "1997-09-22", "day", "One Little Indian", 62,
     IMG + "homogenic", "album"),
    ("al_agaetis", "Ágætis byrjun", ["a_sigur"], "1999", "year", "Smekkleysa", 58, None,
     "album"),
    ("al_ram", "Random Access Memories", ["a_daft"], "2013-05", "month", "Columbia", 80,
     IMG + "ram", "album"),
    ("al_lemonade", "Lemonade", ["a_beyonce"], "2016-04-23", "day", "Columbia", 85,
     IMG + "lemonade", "album"),
    ("al_ace", "Ace of Spades", ["a_motor"], "1980-11-08", "day", "Bronze", 60, IMG + "ace",
     "album"),
    ("al_kyoiku", "教育", ["a_cibo"], "2004-11-25", "day", "Toshiba EMI", 40, None, "album"),
    ("al_interludes", "Interludes", ["a_various"], "2020-01-01", "day", None, 5, None,
     "compilation"),
]

# Audio styles (as in tests/ml): a track = style + a small offset.
STYLES = {
    "electronic": dict(danceability=0.80, energy=0.75, valence=0.70, acousticness=0.05,
                       instrumentalness=0.30, speechiness=0.06, liveness=0.10, loudness=-6.0,
                       tempo=116.0),
    "rock": dict(danceability=0.30, energy=0.95, valence=0.40, acousticness=0.02,
                 instrumentalness=0.05, speechiness=0.08, liveness=0.20, loudness=-4.0,
                 tempo=140.0),
    "ambient": dict(danceability=0.20, energy=0.25, valence=0.15, acousticness=0.80,
                    instrumentalness=0.85, speechiness=0.04, liveness=0.10, loudness=-16.0,
                    tempo=80.0),
    "pop": dict(danceability=0.85, energy=0.65, valence=0.80, acousticness=0.15,
                instrumentalness=0.00, speechiness=0.10, liveness=0.12, loudness=-5.5,
                tempo=120.0),
}

TRACKS = [
    # id, name, artists, album, style (None = no features), popularity, preview, explicit
    ("t_joga", "Jóga", ["a_bjork"], "al_homo", "ambient", 60, PREVIEW + "joga", False),
    ("t_bachelorette", "Bachelorette", ["a_bjork"], "al_homo", "ambient", 55, None, False),
    ("t_hunter", "Hunter", ["a_bjork"], "al_homo", None, 50, None, False),
    ("t_svefn", "Svefn-g-englar", ["a_sigur"], "al_agaetis", "ambient", 52, None, False),
    ("t_staralfur", "Starálfur", ["a_sigur"], "al_agaetis", "ambient", 57, None, False),
    ("t_getlucky", "Get Lucky (feat. Pharrell Williams & Nile Rodgers)",
     ["a_daft", "a_pharrell", "a_nile"], "al_ram", "electronic", 88, PREVIEW + "lucky", False),
    ("t_instant", "Instant Crush", ["a_daft"], "al_ram", "electronic", 75, None, False),
    ("t_lose", "Lose Yourself to Dance", ["a_daft", "a_pharrell"], "al_ram", "electronic", 70,
     None, False),
    ("t_formation", "Formation", ["a_beyonce"], "al_lemonade", "pop", 82, None, True),
    ("t_holdup", "Hold Up", ["a_beyonce"], "al_lemonade", "pop", 78, None, True),
    ("t_ace", "Ace of Spades", ["a_motor"], "al_ace", "rock", 72, None, False),
    ("t_jailbait", "Jailbait", ["a_motor"], "al_ace", "rock", 45, None, False),
    ("t_shuraba", "修羅場", ["a_cibo"], "al_kyoiku", "rock", 48, None, False),
    *[(f"t_interlude_{i:02d}", f"Interlude {i}", ["a_various"], "al_interludes", "ambient",
       i % 7, None, False) for i in range(1, 31)],
]
INTERLUDES = 30


@dataclass(frozen=True)
class BuiltCatalogue:
    settings: Settings
    tables: dict[str, pa.Table]


def _date(text: str, precision: str) -> dt.date:
    parts = [int(p) for p in text.split("-")] + [1, 1]
    return dt.date(parts[0], parts[1] if precision != "year" else 1,
                   parts[2] if precision == "day" else 1)


def _strip_accents(text: str) -> str:
    """dbt's search_text: lower case, Latin accents removed, punctuation kept."""
    return text.lower() if text.isascii() else normalise(text)


def _tables(development: bool) -> dict[str, pa.Table]:
    artist_name = {a[0]: a[1] for a in ARTISTS} | CREDIT_ONLY
    artist_genres = {a[0]: ([] if development else a[2]) for a in ARTISTS}
    albums = {a[0]: a for a in ALBUMS}
    recommender_rows, search_rows, dim_track = [], [], []
    for number, (tid, name, credits, album_id, style, popularity, preview, explicit) in \
            enumerate(TRACKS, start=1):
        album = albums[album_id]
        release = _date(album[3], album[4])
        genres = sorted({g for a in credits for g in artist_genres.get(a, [])})
        features = {} if (style is None or development) else {
            k: v + (number % 5) * 0.01 for k, v in STYLES[style].items()}
        row = {
            "track_id": tid, "track_name": name, "artist_ids": credits,
            "artist_names": [artist_name[a] for a in credits], "primary_artist_id": credits[0],
            "album_id": album_id, "album_name": album[1], "release_year": release.year,
            "explicit": explicit, "duration_ms": 180_000 + number * 7_000,
            "popularity": None if development else popularity, "genres": genres,
            **{c: features.get(c) for c in FEATURE_COLUMNS},
            "features_source": "api" if features else None,
            "has_audio_features": bool(features),
        }
        if features:
            row.update({"key": number % 12, "mode": number % 2, "time_signature": 4})
        recommender_rows.append(row)
        joined = ", ".join(row["artist_names"])
        search_rows.append({
            **row, "album_image_url": album[7], "release_date": release,
            "release_date_precision": album[4], "preview_url": preview,
            "artist_names_joined": joined,
            "search_text": _strip_accents(f"{name} — {joined} — {album[1]}"),
        })
        dim_track.append({"track_id": tid, "track_name": name, "album_id": album_id,
                          "primary_artist_id": credits[0], "artist_count": len(credits),
                          "disc_number": 1, "track_number": number,
                          "duration_ms": row["duration_ms"], "explicit": explicit,
                          "popularity": row["popularity"], "preview_url": preview})
    dim_artist = [
        {"artist_id": a[0], "artist_name": a[1], "genres": artist_genres[a[0]],
         "genre_count": len(artist_genres[a[0]]),
         "popularity": None if development else a[3],
         "followers": None if development else a[4], "image_url": a[5],
         "spotify_url": f"https://open.spotify.com/artist/{a[0]}", "is_crawled": True}
        for a in ARTISTS
    ] + [{"artist_id": k, "artist_name": v, "genres": None, "is_crawled": False}
         for k, v in CREDIT_ONLY.items()]
    dim_album = [
        {"album_id": a[0], "album_name": a[1], "album_type": a[8], "primary_artist_id": a[2][0],
         "artist_count": len(a[2]), "total_tracks": sum(t[3] == a[0] for t in TRACKS),
         "tracks_in_catalogue": sum(t[3] == a[0] for t in TRACKS),
         "release_date": _date(a[3], a[4]), "release_date_precision": a[4],
         "release_date_raw": a[3], "release_year": int(a[3][:4]),
         "label": None if development else a[5], "popularity": None if development else a[6],
         "image_url": a[7]}
        for a in ALBUMS
    ]
    bridge = [{"album_id": a[0], "artist_id": artist, "artist_position": i + 1,
               "is_primary": i == 0} for a in ALBUMS for i, artist in enumerate(a[2])]
    tables = {
        "mart_recommender_features": recommender_rows, "mart_track_search": search_rows,
        "dim_track": dim_track, "dim_artist": dim_artist, "dim_album": dim_album,
        "bridge_album_artist": bridge,
    }
    out = {name: pa.Table.from_pylist(rows, schema=SCHEMAS[name]) for name, rows in tables.items()}
    out.update(_analytics(out))
    return out


def _analytics(t: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The analytics marts, computed with the dbt models' definitions."""
    tracks = t["mart_track_search"].to_pandas()
    artists = t["dim_artist"].to_pandas()
    albums = t["dim_album"].to_pandas()
    features = tracks[tracks["has_audio_features"]]
    crawled = artists[artists["is_crawled"]]
    counts = {
        "artists": len(crawled), "credited_artists_not_crawled": int((~artists.is_crawled).sum()),
        "artists_without_genres": int((crawled["genre_count"] == 0).sum()),
        "albums": len(albums), "tracks": len(tracks),
        "tracks_with_audio_features": len(features),
        "tracks_with_api_features": int((features["features_source"] == "api").sum()),
        "tracks_with_imported_features": 0,
        "genres": len({g for gs in crawled["genres"] for g in gs}),
        "labels": albums["label"].nunique(),
    }
    credits = tracks[["track_id", "artist_ids"]].explode("artist_ids").rename(
        columns={"artist_ids": "artist_id"})
    summary = []
    for artist in artists.itertuples():
        summary.append({
            "artist_id": artist.artist_id, "artist_name": artist.artist_name,
            "is_crawled": artist.is_crawled,
            "genres": list(artist.genres) if artist.genres is not None else None,
            "popularity": None if pd.isna(artist.popularity) else int(artist.popularity),
            "followers": None if pd.isna(artist.followers) else int(artist.followers),
            "album_count": int(sum(artist.artist_id in a[2] for a in ALBUMS)),
            "primary_album_count": int(sum(artist.artist_id == a[2][0] for a in ALBUMS)),
            "track_count": int((credits["artist_id"] == artist.artist_id).sum()),
        })
    summary_frame = pd.DataFrame(summary)
    for metric in ("popularity", "followers"):
        ranks = summary_frame[metric].rank(ascending=False, method="first")
        summary_frame[f"{metric}_rank"] = [None if pd.isna(r) else int(r) for r in ranks]
    exploded = tracks.explode("genres").dropna(subset=["genres"]).rename(
        columns={"genres": "genre"})
    genre_rows = []
    genre_artists = crawled.explode("genres").dropna(subset=["genres"])
    for genre, group in exploded.groupby("genre"):
        with_features = group[group["has_audio_features"]]
        members = genre_artists[genre_artists["genres"] == genre]
        genre_rows.append({
            "genre": genre, "artist_count": len(members), "track_count": len(group),
            "tracks_with_features": len(with_features),
            "avg_artist_popularity": members["popularity"].mean(),
            "avg_track_popularity": group["popularity"].mean(),
            **{f"avg_{f}": with_features[f].mean() for f in (
                "danceability", "energy", "valence", "acousticness", "instrumentalness",
                "speechiness", "liveness", "loudness", "tempo")},
        })
    year_rows = []
    for year, group in tracks.groupby("release_year"):
        with_features = group[group["has_audio_features"]]
        year_rows.append({
            "release_year": year, "album_count": int((albums["release_year"] == year).sum()),
            "track_count": len(group), "explicit_share": group["explicit"].mean(),
            "avg_duration_ms": group["duration_ms"].mean(),
            "avg_track_popularity": group["popularity"].mean(),
            "tracks_with_features": len(with_features),
            **{f"avg_{f}": with_features[f].mean() for f in (
                "danceability", "energy", "valence", "acousticness", "loudness", "tempo")},
        })
    label_rows = []
    for label, group in albums.dropna(subset=["label"]).groupby("label"):
        label_rows.append({
            "label": label, "album_count": len(group),
            "track_count": int(tracks["album_id"].isin(group["album_id"]).sum()),
            "artist_count": group["primary_artist_id"].nunique(),
            "first_release_year": int(group["release_year"].min()),
            "last_release_year": int(group["release_year"].max()),
            "avg_album_popularity": group["popularity"].mean(),
        })

    def table(name: str, rows: list[dict] | pd.DataFrame) -> pa.Table:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(
            rows, columns=SCHEMAS[name].names)
        frame = frame.astype(object).where(frame.notna(), None)
        return pa.Table.from_pylist(frame.to_dict("records"), schema=SCHEMAS[name])

    return {
        "mart_entity_counts": table("mart_entity_counts", [
            {"entity": k, "row_count": v} for k, v in counts.items()]),
        "mart_artist_summary": table("mart_artist_summary", summary_frame),
        "mart_genre_summary": table("mart_genre_summary", genre_rows),
        "mart_release_year_trends": table("mart_release_year_trends", year_rows),
        "mart_label_summary": table("mart_label_summary", label_rows),
    }


def write_gold(settings: Settings, development: bool = False,
               only: tuple[str, ...] | None = None) -> dict[str, pa.Table]:
    """Write (overwrite) the gold marts under LAKE_ROOT/gold; returns what was written."""
    tables = _tables(development)
    for name, table in tables.items():
        if only is None or name in only:
            write_deltalake(settings.lake_path(settings.gold_schema, name), table,
                            mode="overwrite", schema_mode="overwrite")
    return tables


def train_recommender(settings: Settings) -> str:
    """A real recommender artifact trained on the written mart (ml.training.train)."""
    from ml.training import train

    return train(settings, backend="delta").version
