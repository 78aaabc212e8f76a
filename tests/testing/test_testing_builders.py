"""Builders: contacts, activities and relative instants."""

from __future__ import annotations

import datetime as dt

import pytest
from testing_helpers import AT

from leadscore import Activity, Contact
from leadscore.testing import (
    DEFAULT_CONTACT_ID,
    RelativeActivity,
    RelativeInstant,
    activity,
    contact,
    days_ago,
    hours_ago,
    minutes_ago,
    resolve_activities,
    weeks_ago,
)


def test_days_ago_with_at_is_instant() -> None:
    assert days_ago(3, at=AT) == dt.datetime(2026, 6, 27, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (minutes_ago(90), dt.datetime(2026, 6, 30, 10, 30, tzinfo=dt.UTC)),
        (hours_ago(36), dt.datetime(2026, 6, 29, 0, 0, tzinfo=dt.UTC)),
        (days_ago(1.5), dt.datetime(2026, 6, 29, 0, 0, tzinfo=dt.UTC)),
        (weeks_ago(2), dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)),
    ],
)
def test_relative_instant_resolves(relative: RelativeInstant, expected: dt.datetime) -> None:
    assert relative.resolve(AT) == expected


def test_days_ago_without_at_is_relative() -> None:
    assert isinstance(days_ago(3), RelativeInstant)


def test_days_ago_rejects_negative() -> None:
    with pytest.raises(ValueError, match="days_ago needs zero or more days"):
        days_ago(-1)


def test_days_ago_rejects_text() -> None:
    with pytest.raises(TypeError, match="days_ago needs a number"):
        days_ago("3")  # type: ignore[call-overload]


def test_contact_default_id() -> None:
    built = contact(country="CZ")
    assert built == Contact(DEFAULT_CONTACT_ID, {"country": "CZ"})


def test_contact_given_id() -> None:
    assert contact("c-9", country="SK").id == "c-9"


def test_activity_absolute_is_activity() -> None:
    built = activity("page_visit", AT, contact="c-1", id="v1", url="/pricing")
    assert built == Activity("c-1", "page_visit", AT, {"url": "/pricing"}, id="v1")


def test_activity_takes_contact_object() -> None:
    assert activity("download", AT, contact=Contact("c-2")).contact_id == "c-2"


def test_activity_default_contact() -> None:
    assert activity("download", AT).contact_id == DEFAULT_CONTACT_ID


def test_activity_relative_is_pending() -> None:
    assert isinstance(activity("page_visit", days_ago(3)), RelativeActivity)


def test_activity_rejects_date() -> None:
    with pytest.raises(TypeError, match="at must be a datetime or a relative instant"):
        activity("page_visit", dt.date(2026, 6, 1))  # type: ignore[call-overload]


def test_resolve_gives_contact_and_time() -> None:
    [resolved] = resolve_activities([activity("page_visit", days_ago(3), url="/x")], AT, "c-5")
    assert resolved == Activity("c-5", "page_visit", days_ago(3, at=AT), {"url": "/x"})


def test_resolve_rehomes_default_contact() -> None:
    [resolved] = resolve_activities([activity("download", AT)], AT, "c-5")
    assert resolved.contact_id == "c-5"


def test_resolve_keeps_other_contact() -> None:
    [resolved] = resolve_activities([activity("download", AT, contact="c-6")], AT, "c-5")
    assert resolved.contact_id == "c-6"


def test_resolve_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="expected an Activity"):
        resolve_activities(["page_visit"], AT, "c-5")  # type: ignore[list-item]
