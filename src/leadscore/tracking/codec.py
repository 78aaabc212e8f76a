"""JSON encoding of profiles, activities and diagnostics values for the SQLite store.

JSON has no dates, so instants and dates are written as tagged objects and read back
as the same Python types. Plain JSON values pass through unchanged. A mapping whose
only key is one of the tags below is itself wrapped, so stored data never changes type.

- ``{"$datetime": "2026-06-01T09:30:00+00:00"}``: an aware or naive ``datetime``.
- ``{"$date": "2026-06-01"}``: a ``date``.
- ``{"$decimal": "12.50"}``: a ``Decimal``.
- ``{"$tuple": [...]}``: a ``tuple`` (lists stay lists).
- ``{"$map": {...}}``: a mapping that would otherwise look like a tag.
- ``{"$float": "nan"}``: a float that JSON cannot write (NaN or an infinity).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from leadscore.errors import DataError
from leadscore.model import Activity

__all__ = [
    "activity_from_json",
    "activity_to_json",
    "decode",
    "dumps",
    "dumps_plain",
    "encode",
    "from_micros",
    "history_from_json",
    "history_to_json",
    "loads",
    "to_micros",
]

_TAGS: Final = frozenset({"$datetime", "$date", "$decimal", "$tuple", "$map", "$float"})
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(value: Any) -> Any:
    """Return ``value`` as plain JSON data, with dates, decimals and tuples tagged."""
    cls = value.__class__
    if value is None or cls is str or cls is bool or cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return encode(float(value))
    if isinstance(value, tuple):
        return {"$tuple": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DataError(f"cannot store a mapping key {key!r}: keys must be text")
            encoded[key] = encode(item)
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {"$map": encoded}
        return encoded
    raise DataError(
        f"cannot store a value of type {type(value).__name__}: {value!r}",
        hint="use text, numbers, booleans, dates, datetimes, lists or mappings",
    )


def decode(value: Any) -> Any:
    """Return the Python value that `encode` turned into ``value``."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag, inner = next(iter(value.items()))
        if tag == "$datetime":
            return dt.datetime.fromisoformat(inner)
        if tag == "$date":
            return dt.date.fromisoformat(inner)
        if tag == "$decimal":
            return Decimal(inner)
        if tag == "$tuple":
            return tuple(decode(item) for item in inner)
        if tag == "$float":
            return float(inner)
        if tag == "$map":
            return {key: decode(item) for key, item in inner.items()}
    return {key: decode(item) for key, item in value.items()}


def dumps(value: Any) -> str:
    """Encode ``value`` as compact JSON text."""
    return _ENCODER.encode(encode(value))


def dumps_plain(value: Any) -> str:
    """Encode plain JSON data, which `encode` would leave unchanged, as compact JSON text."""
    return _ENCODER.encode(value)


def loads(text: str) -> Any:
    """Decode JSON text written by `dumps`."""
    return decode(json.loads(text))


def activity_to_json(activity: Activity) -> str:
    """Encode an activity without its contact id, which the store keeps in its own column."""
    # The same text as dumps() of the four fields, with only the attributes walked by encode().
    return _ENCODER.encode(
        {
            "type": activity.type,
            "occurred_at": {"$datetime": activity.occurred_at.isoformat()},
            "attributes": encode(activity.attributes),
            "id": activity.id,
        }
    )


def activity_from_json(contact_id: str, text: str) -> Activity:
    """Decode an activity written by `activity_to_json` for ``contact_id``."""
    data = loads(text)
    return Activity(contact_id, data["type"], data["occurred_at"], data["attributes"], data["id"])


def history_to_json(row: tuple[Any, ...]) -> str:
    """Encode a history row (the HistoryEntry fields after the contact id) as a JSON array.

    The instant is written as microseconds since 1970-01-01 UTC and the profile fields
    as a list. Every other field is text, a whole number or null.
    """
    scoring, at, before, after, cause, activity_id, activity_type, rule, fields, source_id = row
    return _ENCODER.encode(
        [
            scoring,
            to_micros(at),
            before,
            after,
            cause,
            activity_id,
            activity_type,
            rule,
            list(fields),
            source_id,
        ]
    )


def history_from_json(text: str) -> tuple[Any, ...]:
    """Decode a history row written by `history_to_json`."""
    scoring, at, before, after, cause, activity_id, activity_type, rule, fields, source_id = (
        json.loads(text)
    )
    return (
        scoring,
        from_micros(at),
        before,
        after,
        cause,
        activity_id,
        activity_type,
        rule,
        tuple(fields),
        source_id,
    )


def to_micros(instant: dt.datetime) -> int:
    """Return an aware instant as whole microseconds since 1970-01-01 UTC, for sortable columns."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> dt.datetime:
    """Return the UTC instant `to_micros` encoded."""
    return _EPOCH + dt.timedelta(microseconds=micros)
