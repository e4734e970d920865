"""The seed project's recommender, kept only as a baseline for evaluation and benchmarks.

scikit-learn NearestNeighbors(metric='cosine') on eleven *unscaled* columns, so duration_ms
(hundreds of thousands) and tempo (around 120) dominate the angle. Null popularity (development
mode) is filled with 0, since the seed could not handle nulls at all.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml.features import floats

SEED_COLUMNS = (
    "popularity",
    "energy",
    "danceability",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)


class SeedRecommender:
    def __init__(self, table: pa.Table) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.matrix = np.column_stack([np.nan_to_num(floats(table, c)) for c in SEED_COLUMNS])
        self.model = NearestNeighbors(metric="cosine").fit(self.matrix)

    def neighbours(self, rows: np.ndarray, n: int) -> np.ndarray:
        """(len(rows), n) nearest rows for each query row, nearest first (may include itself)."""
        n = min(n, len(self.matrix))
        return self.model.kneighbors(self.matrix[rows], n_neighbors=n, return_distance=False)
