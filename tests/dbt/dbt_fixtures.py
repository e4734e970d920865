"""Fixtures for the dbt tests: bronze tables written with delta-rs, dbt run through the runner.

Each scenario gets its own bronze folder and its own bronze/silver/gold schemas (e.g.
`bronze_cat`, `silver_cat`, `gold_cat`), so the tests neither see nor disturb other components'
tables on the session's Thrift Server. dbt builds are slow (~1 min each on 2 cores), so one
session fixture runs the whole first-batch -> incremental -> full-refresh sequence and keeps a
snapshot of every table after each step; the tests assert on those snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dbt_catalogue as catalogue
import pytest

from lakehouse import dbt_runner
from lakehouse.dbt_sources import register_bronze_tables
from lakehouse.settings import Settings
from spark_thrift.client import query

SILVER_TABLES = (
    "stg_spotify__artists",
    "stg_spotify__albums",
    "stg_spotify__tracks",
    "stg_spotify__audio_features",
    "stg_spotify__imported_audio_features",
)
MODELS_ONLY = ("resource_type:test", "resource_type:unit_test")
GOLD_TABLES = (
    "dim_artist",
    "dim_album",
    "dim_track",
    "fct_track_features",
    "bridge_track_artist",
    "bridge_album_artist",
    "bridge_artist_genre",
    "mart_recommender_features",
    "mart_track_search",
    "mart_entity_counts",
    "mart_artist_summary",
    "mart_genre_summary",
    "mart_release_year_trends",
    "mart_label_summary",
)


def scoped(settings: Settings, name: str) -> Settings:
    """Settings whose dbt layers live in their own schemas (bronze_<name>, silver_<name>, ...)."""
    return settings.model_copy(
        update={
            "dbt_bronze_schema": f"bronze_{name}",
            "dbt_silver_schema": f"silver_{name}",
            "dbt_gold_schema": f"gold_{name}",
        }
    )


def bronze_writer(settings: Settings) -> Callable[[str], str]:
    """Where a scenario's bronze table lives: LAKE_ROOT/<bronze schema>/<table>."""
    return lambda table: settings.lake_path(settings.dbt_bronze_schema, table)


def write_and_register(settings: Settings, batch: catalogue.BronzeBatch) -> None:
    catalogue.write_batch(bronze_writer(settings), batch)
    register_bronze_tables(settings, lake_folder=settings.dbt_bronze_schema, require=frozenset())


def build(settings: Settings, **options: Any) -> dbt_runner.DbtRunSummary:
    return dbt_runner.build(settings, register_sources=False, **options)


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and value[:1] in "[{":
        try:  # complex columns come back as JSON text through PyHive
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def table_rows(settings: Settings, schema: str, table: str) -> list[dict[str, Any]]:
    """All rows of a table as dicts, sorted, complex values as canonical JSON."""
    from spark_thrift.client import connect

    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(f"SELECT * FROM {schema}.{table}")
            names = [d[0].split(".")[-1] for d in cursor.description]
            rows = [
                {n: _normalise(v) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def snapshot(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    tables = {t: settings.dbt_silver_schema for t in SILVER_TABLES}
    tables.update({t: settings.dbt_gold_schema for t in GOLD_TABLES})
    return {t: table_rows(settings, schema, t) for t, schema in tables.items()}


def by_key(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


@dataclass
class CatalogueRuns:
    settings: Settings
    first: dbt_runner.DbtRunSummary
    first_tables: dict[str, list[dict[str, Any]]]
    incremental: dbt_runner.DbtRunSummary
    incremental_tables: dict[str, list[dict[str, Any]]]
    full_refresh: dbt_runner.DbtRunSummary
    full_refresh_tables: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def catalogue_runs(thrift: Settings) -> CatalogueRuns:
    """First crawl -> dbt build; second crawl -> incremental build; then --full-refresh."""
    settings = scoped(thrift, "cat")
    write_and_register(settings, catalogue.first_batch())
    first = build(settings)
    first_tables = snapshot(settings)
    write_and_register(settings, catalogue.second_batch())
    # The later builds run the models only: the first build ran every test on the same SQL.
    incremental = build(settings, exclude=MODELS_ONLY)
    incremental_tables = snapshot(settings)
    full_refresh = build(settings, full_refresh=True, exclude=MODELS_ONLY)
    full_refresh_tables = snapshot(settings)
    return CatalogueRuns(
        settings,
        first,
        first_tables,
        incremental,
        incremental_tables,
        full_refresh,
        full_refresh_tables,
    )


def sql(settings: Settings, statement: str) -> list[tuple]:
    return query(statement, settings=settings)


def declared_gold_columns() -> dict[str, list[tuple[str, str]]]:
    """Each gold model's columns and types as its folder's YAML declares them (the contract)."""
    import yaml

    declared: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((dbt_runner.DBT_PROJECT_DIR / "models" / "marts").rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            declared[model["name"]] = [(c["name"], c["data_type"]) for c in model["columns"]]
    return declared


def described_columns(settings: Settings, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of a table's columns, in order, as Spark describes them."""
    rows = sql(settings, f"DESCRIBE {schema}.{table}")
    columns: list[tuple[str, str]] = []
    for name, data_type, _comment in rows:
        if not name or name.startswith("#"):  # partition/detail sections follow a blank row
            break
        columns.append((name, data_type))
    return columns
