"""Import audio features from a CSV in the public "Spotify Tracks Dataset" format into bronze.

For users whose Spotify app cannot call /audio-features (every development-mode app since
2024-11-27). Columns: an optional unnamed index, track_id, artists (names joined by ';'),
album_name, track_name, popularity, duration_ms, explicit, danceability, energy, key, loudness,
mode, speechiness, acousticness, instrumentalness, liveness, valence, tempo, time_signature,
track_genre.

Every row is validated; a row with a missing id, a non-number or an out-of-range value goes to
the bronze quarantine with the reason, the others to `bronze.imported_audio_features` with their
provenance (file, row number, batch).

Each import is self-contained: it writes every valid row of its file, all stamped with one
`imported_at`, because the staging model (stg_spotify__imported_audio_features) takes a track's
values and genres from that track's latest import alone. Skipping rows an earlier import already
wrote would leave the latest import with only part of a track's rows (an updated file adding one
genre would replace the track's genres by that one). So rows are deduplicated within one file
only, on (track_id, content_hash) with the hash over every value of the row (the dataset lists a
track once per genre: one track id, several distinct rows).

Re-importing the very same content is a no-op: the file's sha256 is recorded in the custom
metadata of the import's last Delta commit (FILE_SHA_KEY), and a file whose sha256 is found there
is not read again. `force=True` imports it anew anyway (it then becomes the tracks' latest
import, e.g. to restore values a later file changed).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from ingestion.bronze_quarantine import QuarantineRecord, write_quarantine
from ingestion.bronze_tables import (
    IMPORTED_FEATURES,
    IMPORTED_FEATURES_SCHEMA,
    ensure_table,
    table_uri,
)
from lakehouse import exclusive_lock
from lakehouse.settings import Settings, get_settings

REQUIRED_COLUMNS = (
    "track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature", "track_genre",
)  # fmt: skip
TEXT_COLUMNS = ("track_name", "artists", "album_name", "track_genre")
# Ranges from the Spotify audio-features reference; loudness and tempo have no documented bound,
# these ones hold every real track and catch unit mix-ups (e.g. tempo in ms, loudness in %).
UNIT_INTERVAL = (0.0, 1.0)
FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "danceability": UNIT_INTERVAL,
    "energy": UNIT_INTERVAL,
    "speechiness": UNIT_INTERVAL,
    "acousticness": UNIT_INTERVAL,
    "instrumentalness": UNIT_INTERVAL,
    "liveness": UNIT_INTERVAL,
    "valence": UNIT_INTERVAL,
    "loudness": (-60.0, 5.0),
    "tempo": (0.0, 300.0),
}
INT_RANGES: dict[str, tuple[int, int]] = {
    "key": (-1, 11),
    "mode": (0, 1),
    "time_signature": (3, 7),
    "popularity": (0, 100),
    "duration_ms": (1, 24 * 3600 * 1000),
}
NULLABLE = {"popularity"}
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
ENTITY = IMPORTED_FEATURES
CHUNK_ROWS = 100_000
UNDECODABLE = "undecodable"  # the reason's code for a row with bytes that are not UTF-8
# Custom metadata of an import's last Delta commit (only that one: an import that crashed before
# it is not recorded, so importing the file again lands it whole).
FILE_SHA_KEY = "lakehouse.features_import.file_sha256"
FILE_NAME_KEY = "lakehouse.features_import.source_file"
BATCH_KEY = "lakehouse.features_import.batch_id"
HASH_BLOCK = 1 << 20

ProgressCallback = Callable[[int], None]


class FeaturesFormatError(ValueError):
    """The file as a whole cannot be imported (missing, empty, wrong header). Nothing written."""


class RowError(ValueError):
    """One row is invalid; the message is the quarantine reason."""


@dataclass
class EarlierImport:
    """The import that already landed a file's content (from its Delta commit metadata)."""

    source_file: str
    batch_id: str
    committed_at: dt.datetime | None


@dataclass
class ImportSummary:
    source_file: str
    batch_id: str
    file_sha256: str = ""
    already_imported: EarlierImport | None = None  # set when the content was skipped
    rows: int = 0  # data rows read
    imported: int = 0  # rows written to bronze
    duplicates: int = 0  # rows repeated earlier in the same file (same track and values)
    rejected: int = 0  # rows that failed validation
    undecodable: int = 0  # of those, rows with bytes that are not UTF-8 (a Latin-1 export?)
    quarantined: int = 0  # of those, newly written to the quarantine
    seconds: float = 0.0


# --- parsing one row ------------------------------------------------------------------------------
def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"wrong_type: {name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RowError(f"wrong_type: {name} {text!r} is not a finite number")
    return value


def _integer(name: str, text: str) -> int | None:
    if text == "" and name in NULLABLE:
        return None
    if text == "":
        raise RowError(f"missing_field: {name} is empty")
    value = _number(name, text)
    if not value.is_integer():
        raise RowError(f"wrong_type: {name} {text!r} is not an integer")
    low, high = INT_RANGES[name]
    if not low <= value <= high:
        raise RowError(f"out_of_range: {name} {int(value)} is not in [{low}, {high}]")
    return int(value)


def _float(name: str, text: str) -> float:
    if text == "":
        raise RowError(f"missing_field: {name} is empty")
    value = _number(name, text)
    low, high = FLOAT_RANGES[name]
    if not low <= value <= high:
        raise RowError(f"out_of_range: {name} {value:g} is not in [{low:g}, {high:g}]")
    return value


def _boolean(name: str, text: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise RowError(f"wrong_type: {name} {text!r} is not True/False") from None


def parse_row(record: dict[str, str]) -> dict[str, Any]:
    """The typed values of one CSV record; RowError with the reason when it is invalid."""
    if any(_has_surrogates(v) for v in record.values()):
        raise RowError(f"{UNDECODABLE}: the row contains bytes that are not valid UTF-8")
    track_id = record["track_id"].strip()
    if not track_id:
        raise RowError("missing_id: track_id is empty")
    if not SPOTIFY_ID.match(track_id):
        raise RowError(f"wrong_type: track_id {track_id!r} is not a Spotify id (22 base-62 chars)")
    values: dict[str, Any] = {"track_id": track_id}
    for name in TEXT_COLUMNS:
        values[name] = record[name] or None
    for name in INT_RANGES:
        values[name] = _integer(name, record[name].strip())
    for name in FLOAT_RANGES:
        values[name] = _float(name, record[name].strip())
    values["explicit"] = _boolean("explicit", record["explicit"])
    return values


def _has_surrogates(text: str | None) -> bool:
    return text is not None and any("\udc80" <= c <= "\udcff" for c in text)


def row_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- reading the file -----------------------------------------------------------------------------
class _HashingReader(io.RawIOBase):
    """Feeds every byte read from `raw` into `digest`: the hash of exactly what was parsed."""

    def __init__(self, raw: io.RawIOBase, digest: Any) -> None:
        self.raw, self.digest = raw, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer) or 0
        self.digest.update(memoryview(buffer)[:count])
        return count


def _open_records(
    path: Path, digest: Any = None
) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    """(row number, record or None when malformed, raw fields) for each data row.

    digest: a hashlib object that receives the file's bytes as they are read.
    """
    raw: io.RawIOBase = io.FileIO(path)
    if digest is not None:
        raw = _HashingReader(raw, digest)
    # surrogateescape: a bad byte spoils its row only (quarantined), not the whole file.
    encoding = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": ""}
    with io.TextIOWrapper(io.BufferedReader(raw), **encoding) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise FeaturesFormatError(f"{path} is empty; expected a header row and data rows")
        header = [h.strip() for h in header]
        _check_header(path, header)
        for number, fields in enumerate(reader, start=1):
            if not fields:
                continue  # blank line
            if len(fields) != len(header):
                yield number, None, fields
            else:
                yield number, dict(zip(header, fields, strict=True)), fields


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FeaturesFormatError(
            f"{path} is not in the Spotify Tracks Dataset format: missing column(s)"
            f" {', '.join(missing)}. Expected a header with {', '.join(REQUIRED_COLUMNS)}"
            " (plus an optional unnamed index column first)."
        )


def _raw_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def file_sha256(path: Path) -> str:
    """sha256 hex of the file's bytes, read in blocks (the dataset is ~20 MB, files can be more)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# --- the imports already landed -------------------------------------------------------------------
def earlier_import(table: DeltaTable, sha256: str) -> EarlierImport | None:
    """The completed import of this content, if the table's log still holds its commit.

    A log cleaned up by Delta's log retention forgets old imports: the file is then imported
    again as a new import of the same values, which changes nothing downstream.
    """
    for commit in table.history():
        if commit.get(FILE_SHA_KEY) == sha256:
            millis = commit.get("timestamp")
            when = dt.datetime.fromtimestamp(millis / 1000, dt.UTC) if millis else None
            return EarlierImport(
                commit.get(FILE_NAME_KEY, "?"), commit.get(BATCH_KEY, "?"), when
            )
    return None


# --- writing --------------------------------------------------------------------------------------
def _write_chunk(
    settings: Settings, rows: list[dict[str, Any]], completes: dict[str, str] | None = None
) -> None:
    """Append rows; `completes` (the last chunk) is committed even when there is no row left."""
    if not rows and completes is None:
        return
    table = pa.Table.from_pylist(rows, schema=IMPORTED_FEATURES_SCHEMA)
    properties = CommitProperties(custom_metadata=completes) if completes else None
    write_deltalake(
        table_uri(settings, IMPORTED_FEATURES), table, mode="append", commit_properties=properties
    )


def check_file(path: Path) -> None:
    """Raise FeaturesFormatError when `path` is not a file or its header is not the dataset's;
    nothing is read beyond the header."""
    if not path.is_file():
        raise FeaturesFormatError(f"{path} does not exist or is not a file")
    next(_open_records(path), None)


def holding_the_lake(
    settings: Settings, path: Path, batch_id: str, uses: frozenset[str] = frozenset()
) -> AbstractContextManager[None]:
    """The lake's write lock as the import of `path` holds it (LakeBusy when another job has
    it). The import itself uses no service; `lakehouse import-features` takes it first with the
    Thrift Server in `uses`, to hold it through the registration of the table that follows."""
    return exclusive_lock.lake_writer(
        settings, f"features import of {path.name} (batch {batch_id})", uses=uses)


def import_features(
    path: str | Path,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    batch_id: str | None = None,
    force: bool = False,
) -> ImportSummary:
    """Validate and land every row of the CSV at `path` as one import; return the counts.

    Content imported before (same sha256) is skipped, `summary.already_imported` says by which
    import, unless `force`.
    """
    from ingestion.bronze_export import new_batch_id

    settings = settings or get_settings()
    path = Path(path)
    started = time.perf_counter()
    check_file(path)  # a wrong header fails here, before anything is written
    summary = ImportSummary(path.name, batch_id or new_batch_id())
    # Two imports of one file at once would both find it not imported yet and land it twice.
    with holding_the_lake(settings, path, summary.batch_id):
        summary.file_sha256 = file_sha256(path)
        table = ensure_table(settings, IMPORTED_FEATURES)
        summary.already_imported = None if force else earlier_import(table, summary.file_sha256)
        if summary.already_imported is None:
            _land(settings, path, summary, progress)
    summary.seconds = time.perf_counter() - started
    return summary


def _land(
    settings: Settings, path: Path, summary: ImportSummary, progress: ProgressCallback | None
) -> None:
    seen: set[tuple[str, str]] = set()  # this file's rows only: each import is self-contained
    imported_at = dt.datetime.now(dt.UTC)
    good: list[dict[str, Any]] = []
    rejected: list[QuarantineRecord] = []
    # Recorded: the hash of the bytes parsed, which differ from the one checked before only if
    # the file was rewritten meanwhile; then its new content is what this import holds.
    parsed = hashlib.sha256()
    for number, record, fields in _open_records(path, parsed):
        summary.rows += 1
        try:
            if record is None:
                raise RowError(
                    f"malformed_row: {len(fields)} fields, expected {len(REQUIRED_COLUMNS)}"
                    " (+ optional index)"
                )
            values = parse_row(record)
        except RowError as exc:
            summary.undecodable += str(exc).startswith(UNDECODABLE)
            track_id = (record or {}).get("track_id") or None
            rejected.append(QuarantineRecord(ENTITY, track_id, str(exc), _raw_line(fields)))
            continue
        digest = row_hash(values)
        if (values["track_id"], digest) in seen:
            summary.duplicates += 1
            continue
        seen.add((values["track_id"], digest))
        good.append(
            {
                **values,
                "source_file": summary.source_file,
                "source_row": number,
                "content_hash": digest,
                "batch_id": summary.batch_id,
                "imported_at": imported_at,
            }
        )
        if len(good) >= CHUNK_ROWS:
            _write_chunk(settings, good)
            summary.imported += len(good)
            good = []
        if progress and summary.rows % 10_000 == 0:
            progress(summary.rows)
    # Quarantine before the completing commit: a crash in between leaves the file unrecorded,
    # so importing it again redoes both (the quarantine deduplicates its rows).
    summary.rejected = len(rejected)
    summary.quarantined = write_quarantine(settings, rejected, summary.batch_id)
    summary.file_sha256 = parsed.hexdigest()
    completes = {
        FILE_SHA_KEY: summary.file_sha256,
        FILE_NAME_KEY: summary.source_file,
        BATCH_KEY: summary.batch_id,
    }
    _write_chunk(settings, good, completes)
    summary.imported += len(good)
    if progress:
        progress(summary.rows)
