"""Encode profile, attribute and detail values as JSON that decodes back to equal values.

JSON has no dates, tuples or decimals, so those are written as one-key objects
tagged with a ``$`` name, the way MongoDB's extended JSON does::

    datetime(2026, 6, 1, 9, 30, tzinfo=UTC)  ->  {"$datetime": "2026-06-01T09:30:00+00:00"}
    date(2026, 6, 1)                         ->  {"$date": "2026-06-01"}
    time(9, 30)                              ->  {"$time": "09:30:00"}
    Decimal("12.50")                         ->  {"$decimal": "12.50"}
    ("a", "b")                               ->  {"$tuple": ["a", "b"]}
    {"$ref": 1}                              ->  {"$map": {"$ref": 1}}

A mapping with any key that starts with ``$`` is wrapped in ``$map``, so a user's own
mapping is never mistaken for a tag. Text, integers, finite floats, booleans, None,
lists and mappings with text keys are written as themselves.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["decode_mapping", "decode_value", "encode_mapping", "encode_value"]

_TAGS: Final = frozenset({"$datetime", "$date", "$time", "$decimal", "$tuple", "$map"})


def encode_value(value: Any, path: str) -> Any:
    """Return ``value`` as JSON-ready data; raises TypeError or ValueError naming ``path``.

    Errors name the field path and the value's type, never the value itself, because
    profile values are personal data.
    """
    # bool before int, datetime before date: each is a subclass of the other.
    if value is None or isinstance(value, bool | int | str):
        return value

    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} cannot be written as JSON; use None or a number")
        return value

    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}

    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{path}: a non-finite Decimal cannot be written as JSON")
        return {"$decimal": str(value)}

    if isinstance(value, tuple):
        return {"$tuple": [encode_value(item, f"{path}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [encode_value(item, f"{path}[{i}]") for i, item in enumerate(value)]

    if isinstance(value, Mapping):
        encoded = encode_mapping(value, path)
        if any(key.startswith("$") for key in encoded):
            return {"$map": encoded}
        return encoded

    raise TypeError(
        f"{path}: values of type {type(value).__name__} cannot be stored in a hand-over; "
        "use text, numbers, booleans, None, dates, datetimes, lists or mappings"
    )


def encode_mapping(mapping: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Encode each value of a mapping with text keys; raises TypeError for other keys."""
    encoded: dict[str, Any] = {}
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"{path}: keys must be text, got a key of type {type(key).__name__}")
        encoded[key] = encode_value(item, f"{path}.{key}")
    return encoded


def decode_value(data: Any, path: str) -> Any:
    """Return the value that `encode_value` wrote as ``data``; raises ValueError naming ``path``."""
    if isinstance(data, list):
        return [decode_value(item, f"{path}[{i}]") for i, item in enumerate(data)]

    if not isinstance(data, dict):
        return data

    if len(data) == 1:
        ((tag, payload),) = data.items()
        if tag in _TAGS:
            return _decode_tagged(tag, payload, path)
        if tag.startswith("$"):
            # The encoder wraps every mapping with a $ key in $map, so this is a newer
            # format or damaged data. Guessing would change the value silently.
            raise ValueError(f"{path}: unknown tag {tag!r}")

    return decode_mapping(data, path)


def decode_mapping(data: Any, path: str) -> dict[str, Any]:
    """Decode a JSON object written by `encode_mapping`; raises ValueError if it is not one."""
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return {key: decode_value(item, f"{path}.{key}") for key, item in data.items()}


def _decode_tagged(tag: str, payload: Any, path: str) -> Any:
    if tag == "$tuple":
        if not isinstance(payload, list):
            raise ValueError(f"{path}: $tuple must contain a list")
        return tuple(decode_value(item, f"{path}[{i}]") for i, item in enumerate(payload))

    if tag == "$map":
        return decode_mapping(payload, path)

    if not isinstance(payload, str):
        raise ValueError(f"{path}: {tag} must contain text, got {type(payload).__name__}")
    try:
        if tag == "$datetime":
            return dt.datetime.fromisoformat(payload)
        if tag == "$date":
            return dt.date.fromisoformat(payload)
        if tag == "$time":
            return dt.time.fromisoformat(payload)
        return decimal.Decimal(payload)
    except (ValueError, decimal.InvalidOperation) as error:
        raise ValueError(f"{path}: invalid {tag} value") from error
