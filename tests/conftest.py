"""Session-wide test environment.

The whole suite runs against its own data folder and free ports, so a developer's running stack
(default ports, ./data) is never touched. Heavy services start once per session:
- `ferretdb`: the local MongoDB-compatible server (FerretDB, SQLite backend)
- `thrift`: the Spark Thrift Server with Delta (~20-40 s to start)
Both are started and stopped through the same code as `lakehouse services up/down`.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hdfs_cluster import running_hdfs
from lake_support import environment, register_lake_tables, reset_metastore

from lakehouse.settings import OFFLINE_ENV, Settings, get_settings
from lakehouse.supervisor import free_port, port_is_free

# Every temporary path of the suite (the session's DATA_DIR, each test's lake; not the HDFS test
# cluster's storage, see tests/hdfs_cluster.py) lives under a folder with a space, a quote and
# a non-ASCII letter, as in "~/My Projects/O'Brien/José":
# every service, DDL location and file URL must cope with them. pytest numbers and prunes its
# runs inside it as it does in /tmp.
SUITE_TEMP_ROOT = Path(tempfile.gettempdir()) / "lakehouse tests o'q josé"
SUITE_TEMP_ROOT.mkdir(exist_ok=True)
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(SUITE_TEMP_ROOT))

# The Ctrl-C tests send SIGINT to a CLI as a terminal does. A shell starts a background job
# (`make test &`, nohup, some CI runners) with SIGINT ignored, and an ignored signal stays ignored
# in every program it starts: those CLIs would never see the Ctrl-C, and Python would not even
# install its handler. The suite's children start as a terminal's foreground job does.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _configure_environment(root: Path) -> dict[str, str]:
    env = {
        "DATA_DIR": str(root / "data"),
        "LAKE_ROOT": "",
        "MONGODB_URI": "",
        "MONGODB_DATABASE": "spotify_test",
        "FERRETDB_PORT": str(free_port()),
        "THRIFT_PORT": str(free_port()),
        "SPARK_UI_PORT": "0",
        "SPARK_DRIVER_MEMORY": "2g",
        "SPOTIFY_CLIENT_ID": "",
        "SPOTIFY_CLIENT_SECRET": "",
        "EMULATOR_PORT": str(free_port()),
        **OFFLINE_ENV,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    return env


@pytest.fixture(scope="session", autouse=True)
def test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Point every setting at a private data folder and free ports for the whole session."""
    saved = dict(os.environ)
    env = _configure_environment(tmp_path_factory.mktemp("lakehouse"))
    yield env
    _quiet_logging_at_exit()
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


def _quiet_logging_at_exit() -> None:
    """Prefect stops its temporary API server at interpreter exit and logs that to a console
    stream pytest has closed by then, which printed "--- Logging error ---" and a traceback at
    the end of every run. Past this point, a failed log write is dropped (the stdlib's switch)."""
    logging.raiseExceptions = False


@pytest.fixture(scope="session")
def settings(test_environment: dict[str, str]) -> Settings:
    return get_settings()


def _run_service(settings: Settings, name: str) -> Iterator[Settings]:
    from lakehouse import services

    (service,) = services.select(settings, [name])
    services.start(service)
    yield settings
    services.stop(service)
    # Teardown asserts: `down` must leave no process and free the port.
    assert service.process.running_process() is None
    assert port_is_free(service.host, service.port), f"{name} still holds port {service.port}"


def _own_service(session: Settings, name: str, folder: Path) -> Iterator[Settings]:
    """A service of one test's own, with its own DATA_DIR and port, for tests that kill it (the
    session's is shared: it must stay up). A test may start it again; it is stopped after."""
    port = {"ferretdb": "ferretdb_port", "thrift": "thrift_port"}[name]
    own = session.model_copy(update={"data_dir": folder / "data", port: free_port()})
    yield from _run_service(own, name)


@pytest.fixture
def own_ferretdb(ferretdb: Settings, tmp_path: Path) -> Iterator[Settings]:
    yield from _own_service(ferretdb, "ferretdb", tmp_path)


@pytest.fixture
def own_thrift(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A Thrift Server of the test's own (lake and metastore in its DATA_DIR); ~15 s to start."""
    yield from _own_service(settings, "thrift", tmp_path)


@pytest.fixture(scope="session")
def ferretdb(settings: Settings) -> Iterator[Settings]:
    """The local FerretDB, started once for the session."""
    yield from _run_service(settings, "ferretdb")


_THRIFT_RUNNING: list[Settings] = []


@pytest.fixture(scope="session")
def thrift(settings: Settings) -> Iterator[Settings]:
    """The Spark Thrift Server with Delta, started once for the session."""
    for running in _run_service(settings, "thrift"):
        _THRIFT_RUNNING.append(running)
        yield running
        _THRIFT_RUNNING.clear()


@pytest.fixture(autouse=True, scope="module")
def _fresh_metastore_per_module(request: pytest.FixtureRequest) -> None:
    """Each test module starts with no lake schemas in the session's one metastore, so a module
    never merges into tables another module registered at its own lake's locations (dbt's
    incremental models would). External tables: dropping them keeps every module's data.

    A module on the session's built lakehouse gets that lake's tables registered again: pytest
    builds the session fixture before this one, and without them the module's pipeline runs
    would rebuild every incremental table from scratch instead of merging, as no real run does."""
    if not _THRIFT_RUNNING:
        return
    reset_metastore(_THRIFT_RUNNING[0])
    on_built_lakehouse = any(
        "built_lakehouse" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if item.module is request.module
    )
    if on_built_lakehouse:
        settings, _report = request.getfixturevalue("built_lakehouse")
        register_lake_tables(settings)


@pytest.fixture
def mongo_db(ferretdb: Settings):
    """A fresh, uniquely named MongoDB database for one test (dropped afterwards)."""
    from ingestion.mongodb import client

    name = f"t_{uuid.uuid4().hex[:10]}"
    with client(ferretdb) as mongo:
        yield mongo[name]
        mongo.drop_database(name)


@pytest.fixture(scope="session")
def hdfs_url() -> Iterator[str]:
    """hdfs://127.0.0.1:PORT of a one-datanode HDFS, started once for the session (~30 s)."""
    with running_hdfs() as url:
        yield url


@pytest.fixture(scope="session")
def built_lakehouse(
    thrift: Settings, ferretdb: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict]]:
    """The whole pipeline flow, run once on a small emulator catalogue through the real services
    (crawl -> MongoDB -> bronze -> dbt into gold_audit -> GX gate -> publish -> train).

    Yields the settings of that lakehouse and the flow's report. Tests that alter the audit
    tables put them back; the published gold is only ever changed by the flow and WAP."""
    from orchestration.flows import pipeline_flow

    root = tmp_path_factory.mktemp("built_lakehouse")
    with environment(
        LAKE_ROOT=str(root / "lake"),
        MONGODB_DATABASE=f"system_{uuid.uuid4().hex[:8]}",
        EMULATOR_ARTISTS="12",
        EMULATOR_MODE="extended",
        PIPELINE_ARTISTS_PER_RUN="6",  # the flow's default, as `lakehouse pipeline` runs it
    ) as settings:
        reset_metastore(settings)
        report = pipeline_flow(crawl=True)
        yield settings, report
