"""A malformed MONGODB_URI is named as such, with the fix, and never quoted.

pymongo raises a plain ValueError for a bad port and an InvalidURI (with parts of the password
in some messages) for an unescaped '@' or '/' in the password. Each must become one ServiceError
naming MONGODB_URI, in every path a user runs: `services up`, `services status`, the health probe.
"""

from __future__ import annotations

import dataclasses
import socket

import pytest

from ingestion import mongodb
from lakehouse import services
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError, free_port

PASSWORD = "Pw9secret"

# Each is malformed; PASSWORD (or a piece of it) is what must never be shown.
MALFORMED = {
    "srv, letter O in the port": f"mongodb+srv://user:{PASSWORD}@db.example.net:27O17/",
    "letter O in the port": f"mongodb://user:{PASSWORD}@db.example.net:27O17/",
    "port out of range": f"mongodb://user:{PASSWORD}@db.example.net:99999/",
    "unescaped / in the password": "mongodb://user:Pw9/secret@db.example.net/",
    "unescaped @ in the password": "mongodb://user:Pw9@secret@db.example.net/",
    "srv with a port": f"mongodb+srv://user:{PASSWORD}@db.example.net:27017/",
    "no scheme separator": f"mongodb//user:{PASSWORD}@db.example.net/",
}


@pytest.fixture(autouse=True)
def private_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No pid file of the session's own FerretDB: it would show as a leftover local server."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))


def _settings(uri: str) -> Settings:
    return Settings(_env_file=None, mongodb_uri=uri)


def _assert_names_setting_and_fix(message: str) -> None:
    assert "MONGODB_URI" in message
    assert "quote_plus" in message  # the fix for special characters in user name / password
    for piece in (PASSWORD, "Pw9", "secret"):
        assert piece not in message


@pytest.mark.parametrize("uri", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_uri_is_named_with_the_fix_and_never_quoted(uri: str) -> None:
    with pytest.raises(ServiceError) as caught:
        mongodb.check_uri(_settings(uri))
    _assert_names_setting_and_fix(str(caught.value))
    # pymongo's own error is not chained either: a traceback would print its message.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("uri", MALFORMED.values(), ids=MALFORMED.keys())
def test_services_up_and_status_report_a_malformed_uri(uri: str) -> None:
    (service,) = services.select(_settings(uri), ["ferretdb"])
    assert service.external

    with pytest.raises(ServiceError) as caught:
        services.start(service)
    _assert_names_setting_and_fix(str(caught.value))
    assert "does not answer" not in str(caught.value)

    st = services.state(service)
    assert not st.healthy
    assert st.detail.startswith("external (MONGODB_URI). MONGODB_URI ")
    _assert_names_setting_and_fix(st.detail)
    # The yes/no health check answers "no" instead of raising (doctor, `services` and
    # `lakehouse crawl` name the problem through `answers`/`connection_problem`).
    assert mongodb.is_healthy(_settings(uri)) is False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket or name lookup fails the test: validation must be offline (a mongodb+srv://
    URI would otherwise be resolved over DNS)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access during URI validation")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://user:Pw%40se%2Fcret@db.example.net:27017/spotify?authSource=admin",
        "mongodb+srv://user:Pw9secret@cluster0.example.net/?retryWrites=true&w=majority",
        "mongodb://db1.example.net:27017,db2.example.net:27018/?replicaSet=rs0",
    ],
)
def test_valid_uri_passes_without_a_network_call(uri: str, no_network: None) -> None:
    mongodb.check_uri(_settings(uri))


def test_local_default_passes(no_network: None) -> None:
    mongodb.check_uri(Settings(_env_file=None, mongodb_uri="", ferretdb_port=27017))


def test_status_of_a_valid_external_uri_is_not_blamed_on_the_uri() -> None:
    # The check runs before the probe: only a URI that cannot be parsed gets the URI message.
    (service,) = services.select(_settings(f"mongodb://127.0.0.1:{free_port()}/"), ["ferretdb"])
    st = services.state(dataclasses.replace(service, probe=lambda: False))
    assert not st.healthy
    assert st.detail == "external (MONGODB_URI)"


@pytest.mark.parametrize("uri", MALFORMED.values(), ids=MALFORMED.keys())
def test_doctor_names_a_malformed_uri_not_a_server_that_does_not_answer(uri: str) -> None:
    from lakehouse import doctor

    (ferretdb,) = services.select(_settings(uri), ["ferretdb"])

    check = doctor.check_service_address(ferretdb)

    assert not check.ok
    assert "does not answer" not in check.detail
    _assert_names_setting_and_fix(check.fix)
    assert PASSWORD not in check.fix and "secret" not in check.fix


def test_crawl_names_a_malformed_uri_not_an_unreachable_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from lakehouse.cli import app
    from lakehouse.settings import get_settings

    monkeypatch.setenv("MONGODB_URI", MALFORMED["unescaped / in the password"])
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["crawl"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "not reachable" not in output
    _assert_names_setting_and_fix(output)
    assert "secret" not in output
