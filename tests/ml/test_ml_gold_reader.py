"""The gold reader's backends: Delta by path, Spark Thrift (real server), Dremio Flight errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from ml_catalogues import track
from pydantic import SecretStr

from lakehouse.settings import Settings
from lakehouse.supervisor import free_port
from ml.gold_reader import (
    DeltaGoldReader,
    FlightGoldReader,
    GoldReadError,
    ThriftGoldReader,
    gold_reader,
)


def rows() -> list[dict]:
    return [
        track("r1", "rock", artist="rock-a", genres=["rock", "hard rock"], popularity=40),
        track("m1", None, artist="meta-a", genres=[]),
    ]


def test_delta_reader_reads_the_table_and_its_version(lake_settings, write_gold):
    write_gold(rows()[:1])
    write_gold(rows())
    snapshot = gold_reader(lake_settings).read()
    assert snapshot.backend == "delta" and snapshot.version == 1
    assert snapshot.table.num_rows == 2
    assert snapshot.table.column("genres").to_pylist() == [["rock", "hard rock"], []]
    assert snapshot.provenance()["delta_version"] == 1


def test_delta_reader_follows_the_gold_schema_setting(lake_settings, write_gold):
    write_gold(rows())
    other = lake_settings.model_copy(update={"gold_schema": "gold_audit"})
    with pytest.raises(GoldReadError, match="gold_audit/mart_recommender_features"):
        DeltaGoldReader(other).read()


def test_unknown_mart_and_backend_are_rejected(lake_settings):
    with pytest.raises(GoldReadError, match="Unknown gold mart 'users; DROP'"):
        DeltaGoldReader(lake_settings).read("users; DROP")
    with pytest.raises(GoldReadError, match="Unknown gold backend 'mysql'"):
        gold_reader(lake_settings, "mysql")


def test_flight_reader_names_missing_credentials(lake_settings):
    with pytest.raises(GoldReadError, match="needs DREMIO_USER, DREMIO_PASSWORD"):
        gold_reader(lake_settings, "flight").read()


def test_flight_reader_reports_an_unreachable_dremio_without_the_password(lake_settings):
    port = free_port()
    settings = lake_settings.model_copy(update={
        "dremio_user": "analyst",
        "dremio_password": SecretStr("s3cret-pw"),
        "dremio_flight_port": port,
    })
    with pytest.raises(GoldReadError) as error:
        FlightGoldReader(settings).read()
    message = str(error.value)
    assert f"127.0.0.1:{port}" in message and "DREMIO_FLIGHT_HOST" in message
    assert "s3cret-pw" not in message


@pytest.mark.timeout(120)
def test_flight_reader_gives_up_on_a_dremio_that_never_answers(lake_settings):
    """A listening socket nobody accepts from: the kernel completes the TCP handshake and no
    answer ever comes, as from a stuck or paused Dremio. Without a deadline the read (and the
    pipeline's train stage) waited for ever; pytest's timeout turns that into a failure."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:
        port = silent.getsockname()[1]
        settings = lake_settings.model_copy(update={
            "dremio_user": "analyst",
            "dremio_password": SecretStr("s3cret-pw"),
            "dremio_flight_port": port,
            "dremio_flight_timeout_s": 1.5,
        })
        with pytest.raises(GoldReadError) as error:
            FlightGoldReader(settings).read()
    message = str(error.value)
    assert message.startswith(
        f"Dremio Arrow Flight at 127.0.0.1:{port} did not answer within 1.5 s"
        ' (DREMIO_FLIGHT_TIMEOUT_S) reading "lake"."gold"."mart_recommender_features"'
    )
    assert "s3cret-pw" not in message


@pytest.fixture
def thrift_gold(thrift, lake_settings, write_gold) -> Iterator[tuple[Settings, int]]:
    """rows() published to gold and registered as ml_test_gold.mart_recommender_features in the
    Spark Thrift Server; (settings reading that schema, the Delta version written)."""
    from spark_thrift.client import query

    version = write_gold(rows())
    settings = lake_settings.model_copy(
        update={"gold_schema": "ml_test_gold", "lake_root": lake_settings.lake_root}
    )
    location = lake_settings.lake_path("gold", "mart_recommender_features")
    query("CREATE SCHEMA IF NOT EXISTS ml_test_gold", settings=thrift)
    query("DROP TABLE IF EXISTS ml_test_gold.mart_recommender_features", settings=thrift)
    query("CREATE TABLE ml_test_gold.mart_recommender_features USING DELTA LOCATION %(location)s",
          {"location": location}, settings=thrift)
    try:
        yield settings, version
    finally:
        query("DROP TABLE IF EXISTS ml_test_gold.mart_recommender_features", settings=thrift)


@pytest.mark.services
def test_thrift_reader_matches_the_delta_reader(thrift_gold, lake_settings):
    settings, version = thrift_gold
    via_thrift = ThriftGoldReader(settings).read()
    via_delta = DeltaGoldReader(lake_settings).read()
    assert via_thrift.version == via_delta.version == version
    assert via_thrift.table.num_rows == 2
    for column in ("track_id", "genres", "artist_ids", "danceability", "popularity",
                   "has_audio_features"):
        assert via_thrift.table.column(column).to_pylist() == \
            via_delta.table.column(column).to_pylist(), column
    # Training through the Thrift backend records where and which version it read.
    from ml.training import train

    info = train(settings, backend="thrift")
    source = info.manifest["gold_tables"]["ml_test_gold.mart_recommender_features"]
    assert source["backend"] == "thrift" and source["delta_version"] == version
    assert source["location"].endswith("/ml_test_gold.mart_recommender_features")


@pytest.mark.services
def test_thrift_reader_reads_the_version_it_records(thrift_gold, write_gold, monkeypatch):
    settings, version = thrift_gold
    history = ThriftGoldReader._latest_version

    def then_a_publish_commits(cursor, name: str) -> int | None:
        found = history(cursor, name)
        assert write_gold(rows()[:1]) == version + 1  # between DESCRIBE HISTORY and SELECT
        return found

    monkeypatch.setattr(ThriftGoldReader, "_latest_version",
                        staticmethod(then_a_publish_commits))
    snapshot = ThriftGoldReader(settings).read()
    # The rows are those of the version recorded, not of the newer publish.
    assert snapshot.version == version
    assert snapshot.table.column("track_id").to_pylist() == ["r1", "m1"]


@pytest.mark.services
def test_thrift_reader_reports_a_missing_table(thrift, lake_settings):
    settings = lake_settings.model_copy(update={"gold_schema": "ml_no_such_schema"})
    with pytest.raises(GoldReadError, match=r"Cannot read ml_no_such_schema\.mart_recommender"):
        ThriftGoldReader(settings).read()
