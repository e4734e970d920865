"""Clear errors: Thrift Server down, lake busy, bronze missing, bad schema names."""

from __future__ import annotations

import pytest
from lake_support import lake_writer_running
from typer.testing import CliRunner

from lakehouse import dbt_runner
from lakehouse.cli import app
from lakehouse.dbt_sources import BronzeMissingError, check_identifier, register_bronze_tables
from lakehouse.exclusive_lock import LakeBusy
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError, free_port
from spark_thrift.client import query


def down(settings: Settings) -> Settings:
    return settings.model_copy(update={"thrift_port": free_port()})


def test_build_fails_clearly_when_thrift_is_down(settings: Settings) -> None:
    stopped = down(settings)
    with pytest.raises(ServiceError, match="Spark Thrift Server is not answering") as exc:
        dbt_runner.build(stopped)
    assert f"127.0.0.1:{stopped.thrift_port}" in str(exc.value)
    assert "lakehouse services up" in str(exc.value)


def test_a_build_while_another_writer_holds_the_lake_is_refused(thrift: Settings) -> None:
    # Its own bronze schema: registering the sources, the build's first write, would create it.
    settings = thrift.model_copy(update={"dbt_bronze_schema": "bronze_refused"})
    with lake_writer_running(settings, "bronze export batch held-by-test") as holder:
        with pytest.raises(LakeBusy) as refused:
            dbt_runner.build(settings, gold_schema="gold_audit")
        message = str(refused.value)
        assert message.startswith("dbt build into gold_audit was refused: ")
        assert f"(bronze export batch held-by-test, pid {holder.pid}, since " in message
        assert "a dbt build beside an export would read half a batch" in message

        result = CliRunner().invoke(app, ["transform"])
        assert result.exit_code == 1
        assert "dbt build into gold was refused" in " ".join(result.output.split())
    assert query("SHOW SCHEMAS LIKE 'bronze_refused'", settings=settings) == []


@pytest.mark.parametrize("command", ["transform", "freshness"])
def test_dbt_cli_exits_1_with_the_fix(
    command: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRIFT_PORT", str(free_port()))
    from lakehouse.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [command])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "not answering" in result.output and "lakehouse services up" in result.output


@pytest.mark.parametrize(
    ("options", "noted"),
    [([], True), (["--audit"], False), (["--target-schema", "gold_dev"], False)],
)
def test_transform_into_the_published_gold_says_it_skips_the_gate(
    options: list[str], noted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.settings import get_settings

    monkeypatch.setenv("THRIFT_PORT", str(free_port()))  # stops right after the note
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["transform", *options])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert ("straight into `gold`" in output) is noted
    assert ("without the Great Expectations gate" in output) is noted


def test_missing_bronze_tables_are_named(settings: Settings, tmp_path) -> None:
    empty = settings.model_copy(update={"lake_root": str(tmp_path / "lake")})
    with pytest.raises(BronzeMissingError, match="albums, artists, tracks") as exc:
        register_bronze_tables(empty)
    assert "lakehouse export" in str(exc.value)


def test_schema_names_are_checked() -> None:
    assert check_identifier("gold_audit") == "gold_audit"
    with pytest.raises(ValueError, match="not a valid schema name"):
        check_identifier("gold; drop table x")


def test_environment_switches_gold_schema_for_write_audit_publish(settings: Settings) -> None:
    env = dbt_runner.dbt_environment(settings, gold_schema="gold_audit")
    assert env["DBT_GOLD_SCHEMA"] == "gold_audit"
    assert env["DBT_SILVER_SCHEMA"] == "silver"
    assert env["THRIFT_PORT"] == str(settings.thrift_port)
    assert env["DBT_LAKE_ROOT"] == settings.lake_uri
