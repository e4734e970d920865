"""dbt test fixtures (defined in dbt_fixtures.py so test modules can import its helpers)."""

from dbt_fixtures import catalogue_runs

__all__ = ["catalogue_runs"]
