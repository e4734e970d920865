"""The crawler's change journal as the export's change source (FerretDB's default)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from export_crash import SimulatedCrash, crash_on_commit
from pymongo.database import Database
from spotify_docs import BASE_TIME, artist_payload, document, documents

from ingestion import change_journal
from ingestion.bronze_export import export_all, read_watermark
from ingestion.bronze_tables import open_table
from ingestion.crawl.store import DocumentStore
from lakehouse.settings import Settings


@pytest.fixture
def journal_settings(bronze_settings: Settings) -> Settings:
    return bronze_settings.model_copy(update={"bronze_change_capture": "journal"})


def crawl(db: Database, numbers: range, popularity: int = 50, crawl_id: str = "c1") -> None:
    """Store artists the way the crawler does (journal, then upsert)."""
    DocumentStore(db, "emulator", crawl_id).upsert(
        "artists", [artist_payload(n, popularity) for n in numbers]
    )


def bronze_ids(settings: Settings) -> Counter:
    table = open_table(settings, "artists")
    return Counter(table.to_pyarrow_table().column("id").to_pylist())


def journals(db: Database) -> list[str]:
    return [n for n in db.list_collection_names() if n.startswith(change_journal.PREFIX)]


def test_auto_reads_the_journal_on_ferretdb(mongo_db: Database) -> None:
    assert change_journal.resolve(mongo_db, "auto") == "journal"
    assert change_journal.resolve(mongo_db, "scan") == "scan"


def test_incremental_export_reads_the_journal_not_the_collection(
    journal_settings: Settings, mongo_db: Database
) -> None:
    crawl(mongo_db, range(50))
    assert mongo_db[change_journal.journal_name("artists")].count_documents({}) == 50
    first = export_all(journal_settings, ["artists"]).entities[0]
    # No watermark yet: the first export scans the collection, and consumes the journal too.
    assert (first.scanned, first.read, first.journal_read) == (True, 100, 50)
    assert (first.exported, first.unchanged) == (50, 50)
    assert journals(mongo_db) == []

    crawl(mongo_db, range(45, 55), popularity=77, crawl_id="c2")  # 5 changed, 5 new
    second = export_all(journal_settings, ["artists"]).entities[0]

    assert (second.scanned, second.read, second.journal_read) == (False, 10, 10)
    assert (second.exported, second.unchanged) == (10, 0)
    counts = bronze_ids(journal_settings)
    assert len(counts) == 55
    assert sorted(n for n, c in counts.items() if c == 2) == sorted(
        artist_payload(n)["id"] for n in range(45, 50)
    )
    assert journals(mongo_db) == []
    assert export_all(journal_settings, ["artists"]).exported == 0


@pytest.mark.parametrize("capture", ["journal", "scan"])
def test_a_rescan_finds_documents_other_tools_stamped_before_the_watermark(
    bronze_settings: Settings, mongo_db: Database, capture: str
) -> None:
    settings = bronze_settings.model_copy(update={"bronze_change_capture": capture})
    crawl(mongo_db, range(5))
    first = export_all(settings, ["artists"]).entities[0]
    assert first.watermark_after is not None
    # mongoimport or a restored dump: no journal entry, stamped a day before the last export,
    # so neither the journal nor the range read from the watermark can see it.
    stamp = first.watermark_after - dt.timedelta(days=1)
    hand_written = document(artist_payload(900), stamp, "import-1")
    mongo_db.artists.insert_one(hand_written)
    assert export_all(settings, ["artists"]).exported == 0

    rescan = export_all(settings, ["artists"], rescan=True).entities[0]

    assert (rescan.scanned, rescan.read, rescan.exported, rescan.unchanged) == (True, 6, 1, 5)
    assert rescan.watermark_after == first.watermark_after  # an old stamp never moves it back
    counts = bronze_ids(settings)
    assert counts[hand_written["_id"]] == 1 and sum(counts.values()) == 6
    (row,) = [
        r for r in open_table(settings, "artists").to_pyarrow_table().to_pylist()
        if r["id"] == hand_written["_id"]
    ]
    assert (row["ingested_at"], row["crawl_id"]) == (stamp, "import-1")
    # Everything is in bronze now: a second rescan reads it all and writes nothing.
    again = export_all(settings, ["artists"], rescan=True).entities[0]
    assert (again.read, again.exported, again.unchanged) == (6, 0, 6)


def test_crash_after_the_commit_before_the_journal_is_dropped(
    journal_settings: Settings, mongo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No overlap: the claimed entries left behind predate what the watermark window re-reads.
    settings = journal_settings.model_copy(update={"bronze_overlap_s": 0})
    crawl(mongo_db, range(10))
    export_all(settings, ["artists"])
    crawl(mongo_db, range(10, 30), crawl_id="c2")

    def killed(db: Database, claimed: list[str]) -> None:
        raise SimulatedCrash("killed before dropping the claimed journal")

    monkeypatch.setattr(change_journal, "release", killed)
    with pytest.raises(SimulatedCrash):
        export_all(settings, ["artists"])
    monkeypatch.undo()
    left = journals(mongo_db)
    assert len(left) == 1 and change_journal.CLAIMED in left[0]
    assert sum(bronze_ids(settings).values()) == 30
    crawl(mongo_db, range(30, 33), crawl_id="c3")  # written after the crash: a new live journal

    rerun = export_all(settings, ["artists"]).entities[0]

    assert (rerun.journal_read, rerun.exported, rerun.unchanged) == (23, 3, 20)
    counts = bronze_ids(settings)
    assert len(counts) == 33 and set(counts.values()) == {1}
    assert journals(mongo_db) == []


def test_crash_before_the_commit_keeps_the_journal_for_the_rerun(
    journal_settings: Settings, mongo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    crawl(mongo_db, range(10))
    export_all(journal_settings, ["artists"])
    crawl(mongo_db, range(10, 25), crawl_id="c2")
    crash_on_commit(monkeypatch, failing_call=1)
    with pytest.raises(SimulatedCrash):
        export_all(journal_settings, ["artists"])
    monkeypatch.undo()
    assert sum(bronze_ids(journal_settings).values()) == 10

    rerun = export_all(journal_settings, ["artists"]).entities[0]

    assert (rerun.journal_read, rerun.exported) == (15, 15)
    assert len(bronze_ids(journal_settings)) == 25
    assert journals(mongo_db) == []


def test_a_first_export_that_crashed_part_way_is_read_whole_again(
    journal_settings: Settings, mongo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its chunk commits repeat the previous watermark, which is none: the re-run must scan
    the collection, not read the journal alone, or the documents no journal ever held (70
    restored from a dump here) would be missing from bronze for good."""
    settings = journal_settings.model_copy(update={"bronze_chunk_rows": 20})
    mongo_db.artists.insert_many(documents("artists", 0, 70, BASE_TIME))  # no journal entry
    crawl(mongo_db, range(70, 100))  # journaled
    crash_on_commit(monkeypatch, failing_call=2)
    with pytest.raises(SimulatedCrash):
        export_all(settings, ["artists"])
    monkeypatch.undo()
    assert sum(bronze_ids(settings).values()) == 20  # the first chunk only
    assert read_watermark(open_table(settings, "artists")) == (True, None)

    rerun = export_all(settings, ["artists"]).entities[0]

    # The whole collection (100) and the claimed journal again (30); the first chunk's 20 rows
    # and the journal's copies of the 30 are recognised, the other 80 documents written.
    assert (rerun.scanned, rerun.read, rerun.journal_read) == (True, 130, 30)
    assert (rerun.exported, rerun.unchanged) == (80, 50)
    assert any("stopped part-way" in note for note in rerun.notes)
    counts = bronze_ids(settings)
    assert set(counts) == {d["_id"] for d in mongo_db.artists.find({}, {"_id": 1})}
    assert len(counts) == 100 and set(counts.values()) == {1}
    assert rerun.watermark_after is not None and journals(mongo_db) == []
    # Complete now: the next export reads the journal alone, and finds nothing new.
    after = export_all(settings, ["artists"]).entities[0]
    assert (after.scanned, after.read, after.exported, after.notes) == (False, 0, 0, [])


def test_a_crawl_writing_during_the_export_is_exported_next_time(
    journal_settings: Settings, mongo_db: Database
) -> None:
    crawl(mongo_db, range(5))
    export_all(journal_settings, ["artists"])
    crawl(mongo_db, range(5, 1205), crawl_id="c2")
    concurrent: list[int] = []

    def crawler_writes(entity: str, read: int) -> None:
        if read == 1000 and not concurrent:  # mid-export, after the journal was claimed
            concurrent.append(read)
            crawl(mongo_db, range(2000, 2003), crawl_id="c3")

    during = export_all(journal_settings, ["artists"], progress=crawler_writes).entities[0]
    after = export_all(journal_settings, ["artists"]).entities[0]

    assert concurrent and (during.exported, after.exported) == (1200, 3)
    counts = bronze_ids(journal_settings)
    assert len(counts) == 1208 and set(counts.values()) == {1}


def test_a_bad_document_in_the_journal_is_quarantined(
    journal_settings: Settings, mongo_db: Database
) -> None:
    crawl(mongo_db, range(3))
    export_all(journal_settings, ["artists"])
    change_journal.record(mongo_db, "artists", [{"_id": "x", "name": 5}])
    mongo_db[change_journal.journal_name("artists")].insert_one({"not": "a journal entry"})

    result = export_all(journal_settings, ["artists"]).entities[0]

    assert (result.journal_read, result.rejected, result.exported) == (2, 2, 0)
    quarantine = open_table(journal_settings, "quarantine").to_pyarrow_table().to_pylist()
    assert len(quarantine) == 2 and "x" in {r["doc_id"] for r in quarantine}
    assert journals(mongo_db) == []
