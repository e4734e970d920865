"""Prefect retries a failed MongoDB task (a server restarting, a network blip), but not a refused
login or action: MongoDB would refuse it again, and the retries only delayed the error by their
waits (10 s each for the crawl, 5 s for the export)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.states import Failed
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

import ingestion.crawl
from ingestion.bronze_export import ExportError
from ingestion.crawl import CrawlStoreError
from lakehouse.settings import Settings, get_settings
from orchestration.flows import _retry_unless_refused, crawl_flow, crawl_task, export_task


def test_the_crawl_flow_stops_at_a_refused_login_without_retrying(
    ferretdb: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run_crawl = ingestion.crawl.run_crawl
    attempts: list[str] = []

    def counted_run_crawl(*args, **kwargs):  # the real crawl, counted
        attempts.append("crawl")
        return real_run_crawl(*args, **kwargs)

    uri = f"mongodb://etl:s3cret-Pw9@127.0.0.1:{ferretdb.ferretdb_port}/"
    with monkeypatch.context() as patch:
        patch.setattr(ingestion.crawl, "run_crawl", counted_run_crawl)
        patch.setenv("MONGODB_URI", uri)
        patch.setenv("DATA_DIR", str(tmp_path / "data"))
        get_settings.cache_clear()
        try:
            with pytest.raises(CrawlStoreError) as caught:
                crawl_flow(artists_per_run=1)
        finally:
            get_settings.cache_clear()
    assert "refused the login in MONGODB_URI (AuthenticationFailed:" in str(caught.value)
    assert "s3cret-Pw9" not in str(caught.value)
    assert attempts == ["crawl"]  # before: three, 10 s apart


def _raised_from(cause: BaseException, error: BaseException) -> BaseException:
    """`error` as `raise error from cause` leaves it."""
    error.__cause__ = cause
    return error


REFUSED = OperationFailure("Authentication failed.", 18, {"errmsg": "Authentication failed.",
                                                          "code": 18})
NO_ROLE = OperationFailure("user is not allowed to do action [insert] on [spotify.artists]", 8000,
                           {"errmsg": "user is not allowed to do action [insert] on"
                                      " [spotify.artists]", "code": 8000})
GONE = ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (_raised_from(REFUSED, CrawlStoreError("crawl refused")), False),
        (_raised_from(NO_ROLE, ExportError("export refused")), False),
        (_raised_from(GONE, CrawlStoreError("crawl lost MongoDB")), True),
        (_raised_from(GONE, ExportError("export lost MongoDB")), True),
        (RuntimeError("any other failure"), True),
    ],
    ids=["crawl-login", "export-role", "crawl-gone", "export-gone", "other"],
)
def test_only_refusals_skip_the_retries(failure: BaseException, retried: bool) -> None:
    for task in (crawl_task, export_task):
        assert task.retries == 2 and task.retry_condition_fn is _retry_unless_refused
    assert _retry_unless_refused(crawl_task, None, Failed(data=failure)) is retried
