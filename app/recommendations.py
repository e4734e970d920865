"""Recommendations for the track page: the ml/ recommender's answer or a message saying why not."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.cached_data import RecommenderState


@dataclass(frozen=True)
class Recommendations:
    items: list = field(default_factory=list)  # ml.recommend.Recommendation, best first
    message: str | None = None  # shown instead of (or above) the items
    model_version: str | None = None


def for_track(
    state: RecommenderState, track_id: str, k: int = 10, max_per_artist: int | None = 2
) -> Recommendations:
    """Up to k recommendations; never raises for the expected cases (no model, unknown or
    unsearchable track), it says what happened and what to do instead."""
    from ml.recommend import TrackNotSearchableError, UnknownTrackError

    if state.recommender is None:
        return Recommendations(message=f"No recommendations yet. {state.problem}")
    try:
        items = state.recommender.recommend(track_id, k=k, max_per_artist=max_per_artist)
    except UnknownTrackError:
        return Recommendations(
            message="This track is newer than the recommender (model "
            f"{state.version}): it will get recommendations after the next `lakehouse train`.",
            model_version=state.version)
    except TrackNotSearchableError as exc:
        return Recommendations(message=str(exc), model_version=state.version)
    if not items:
        return Recommendations(message="No similar tracks found in the catalogue.",
                               model_version=state.version)
    return Recommendations(items=items, model_version=state.version)
