"""A server that answers but refuses the login in MONGODB_URI (a wrong password, a wrong
authSource) or an action (a user without readWrite): every command names that, with the fix,
instead of "not reachable", and never quotes the password.

The session's FerretDB refuses any login for real: v1.24 on SQLite answers a SCRAM login with
code 18 AuthenticationFailed, as MongoDB does for a wrong password. The other refusals (Atlas's
8000 AtlasError answers, MongoDB's 13 Unauthorized) cannot be provoked here; they are checked as
pymongo raises them, with the answers Atlas and MongoDB send.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from pymongo.errors import OperationFailure

from ingestion import mongodb
from ingestion.crawl import CrawlStoreError, emulator_endpoint, run_crawl
from lakehouse import doctor, services
from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.supervisor import ServiceError, free_port
from orchestration.flows import check_each_service, check_services

PASSWORD = "s3cret-Pw9"
REFUSED = "refused the login in MONGODB_URI (AuthenticationFailed:"


@pytest.fixture
def refused(ferretdb: Settings, tmp_path: Path) -> Settings:
    """The session's FerretDB, reached with a user and password: it answers, and refuses them.
    A DATA_DIR of its own, so the session's FerretDB pid file is not a "leftover" here."""
    uri = f"mongodb://etl:{PASSWORD}@127.0.0.1:{ferretdb.ferretdb_port}/"
    return ferretdb.model_copy(
        update={"mongodb_uri": SecretStr(uri), "data_dir": tmp_path / "data"})


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "400",
        "DATA_DIR": str(settings.data_dir),
        "MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        **extra,
    }


def _cli(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args], cwd=REPO_ROOT, env=_env(settings, **extra),
        capture_output=True, text=True, timeout=300,
    )


def _assert_names_the_refused_login(message: str, settings: Settings) -> None:
    message = " ".join(message.split())
    assert f"MongoDB at mongodb://***@127.0.0.1:{settings.ferretdb_port}/ {REFUSED}" in message
    assert "Check the user name and password" in message and "authSource" in message
    assert "not reachable" not in message and "does not answer" not in message
    assert PASSWORD not in message and "Traceback" not in message


def test_lakehouse_crawl_names_a_refused_login(refused: Settings) -> None:
    result = _cli(refused, "crawl")
    assert result.returncode == 1
    assert result.stderr.startswith("error: MongoDB at")
    _assert_names_the_refused_login(result.stderr, refused)
    assert PASSWORD not in result.stdout


def test_run_crawl_stops_with_the_refused_login_and_how_to_resume(
    refused: Settings, emulator
) -> None:
    """The path of the Prefect crawl flow and `lakehouse pipeline`, which call run_crawl."""
    seeds = [artist.name for artist in list(emulator.catalogue.artists.values())[:2]]
    with pytest.raises(CrawlStoreError) as caught:
        run_crawl(refused, endpoint=emulator_endpoint(emulator), seeds=seeds, crawl_id="crawl-t")
    message = str(caught.value)
    assert message.startswith("crawl crawl-t stopped: MongoDB at")
    _assert_names_the_refused_login(message, refused)
    assert "crawl again once that is fixed, it resumes with the artists still pending" in message


def test_lakehouse_export_names_a_refused_login(refused: Settings) -> None:
    result = _cli(refused, "export", "--no-register")
    assert result.returncode == 1
    _assert_names_the_refused_login(result.stderr, refused)
    assert "The export is safe to re-run." in " ".join(result.stderr.split())


def test_services_status_doctor_and_the_pipeline_check_name_a_refused_login(
    refused: Settings,
) -> None:
    (service,) = services.select(refused, ["ferretdb"])
    assert service.external
    with pytest.raises(ServiceError) as caught:
        services.start(service)
    _assert_names_the_refused_login(str(caught.value), refused)

    state = services.state(service)
    assert not state.healthy
    _assert_names_the_refused_login(state.problem, refused)
    assert state.problem in state.detail

    check = doctor.check_service_address(service)
    assert not check.ok and check.detail.endswith("(MONGODB_URI), refuses the login")
    _assert_names_the_refused_login(check.fix, refused)

    # The pipeline's first stage: the refusal, not "not answering: ... check MONGODB_URI", and
    # in the same message whatever else is down (here a Thrift Server on a port nobody holds).
    no_thrift = refused.model_copy(update={"thrift_port": free_port()})
    checked = check_each_service(no_thrift)
    assert checked.unusable == [state.problem]
    assert [entry.split(" (")[0] for entry in checked.down] == ["Spark Thrift Server"]
    with pytest.raises(ServiceError) as stage:
        check_services.fn(no_thrift)
    assert str(stage.value).startswith(state.problem + " not answering: Spark Thrift Server")

    # The health probes say "no" without raising; connection_problem says why.
    assert mongodb.is_healthy(refused) is False
    _assert_names_the_refused_login(mongodb.connection_problem(refused) or "", refused)


def test_a_server_that_is_not_there_is_still_called_not_reachable(refused: Settings) -> None:
    gone = refused.model_copy(update={
        "mongodb_uri": SecretStr(f"mongodb://etl:{PASSWORD}@127.0.0.1:{free_port()}/")})
    problem = mongodb.connection_problem(gone) or ""
    assert problem.startswith("MongoDB is not reachable at mongodb://***@127.0.0.1:")
    assert "reachable from here (for Atlas: the project's IP access list)" in problem
    assert "refused" not in problem and PASSWORD not in problem


# What Atlas and MongoDB answer, as pymongo raises it (OperationFailure(errmsg, code, details)).
def _answer(code: int, code_name: str, errmsg: str) -> OperationFailure:
    return OperationFailure(errmsg, code, {"ok": 0, "errmsg": errmsg, "code": code,
                                           "codeName": code_name})


ATLAS_BAD_AUTH = _answer(8000, "AtlasError", "bad auth : Authentication failed.")
MONGODB_BAD_AUTH = _answer(18, "AuthenticationFailed", "Authentication failed.")
ATLAS_NOT_ALLOWED = _answer(
    8000, "AtlasError", "user is not allowed to do action [insert] on [spotify.artists]")
MONGODB_UNAUTHORIZED = _answer(
    13, "Unauthorized", "not authorized on spotify to execute command { insert: \"artists\" }")
MONGODB_NO_LOGIN = _answer(13, "Unauthorized", "command insert requires authentication")
ATLAS_OTHER = _answer(8000, "AtlasError", "getLastError not supported for new-style commands")
DUPLICATE_KEY = _answer(11000, "DuplicateKey", "E11000 duplicate key error")

ATLAS_URI = f"mongodb+srv://etl:{PASSWORD}@cluster0.example.mongodb.net/?retryWrites=true"


@pytest.mark.parametrize("answer", [ATLAS_BAD_AUTH, MONGODB_BAD_AUTH], ids=["atlas", "mongodb"])
def test_a_refused_login_is_told_apart_from_other_failures(answer: OperationFailure) -> None:
    settings = Settings(_env_file=None, mongodb_uri=ATLAS_URI)
    message = mongodb.access_refused_message(settings, answer) or ""
    reason = answer.details["errmsg"]
    assert message.startswith(
        "MongoDB at mongodb+srv://***@cluster0.example.mongodb.net/?*** refused the login in"
        f" MONGODB_URI ({answer.details['codeName']}: {reason})."
    )
    assert "Atlas keeps its database users in admin" in message and PASSWORD not in message


@pytest.mark.parametrize(
    "answer", [ATLAS_NOT_ALLOWED, MONGODB_UNAUTHORIZED], ids=["atlas", "mongodb"])
def test_a_refused_action_asks_for_the_readwrite_role(answer: OperationFailure) -> None:
    settings = Settings(_env_file=None, mongodb_uri=ATLAS_URI, mongodb_database="spotify")
    message = mongodb.access_refused_message(settings, answer) or ""
    assert f"refused an action to the user in MONGODB_URI ({answer.details['codeName']}:" in message
    assert answer.details["errmsg"] in message
    role = "Give that user the readWrite role on the database 'spotify' (MONGODB_DATABASE)"
    assert role in message
    assert PASSWORD not in message


def test_a_server_with_users_and_a_uri_without_one_is_asked_for_a_login() -> None:
    """`ping` needs no login, so such a server passes the checks and refuses the first write."""
    settings = Settings(_env_file=None, mongodb_uri="mongodb://db.example.net/")
    message = mongodb.access_refused_message(settings, MONGODB_NO_LOGIN) or ""
    assert message.startswith(
        "MongoDB at mongodb://db.example.net/ requires a login, and MONGODB_URI gives none"
        " (Unauthorized: command insert requires authentication). Put the user name and"
        " password in it"
    )
    assert "readWrite" not in message


@pytest.mark.parametrize("answer", [ATLAS_OTHER, DUPLICATE_KEY], ids=["atlas-other", "dup-key"])
def test_other_server_errors_are_not_taken_for_a_refusal(answer: OperationFailure) -> None:
    settings = Settings(_env_file=None, mongodb_uri=ATLAS_URI)
    assert mongodb.access_refused_message(settings, answer) is None
