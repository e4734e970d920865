"""Fixtures of the app tests: small gold catalogues on private lakes, and AppTest runners."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_catalogue import train_recommender, write_gold
from lake_support import environment
from streamlit.testing.v1 import AppTest

from app import gold_tables
from lakehouse.settings import Settings

MAIN_SCRIPT = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")


def _lake(root: Path) -> dict[str, str]:
    return {"LAKE_ROOT": str(root / "lake"), "DATA_DIR": str(root / "data"),
            "APP_REFRESH_S": "0"}


@pytest.fixture(scope="module")
def gold_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The extended-mode catalogue published to gold, with a trained recommender."""
    with environment(**_lake(tmp_path_factory.mktemp("app_gold"))) as settings:
        write_gold(settings)
        train_recommender(settings)
        gold_tables.forget_probes()
        yield settings


@pytest.fixture(scope="module")
def dev_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Development-mode gold (no features, popularity, labels, genres) and no recommender."""
    with environment(**_lake(tmp_path_factory.mktemp("app_dev"))) as settings:
        write_gold(settings, development=True)
        gold_tables.forget_probes()
        yield settings


@pytest.fixture
def empty_lake(tmp_path: Path) -> Iterator[Settings]:
    """A lake where the pipeline has not run yet."""
    with environment(**_lake(tmp_path)) as settings:
        gold_tables.forget_probes()
        yield settings


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """Run the app at a page (url path, e.g. "track") with query parameters."""

    def run(page: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(MAIN_SCRIPT, default_timeout=60)
        at.run()
        if page:
            at.switch_page(f"views/{page}.py")
            at.query_params.update(query)
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return run
