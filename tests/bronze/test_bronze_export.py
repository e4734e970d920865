"""MongoDB (FerretDB) -> bronze Delta export against real collections and real Delta tables."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable
from export_crash import SimulatedCrash, crash_on_commit
from lake_support import lake_writer_running
from pymongo.database import Database
from spotify_docs import (
    BASE_TIME,
    artist_payload,
    content_hash,
    document,
    documents,
    track_payload,
)

from ingestion import bronze_export
from ingestion.bronze_export import WATERMARK_KEY, export_all, read_watermark
from ingestion.bronze_tables import ENTITIES, open_table
from lakehouse.settings import Settings

HOUR = dt.timedelta(hours=1)


def rows(settings: Settings, name: str) -> list[dict]:
    table = open_table(settings, name)
    return [] if table is None else table.to_pyarrow_table().to_pylist()


def ids(settings: Settings, name: str) -> Counter:
    return Counter(r["id"] for r in rows(settings, name))


def by_entity(summary: bronze_export.ExportSummary) -> dict[str, bronze_export.EntityExport]:
    return {e.entity: e for e in summary.entities}


def seed(db: Database, count: int = 30) -> None:
    for entity in ENTITIES:
        db[entity].insert_many(documents(entity, 0, count, BASE_TIME))


def test_full_export_lands_every_document_with_contract_columns(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    seed(mongo_db, 30)
    mongo_db["crawl_runs"].insert_one({"_id": "crawl-1", "state": "done"})  # ignored

    summary = export_all(bronze_settings)

    for entity in ENTITIES:
        result = by_entity(summary)[entity]
        assert (result.read, result.exported, result.rejected) == (30, 30, 0)
        in_mongo = {d["_id"]: 1 for d in mongo_db[entity].find({}, {"_id": 1})}
        assert ids(bronze_settings, entity) == Counter(in_mongo)
    # Crawl bookkeeping collections are not entities: no bronze table for them.
    lake = Path(bronze_settings.lake_path("bronze"))
    assert sorted(p.name for p in lake.iterdir()) == sorted([*ENTITIES, "quarantine"])
    # Every column of the contract, with the document's values.
    track = mongo_db.tracks.find_one({"_id": track_payload(7)["id"]})
    (row,) = [r for r in rows(bronze_settings, "tracks") if r["id"] == track["_id"]]
    assert json.loads(row["payload"]) == track_payload(7)
    assert row["content_hash"] == track["_content_hash"] == content_hash(track_payload(7))
    assert row["ingested_at"] == track["_ingested_at"]
    assert (row["source"], row["crawl_id"], row["batch_id"]) == (
        "emulator",
        "crawl-1",
        summary.batch_id,
    )
    assert row["exported_at"].tzinfo is not None
    # The table stays readable by Spark's Delta and Dremio: reader 1 / writer 2.
    protocol = DeltaTable(bronze_settings.lake_path("bronze", "tracks")).protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)


def test_incremental_export_moves_only_new_and_changed_documents(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    # 50 artists crawled 10 s apart; the overlap (120 s) re-reads the last 13 of them.
    step = dt.timedelta(seconds=10)
    mongo_db.artists.insert_many(documents("artists", 0, 50, BASE_TIME, spacing=step))
    first = by_entity(export_all(bronze_settings, ["artists"]))["artists"]
    assert first.exported == 50
    assert first.watermark_after == BASE_TIME + 49 * step

    # An hour later the crawler adds 5 artists and changes 3 (popularity moved).
    later = BASE_TIME + HOUR
    mongo_db.artists.insert_many(documents("artists", 50, 5, later))
    for n in (1, 2, 3):
        payload = artist_payload(n, popularity=77)
        mongo_db.artists.replace_one({"_id": payload["id"]}, document(payload, later, "crawl-2"))

    second = by_entity(export_all(bronze_settings, ["artists"]))["artists"]

    # Only the window since the watermark (minus the overlap) is read: the 35 older untouched
    # artists are not even read; the 13 re-read ones are recognised and not written again.
    assert (second.read, second.exported, second.unchanged) == (21, 8, 13)
    assert second.watermark_before == first.watermark_after < second.watermark_after
    versions = ids(bronze_settings, "artists")
    assert len(versions) == 55
    assert sum(versions.values()) == 58
    twice = {i for i, n in versions.items() if n == 2}
    assert twice == {artist_payload(n)["id"] for n in (1, 2, 3)}
    changed = [r for r in rows(bronze_settings, "artists") if r["crawl_id"] == "crawl-2"]
    assert {json.loads(r["payload"])["popularity"] for r in changed} == {77}


def test_rerun_exports_nothing_and_commits_nothing(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    seed(mongo_db, 20)
    export_all(bronze_settings)
    versions = {e: open_table(bronze_settings, e).version() for e in ENTITIES}

    again = export_all(bronze_settings)

    assert again.exported == 0 and again.quarantined == 0
    # Documents inside the overlap window are re-read and recognised, not re-written.
    assert again.unchanged == again.read == 80
    assert {e: open_table(bronze_settings, e).version() for e in ENTITIES} == versions
    assert all(set(ids(bronze_settings, e).values()) == {1} for e in ENTITIES)


def test_payload_changing_back_is_a_new_version(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    """A -> B -> A (popularity 50 -> 51 -> 50) keeps three versions so silver sees A as latest."""
    a, b = artist_payload(1, popularity=50), artist_payload(1, popularity=51)
    for step, payload in enumerate([a, b, a]):
        doc = document(payload, BASE_TIME + step * HOUR, f"crawl-{step}")
        mongo_db.artists.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        export_all(bronze_settings, ["artists"])

    history = sorted(rows(bronze_settings, "artists"), key=lambda r: r["ingested_at"])
    assert [json.loads(r["payload"])["popularity"] for r in history] == [50, 51, 50]


def test_crash_mid_export_then_rerun_leaves_no_duplicate_and_no_gap(
    bronze_settings: Settings, mongo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = bronze_settings.model_copy(update={"bronze_chunk_rows": 40})
    mongo_db.tracks.insert_many(documents("tracks", 0, 100, BASE_TIME))
    export_all(settings, ["tracks"])
    version_before = open_table(settings, "tracks").version()
    mongo_db.tracks.insert_many(documents("tracks", 100, 130, BASE_TIME + HOUR))

    # The incremental run commits one chunk (at most 40 rows read, of which only the new ones
    # are written), then dies at its second commit.
    crash_on_commit(monkeypatch, failing_call=2)
    with pytest.raises(SimulatedCrash):
        export_all(settings, ["tracks"])
    after_crash = sum(ids(settings, "tracks").values())
    assert 100 < after_crash <= 100 + settings.bronze_chunk_rows
    table = open_table(settings, "tracks")
    assert table.version() == version_before + 1  # exactly the one commit that landed
    new_ids = {d["_id"] for d in documents("tracks", 100, 130, BASE_TIME + HOUR)}
    landed = [r for r in rows(settings, "tracks") if r["id"] in new_ids]
    assert len(landed) == after_crash - 100  # the crashed run wrote new documents only
    # The partial commit did not move the watermark: it still covers only the first run.
    assert read_watermark(table) == (True, BASE_TIME + dt.timedelta(milliseconds=99))
    assert (
        table.history(limit=1)[0][WATERMARK_KEY]
        == (BASE_TIME + dt.timedelta(milliseconds=99)).isoformat()
    )

    monkeypatch.undo()
    rerun = by_entity(export_all(settings, ["tracks"]))["tracks"]

    # Everything since the old watermark is re-read: what the crashed run wrote is recognised.
    assert rerun.exported == 230 - after_crash
    assert rerun.unchanged == after_crash
    counts = ids(settings, "tracks")
    assert set(counts) == {d["_id"] for d in mongo_db.tracks.find({}, {"_id": 1})}
    assert set(counts.values()) == {1}


def test_crash_after_quarantine_before_data_commit(
    bronze_settings: Settings, mongo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    mongo_db.artists.insert_many(documents("artists", 0, 10, BASE_TIME))
    mongo_db.artists.insert_one(
        {"_id": "broken", "name": ["not", "a", "name"], "_ingested_at": BASE_TIME}
    )
    crash_on_commit(monkeypatch, failing_call=1)
    with pytest.raises(SimulatedCrash):
        export_all(bronze_settings, ["artists"])
    assert len(rows(bronze_settings, "quarantine")) == 1
    assert rows(bronze_settings, "artists") == []

    monkeypatch.undo()
    rerun = by_entity(export_all(bronze_settings, ["artists"]))["artists"]

    assert (rerun.exported, rerun.rejected, rerun.quarantined) == (10, 1, 0)
    assert len(rows(bronze_settings, "quarantine")) == 1


def test_document_committed_late_during_an_export_is_not_lost(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    """A crawler stamps `_ingested_at`, the export reads past it, then the write lands.

    The watermark must stop at the moment the export started reading, not at the newest stamp it
    read: a crawler host whose clock runs ahead stamps a document 10 minutes in the future, and a
    watermark moved there would start the next read (minus the overlap) after the late document.
    """
    settings = bronze_settings.model_copy(update={"bronze_chunk_rows": 500})
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    mongo_db.tracks.insert_many(documents("tracks", 0, 3000, now - dt.timedelta(minutes=30)))
    ahead = document(track_payload(50_000), now + dt.timedelta(minutes=10), "crawl-clock-ahead")
    mongo_db.tracks.insert_one(ahead)
    late = document(track_payload(99_999), now - dt.timedelta(seconds=20))

    calls: list[int] = []

    def crawler_writes_late(entity: str, read: int) -> None:
        # Called every 1000 documents read, then once when the entity is done (3001 read). Only
        # that last call comes after the cursor ended, so the first run cannot see `late`.
        calls.append(read)
        if read == 3001:
            mongo_db.tracks.insert_one(late)

    reading_from = dt.datetime.now(dt.UTC)
    first = by_entity(export_all(settings, ["tracks"], progress=crawler_writes_late))["tracks"]
    done = dt.datetime.now(dt.UTC)

    assert calls == [1000, 2000, 3000, 3001]
    assert first.read == 3001 and late["_id"] not in ids(settings, "tracks")
    # Capped at the read start, not the clock-ahead stamp (now + 10 min) it read.
    assert first.watermark_after is not None
    assert reading_from <= first.watermark_after <= done
    assert read_watermark(open_table(settings, "tracks")) == (True, first.watermark_after)

    second = by_entity(export_all(settings, ["tracks"]))["tracks"]

    # Read from the watermark minus the overlap: the late document (exported) and the
    # clock-ahead one (re-read, already in bronze).
    assert (second.read, second.exported, second.unchanged) == (2, 1, 1)
    counts = ids(settings, "tracks")
    assert counts[late["_id"]] == 1
    assert len(counts) == 3002 and set(counts.values()) == {1}


def test_schema_drift_never_breaks_bronze(bronze_settings: Settings, mongo_db: Database) -> None:
    drifted = track_payload(1)
    drifted["new_api_field"] = {"nested": [1, 2, {"deep": True}]}  # a field Spotify added
    del drifted["popularity"], drifted["external_ids"]  # fields removed (development mode)
    drifted["preview_url"] = None
    minimal = {"id": track_payload(2)["id"], "name": "Only a name"}
    odd_types = track_payload(3)
    odd_types["disc_number"] = "1"  # not a key field: kept as the API sent it
    docs = [document(p, BASE_TIME) for p in (drifted, minimal, odd_types)]
    del docs[1]["_content_hash"], docs[1]["_source"], docs[1]["_crawl_id"]
    mongo_db.tracks.insert_many(docs)

    summary = by_entity(export_all(bronze_settings, ["tracks"]))["tracks"]

    assert (summary.exported, summary.rejected) == (3, 0)
    landed = {r["id"]: r for r in rows(bronze_settings, "tracks")}
    assert json.loads(landed[drifted["id"]]["payload"]) == drifted
    bare = landed[minimal["id"]]
    assert json.loads(bare["payload"]) == minimal
    assert bare["content_hash"] == content_hash(minimal)  # recomputed when missing
    assert (bare["source"], bare["crawl_id"]) == (None, None)
    assert json.loads(landed[odd_types["id"]]["payload"])["disc_number"] == "1"


def test_an_export_while_another_writer_holds_the_lake_is_refused_and_writes_nothing(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    seed(mongo_db, 5)
    with lake_writer_running(bronze_settings, "bronze export batch held-by-test") as holder:
        with pytest.raises(bronze_export.ExportError) as refused:
            export_all(bronze_settings)
        message = str(refused.value)
        assert "bronze export batch " in message and "was refused" in message
        assert f"(bronze export batch held-by-test, pid {holder.pid}, since " in message
        assert "Wait for it to finish, then run again." in message
        assert all(open_table(bronze_settings, entity) is None for entity in ENTITIES)
    with (
        lake_writer_running(bronze_settings, "dbt build into gold"),
        pytest.raises(bronze_export.ExportError, match=r"\(dbt build into gold, pid "),
    ):
        export_all(bronze_settings)
    # The holder is gone (killed, as by kill -9): the lock went with it.
    assert export_all(bronze_settings).exported == 5 * len(ENTITIES)
