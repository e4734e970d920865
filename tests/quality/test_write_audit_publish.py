"""Write-audit-publish on real tables via Spark: a clean audit publishes, bad data never does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_support import lake_writer_running

from lakehouse.exclusive_lock import LakeBusy
from lakehouse.settings import Settings
from lakehouse.supervisor import free_port
from quality import audit_log
from quality.config import load_config
from quality.publish import AUDIT_SCHEMA, audit_tables, publish_all, publish_order
from quality.write_audit_publish import QualityGateFailed, audit_and_publish

GOLD = ["dim_track", "dim_album", "fct_track_features", "mart_recommender_features"]


def table(settings: Settings, schema: str, name: str) -> DeltaTable:
    return DeltaTable(settings.lake_path(schema, name))


def published_state(settings: Settings) -> dict[str, tuple[int, pa.Table]]:
    state = {}
    for name in GOLD:
        delta = table(settings, "gold", name)
        data = delta.to_pyarrow_table()
        key = "track_id" if "track_id" in data.column_names else "album_id"
        state[name] = (delta.version(), data.sort_by(key))
    return state


@pytest.fixture
def audit_tables_restored(built_lakehouse) -> Iterator[Settings]:
    """Put the audit tables back as they were, whatever the test injected."""
    settings, _ = built_lakehouse
    saved = {
        name: table(settings, AUDIT_SCHEMA, name).to_pyarrow_table()
        for name in ("dim_track", "fct_track_features")
    }
    yield settings
    for name, data in saved.items():
        write_deltalake(settings.lake_path(AUDIT_SCHEMA, name), data, mode="overwrite")


def test_a_clean_audit_publishes_new_versions(built_lakehouse) -> None:
    settings, _ = built_lakehouse
    before = {n: table(settings, "gold", n).version() for n in GOLD}

    outcome = audit_and_publish(settings, run_dbt=False)

    assert outcome.gate.passed
    # Every expectation of every suite that ran was evaluated, none dropped on the way.
    config = load_config()
    skipped = {entry.split(" ")[0] for entry in outcome.gate.skipped}
    suites = [*config.tables.items(), *config.checks.items()]
    assert outcome.gate.evaluated == sum(
        len(suite.expectations) for name, suite in suites if name not in skipped)
    assert outcome.gate.evaluated >= 40
    for name in GOLD:
        assert table(settings, "gold", name).version() == before[name] + 1
        audit_rows = table(settings, AUDIT_SCHEMA, name).to_pyarrow_table().num_rows
        assert table(settings, "gold", name).to_pyarrow_table().num_rows == audit_rows
    published = {p.name: p for p in outcome.published}
    assert published["dim_track"].previous_version == before["dim_track"]
    # Dremio reads reader v1/v2 only
    assert table(settings, "gold", "dim_track").protocol().min_reader_version <= 2

    last = audit_log.recent(settings)[0]
    assert last.passed
    assert last.audit_id == outcome.record.audit_id
    assert {t["name"] for t in last.tables} >= set(GOLD)
    docs = Path(outcome.gate.data_docs_url.removeprefix("file://"))
    assert docs.name == "index.html" and docs.is_file()
    assert any(docs.parent.rglob("validations/**/*.html"))


def test_publish_while_another_writer_holds_the_lake_is_refused_and_changes_nothing(
    built_lakehouse,
) -> None:
    settings, _ = built_lakehouse
    before = {n: table(settings, "gold", n).version() for n in GOLD}
    with (
        lake_writer_running(settings, "dbt build into gold") as holder,
        pytest.raises(LakeBusy) as refused,
    ):
        publish_all(settings)
    message = str(refused.value)
    assert message.startswith("publish of gold_audit to gold was refused: ")
    assert f"(dbt build into gold, pid {holder.pid}, since " in message
    assert {n: table(settings, "gold", n).version() for n in GOLD} == before


def test_write_audit_publish_while_another_writer_holds_the_lake_is_refused(
    built_lakehouse,
) -> None:
    settings, _ = built_lakehouse
    before = {n: table(settings, "gold", n).version() for n in GOLD}
    audits = len(audit_log.recent(settings, limit=1000))
    with (
        lake_writer_running(settings, "bronze export batch held-by-test") as holder,
        pytest.raises(LakeBusy) as refused,
    ):
        audit_and_publish(settings, run_dbt=False)
    message = str(refused.value)
    assert message.startswith("write-audit-publish (build, gate, publish) was refused: ")
    assert f"(bronze export batch held-by-test, pid {holder.pid}, since " in message
    assert {n: table(settings, "gold", n).version() for n in GOLD} == before
    assert len(audit_log.recent(settings, limit=1000)) == audits  # no audit was recorded


def test_bad_data_fails_the_gate_names_it_and_keeps_published_gold(
    audit_tables_restored: Settings,
) -> None:
    settings = audit_tables_restored
    before = published_state(settings)

    tracks = table(settings, AUDIT_SCHEMA, "dim_track").to_pyarrow_table()
    first = tracks.slice(0, 1).to_pylist()[0]
    orphan = {**first, "track_id": "0rphanTrack0000000000x", "album_id": "noSuchAlbum00000000000"}
    duplicate = dict(first)  # the same track id twice
    write_deltalake(
        settings.lake_path(AUDIT_SCHEMA, "dim_track"),
        pa.Table.from_pylist([duplicate, orphan], schema=tracks.schema),
        mode="append",
    )
    features = table(settings, AUDIT_SCHEMA, "fct_track_features").to_pyarrow_table()
    rows = features.to_pylist()
    rows[0]["energy"] = 5.0
    write_deltalake(
        settings.lake_path(AUDIT_SCHEMA, "fct_track_features"),
        pa.Table.from_pylist(rows, schema=features.schema),
        mode="overwrite",
    )

    with pytest.raises(QualityGateFailed) as failed:
        audit_and_publish(settings, run_dbt=False)

    message = str(failed.value)
    assert "failed at the expectations stage" in message
    assert "published gold was left untouched" in message
    assert "fct_track_features: expect_column_values_to_be_between(column=energy" in message
    assert "sample: [5.0]" in message
    assert "dim_track: expect_column_values_to_be_unique(column=track_id" in message
    assert repr(first["track_id"]) in message
    assert "orphan_track_albums" in message and "noSuchAlbum00000000000" in message

    after = published_state(settings)
    for name in GOLD:
        assert after[name][0] == before[name][0], f"{name} version moved"
        assert after[name][1].equals(before[name][1]), f"{name} content changed"

    audit = audit_log.recent(settings)[0]
    assert not audit.passed
    assert audit.failed_stage == "expectations"
    assert any("energy" in f for f in audit.failures)


def test_a_publish_that_stops_part_way_names_what_was_and_was_not_published(
    built_lakehouse,
) -> None:
    """The reviewer's case: gold was overwritten but reported as untouched."""
    settings, _ = built_lakehouse
    order = publish_order(audit_tables(settings))
    broken = order[-1]  # a mart: published last, after the dimensions it references
    before = {n: table(settings, "gold", n).version() for n in GOLD}
    target = Path(settings.lake_path("gold", broken))
    saved = target.with_name(f"{broken}.saved")
    target.rename(saved)
    target.write_text("not a Delta table")  # a real failure: delta-rs cannot write here
    try:
        with pytest.raises(QualityGateFailed) as failed:
            audit_and_publish(settings, run_dbt=False)
    finally:
        target.unlink()
        saved.rename(target)

    message = str(failed.value)
    assert message.startswith(f"Publishing stopped after {len(order) - 1} of {len(order)} tables")
    assert f"the previous one of {broken}." in message
    assert "left untouched" not in message
    assert "lakehouse publish --skip-dbt" in message
    for name in GOLD:  # committed before the failure, and said so
        assert table(settings, "gold", name).version() == before[name] + 1
    audit = audit_log.recent(settings)[0]
    assert (audit.passed, audit.failed_stage) == (False, "publish")
    assert [t["name"] for t in audit.tables] == order[:-1]
    assert any(f"publishing {broken}: " in f for f in audit.failures)

    # The advice works: the audited tables publish as a whole.
    again = audit_and_publish(settings, run_dbt=False)
    assert [p.name for p in again.published] == order


def test_an_unreachable_metastore_after_every_commit_is_a_warning_not_a_failure(
    built_lakehouse,
) -> None:
    settings, _ = built_lakehouse
    offline = settings.model_copy(update={"thrift_port": free_port()})
    before = {n: table(settings, "gold", n).version() for n in GOLD}

    outcome = audit_and_publish(offline, run_dbt=False)

    for name in GOLD:
        assert table(settings, "gold", name).version() == before[name] + 1
    (warning,) = outcome.warnings
    assert "gold was published, but registering gold.<table> in the Spark metastore" in warning
    audit = audit_log.recent(settings)[0]
    assert audit.passed and audit.failed_stage is None
    assert audit.failures == [warning]


def test_publish_copies_the_audited_version_not_a_later_one(audit_tables_restored) -> None:
    settings = audit_tables_restored
    audited = table(settings, AUDIT_SCHEMA, "dim_track")
    rows = audited.to_pyarrow_table().num_rows
    later = audited.to_pyarrow_table().slice(0, 1)
    write_deltalake(settings.lake_path(AUDIT_SCHEMA, "dim_track"), later, mode="overwrite")

    published = publish_all(settings, versions={"dim_track": audited.version()})

    assert {p.name: p.audit_version for p in published}["dim_track"] == audited.version()
    assert table(settings, "gold", "dim_track").to_pyarrow_table().num_rows == rows


def test_an_audit_table_written_during_the_gate_is_not_published(
    audit_tables_restored: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain `dbt build` takes no lake lock: a write while the gate reads must not slip through."""
    from quality import write_audit_publish

    settings = audit_tables_restored
    before = published_state(settings)
    real_gate = write_audit_publish.run_gate

    def gate_with_a_concurrent_writer(*args, **kwargs):
        result = real_gate(*args, **kwargs)
        data = table(settings, AUDIT_SCHEMA, "dim_track").to_pyarrow_table()
        write_deltalake(settings.lake_path(AUDIT_SCHEMA, "dim_track"), data, mode="overwrite")
        return result

    monkeypatch.setattr(write_audit_publish, "run_gate", gate_with_a_concurrent_writer)
    with pytest.raises(QualityGateFailed) as failed:
        audit_and_publish(settings, run_dbt=False)

    assert "gold_audit.dim_track changed while the gate read it" in str(failed.value)
    after = published_state(settings)
    for name in GOLD:
        assert after[name][0] == before[name][0], f"{name} version moved"


def test_an_invalid_expectations_file_fails_the_audit_cleanly_and_is_recorded(
    built_lakehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quality import config, gate

    settings, _ = built_lakehouse
    bad = tmp_path / "expectations.yml"
    bad.write_text("tables:\n  dim_track:\n    expectations: []\n")  # layer missing
    monkeypatch.setattr(gate, "load_config", lambda: config.load_config(bad))
    audits = len(audit_log.recent(settings, limit=1000))

    with pytest.raises(QualityGateFailed) as failed:
        audit_and_publish(settings, run_dbt=False)

    assert "failed at the expectations stage" in str(failed.value)
    assert str(bad) in str(failed.value)  # the file to fix
    assert len(audit_log.recent(settings, limit=1000)) == audits + 1
    assert audit_log.recent(settings)[0].failed_stage == "expectations"


def test_a_table_left_by_a_removed_model_is_not_published(built_lakehouse) -> None:
    """dbt never drops the relation of a removed or renamed model; the gate does not check it."""
    settings, _ = built_lakehouse
    stray = Path(settings.lake_path(AUDIT_SCHEMA, "mart_removed_model"))
    write_deltalake(str(stray), pa.table({"x": [1, 2]}))
    try:
        assert "mart_removed_model" not in audit_tables(settings)
        published = publish_all(settings)
    finally:
        shutil.rmtree(stray)
    assert "mart_removed_model" not in {p.name for p in published}
    assert not DeltaTable.is_deltatable(settings.lake_path("gold", "mart_removed_model"))
    assert set(GOLD) <= {p.name for p in published}
