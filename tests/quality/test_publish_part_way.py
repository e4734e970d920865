"""What a publish that stops part-way leaves, and says it leaves: a table whose rows are
committed counts as published even when its description step fails (a warning), and a second
Ctrl-C names and records the tables already committed (and `lakehouse publish` says so). On
small local lakes; the metastore registration (Thrift) is left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deltalake
import pyarrow as pa
import pytest
import typer
from deltalake import DeltaTable, write_deltalake
from lake_support import environment

from lakehouse.settings import Settings
from quality import audit_log, publish
from quality.gate import GateResult
from quality.publish import AUDIT_SCHEMA, PublishIncomplete, PublishInterrupted, publish_all
from quality.write_audit_publish import WriteAuditPublish

TABLES = ("dim_album", "dim_artist", "dim_track")  # marts of the project, in publish order


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Audit tables with new rows and descriptions; gold with older ones (version 0 each)."""
    monkeypatch.setattr(publish, "register_published", lambda settings, names: None)
    with environment(LAKE_ROOT=str(tmp_path / "lake"), DATA_DIR=str(tmp_path / "data")) as settings:
        for name in TABLES:
            write_deltalake(settings.lake_path(AUDIT_SCHEMA, name),
                            pa.table({"id": ["new-1", "new-2"]}), description=f"{name}, edited")
            write_deltalake(settings.lake_path("gold", name), pa.table({"id": ["old"]}),
                            description=f"{name}, as it was")
        yield settings


def gold(settings: Settings, name: str) -> DeltaTable:
    return DeltaTable(settings.lake_path("gold", name))


def passed_audit(settings: Settings) -> WriteAuditPublish:
    return WriteAuditPublish(settings, gate=GateResult(passed=True, evaluated=1))


def test_a_failed_description_step_leaves_the_table_published_with_a_warning(
    lake: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: Any, description: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(deltalake.table.TableAlterer, "set_table_description", refused)

    with pytest.raises(PublishIncomplete) as incomplete:
        publish_all(lake)
    # Every table's rows are committed: nothing is pending, and the later tables went on.
    assert incomplete.value.pending == []
    assert [p.name for p in incomplete.value.published] == list(TABLES)
    for name in TABLES:
        assert gold(lake, name).to_pyarrow_table().column("id").to_pylist() == ["new-1", "new-2"]
    assert incomplete.value.cause.startswith(
        "setting the description of dim_album: OSError: disk full (its rows are published; gold"
        " keeps its previous description until the next publish); setting the description of"
        " dim_artist: ")

    outcome = passed_audit(lake)
    record = outcome.publish()
    assert (record.passed, record.failed_stage) == (True, None)
    [warning] = outcome.warnings
    assert warning.startswith("gold was published, but setting the description of dim_album:")
    assert [t["name"] for t in audit_log.recent(lake)[0].tables] == list(TABLES)


@pytest.mark.parametrize("landed", [True, False])
def test_a_second_ctrl_c_names_and_records_the_tables_committed(
    lake: Settings, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    """Ctrl-C while dim_artist is written. delta-rs writes on threads of its own, so a real one
    is raised once its commit is done (landed); one raised before the write starts is not."""
    write = deltalake.write_deltalake

    def ctrl_c_on_dim_artist(target: str, *args: Any, **kwargs: Any) -> None:
        if target.endswith("/gold/dim_artist"):
            if landed:
                write(target, *args, **kwargs)
            raise KeyboardInterrupt
        write(target, *args, **kwargs)

    monkeypatch.setattr(deltalake, "write_deltalake", ctrl_c_on_dim_artist)
    # Caught as any KeyboardInterrupt: one that escaped would stop the whole pytest session.
    with pytest.raises(KeyboardInterrupt) as stopped:
        passed_audit(lake).publish()

    assert isinstance(stopped.value, PublishInterrupted)
    committed = ["dim_album", "dim_artist"] if landed else ["dim_album"]
    previous = [name for name in TABLES if name not in committed]
    assert str(stopped.value) == (
        f"Publishing was stopped by Ctrl-C: after {len(committed)} of 3 tables, gold holds the new"
        f" version of {', '.join(committed)} and the previous one of {', '.join(previous)} until"
        " the next publish. The audited tables are unchanged in gold_audit: run `lakehouse"
        " publish --skip-dbt` to publish them."
    )
    assert {name: gold(lake, name).version() for name in TABLES} == {
        name: (2 if name == "dim_album" else 1) if name in committed else 0 for name in TABLES
    }  # dim_album: its rows, then its edited description
    audit = audit_log.recent(lake)[0]
    assert (audit.passed, audit.failed_stage) == (False, "publish")
    assert [t["name"] for t in audit.tables] == committed
    assert audit.tables[-1]["published_version"] == (1 if landed else 2)
    assert audit.tables[-1]["rows"] == 2
    assert audit.failures == [str(stopped.value)]


def test_a_ctrl_c_before_any_commit_says_gold_is_unchanged(
    lake: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = deltalake.write_deltalake

    def ctrl_c_on_gold(target: str, *args: Any, **kwargs: Any) -> None:
        if "/gold/" in target:
            raise KeyboardInterrupt
        write(target, *args, **kwargs)  # the audit log's

    monkeypatch.setattr(deltalake, "write_deltalake", ctrl_c_on_gold)
    with pytest.raises(KeyboardInterrupt) as stopped:
        passed_audit(lake).publish()
    assert isinstance(stopped.value, PublishInterrupted)
    assert str(stopped.value).startswith(
        "Publishing was stopped by Ctrl-C: no table had been committed, so gold is unchanged.")
    assert {gold(lake, name).version() for name in TABLES} == {0}
    assert audit_log.recent(lake)[0].tables == []


def test_lakehouse_publish_stopped_by_ctrl_c_says_what_gold_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from quality import cli, write_audit_publish

    def stopped(*args, **kwargs):
        raise PublishInterrupted([], ["dim_album"], "gold_audit")

    monkeypatch.setattr(write_audit_publish, "audit_and_publish", stopped)
    with pytest.raises(typer.Exit) as exited:
        cli.publish_command(skip_dbt=True, full_refresh=False)
    assert exited.value.exit_code == 130
    assert " ".join(capsys.readouterr().err.split()) == (
        "interrupted: Publishing was stopped by Ctrl-C: no table had been committed, so gold is"
        " unchanged. The audited tables are unchanged in gold_audit: run `lakehouse publish"
        " --skip-dbt` to publish them."
    )
