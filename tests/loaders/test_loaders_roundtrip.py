"""Round trips: generated rows written with the csv and json modules read back unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leadscore.loaders import read_activities, read_contacts

UTC = dt.UTC

# Text survives the loader unchanged unless it is blank, padded or a placeholder,
# because cells are stripped and "Select" means missing.
plain_text = st.text(min_size=1, max_size=20).filter(
    lambda text: text.strip() == text and text != "Select"
)
inferred_integers = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
instants = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)
list_items = st.lists(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters=";"), min_size=1, max_size=8
    ).filter(lambda text: text.strip() == text),
    max_size=4,
)

rows = st.lists(
    st.fixed_dictionaries(
        {
            "id": plain_text,
            "note": st.one_of(st.none(), plain_text),
            "visits": st.one_of(st.none(), inferred_integers),
            "score": floats,
            "vip": st.booleans(),
            "since": dates,
            "seen": instants,
            "tags": list_items,
        }
    ),
    max_size=8,
)

csv_layouts = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from([",", ";", "\t"]),
        "lineterminator": st.sampled_from(["\r\n", "\n"]),
        "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
        "bom": st.booleans(),
        "final_newline": st.booleans(),
    }
)

TYPES = {"note": "text", "score": "number", "tags": "list"}


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def expected_profile(row: dict[str, Any]) -> dict[str, Any]:
    profile = {key: value for key, value in row.items() if key != "id" and value is not None}
    if not profile["tags"]:
        del profile["tags"]  # an empty list is written as an empty cell, which is missing
    return profile


@settings(max_examples=60, deadline=None)
@given(rows=rows, layout=csv_layouts)
def test_csv_round_trip(rows: list[dict[str, Any]], layout: dict[str, Any]) -> None:
    columns = ["id", "note", "visits", "score", "vip", "since", "seen", "tags"]
    cells = [[cell(row[column]) for column in columns] for row in rows]
    # Python 3.11's csv writer quotes "\r" only when it is part of the line terminator, and
    # no reader can tell an unquoted "\r" from a line break.
    if layout["lineterminator"] == "\n" and layout["quoting"] == csv.QUOTE_MINIMAL:
        assume(not any("\r" in text for line in cells for text in line))

    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=layout["delimiter"],
        lineterminator=layout["lineterminator"],
        quoting=layout["quoting"],
    )
    writer.writerow(columns)
    writer.writerows(cells)
    text = buffer.getvalue()
    if not layout["final_newline"]:
        text = text.removesuffix(layout["lineterminator"])

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "contacts.csv"
        path.write_bytes((b"\xef\xbb\xbf" if layout["bom"] else b"") + text.encode("utf-8"))
        contacts = list(read_contacts(path, types=TYPES, delimiter=layout["delimiter"]))

    assert [contact.id for contact in contacts] == [row["id"] for row in rows]
    for contact, row in zip(contacts, rows, strict=True):
        assert dict(contact.profile) == expected_profile(row)


@settings(max_examples=40, deadline=None)
@given(rows=rows)
def test_jsonl_round_trip(rows: list[dict[str, Any]]) -> None:
    lines = []
    for row in rows:
        plain = dict(row)
        plain["since"] = row["since"].isoformat()
        plain["seen"] = row["seen"].isoformat()
        lines.append(json.dumps(plain) + "\n")

    contacts = list(read_contacts(io.StringIO("".join(lines)), format="jsonl", types=TYPES))

    assert [contact.id for contact in contacts] == [row["id"] for row in rows]
    for contact, row in zip(contacts, rows, strict=True):
        expected = {key: value for key, value in row.items() if key != "id" and value is not None}
        assert dict(contact.profile) == expected


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(
        st.tuples(plain_text, plain_text, instants, st.sampled_from(["UTC", "Z", "+00:00"])),
        max_size=8,
    )
)
def test_activity_times_round_trip(events: list[tuple[str, str, dt.datetime, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["contact_id", "type", "occurred_at"])
    for contact_id, activity_type, instant, zone in events:
        written = instant.replace(tzinfo=None).isoformat(sep=" ")
        written += " UTC" if zone == "UTC" else zone
        writer.writerow([contact_id, activity_type, written])
    buffer.seek(0)

    activities = list(read_activities(buffer, format="csv"))

    assert [(a.contact_id, a.type, a.occurred_at) for a in activities] == [
        (contact_id, activity_type, instant) for contact_id, activity_type, instant, _ in events
    ]
