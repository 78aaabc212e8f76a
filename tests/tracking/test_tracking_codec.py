"""The JSON codec of the SQLite store: every stored value type reads back as itself."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from leadscore import Activity
from leadscore.errors import DataError
from leadscore.tracking import codec

VALUES = [
    None,
    True,
    0,
    -17,
    2.5,
    "text",
    "",
    dt.datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Prague")),
    dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 1, 30),
    dt.date(2026, 2, 28),
    Decimal("12.50"),
    ("a", 1),
    ["a", [dt.date(2026, 1, 1)]],
    {"nested": {"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}},
    {"$date": "not a date"},
    {"$map": 1},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_codec_round_trip(value: object) -> None:
    decoded = codec.loads(codec.dumps(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_codec_keeps_offset() -> None:
    instant = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert codec.loads(codec.dumps(instant)).utcoffset() == dt.timedelta(hours=2)


def test_codec_nan_round_trip() -> None:
    assert math.isnan(codec.loads(codec.dumps(float("nan"))))


def test_codec_rejects_unknown_type() -> None:
    with pytest.raises(DataError, match="cannot store a value of type object"):
        codec.dumps(object())


def test_codec_rejects_non_text_key() -> None:
    with pytest.raises(DataError, match="keys must be text"):
        codec.dumps({1: "one"})


def test_codec_activity_round_trip() -> None:
    activity = Activity(
        "c-1",
        "purchase",
        dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC),
        {"amount": Decimal("9.99"), "day": dt.date(2026, 5, 1)},
        id="p-1",
    )
    assert codec.activity_from_json("c-1", codec.activity_to_json(activity)) == activity


def test_codec_micros_round_trip() -> None:
    instant = dt.datetime(2019, 10, 1, 2, 50, 0, 123456, tzinfo=dt.UTC)
    assert codec.to_micros(instant) == 1_569_898_200_123_456
    assert codec.from_micros(codec.to_micros(instant)) == instant


def test_codec_activity_text_as_dumps() -> None:
    activity = Activity(
        "c-1",
        "view",
        dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC),
        {"price": 12.5, "tags": ("a", "b"), "$date": "x"},
        id="v-1",
    )
    expected = codec.dumps(
        {
            "type": activity.type,
            "occurred_at": activity.occurred_at,
            "attributes": activity.attributes,
            "id": activity.id,
        }
    )
    assert codec.activity_to_json(activity) == expected


def test_codec_history_round_trip() -> None:
    at = dt.datetime(2026, 5, 1, 12, 0, 0, 5, tzinfo=dt.UTC)
    rows = [
        ("Sales", at, 0, 25, "activity", "d-1", "demo_request", None, (), None),
        ("Sales", at, 25, 0, "expiry", "d-1", "demo_request", "Demo", (), None),
        ("Sales", at, 0, 5, "profile", None, None, None, ("country", "size"), None),
        ("Sales", at, 5, 15, "merge", None, None, None, (), "visitor-7"),
    ]
    for row in rows:
        assert codec.history_from_json(codec.history_to_json(row)) == row
