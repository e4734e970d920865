"""Song recommender over `gold.mart_recommender_features` (see docs/ml.md).

Public API (imported lazily, so `import ml` stays cheap):
- `train(settings, *, backend=None, feature_set="all", index_kind="auto") -> ArtifactInfo`
- `load_recommender(settings, version=None) -> Recommender`; load once and cache it, then
  `recommender.recommend(track_id, k=10, max_per_artist=None) -> list[Recommendation]`
- `evaluate(settings, k=10, sample=500, seed=0, output=None) -> (EvaluationReport, Path)`
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "train": "ml.training",
    "ArtifactInfo": "ml.artifact",
    "ArtifactError": "ml.artifact",
    "load_recommender": "ml.artifact",
    "Recommender": "ml.recommend",
    "Recommendation": "ml.recommend",
    "UnknownTrackError": "ml.recommend",
    "TrackNotSearchableError": "ml.recommend",
    "evaluate": "ml.evaluate",
    "EvaluationReport": "ml.evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ml' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
