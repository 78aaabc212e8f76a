"""Reading activities: contact, type and time columns, time zones, ids and attributes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from leadscore.errors import DataError
from leadscore.loaders import LoadReport, read_activities

UTC = dt.UTC
DATA = Path(__file__).parent / "data"
REES46 = {"contact_column": "user_id", "type_column": "event_type", "time_column": "event_time"}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_rees46_extract_strict_raises_on_cut_off_row() -> None:
    path = DATA / "rees46_cut_off.csv"
    with pytest.raises(DataError) as caught:
        list(read_activities(path, **REES46))
    assert caught.value.row == 6
    assert caught.value.file == str(path)
    assert "8 of 9 fields" in str(caught.value)


def test_rees46_extract_values() -> None:
    report = LoadReport()
    events = list(
        read_activities(DATA / "rees46_cut_off.csv", **REES46, skip_bad_rows=True, report=report)
    )

    assert len(events) == 4
    assert report.rows_skipped == 1
    first = events[0]
    assert first.contact_id == "541312140"
    assert first.type == "view"
    assert first.occurred_at == dt.datetime(2019, 10, 1, 0, 0, tzinfo=UTC)
    assert first.id is None
    assert dict(first.attributes) == {
        "product_id": 44600062,
        "category_id": "2103807459595387724",  # 19 digits stay exact text
        "brand": "shiseido",
        "price": 35.79,
        "user_session": "72d76fde-8bb3-4e00-8c23-a032dfed738c",
    }
    assert events[2].occurred_at == dt.datetime(2019, 10, 1, 0, 0, 1, tzinfo=UTC)
    assert "brand" not in events[2].attributes  # an empty cell is missing


def test_integer_type_keeps_19_digits_exact() -> None:
    events = read_activities(
        DATA / "rees46_cut_off.csv", **REES46, types={"category_id": "integer"}, skip_bad_rows=True
    )
    assert [event.attributes["category_id"] for event in events] == [
        2103807459595387724,
        2053013552326770905,
        2053013559792632471,
        2053013558920217191,
    ]


def test_naive_time_without_zone_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "contact_id,type,occurred_at\nc1,visit,2024-01-15 10:00\n")
    with pytest.raises(DataError) as caught:
        list(read_activities(path))
    error = caught.value
    assert error.file == str(path)
    assert error.row == 2
    assert error.field == "occurred_at"
    assert "has no time zone" in str(error)
    assert "timezone=" in (error.hint or "")


def test_timezone_applies_to_naive_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "contact_id,type,occurred_at\nc1,visit,2024-01-15 10:00\nc1,visit,2024-07-15T10:00:00\n"
        "c1,visit,2024-07-15T10:00:00Z\n",
    )
    events = list(read_activities(path, timezone="Europe/Prague"))
    assert [event.occurred_at for event in events] == [
        dt.datetime(2024, 1, 15, 9, 0, tzinfo=UTC),  # CET is UTC+1
        dt.datetime(2024, 7, 15, 8, 0, tzinfo=UTC),  # CEST is UTC+2
        dt.datetime(2024, 7, 15, 10, 0, tzinfo=UTC),  # an explicit zone wins
    ]
    assert all(event.occurred_at.tzinfo is UTC for event in events)


def test_timezone_column_per_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "contact_id,type,occurred_at,tz\n"
        "c1,visit,2024-01-15 10:00,America/New_York\n"
        "c2,visit,2024-01-15 10:00,\n"
        "c3,visit,2024-01-15 10:00,Asia/Tokyo\n",
    )
    events = list(read_activities(path, timezone_column="tz", timezone="UTC"))
    assert [event.occurred_at.hour for event in events] == [15, 10, 1]
    assert [dict(event.attributes) for event in events] == [{}, {}, {}]


def test_timezone_column_without_default(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "contact_id,type,occurred_at,tz\nc1,visit,2024-01-15 10:00,\n")
    with pytest.raises(DataError, match="has no time zone"):
        list(read_activities(path, timezone_column="tz"))


def test_unknown_zone_in_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "contact_id,type,occurred_at,tz\nc1,visit,2024-01-15 10:00,Mars/Base\n"
        "c2,visit,2024-01-15 10:00,Europe/Prague\n"
        "c3,visit,2024-01-15 10:00,Europe\n"
        "c4,visit,2024-01-15 10:00,../etc\n"
        "c5,visit,2024-01-15 10:00,Europe/Prague\n",
    )
    report = LoadReport()
    events = list(read_activities(path, timezone_column="tz", skip_bad_rows=True, report=report))
    assert [event.contact_id for event in events] == ["c2", "c5"]
    assert report.skipped_by_reason == {"unknown time zone in field 'tz'": 3}
    assert [skipped.row for skipped in report.skipped_rows] == [2, 4, 5]


@pytest.mark.parametrize(
    ("cell", "time_format", "expected"),
    [
        ("1700000000", "unix", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000123", "unix_ms", dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        ("14/11/2023 23:13", "%d/%m/%Y %H:%M", dt.datetime(2023, 11, 14, 22, 13, tzinfo=UTC)),
    ],
)
def test_time_format(tmp_path: Path, cell: str, time_format: str, expected: dt.datetime) -> None:
    path = write(tmp_path, "e.csv", f"contact_id,type,occurred_at\nc1,visit,{cell}\n")
    events = list(read_activities(path, time_format=time_format, timezone="Europe/Prague"))
    assert events[0].occurred_at == expected


def test_bad_timestamp_names_row_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path, "e.csv", "user,event,time\nc1,visit,2024-01-15T10:00Z\nc1,visit,15.1.2024\n"
    )
    with pytest.raises(DataError) as caught:
        list(read_activities(path, contact_column="user", type_column="event", time_column="time"))
    assert caught.value.row == 3
    assert caught.value.field == "time"
    assert "invalid timestamp '15.1.2024'" in str(caught.value)
    assert "time_format" in (caught.value.hint or "")


def test_missing_required_values_are_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "contact_id,type,occurred_at\n"
        ",visit,2024-01-15T10:00Z\n"
        "c1,,2024-01-15T10:00Z\n"
        "c1,visit,\n"
        "c1,visit,2024-01-15T10:00Z\n",
    )
    report = LoadReport()
    events = list(read_activities(path, skip_bad_rows=True, report=report))
    assert len(events) == 1
    assert report.skipped_by_reason == {
        "missing contact id in field 'contact_id'": 1,
        "missing activity type in field 'type'": 1,
        "missing timestamp in field 'occurred_at'": 1,
    }
    assert [skipped.row for skipped in report.skipped_rows] == [2, 3, 4]


def test_activity_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "event_id,contact_id,type,occurred_at\n0017,c1,visit,2024-01-15T10:00Z\n,c1,visit,2024-01-15T11:00Z\n",
    )
    events = list(read_activities(path, id_column="event_id"))
    assert [event.id for event in events] == ["0017", None]
    assert [dict(event.attributes) for event in events] == [{}, {}]


def test_attributes_select_rename_and_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "contact_id,type,occurred_at,page,utm_source,secret\nc1,visit,2024-01-15T10:00Z,0042,ads,x\n",
    )
    events = list(
        read_activities(
            path, attributes={"page": "page_id", "utm_source": "source"}, types={"page": "text"}
        )
    )
    assert dict(events[0].attributes) == {"page_id": "0042", "source": "ads"}


def test_missing_contact_column_in_header(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "user_id,type,occurred_at\nc1,visit,2024-01-15T10:00Z\n")
    with pytest.raises(DataError) as caught:
        list(read_activities(path))
    assert caught.value.row == 1
    assert caught.value.field == "contact_id"
    assert "contact column 'contact_id' is not in the header" in str(caught.value)
    assert "contact_column" in (caught.value.hint or "")
