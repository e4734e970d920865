"""Publishing follows GOLD_SCHEMA (the schema app/ and ml/ read), refuses the audit schema, and
copies a table whole: every file of its version, its schema and its description."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_support import environment

from quality.publish import AUDIT_SCHEMA, publish_all, publish_table


def test_a_table_is_published_to_the_configured_gold_schema(tmp_path: Path) -> None:
    with environment(LAKE_ROOT=str(tmp_path / "lake"), DATA_DIR=str(tmp_path / "data"),
                     GOLD_SCHEMA="gold_marts") as settings:
        audited = pa.table({"artist_id": ["a1", "a2"], "artist_name": ["One", "Two"]})
        write_deltalake(settings.lake_path(AUDIT_SCHEMA, "dim_artist"), audited)
        published = publish_table(settings, "dim_artist")
        target = settings.lake_path("gold_marts", "dim_artist")
        assert target.endswith("/gold_marts/dim_artist")
        assert DeltaTable(target).to_pyarrow_table().sort_by("artist_id") == audited
        assert (published.rows, published.previous_version) == (2, None)
        assert not DeltaTable.is_deltatable(settings.lake_path("gold", "dim_artist"))


def test_gold_schema_set_to_the_audit_schema_is_refused(tmp_path: Path) -> None:
    with (
        environment(LAKE_ROOT=str(tmp_path / "lake"), DATA_DIR=str(tmp_path / "data"),
                    GOLD_SCHEMA=AUDIT_SCHEMA) as settings,
        pytest.raises(RuntimeError, match="GOLD_SCHEMA is `gold_audit`, the audit schema"),
    ):
        publish_all(settings)


AUDIT_COLUMNS = pa.schema([
    ("track_id", pa.string()),
    ("popularity", pa.int32()),
    ("genres", pa.list_(pa.string())),
    ("credit", pa.struct([("artist_id", pa.string()), ("position", pa.int32())])),
    ("_last_loaded_at", pa.timestamp("us", tz="UTC")),
])


def _audit_batch(start: int, count: int) -> pa.Table:
    """Rows with the kinds of columns gold holds: timestamps, arrays, structs and nulls."""
    ids = range(start, start + count)
    return pa.table({
        "track_id": [f"t{i:05d}" for i in ids],
        "popularity": [None if i % 7 == 0 else i % 100 for i in ids],
        "genres": [[] if i % 5 == 0 else [f"g{i % 3}", "pop"] for i in ids],
        "credit": [{"artist_id": f"a{i % 11}", "position": 1} for i in ids],
        "_last_loaded_at": [1_767_225_600_000_000 + i for i in ids],
    }, schema=AUDIT_COLUMNS)


def test_a_table_of_many_files_is_published_whole_with_its_schema(tmp_path: Path) -> None:
    with environment(LAKE_ROOT=str(tmp_path / "lake"), DATA_DIR=str(tmp_path / "data")) as settings:
        audit = settings.lake_path(AUDIT_SCHEMA, "mart_track_search")
        batches = [_audit_batch(0, 40_000), _audit_batch(40_000, 25_000), _audit_batch(65_000, 3)]
        write_deltalake(audit, batches[0], description="One row per track.")
        for batch in batches[1:]:
            write_deltalake(audit, batch, mode="append")
        write_deltalake(settings.lake_path("gold", "mart_track_search"), _audit_batch(0, 10))

        published = publish_table(settings, "mart_track_search")

        gold = DeltaTable(settings.lake_path("gold", "mart_track_search"))
        expected = pa.concat_tables(batches)
        assert (published.rows, published.previous_version) == (65_003, 0)
        assert gold.to_pyarrow_table().sort_by("track_id") == expected
        assert gold.schema().to_json() == DeltaTable(audit).schema().to_json()
        # The description changed, so it takes a commit of its own after the data's.
        assert gold.metadata().description == "One row per track."
        assert published.published_version == gold.version() == 2
        # Published again unchanged: one commit, the data's.
        assert publish_table(settings, "mart_track_search").published_version == 3


def test_an_empty_audit_table_replaces_gold_with_an_empty_table(tmp_path: Path) -> None:
    # Development-mode data has no audit features, so fct_track_features is built empty.
    with environment(LAKE_ROOT=str(tmp_path / "lake"), DATA_DIR=str(tmp_path / "data")) as settings:
        write_deltalake(settings.lake_path(AUDIT_SCHEMA, "fct_track_features"),
                        _audit_batch(0, 0))
        write_deltalake(settings.lake_path("gold", "fct_track_features"), _audit_batch(0, 5))

        published = publish_table(settings, "fct_track_features")

        gold = DeltaTable(settings.lake_path("gold", "fct_track_features"))
        assert (published.rows, published.published_version) == (0, 1)
        assert gold.to_pyarrow_table().num_rows == 0
        audit = DeltaTable(settings.lake_path(AUDIT_SCHEMA, "fct_track_features"))
        assert gold.schema().to_json() == audit.schema().to_json()
