"""The loaders on real exports: REES46 clickstream, UCI Bank Marketing and X Education leads.

Each test skips when its dataset is not present. Expected counts were checked against the
files with Python's csv module.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from leadscore.errors import DataError
from leadscore.loaders import ColumnMapping, LoadReport, read_activities, read_contacts

UTC = dt.UTC
REES46 = {"contact_column": "user_id", "type_column": "event_type", "time_column": "event_time"}


def test_rees46_strict_raises_on_cut_off_row(rees46: Path) -> None:
    events = read_activities(rees46, **REES46)
    complete = [next(events) for _ in range(17_434)]
    with pytest.raises(DataError) as caught:
        next(events)
    assert complete[-1].contact_id == "543335023"  # the last complete row came out first
    assert caught.value.file == str(rees46)
    assert caught.value.row == 17_436
    assert caught.value.field is None
    assert "cut off" in str(caught.value)


def test_rees46_skip_mode_counts(rees46: Path) -> None:
    report = LoadReport()
    events = list(read_activities(rees46, **REES46, skip_bad_rows=True, report=report))

    assert len(events) == 17_434
    assert report.rows_read == 17_435
    assert report.rows_skipped == 1
    assert report.skipped_by_reason == {"row cut off at the end of the file": 1}
    assert report.skipped_rows[0].row == 17_436
    assert Counter(event.type for event in events) == {"view": 17_055, "cart": 165, "purchase": 214}
    assert len({event.contact_id for event in events}) == 4_504
    assert len({event.contact_id for event in events if event.type == "purchase"}) == 193
    assert len({event.attributes["user_session"] for event in events}) == 5_066
    assert len({event.attributes["product_id"] for event in events}) == 6_493
    assert sum("category_code" not in event.attributes for event in events) == 5_746
    assert sum("brand" not in event.attributes for event in events) == 2_477
    assert min(event.occurred_at for event in events) == dt.datetime(2019, 10, 1, 0, 0, tzinfo=UTC)
    assert max(event.occurred_at for event in events) == dt.datetime(2019, 10, 1, 2, 50, tzinfo=UTC)


def test_rees46_category_id_exact(rees46: Path) -> None:
    with rees46.open(newline="", encoding="utf-8") as file:
        raw_ids = [row[3] for row in csv.reader(file) if len(row) == 9][1:]

    as_text = [
        event.attributes["category_id"]
        for event in read_activities(rees46, **REES46, skip_bad_rows=True)
    ]
    as_integer = [
        event.attributes["category_id"]
        for event in read_activities(
            rees46, **REES46, types={"category_id": "integer"}, skip_bad_rows=True
        )
    ]

    assert len(raw_ids) == 17_434
    assert as_text == raw_ids
    assert as_integer == [int(raw) for raw in raw_ids]
    assert all(len(raw) == 19 for raw in raw_ids)
    # The same digits through a float64 would not survive, which is why they stay text.
    assert any(int(float(raw)) != int(raw) for raw in raw_ids)


def test_bank_semicolons_and_row_ids(bank: Path) -> None:
    contacts = list(read_contacts(bank, id_column=None))

    assert len(contacts) == 4_521
    assert contacts[0].id == "2"
    assert contacts[-1].id == "4522"
    assert dict(contacts[0].profile) == {
        "age": 30,
        "job": "unemployed",
        "marital": "married",
        "education": "primary",
        "default": "no",
        "balance": 1787,
        "housing": "no",
        "loan": "no",
        "contact": "cellular",
        "day": 19,
        "month": "oct",
        "duration": 79,
        "campaign": 1,
        "pdays": -1,
        "previous": 0,
        "poutcome": "unknown",
        "y": "no",
    }
    assert Counter(contact.profile["y"] for contact in contacts) == {"no": 4_000, "yes": 521}


def test_bank_yes_no_as_boolean(bank: Path) -> None:
    contacts = read_contacts(bank, id_column=None, types={"y": "boolean", "loan": "boolean"})
    outcomes = Counter(contact.profile["y"] for contact in contacts)
    assert outcomes == {False: 4_000, True: 521}


def test_bank_full(bank_full: Path) -> None:
    outcomes: Counter[str] = Counter()
    count = 0
    for contact in read_contacts(bank_full, id_column=None):
        count += 1
        outcomes[contact.profile["y"]] += 1
    assert count == 45_211
    assert outcomes == {"no": 39_922, "yes": 5_289}


def test_leads_counts(leads: Path) -> None:
    contacts = list(read_contacts(leads, id_column="Prospect ID"))

    assert len(contacts) == 9_240
    assert len({contact.id for contact in contacts}) == 9_240
    assert contacts[0].id == "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    assert contacts[0].profile["Lead Number"] == 660737
    assert "Prospect ID" not in contacts[0].profile

    def values(field: str) -> Counter[object]:
        return Counter(contact.profile.get(field) for contact in contacts)

    assert values("Do Not Email") == {"No": 8_506, "Yes": 734}
    assert values("Converted") == {0: 5_679, 1: 3_561}
    assert values("Lead Quality")[None] == 4_767
    assert values("TotalVisits")[None] == 137
    assert values("Last Activity")[None] == 103
    assert values("Last Activity")["Unsubscribed"] == 61
    assert values("Last Activity")["Email Opened"] == 3_437
    # "Select" means not chosen: 5,043 of them plus 2,207 empty cells.
    assert values("How did you hear about X Education")[None] == 5_043 + 2_207
    assert values("City")[None] == 2_249 + 1_420
    assert values("Specialization")["Banking, Investment And Insurance"] == 338
    assert all("Select" not in contact.profile.values() for contact in contacts)


def test_leads_match_csv_module(leads: Path) -> None:
    with leads.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    contacts = list(read_contacts(leads, id_column="Prospect ID"))
    assert len(rows) == len(contacts)

    for row, contact in zip(rows, contacts, strict=True):
        assert contact.id == row["Prospect ID"]
        for column, raw in row.items():
            if column == "Prospect ID":
                continue
            if raw in ("", "Select"):
                assert column not in contact.profile
                continue
            value = contact.profile[column]
            if isinstance(value, str):
                assert value == raw
            else:
                assert isinstance(value, int | float)
                assert float(raw) == value


def test_leads_with_toml_mapping(leads: Path) -> None:
    config = tomllib.loads(
        """
        [contacts]
        id = "Prospect ID"
        types = { "TotalVisits" = "number", "Do Not Email" = "boolean" }

        [contacts.columns]
        "TotalVisits" = "visits"
        "Total Time Spent on Website" = "time_on_site"
        "Do Not Email" = "do_not_email"
        """
    )
    mapping = ColumnMapping.from_dict(config)
    contacts = list(read_contacts(leads, mapping=mapping))

    assert len(contacts) == 9_240
    assert dict(contacts[1].profile) == {"visits": 5, "time_on_site": 674, "do_not_email": False}
    assert Counter(contact.profile["do_not_email"] for contact in contacts) == {
        False: 8_506,
        True: 734,
    }
    assert sum("visits" not in contact.profile for contact in contacts) == 137
