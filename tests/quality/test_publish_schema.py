"""Publishing follows GOLD_SCHEMA (the schema app/ and ml/ read), and refuses the audit schema."""

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
