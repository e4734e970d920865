"""Bad documents go to the quarantine with their reason and raw text; the export carries on."""

from __future__ import annotations

import datetime as dt
import json

from bson import ObjectId
from bson.datetime_ms import DatetimeMS
from pymongo.database import Database
from spotify_docs import BASE_TIME, artist_payload, document, documents, track_payload

from ingestion.bronze_export import export_all
from ingestion.bronze_tables import open_table
from ingestion.bronze_validation import validate_document
from lakehouse.settings import Settings


def quarantine(settings: Settings) -> dict[str | None, dict]:
    rows = open_table(settings, "quarantine").to_pyarrow_table().to_pylist()
    return {r["doc_id"]: r for r in rows}


def bad_track_documents() -> list[dict]:
    wrong_key_type = document(track_payload(1), BASE_TIME)
    wrong_key_type["duration_ms"] = "3:05"
    string_stamp = document(track_payload(2), BASE_TIME)
    string_stamp["_ingested_at"] = "2026-11-01T12:00:00Z"
    no_stamp = document(track_payload(3), BASE_TIME)
    del no_stamp["_ingested_at"]
    mismatch = document(track_payload(4), BASE_TIME)
    mismatch["id"] = track_payload(5)["id"]
    an_album = document({**track_payload(6), "type": "album"}, BASE_TIME)
    return [
        {"_id": ObjectId(), "name": "no spotify id", "_ingested_at": BASE_TIME},
        {"_id": "nullpayload0000000000", "_ingested_at": BASE_TIME, "_source": "emulator"},
        wrong_key_type,
        string_stamp,
        no_stamp,
        mismatch,
        an_album,
        {"_id": "farfuture000000000000", "name": "x", "_ingested_at": DatetimeMS(2**62)},
        {"_id": 12345, "name": "numeric id", "_ingested_at": BASE_TIME},
    ]


def test_each_kind_of_bad_document_is_quarantined_with_its_reason(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    mongo_db.tracks.insert_many(documents("tracks", 100, 5, BASE_TIME))
    bad = bad_track_documents()
    oid = bad[0]["_id"]
    mongo_db.tracks.insert_many(bad)

    summary = export_all(bronze_settings, ["tracks"])
    (result,) = summary.entities

    # The good documents still land; every bad one is counted and quarantined.
    assert (result.read, result.exported, result.rejected, result.quarantined) == (14, 5, 9, 9)
    q = quarantine(bronze_settings)
    reasons = {doc_id: row["reason"].split(":", 1)[0] for doc_id, row in q.items()}
    assert reasons == {
        str(oid): "missing_id",
        "nullpayload0000000000": "not_an_object",
        track_payload(1)["id"]: "wrong_type",
        track_payload(2)["id"]: "wrong_type",
        track_payload(3)["id"]: "missing_field",
        track_payload(4)["id"]: "id_mismatch",
        track_payload(6)["id"]: "wrong_entity",
        "farfuture000000000000": "undecodable",
        "12345": "wrong_type",
    }
    assert "duration_ms is str, expected integer" in q[track_payload(1)["id"]]["reason"]
    assert "_ingested_at is str, expected a BSON datetime" in q[track_payload(2)["id"]]["reason"]
    assert "year" in q["farfuture000000000000"]["reason"]
    # The raw text is kept so the document can be inspected and fixed.
    raw = json.loads(q[track_payload(1)["id"]]["raw"])
    assert raw["duration_ms"] == "3:05" and raw["_id"] == track_payload(1)["id"]
    assert all(r["entity"] == "tracks" and r["batch_id"] == summary.batch_id for r in q.values())

    # A re-run finds the same bad documents but does not quarantine them twice.
    again = export_all(bronze_settings, ["tracks"]).entities[0]
    assert (again.rejected, again.quarantined, again.exported) == (9, 0, 0)
    assert len(open_table(bronze_settings, "quarantine").to_pyarrow_table()) == 9


def test_incremental_run_still_catches_documents_without_a_usable_timestamp(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    """A range filter never matches a string `_ingested_at`: the export asks for it explicitly."""
    mongo_db.artists.insert_many(documents("artists", 0, 5, BASE_TIME))
    export_all(bronze_settings, ["artists"])
    stringly = document(artist_payload(9), BASE_TIME)
    stringly["_ingested_at"] = "yesterday"
    missing = document(artist_payload(10), BASE_TIME)
    del missing["_ingested_at"]
    mongo_db.artists.insert_many([stringly, missing])
    mongo_db.artists.insert_many(documents("artists", 20, 2, BASE_TIME + dt.timedelta(hours=2)))

    result = export_all(bronze_settings, ["artists"]).entities[0]

    assert (result.exported, result.quarantined) == (2, 2)
    assert set(quarantine(bronze_settings)) == {artist_payload(9)["id"], artist_payload(10)["id"]}


def test_validator_rejects_values_that_are_not_objects() -> None:
    """Sources other than a MongoDB collection (JSON lines, a payload field) can hold these."""
    for value, shown in (([1, 2], "list"), ("text", "str"), (None, "null")):
        rejection = validate_document("tracks", value)
        assert rejection.reason == (
            f"not_an_object: expected a document (JSON object), got {shown}"
        )
        assert rejection.doc_id is None


def test_validator_rejects_payloads_that_are_not_json() -> None:
    """MongoDB stores NaN (FerretDB refuses it): JSON cannot carry it, Spark would null it."""
    doc = document({**track_payload(7), "tempo_guess": float("nan")}, BASE_TIME)
    rejection = validate_document("tracks", doc)
    assert rejection.reason.startswith("not_json: payload is not valid JSON")
    assert rejection.doc_id == track_payload(7)["id"]
    assert rejection.ingested_at == BASE_TIME
