"""`train(settings)`: read gold, build features and index, save a versioned artifact."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.settings import Settings
from ml.artifact import ArtifactInfo, save
from ml.features import FeatureConfig, FeatureMatrix, build_features, metadata_vectors
from ml.gold_reader import RECOMMENDER_MART, GoldSnapshot, gold_reader
from ml.index import build_index
from ml.recommend import Recommender

Progress = Callable[[str], None]


def build_recommender(
    table: pa.Table, config: FeatureConfig | None = None, index_kind: str = "auto"
) -> tuple[Recommender, FeatureMatrix, dict]:
    """An in-memory recommender for `table` (also used by the evaluation)."""
    config = config or FeatureConfig()
    features = build_features(table, config)
    index, index_meta = build_index(features.vectors, index_kind)
    manifest = {"features": _features_manifest(features, config), "index": index_meta}
    metadata_index = None
    if features.partial_audio:  # queries without audio features search metadata-only vectors
        metadata_index, manifest["metadata_index"] = build_index(
            metadata_vectors(features.vectors, features.blocks), index_kind
        )
    recommender = Recommender.from_features(table, features, index, metadata_index, manifest)
    return recommender, features, index_meta


def _features_manifest(features: FeatureMatrix, config: FeatureConfig) -> dict:
    return {
        "feature_set": features.feature_set,
        "dims": int(features.vectors.shape[1]),
        "blocks": [asdict(b) for b in features.blocks],
        "notes": features.notes,
        "tracks_with_audio_features": int(features.has_audio.sum()),
        "searchable_tracks": int(features.searchable.sum()),
        "config": config.to_dict(),
        "standardisation": features.stats,
    }


def _version(snapshot: GoldSnapshot, config: FeatureConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(
        json.dumps([snapshot.provenance(), config.to_dict()], sort_keys=True).encode()
    ).hexdigest()[:8]
    return f"{stamp}-{digest}"


def train(
    settings: Settings,
    *,
    backend: str | None = None,
    feature_set: str = "all",
    index_kind: str = "auto",
    progress: Progress | None = None,
) -> ArtifactInfo:
    """Train on the published gold mart and make the result the `latest` artifact."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    say("reading gold")
    snapshot = gold_reader(settings, backend).read(RECOMMENDER_MART)
    config = FeatureConfig(feature_set=feature_set)
    say(f"building features and {index_kind} index for {snapshot.table.num_rows} tracks")
    recommender, _, _ = build_recommender(snapshot.table, config, index_kind)
    manifest = {
        **recommender.manifest,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": snapshot.table.num_rows,
        "gold_tables": {f"{settings.gold_schema}.{RECOMMENDER_MART}": snapshot.provenance()},
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    say("saving artifact")
    return save(settings, _version(snapshot, config), recommender, manifest)
