"""Reading JSON Lines: one object per line, nested values kept, bad lines by line number."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from leadscore.errors import DataError
from leadscore.loaders import LoadReport, read_activities, read_contacts

UTC = dt.UTC
DATA = Path(__file__).parent / "data"
EVENTS = {"contact_column": "user", "type_column": "event", "time_column": "at", "id_column": "id"}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_events_file() -> None:
    events = list(read_activities(DATA / "events.jsonl", **EVENTS, timezone="Europe/Prague"))

    assert [event.id for event in events] == ["evt-1", "evt-2", "3"]
    assert [event.contact_id for event in events] == ["u-1", "u-1", "12345"]
    assert [event.type for event in events] == ["page_visit", "form_submit", "email_open"]
    assert [event.occurred_at for event in events] == [
        dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 8, 30, tzinfo=UTC),  # naive 10:30 in Prague summer time
        dt.datetime(2024, 5, 2, 7, 0, tzinfo=UTC),
    ]
    assert dict(events[0].attributes) == {
        "page": {"url": "/pricing", "title": "Pricing"},
        "tags": ["a", "b"],
    }
    # JSON numbers and booleans keep their type; the empty note is missing.
    assert dict(events[1].attributes) == {"page": {"url": "/demo"}, "score": 7, "consent": True}
    # "Select" is a placeholder; an ISO date in text becomes a date.
    assert dict(events[2].attributes) == {"sent_on": dt.date(2024, 5, 1)}


def test_strings_are_not_inferred_as_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "c1", "zip": "01234", "age": "42", "vip": "true"}\n')
    contacts = list(read_contacts(path))
    assert dict(contacts[0].profile) == {"zip": "01234", "age": "42", "vip": "true"}


def test_types_convert_json_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        '{"id": 7, "age": "42", "zip": 1234, "vip": "yes", "tags": "a;b", "seen": "2024-01-02"}\n',
    )
    types = {"age": "integer", "zip": "text", "vip": "boolean", "tags": "list", "seen": "datetime"}
    contacts = list(read_contacts(path, types=types))
    assert contacts[0].id == "7"
    assert dict(contacts[0].profile) == {
        "age": 42,
        "zip": "1234",
        "vip": True,
        "tags": ["a", "b"],
        "seen": dt.datetime(2024, 1, 2),
    }


def test_null_and_nan_are_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "c1", "a": null, "b": NaN, "c": " ", "d": 0}\n')
    contacts = list(read_contacts(path))
    assert dict(contacts[0].profile) == {"d": 0}


def test_columns_select_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "c.ndjson", '{"id": "c1", "a": 1, "b": 2}\n{"id": "c2", "b": 3}\n')
    contacts = list(read_contacts(path, columns={"a": "alpha"}))
    assert [dict(contact.profile) for contact in contacts] == [{"alpha": 1}, {}]


def test_bad_line_names_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "c1"}\n\n{"id": "c2",}\n{"id": "c3"}\n')
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert caught.value.file == str(path)
    assert caught.value.row == 3
    assert "invalid JSON" in str(caught.value)


def test_bad_lines_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        '{"id": "c1"}\n[1, 2]\n"text"\n{"name": "no id"}\n{"id": "c5"}\n{"id": "c6", "a": [1',
    )
    report = LoadReport()
    contacts = list(read_contacts(path, skip_bad_rows=True, report=report))
    assert [contact.id for contact in contacts] == ["c1", "c5"]
    assert report.rows_read == 6
    assert report.skipped_by_reason == {
        "line is not a JSON object": 2,
        "missing contact id in field 'id'": 1,
        "row cut off at the end of the file": 1,
    }
    assert [skipped.row for skipped in report.skipped_rows] == [2, 3, 4, 6]
    assert "JSON array" in report.skipped_rows[0].message


def test_invalid_id_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": {"x": 1}}\n')
    with pytest.raises(DataError, match="invalid contact id"):
        list(read_contacts(path))


def test_row_number_ids_are_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    contacts = list(read_contacts(path, id_column=None))
    assert [contact.id for contact in contacts] == ["1", "3"]


def test_gzip_with_crlf_and_bom(tmp_path: Path) -> None:
    text = '\ufeff{"id": "c1", "n": 1}\r\n{"id": "c2", "n": 2}\r\n'
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    contacts = list(read_contacts(path))
    assert [(contact.id, contact.profile["n"]) for contact in contacts] == [("c1", 1), ("c2", 2)]
