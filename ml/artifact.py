"""The trained recommender on disk: DATA_DIR/models/recommender/<version>/ plus a `latest` pointer.

A version folder holds:
- `manifest.json`: version, creation time, the gold tables it was trained from (backend,
  location and Delta table version), the feature set, blocks, notes and index parameters,
- `tracks.arrow`: the catalogue columns the recommender shows and explains with (Arrow IPC),
- `song_key.npy`, `artist_code.npy`, `id_order.npy`, `searchable.npy`, `has_audio.npy`: per-row
  lookups,
- `vectors.npy` (+ `ivf.npz` for an IVF index): the normalised float32 vectors,
- `metadata_index/` (same layout) when only some tracks have audio features: the metadata-only
  vectors that queries without audio features search (ml/recommend.py).

Format 3 added `has_audio.npy` and `metadata_index/`; older artifacts are refused with a
message to retrain (they cannot score tracks without audio features on metadata alone).

Folders are written under a temporary name and renamed, and `latest` is replaced atomically,
so a reader never sees a half-written artifact. Loading is plain numpy/parquet reads (no
refit), so the app can load once and cache the result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse.settings import Settings
from ml.features import FeatureBlock
from ml.index import load_index
from ml.recommend import Catalogue, Recommender

FORMAT_VERSION = 3


class ArtifactError(RuntimeError):
    """No usable artifact; the message says which and how to make one."""


@dataclass(frozen=True)
class ArtifactInfo:
    version: str
    path: Path
    manifest: dict

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @property
    def gold_versions(self) -> dict[str, int]:
        """Gold table -> the Delta version the model was trained from (when the backend knows)."""
        return {
            table: int(source["delta_version"])
            for table, source in self.manifest.get("gold_tables", {}).items()
            if source.get("delta_version") is not None
        }


def models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / "recommender"


def save(
    settings: Settings,
    version: str,
    recommender: Recommender,
    manifest: dict,
) -> ArtifactInfo:
    root = models_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    if final.exists():
        raise ArtifactError(f"Artifact version {version} already exists at {final}.")
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root))
    try:
        manifest = {**manifest, "format": FORMAT_VERSION, "version": version}
        catalogue = recommender.catalogue
        manifest["index"] = {**manifest.get("index", {}), **recommender.index.save(staging)}
        if recommender.metadata_index is not None:
            (staging / "metadata_index").mkdir()
            manifest["metadata_index"] = {
                **manifest.get("metadata_index", {}),
                **recommender.metadata_index.save(staging / "metadata_index"),
            }
        np.save(staging / "searchable.npy", recommender.searchable)
        np.save(staging / "has_audio.npy", recommender.has_audio)
        np.save(staging / "song_key.npy", catalogue.song_key)
        np.save(staging / "artist_code.npy", catalogue.artist_code)
        np.save(staging / "id_order.npy", catalogue.id_order)
        _write_arrow(catalogue.table, staging / "tracks.arrow")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_latest(root, version)
    return ArtifactInfo(version, final, manifest)


def _write_arrow(table: pa.Table, path: Path) -> None:
    # Uncompressed Arrow IPC: memory-mapped on load, so loading is near-instant at 1M rows.
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_arrow(path: Path) -> pa.Table:
    # No `with`: the returned table's buffers point into the mapping and keep it alive.
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _point_latest(root: Path, version: str) -> None:
    tmp = root / f".latest.{os.getpid()}"
    tmp.write_text(version + "\n")
    tmp.replace(root / "latest")


def latest_version(settings: Settings) -> str:
    pointer = models_dir(settings) / "latest"
    try:
        return pointer.read_text().strip()
    except FileNotFoundError:
        raise ArtifactError(
            f"No trained recommender under {models_dir(settings)}: run `lakehouse train`"
            " (after gold is built)."
        ) from None


def versions(settings: Settings) -> list[str]:
    root = models_dir(settings)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").exists())


def read_manifest(settings: Settings, version: str | None = None) -> ArtifactInfo:
    version = version or latest_version(settings)
    folder = models_dir(settings) / version
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"Recommender version {version!r} not found under {models_dir(settings)};"
            f" available: {', '.join(versions(settings)) or 'none'}."
        ) from None
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(
            f"Artifact {version} has format {manifest.get('format')}, this code reads"
            f" {FORMAT_VERSION}: retrain with `lakehouse train`."
        )
    return ArtifactInfo(version, folder, manifest)


def load_recommender(settings: Settings, version: str | None = None) -> Recommender:
    """The recommender of `version` (default: latest). Cache the result: it is immutable."""
    info = read_manifest(settings, version)
    folder, manifest = info.path, info.manifest
    catalogue = Catalogue(
        _read_arrow(folder / "tracks.arrow"),
        np.load(folder / "song_key.npy"),
        np.load(folder / "artist_code.npy"),
        np.load(folder / "id_order.npy"),
    )
    blocks = [FeatureBlock(**b) for b in manifest["features"]["blocks"]]
    index = load_index(folder, manifest["index"])
    metadata_index = None
    if "metadata_index" in manifest:
        metadata_index = load_index(folder / "metadata_index", manifest["metadata_index"])
    return Recommender(
        catalogue,
        index,
        blocks,
        np.load(folder / "searchable.npy"),
        np.load(folder / "has_audio.npy"),
        metadata_index,
        manifest,
    )
