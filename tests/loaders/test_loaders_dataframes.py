"""Reading contacts and activities from pandas and polars DataFrames."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from leadscore.errors import DataError
from leadscore.loaders import (
    ColumnMapping,
    LoadReport,
    activities_from_dataframe,
    contacts_from_dataframe,
)

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

UTC = dt.UTC


def test_pandas_contacts_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "id": ["c1", "c2", "c3"],
            "age": pd.array([30, None, 41], dtype="Int64"),
            "score": [1.5, float("nan"), 2.0],
            "city": ["Brno", None, "Select"],
            "signed_up": pd.to_datetime(["2024-01-02 00:00", None, "2024-03-04 10:30"]),
            "vip": [True, False, True],
        }
    )
    contacts = list(contacts_from_dataframe(frame))

    assert [contact.id for contact in contacts] == ["c1", "c2", "c3"]
    assert dict(contacts[0].profile) == {
        "age": 30,
        "score": 1.5,
        "city": "Brno",
        "signed_up": dt.datetime(2024, 1, 2),
        "vip": True,
    }
    assert dict(contacts[1].profile) == {"vip": False}
    assert dict(contacts[2].profile) == {
        "age": 41,
        "score": 2.0,
        "signed_up": dt.datetime(2024, 3, 4, 10, 30),
        "vip": True,
    }
    # pandas and NumPy scalars come out as standard Python values.
    assert type(contacts[0].profile["age"]) is int
    assert type(contacts[0].profile["vip"]) is bool
    assert type(contacts[0].profile["signed_up"]) is dt.datetime


def test_pandas_float_ids_from_gaps() -> None:
    frame = pd.DataFrame({"id": [101, None, 103], "name": ["a", "b", "c"]})
    report = LoadReport()
    contacts = list(contacts_from_dataframe(frame, skip_bad_rows=True, report=report))
    assert [contact.id for contact in contacts] == ["101", "103"]
    assert report.skipped_rows[0].row == 2
    assert report.skipped_rows[0].file == "pandas DataFrame"


def test_pandas_text_is_not_inferred() -> None:
    frame = pd.DataFrame({"id": ["c1"], "zip": ["01234"], "count": ["12"], "since": ["2024-05-06"]})
    contacts = list(contacts_from_dataframe(frame, types={"count": "integer"}))
    assert dict(contacts[0].profile) == {"zip": "01234", "count": 12, "since": dt.date(2024, 5, 6)}


def test_pandas_activities_with_aware_times() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [541312140, 554748717],
            "event_type": ["view", "cart"],
            "event_time": pd.to_datetime(
                ["2019-10-01 00:00:00", "2019-10-01 02:00:00"]
            ).tz_localize("Europe/Prague"),
            "price": [35.79, 33.2],
        }
    )
    events = list(
        activities_from_dataframe(
            frame, contact_column="user_id", type_column="event_type", time_column="event_time"
        )
    )
    assert [event.contact_id for event in events] == ["541312140", "554748717"]
    assert [event.occurred_at for event in events] == [
        dt.datetime(2019, 9, 30, 22, 0, tzinfo=UTC),
        dt.datetime(2019, 10, 1, 0, 0, tzinfo=UTC),
    ]
    assert [dict(event.attributes) for event in events] == [{"price": 35.79}, {"price": 33.2}]


def test_pandas_naive_times_and_nat() -> None:
    frame = pd.DataFrame(
        {
            "contact_id": ["c1", "c2"],
            "type": ["visit", "visit"],
            "occurred_at": pd.to_datetime(["2024-01-15 10:00", None]),
        }
    )
    with pytest.raises(DataError) as caught:
        list(activities_from_dataframe(frame))
    assert caught.value.row == 1
    assert caught.value.field == "occurred_at"
    assert "timezone=" in (caught.value.hint or "")

    report = LoadReport()
    events = list(
        activities_from_dataframe(frame, timezone="UTC", skip_bad_rows=True, report=report)
    )
    assert [event.occurred_at for event in events] == [dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC)]
    assert report.skipped_by_reason == {"missing timestamp in field 'occurred_at'": 1}


def test_polars_contacts() -> None:
    frame = pl.DataFrame(
        {
            "Prospect ID": ["p1", "p2"],
            "TotalVisits": [5, None],
            "Page Views Per Visit": [2.5, float("nan")],
            "Lead Profile": ["Select", "Potential Lead"],
            "address": [{"city": "Pune"}, None],
            "tags": [["a", "b"], []],
        }
    )
    contacts = list(contacts_from_dataframe(frame, id_column="Prospect ID"))
    assert dict(contacts[0].profile) == {
        "TotalVisits": 5,
        "Page Views Per Visit": 2.5,
        "address": {"city": "Pune"},
        "tags": ["a", "b"],
    }
    assert dict(contacts[1].profile) == {"Lead Profile": "Potential Lead", "tags": []}


def test_polars_activities_with_mapping() -> None:
    frame = pl.DataFrame(
        {
            "who": ["c1", "c2"],
            "what": ["visit", "download"],
            "when": [dt.datetime(2024, 1, 15, 10, 0), dt.datetime(2024, 7, 15, 10, 0)],
            "url": ["/pricing", "/whitepaper.pdf"],
        }
    )
    mapping = ColumnMapping.from_dict(
        {
            "activities": {
                "contact": "who",
                "type": "what",
                "time": "when",
                "timezone": "Europe/Prague",
            }
        }
    )
    events = list(activities_from_dataframe(frame, mapping=mapping))
    assert [event.occurred_at for event in events] == [
        dt.datetime(2024, 1, 15, 9, 0, tzinfo=UTC),
        dt.datetime(2024, 7, 15, 8, 0, tzinfo=UTC),
    ]
    assert [dict(event.attributes) for event in events] == [
        {"url": "/pricing"},
        {"url": "/whitepaper.pdf"},
    ]


def test_decimals_become_numbers() -> None:
    frame = pl.DataFrame(
        {"id": ["c1", "c2"], "amount": [decimal.Decimal("12.50"), decimal.Decimal("7.00")]}
    )
    amounts = [contact.profile["amount"] for contact in contacts_from_dataframe(frame)]
    assert amounts == [12.5, 7]
    assert [type(amount) for amount in amounts] == [float, int]


def test_row_number_ids_start_at_one() -> None:
    frame = pl.DataFrame({"age": [30, 41]})
    assert [contact.id for contact in contacts_from_dataframe(frame, id_column=None)] == ["1", "2"]


def test_missing_column_raises_at_call() -> None:
    frame = pd.DataFrame({"user": ["c1"]})
    with pytest.raises(DataError) as caught:
        contacts_from_dataframe(frame)
    assert caught.value.row is None
    assert caught.value.file == "pandas DataFrame"
    assert "id column 'id' is not in the DataFrame" in str(caught.value)


def test_duplicate_pandas_columns_raise() -> None:
    frame = pd.DataFrame([["c1", 1, 2]], columns=["id", "a", "a"])
    with pytest.raises(DataError, match="duplicate column name 'a'"):
        contacts_from_dataframe(frame)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([{"id": "c1"}], "got builtins.list"),
        ("not a frame", "got builtins.str"),
    ],
)
def test_non_dataframe_raises(value: Any, words: str) -> None:
    with pytest.raises(TypeError, match=words):
        contacts_from_dataframe(value)


def test_polars_lazyframe_raises() -> None:
    with pytest.raises(TypeError, match="collect"):
        contacts_from_dataframe(pl.DataFrame({"id": ["c1"]}).lazy())


def test_pandas_series_raises() -> None:
    with pytest.raises(TypeError, match="pandas or polars DataFrame"):
        contacts_from_dataframe(pd.Series(["c1"], name="id"))
