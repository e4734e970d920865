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
import pyarrow as pa
from dbt_fixtures import MODELS_ONLY, bronze_writer, build, scoped, sql, write_and_register
from deltalake import DeltaTable, write_deltalake

from lakehouse.dbt_sources import register_bronze_tables
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


def _incremental_build(settings: Settings) -> dict[str, tuple[int, int]]:
    """Build the incremental models again; (rows updated, rows inserted) by its merges."""
    before = _versions(settings)
    result = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert result.success, result.line()
    return _merged_since(settings, before)


def _rows(settings: Settings, table: str, columns: str) -> list[tuple]:
    schema = settings.dbt_gold_schema if table == "dim_track" else settings.dbt_silver_schema
    return sql(settings, f"SELECT {columns} FROM {schema}.{table} ORDER BY 1")


def _names(settings: Settings) -> dict[str, list[tuple]]:
    return {table: _rows(settings, table, "track_id, track_name") for _, table in _tables(settings)}


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

    # The next crawl changes tr_b and finds tr_c. tr_a sits at the watermark of both tables:
    # it is read again, found unchanged and not merged.
    write_and_register(settings, _batch("batch-2", 2, {"tr_b": "B2", "tr_c": "C"}))
    assert _incremental_build(settings) == {"stg_spotify__tracks": (1, 1), "dim_track": (1, 1)}

    # Nothing new: tr_b and tr_c are at the watermark now, and nothing is merged.
    assert _incremental_build(settings) == {"stg_spotify__tracks": (0, 0), "dim_track": (0, 0)}
    expected = [("tr_a", "A"), ("tr_b", "B2"), ("tr_c", "C")]
    assert _names(settings) == {table: expected for _, table in _tables(settings)}


def test_a_newer_version_in_a_later_chunk_replaces_the_merged_one(thrift: Settings) -> None:
    """Two versions of one track in two chunks with one stamp: the one ingested last wins, as in
    a full refresh; an older one arriving after that does not replace it."""
    settings = scoped(thrift, "versions")
    stamp = catalogue.T0 + timedelta(hours=1)
    for name, ingested in (("Old", 0), ("New", 30), ("Stale", -30)):
        chunk = catalogue.BronzeBatch("batch-1", stamp)
        chunk.add(
            "tracks",
            catalogue.track(
                "tr_x", name, "al_ram", [catalogue.DAFT], track_number=1, duration_ms=1000
            ),
            catalogue.T0 + timedelta(minutes=ingested),
        )
        write_and_register(settings, chunk)
        result = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
        assert result.success, result.line()
    incremental = {table: _rows(settings, table, "*") for _, table in _tables(settings)}
    assert incremental["dim_track"][0][:2] == ("tr_x", "New")

    refreshed = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY, full_refresh=True)
    assert refreshed.success, refreshed.line()
    assert incremental == {table: _rows(settings, table, "*") for _, table in _tables(settings)}


def test_csv_genres_of_one_track_split_over_two_chunks_are_both_kept(thrift: Settings) -> None:
    """The winning CSV row is the same in both chunks; only the track's genres change."""
    settings = scoped(thrift, "genres")
    model = ["stg_spotify__imported_audio_features"]
    for row, genre in ((1, "electro"), (2, "house")):
        chunk = catalogue.BronzeBatch("import-1", catalogue.T0)
        chunk.imported = [
            catalogue.imported_row("tr_g", "Giorgio", "Daft Punk", "RAM", genre, row, 0.2)
        ]
        write_and_register(settings, chunk)
        result = build(settings, select=model, exclude=MODELS_ONLY)
        assert result.success, result.line()

    columns = "track_id, csv_genres, _source_row"
    assert _rows(settings, model[0], columns) == [("tr_g", '["electro","house"]', 1)]


def test_a_row_with_null_bookkeeping_is_not_merged_again(thrift: Settings) -> None:
    """`source` and `crawl_id` may be null in bronze: null-safe comparison still finds the row
    already merged."""
    settings = scoped(thrift, "nulls")
    batch = _batch("batch-1", 1, {"tr_n": "No Source"})
    table = batch.entity_table("tracks")
    for column in ("source", "crawl_id"):
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.nulls(table.num_rows, pa.string()))
    write_deltalake(bronze_writer(settings)("tracks"), table, mode="append")
    register_bronze_tables(settings, lake_folder=settings.dbt_bronze_schema, require=frozenset())
    first = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert first.success, first.line()

    assert _incremental_build(settings) == {"stg_spotify__tracks": (0, 0), "dim_track": (0, 0)}
    assert _rows(settings, "stg_spotify__tracks", "track_id, _source, _crawl_id") == [
        ("tr_n", None, None)
    ]
