"""Turn one raw MongoDB document (BSON bytes) into a bronze row, or into a rejection with a reason.

The checks are deliberately few: bronze keeps the payload as a JSON string, so new or missing API
fields (schema drift) never reject a document. Only what bronze itself relies on is checked: the
document decodes, it has a Spotify id, the bookkeeping fields have their types, the payload is a
non-empty JSON object, and the few key fields silver parses have the right JSON type.

Reasons start with a stable code (`undecodable`, `not_an_object`, `missing_id`, `missing_field`,
`wrong_type`, `id_mismatch`, `wrong_entity`, `not_json`) followed by a human explanation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion

UTC = dt.UTC

STRICT_CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)
# Used only to show a document that failed strict decoding: bad UTF-8 replaced, any date kept.
LENIENT_CODEC = CodecOptions(
    tz_aware=True,
    tzinfo=UTC,
    unicode_decode_error_handler="replace",
    datetime_conversion=DatetimeConversion.DATETIME_AUTO,
)

# The API's `type` field per collection.
ENTITY_TYPE = {
    "artists": "artist",
    "albums": "album",
    "tracks": "track",
    "audio_features": "audio_features",
}

# JSON types of the payload fields silver relies on (checked only when present: absence is drift).
_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_LIST = (list,)
_OBJ = (dict,)
KEY_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "artists": {"name": _STR, "genres": _LIST, "images": _LIST},
    "albums": {
        "name": _STR,
        "artists": _LIST,
        "release_date": _STR,
        "release_date_precision": _STR,
        "total_tracks": _INT,
    },
    "tracks": {
        "name": _STR,
        "artists": _LIST,
        "album": _OBJ,
        "duration_ms": _INT,
        "explicit": (bool,),
        "track_number": _INT,
    },
    "audio_features": {
        name: _NUM
        for name in (
            "danceability",
            "energy",
            "key",
            "loudness",
            "mode",
            "speechiness",
            "acousticness",
            "instrumentalness",
            "liveness",
            "valence",
            "tempo",
            "time_signature",
            "duration_ms",
        )
    },
}

BOOKKEEPING_STR_FIELDS = ("_source", "_crawl_id", "_content_hash")


@dataclass(frozen=True)
class ValidDocument:
    id: str
    payload: str
    content_hash: str
    ingested_at: dt.datetime
    source: str | None
    crawl_id: str | None


@dataclass(frozen=True)
class Rejection:
    doc_id: str | None
    reason: str
    raw: str
    ingested_at: dt.datetime | None  # when known, so the watermark can still move past it


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The canonical JSON of a payload: sorted keys, no spaces, UTF-8 kept (hash input)."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def content_hash(payload: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON (the `_content_hash` contract of docs/contracts.md)."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _json_default(value: Any) -> Any:
    """BSON types that can appear in a drifting payload, as plain JSON values."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bson.ObjectId | bson.Decimal128 | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def raw_text(raw: bytes) -> str:
    """The document as relaxed Extended JSON for the quarantine; base64 BSON if even that fails."""
    try:
        return json_util.dumps(bson.decode(raw, LENIENT_CODEC))
    except Exception:  # any decode failure: keep the bytes themselves
        return "bson-base64:" + base64.b64encode(raw).decode("ascii")


def _display_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def validate(entity: str, raw: bytes) -> ValidDocument | Rejection:
    """Check one document of collection `entity` given as BSON bytes."""
    try:
        doc = bson.decode(raw, STRICT_CODEC)
    except Exception as exc:  # bson raises InvalidBSON, UnicodeDecodeError, OverflowError, ...
        lenient_id = _lenient_id(raw)
        return Rejection(
            lenient_id,
            f"undecodable: the BSON document cannot be decoded ({type(exc).__name__}:"
            f" {_first_sentence(exc)}); fix or re-crawl the document in MongoDB",
            raw_text(raw),
            None,
        )
    return validate_document(entity, doc, lambda: raw_text(raw))


def _first_sentence(exc: Exception) -> str:
    """pymongo appends long advice to some decode errors: keep the statement of the problem."""
    text = str(exc).split(" (Consider", 1)[0]
    return text if len(text) <= 200 else text[:197] + "..."


def _lenient_id(raw: bytes) -> str | None:
    try:
        return _display_id(bson.decode(raw, LENIENT_CODEC).get("_id"))
    except Exception:
        return None


def validate_document(entity: str, doc: Any, show: Any = None) -> ValidDocument | Rejection:
    """Check one decoded document; `show()` renders it for the quarantine."""
    render = show or (lambda: json_util.dumps(doc) if isinstance(doc, Mapping) else repr(doc))
    if not isinstance(doc, Mapping):
        return Rejection(
            None,
            f"not_an_object: expected a document (JSON object), got {_type_name(doc)}",
            render(),
            None,
        )
    ingested = doc.get("_ingested_at")
    ingested_ok = isinstance(ingested, dt.datetime)
    problem = _check(entity, doc)
    if problem:
        return Rejection(
            _display_id(doc.get("_id")), problem, render(), ingested if ingested_ok else None
        )
    payload = {k: v for k, v in doc.items() if not k.startswith("_")}
    try:
        payload_json = json.dumps(
            payload,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,  # NaN/Infinity are not JSON: Spark's from_json would null them
            default=_json_default,
        )
    except (ValueError, TypeError) as exc:
        return Rejection(
            _display_id(doc.get("_id")), f"not_json: payload is not valid JSON ({exc})", render(),
            ingested,
        )
    return ValidDocument(
        id=doc["_id"],
        payload=payload_json,
        content_hash=doc.get("_content_hash") or content_hash(payload),
        ingested_at=ingested,
        source=doc.get("_source"),
        crawl_id=doc.get("_crawl_id"),
    )


def _check(entity: str, doc: Mapping[str, Any]) -> str | None:
    """The first problem that keeps `doc` out of bronze, or None."""
    return (
        _check_id(doc)
        or _check_bookkeeping(doc)
        or _check_payload(entity, doc)
    )


def _check_id(doc: Mapping[str, Any]) -> str | None:
    doc_id = doc.get("_id")
    if doc_id is None or doc_id == "":
        return "missing_id: the document has no _id (expected the Spotify id)"
    if isinstance(doc_id, bson.ObjectId):
        return (
            "missing_id: _id is a MongoDB ObjectId, not a Spotify id; the writer must upsert"
            " with _id = the Spotify id"
        )
    if not isinstance(doc_id, str):
        return f"wrong_type: _id is {_type_name(doc_id)}, expected a string Spotify id"
    if doc_id != doc_id.strip() or any(c.isspace() for c in doc_id):
        return f"wrong_type: _id {doc_id!r} contains whitespace"
    payload_id = doc.get("id")
    if payload_id is not None and payload_id != doc_id:
        return f"id_mismatch: _id {doc_id!r} differs from the payload id {payload_id!r}"
    return None


def _check_bookkeeping(doc: Mapping[str, Any]) -> str | None:
    if "_ingested_at" not in doc:
        return "missing_field: _ingested_at is missing (expected the UTC datetime of the write)"
    ingested = doc["_ingested_at"]
    if not isinstance(ingested, dt.datetime):
        return f"wrong_type: _ingested_at is {_type_name(ingested)}, expected a BSON datetime"
    for name in BOOKKEEPING_STR_FIELDS:
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            return f"wrong_type: {name} is {_type_name(value)}, expected a string"
    digest = doc.get("_content_hash")
    if digest is not None and (len(digest) != 64 or not _is_hex(digest)):
        return "wrong_type: _content_hash is not a sha256 hex digest (64 hex characters)"
    return None


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text.lower())


def _check_payload(entity: str, doc: Mapping[str, Any]) -> str | None:
    payload_keys = [k for k in doc if not k.startswith("_")]
    if not payload_keys:
        return (
            "not_an_object: the payload is empty (only _-prefixed bookkeeping keys); a null"
            " API answer was stored as a document"
        )
    expected_type = ENTITY_TYPE.get(entity)
    api_type = doc.get("type")
    if api_type is not None and expected_type and api_type != expected_type:
        return (
            f"wrong_entity: payload type is {api_type!r} but the collection {entity!r} holds"
            f" {expected_type!r} objects"
        )
    for name, types in KEY_FIELDS.get(entity, {}).items():
        value = doc.get(name)
        if value is None:
            continue  # absent or null: schema drift, silver copes
        # bool is an int subclass in Python: a JSON true is not a number.
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            expected = " or ".join(_JSON_NAMES[t] for t in types)
            return f"wrong_type: {name} is {_type_name(value)}, expected {expected}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"wrong_type: {name} is {value}, expected a finite number"
    return None


_JSON_NAMES = {str: "string", int: "integer", float: "number", list: "array", dict: "object",
               bool: "boolean"}
