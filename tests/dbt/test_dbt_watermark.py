"""Incremental models read rows stamped at their watermark, not only after it.

An export (or a CSV import) stamps all its chunks with one time. A build that runs between two
chunks of one export sets the watermark to that time; the later chunks carry the same stamp and
must still reach silver and gold on the next incremental build.
"""

from __future__ import annotations

from datetime import timedelta

import dbt_catalogue as catalogue
from dbt_fixtures import MODELS_ONLY, build, scoped, sql, write_and_register

from lakehouse.settings import Settings

INCREMENTAL = ["stg_spotify__tracks", "dim_track"]


def _chunk(track_id: str, name: str) -> catalogue.BronzeBatch:
    """One chunk of export batch-1: every chunk of an export has the same exported_at."""
    batch = catalogue.BronzeBatch("batch-1", catalogue.T0 + timedelta(hours=1))
    batch.add(
        "tracks",
        catalogue.track(
            track_id, name, "al_ram", [catalogue.DAFT], track_number=1, duration_ms=200000
        ),
        catalogue.T0,
    )
    return batch


def test_a_later_chunk_of_the_same_export_is_not_skipped(thrift: Settings) -> None:
    settings = scoped(thrift, "late")
    write_and_register(settings, _chunk("tr_first", "First Chunk"))
    first = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert first.success, first.line()

    write_and_register(settings, _chunk("tr_second", "Second Chunk"))
    second = build(settings, select=INCREMENTAL, exclude=MODELS_ONLY)
    assert second.success, second.line()

    for schema, table in (
        (settings.dbt_silver_schema, "stg_spotify__tracks"),
        (settings.dbt_gold_schema, "dim_track"),
    ):
        rows = sql(settings, f"SELECT track_id, track_name FROM {schema}.{table} ORDER BY 1")
        assert rows == [("tr_first", "First Chunk"), ("tr_second", "Second Chunk")], table
