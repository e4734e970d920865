"""`dbt source freshness` on the bronze tables (`lakehouse freshness`), through the real server.

Each bronze table is exported at a known age, on either side of the sources' thresholds (warn
after 7 days, error after 30): the statuses and ages dbt reports must follow.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import dbt_catalogue as catalogue
import pyarrow as pa
import pytest
from dbt_fixtures import bronze_writer, scoped, write_and_register
from deltalake import DeltaTable, write_deltalake
from lake_support import environment
from typer.testing import CliRunner

from lakehouse import dbt_runner
from lakehouse.cli import app
from lakehouse.dbt_sources import register_bronze_tables
from lakehouse.settings import Settings

AGES = {"artists": timedelta(days=1), "albums": timedelta(days=10), "tracks": timedelta(days=40)}


@pytest.fixture(scope="module")
def aged_bronze(thrift: Settings) -> tuple[Settings, datetime]:
    """Bronze artists, albums and tracks exported 1, 10 and 40 days ago; audio_features exists
    but is empty (a development-mode app); imported_audio_features was never written."""
    settings = scoped(thrift, "fresh")
    now = datetime.now(UTC)
    for entity, age in AGES.items():
        batch = catalogue.BronzeBatch(f"batch-{entity}", now - age)
        batch.add(entity, {"id": f"{entity}-1", "name": entity}, now - age)
        write_and_register(settings, batch)
    writer = bronze_writer(settings)
    schema = DeltaTable(writer("artists")).schema().to_arrow()
    write_deltalake(writer("audio_features"), pa.Table.from_pylist([], schema=pa.schema(schema)))
    register_bronze_tables(settings, lake_folder=settings.dbt_bronze_schema, require=frozenset())
    return settings, now


def test_statuses_follow_each_tables_age(aged_bronze: tuple[Settings, datetime]) -> None:
    settings, now = aged_bronze
    results = {r.table: r for r in dbt_runner.source_freshness(settings)}

    # imported_audio_features was never exported: not checked, not failed; the empty optional
    # audio_features has no newest row (dbt would call it an error): reported, not failed.
    assert set(results) == {"artists", "albums", "tracks", "audio_features"}
    assert {t: r.status for t, r in results.items()} == {
        "artists": "pass",
        "albums": "warn",
        "tracks": "error",
        "audio_features": "empty",
    }
    assert results["audio_features"].message == "no rows yet (optional table): not checked"
    for table, age in AGES.items():
        result = results[table]
        assert result.age_s == pytest.approx(age.total_seconds(), abs=600)
        exported = (now - age).replace(tzinfo=None)
        newest = result.max_loaded_at.astimezone(UTC).replace(tzinfo=None)
        assert abs(newest - exported) < timedelta(seconds=1)


def test_cli_lists_every_table_and_fails_on_the_stale_one(
    aged_bronze: tuple[Settings, datetime],
) -> None:
    settings, _ = aged_bronze
    with environment(DBT_BRONZE_SCHEMA=settings.dbt_bronze_schema):
        result = CliRunner().invoke(app, ["freshness"])

    assert result.exit_code == 1, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines()
            if line[:1] == "│" and "bronze table" not in line}
    # Every checked table, and not imported_audio_features (never exported).
    assert set(rows) == {"artists", "albums", "tracks", "audio_features"}
    assert re.search(r"24\.\d h .* pass", rows["artists"]), rows["artists"]
    assert re.search(r"10\.\d days .* warn", rows["albums"]), rows["albums"]
    assert re.search(r"40\.\d days .* error", rows["tracks"]), rows["tracks"]
    assert re.search(r"- .* empty", rows["audio_features"]), rows["audio_features"]
    assert "no rows yet" not in result.output  # not listed among the failures


def test_no_bronze_schema_names_the_fix(thrift: Settings) -> None:
    with pytest.raises(dbt_runner.DbtRunError, match="lakehouse export"):
        dbt_runner.source_freshness(scoped(thrift, "never_exported"))
