"""What the pages read, loaded once and cached across sessions (Streamlit caches).

Every cache key includes the Delta version of the marts it was built from (or the recommender
artifact's version), so a new publish or a retrain is picked up on the next rerun after at most
APP_REFRESH_S seconds, and old entries are evicted (max_entries). Big objects (the catalogue
with its search indexes, the recommender) are shared resources and treated as read-only; small
analytics marts are cached data (each caller gets its own copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from app import gold_tables
from app.catalogue import Catalogue
from app.gold_contract import REQUIRED_MART
from lakehouse.settings import Settings, get_settings

CATALOGUE_MARTS = ("mart_track_search", "dim_artist", "dim_album", "bridge_album_artist",
                   "dim_track")

Key = tuple[str, str, int]  # (mart, path, Delta version): hashable and cheap for st caches


def _key(ref: gold_tables.TableRef | None) -> Key | None:
    return None if ref is None else (ref.name, ref.path, ref.version)


def _ref(key: Key | None) -> gold_tables.TableRef | None:
    return None if key is None else gold_tables.TableRef(*key)


def gold_ready(settings: Settings) -> bool:
    """True when the mart the app cannot do without is published."""
    return gold_tables.current_version(settings, REQUIRED_MART) is not None


@st.cache_resource(max_entries=2, show_spinner="Loading the catalogue and its search index ...")
def _catalogue(keys: tuple[Key | None, ...]) -> Catalogue:
    tracks, artists, albums, album_artists, track_numbers = (
        None if key is None else gold_tables.read(_ref(key)) for key in keys
    )
    return Catalogue.build(tracks, artists, albums, album_artists, track_numbers)


def catalogue(settings: Settings) -> Catalogue | None:
    """The catalogue of the published gold, None when the pipeline has not published it."""
    refs = tuple(gold_tables.current_version(settings, name) for name in CATALOGUE_MARTS)
    if refs[0] is None:
        return None
    return _catalogue(tuple(_key(ref) for ref in refs))


@st.cache_data(max_entries=32, show_spinner=False)
def _mart_frame(key: Key) -> pd.DataFrame:
    return gold_tables.read(_ref(key)).to_pandas()


def analytics_mart(settings: Settings, name: str) -> pd.DataFrame | None:
    """A (small) analytics mart as pandas, None when it is not published."""
    ref = gold_tables.current_version(settings, name)
    return None if ref is None else _mart_frame(_key(ref))


# --- the recommender ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RecommenderState:
    recommender: object | None  # ml.recommend.Recommender
    version: str | None
    problem: str | None  # why there is none (no artifact yet, unreadable artifact)


@st.cache_resource(max_entries=2, show_spinner="Loading the recommender ...")
def _recommender(data_dir: str, version: str):  # -> ml.recommend.Recommender
    from ml.artifact import load_recommender

    settings = get_settings().model_copy(update={"data_dir": Path(data_dir)})
    return load_recommender(settings, version)


def recommender(settings: Settings) -> RecommenderState:
    from ml.artifact import ArtifactError, latest_version

    try:
        version = latest_version(settings)
        return RecommenderState(_recommender(str(settings.data_dir), version), version, None)
    except ArtifactError as exc:
        return RecommenderState(None, None, str(exc))
    except (OSError, ValueError, KeyError) as exc:  # a damaged artifact folder
        return RecommenderState(
            None, None,
            f"The recommender artifact could not be read ({type(exc).__name__}: {exc}):"
            " retrain with `lakehouse train`.")


def refresh() -> None:
    """Forget remembered versions and cached data: the next rerun reads what is published."""
    gold_tables.forget_probes()
    st.cache_data.clear()
    st.cache_resource.clear()
