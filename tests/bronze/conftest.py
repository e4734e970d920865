"""Fixtures of the bronze tests: a private lake and MongoDB database per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.database import Database

from lakehouse.settings import Settings


@pytest.fixture
def bronze_settings(ferretdb: Settings, mongo_db: Database, tmp_path: Path) -> Settings:
    """Settings whose MongoDB database is the test's fresh one and whose lake is private.

    Change capture `scan` (MongoDB's default): these tests write documents straight into the
    collections; test_change_journal.py covers the journal that FerretDB's default reads.
    """
    return ferretdb.model_copy(
        update={
            "mongodb_database": mongo_db.name,
            "lake_root": str(tmp_path / "lake"),
            "bronze_change_capture": "scan",
        }
    )
