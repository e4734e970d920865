"""Incremental models read rows stamped at their watermark, and merge only the changed ones.

A CSV import stamps all its chunks with one time, and any two bronze writes may share a stamp. A
build that runs between two chunks with one stamp sets the watermark to that time; the later
chunks carry the same stamp and must still reach silver and gold on the next incremental build.
The rows at the watermark that an earlier build merged are not merged again: after a small
crawl, the Delta merge touches only the new and changed rows.
"""

from __future__ import annotations

from datetime import timedelta

import dbt_catalogue as catalogue
from dbt_fixtures import MODELS_ONLY, build, scoped, sql, write_and_register
from deltalake import DeltaTable

from lakehouse.settings import Settings

INCREMENTAL = ["stg_spotify__tracks", "dim_track"]


def _batch(batch_id: str, hours: int, tracks: dict[str, str]) -> catalogue.BronzeBatch:
    """An export batch `hours` after T0 of track versions ingested an hour before it."""
    batch = catalogue.BronzeBatch(batch_id, catalogue.T0 + timedelta(hours=hours))
    for track_id, name in tracks.items():
        batch.add(
            "tracks",
            catalogue.track(
                track_id, name, "al_ram", [catalogue.DAFT], track_number=1, duration_ms=200000
            ),
            catalogue.T0 + timedelta(hours=hours - 1),
        )
    return batch


def _chunk(track_id: str, name: str) -> catalogue.BronzeBatch:
    """One chunk of export batch-1: every chunk of an export has the same exported_at."""
    return _batch("batch-1", 1, {track_id: name})


def _tables(settings: Settings) -> list[tuple[str, str]]:
    return [
        (settings.dbt_silver_schema, "stg_spotify__tracks"),
        (settings.dbt_gold_schema, "dim_track"),
    ]


def _versions(settings: Settings) -> dict[str, int]:
    return {
        table: DeltaTable(settings.lake_path(schema, table)).version()
        for schema, table in _tables(settings)
    }


def _merged_since(settings: Settings, versions: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(rows updated, rows inserted) by the MERGE commits after `versions`, per table."""
    merged = {}
    for schema, table in _tables(settings):
        commits = [
            commit
            for commit in DeltaTable(settings.lake_path(schema, table)).history()
            if commit["version"] > versions[table] and commit["operation"] == "MERGE"
        ]
        merged[table] = tuple(
            sum(int(commit["operationMetrics"][metric]) for commit in commits)
            for metric in ("numTargetRowsUpdated", "numTargetRowsInserted")
        )
    return merged


def _names(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    return {
        table: sql(settings, f"SELECT track_id, track_name FROM {schema}.{table} ORDER BY 1")
        for schema, table in _tables(settings)
    }


def test_a_later_chunk_of_the_same_export_is_not_skipped(thrift: Settings) -> None:
    settings = scoped(thrift, "late")
    write_and_register(settings, _chunk("tr_first", "First Chunk"))
    first = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert first.success, first.line()

    write_and_register(settings, _chunk("tr_second", "Second Chunk"))
    second = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert second.success, second.line()

    expected = [("tr_first", "First Chunk"), ("tr_second", "Second Chunk")]
    assert _names(settings) == {table: expected for _, table in _tables(settings)}


def test_a_small_crawl_merges_only_new_and_changed_rows(thrift: Settings) -> None:
    settings = scoped(thrift, "small")
    write_and_register(settings, _batch("batch-1", 1, {"tr_a": "A", "tr_b": "B"}))
    first = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert first.success, first.line()
    after_first = _versions(settings)

    # The next crawl changes tr_b and finds tr_c. tr_a sits at the watermark of both tables:
    # it is read again, found unchanged and not merged.
    write_and_register(settings, _batch("batch-2", 2, {"tr_b": "B2", "tr_c": "C"}))
    second = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert second.success, second.line()
    assert _merged_since(settings, after_first) == {
        "stg_spotify__tracks": (1, 1),
        "dim_track": (1, 1),
    }
    after_second = _versions(settings)

    # Nothing new: tr_b and tr_c are at the watermark now, and nothing is merged.
    third = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert third.success, third.line()
    assert _merged_since(settings, after_second) == {
        "stg_spotify__tracks": (0, 0),
        "dim_track": (0, 0),
    }
    expected = [("tr_a", "A"), ("tr_b", "B2"), ("tr_c", "C")]
    assert _names(settings) == {table: expected for _, table in _tables(settings)}
