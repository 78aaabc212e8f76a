"""Hand-computed cases for the meaning of rules: expiry, windows, values, aggregates, caps, levels.

Every expected value below is worked out from the language's rules by hand, not copied
from a run. Each test runs against both the compiled engine and the reference
evaluator.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

import leadscore
from leadscore import Activity, Contact, DataError, ScoreCard, Scores

from .strategies import datetime_text, quote

UTC = dt.UTC
AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
CONTACT = "c-1"
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=["compiled", "reference"])
def evaluator(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def scoring(*rules: str, settings: str = "", name: str = "S") -> str:
    """Return a scoring named ``name`` with the given settings and rule texts."""
    return f"scoring {quote(name)} {{\n    {settings}\n    " + "\n    ".join(rules) + "\n}\n"


def score(
    text: str,
    evaluator: str,
    profile: Mapping[str, Any] | None = None,
    activities: Sequence[Activity] = (),
    at: dt.datetime = AT,
    default_timezone: str | None = None,
) -> Scores:
    engine = leadscore.compile(text, default_timezone=default_timezone, evaluator=evaluator)  # type: ignore[arg-type]
    return engine.score(Contact(CONTACT, profile or {}), activities, at)


def card(text: str, evaluator: str, **kwargs: Any) -> ScoreCard:
    return score(text, evaluator, **kwargs)["S"]


def activity(
    occurred_at: dt.datetime,
    activity_type: str = "page_visit",
    id: str | None = None,
    **attributes: Any,
) -> Activity:
    return Activity(CONTACT, activity_type, occurred_at, attributes, id=id)


def literal(value: Any) -> str:
    """Write a Python value as a literal of the rule language."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is True or value is False:
        return "true" if value else "false"
    return repr(value)


def values_equal(
    expression: str, candidates: Sequence[Any], evaluator: str, **kwargs: Any
) -> list[Any]:
    """Return the candidates for which ``expression == candidate`` is true, one rule each."""
    rules = [
        f"rule {quote(str(position))} {{ when {expression} == {literal(candidate)} award 1 }}"
        for position, candidate in enumerate(candidates)
    ]
    result = card(scoring(*rules, settings=kwargs.pop("settings", "")), evaluator, **kwargs)
    return [
        candidate for candidate, rule in zip(candidates, result.breakdown, strict=True) if rule.met
    ]


# ---------------------------------------------------------------- expiry


ONE_MONTH = scoring('rule "Visit" { on page_visit award 5 expire after 1 month }')


def test_month_expiry_valid_before_end(evaluator: str) -> None:
    visit = activity(dt.datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    result = card(
        ONE_MONTH, evaluator, activities=[visit], at=dt.datetime(2026, 2, 28, 9, 59, tzinfo=UTC)
    )
    assert result.total == 5
    # 31 January plus one month is the last day of February, at the same time of day.
    assert result.rule("Visit").awards[0].expires_at == dt.datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_month_expiry_ends_at_instant(evaluator: str) -> None:
    visit = activity(dt.datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    result = card(
        ONE_MONTH, evaluator, activities=[visit], at=dt.datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    )
    assert result.total == 0
    assert result.rule("Visit").awards == ()


@pytest.mark.parametrize(
    ("zone", "occurred_at", "expected"),
    [
        # 13:00 CET on 15 March is 13:00 CEST on 15 April, which is 11:00 UTC.
        (
            "Europe/Prague",
            dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC),
            dt.datetime(2026, 4, 15, 11, 0, tzinfo=UTC),
        ),
        # 12:00 EDT on 15 October is 12:00 EST on 15 November, which is 17:00 UTC.
        (
            "America/New_York",
            dt.datetime(2026, 10, 15, 16, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 15, 17, 0, tzinfo=UTC),
        ),
        # UTC has no daylight saving time, so the clock time stays 12:00.
        (
            "UTC",
            dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC),
            dt.datetime(2026, 4, 15, 12, 0, tzinfo=UTC),
        ),
    ],
)
def test_month_expiry_follows_zone_across_dst(
    evaluator: str, zone: str, occurred_at: dt.datetime, expected: dt.datetime
) -> None:
    text = scoring(
        'rule "Visit" { on page_visit award 5 expire after 1 month }',
        settings=f"timezone {quote(zone)}",
    )
    result = card(text, evaluator, activities=[activity(occurred_at)], at=occurred_at)
    assert result.rule("Visit").awards[0].expires_at == expected


def test_day_expiry_ignores_dst(evaluator: str) -> None:
    # Days are exact 24-hour periods, even across the change to summer time on 29 March.
    text = scoring(
        'rule "Visit" { on page_visit award 5 expire after 30 days }',
        settings='timezone "Europe/Prague"',
    )
    occurred_at = dt.datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    result = card(text, evaluator, activities=[activity(occurred_at)], at=occurred_at)
    assert result.rule("Visit").awards[0].expires_at == dt.datetime(2026, 4, 19, 12, 0, tzinfo=UTC)


EXPIRE_ON = scoring(
    'rule "Visit" { on page_visit award 5 expire on 2027-01-01 }',
    settings='timezone "Europe/Prague"',
)
# Midnight at the start of 1 January 2027 in Prague (CET, UTC+1) is 23:00 UTC the day before.
PRAGUE_NEW_YEAR = dt.datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_expire_on_date_valid_before_midnight(evaluator: str) -> None:
    visit = activity(dt.datetime(2026, 6, 1, tzinfo=UTC))
    result = card(
        EXPIRE_ON, evaluator, activities=[visit], at=PRAGUE_NEW_YEAR - dt.timedelta(seconds=1)
    )
    assert result.total == 5
    assert result.rule("Visit").awards[0].expires_at == PRAGUE_NEW_YEAR


def test_expire_on_date_ends_at_zone_midnight(evaluator: str) -> None:
    visit = activity(dt.datetime(2026, 6, 1, tzinfo=UTC))
    result = card(EXPIRE_ON, evaluator, activities=[visit], at=PRAGUE_NEW_YEAR)
    assert result.total == 0


def test_expire_never_keeps_award(evaluator: str) -> None:
    text = scoring(
        'rule "Visit" { on page_visit award 5 expire never }', settings="expire after 1 day"
    )
    result = card(text, evaluator, activities=[activity(AT - 3000 * DAY)])
    assert result.total == 5
    assert result.rule("Visit").awards[0].expires_at is None


def test_scoring_expiry_is_rule_default(evaluator: str) -> None:
    text = scoring(
        'rule "Default" { on page_visit award 1 }',
        'rule "Own" { on page_visit award 10 expire after 20 days }',
        settings="expire after 10 days",
    )
    visits = [
        activity(AT - 5 * DAY, id="a"),
        activity(AT - 15 * DAY, id="b"),
        activity(AT - 25 * DAY, id="c"),
    ]
    result = card(text, evaluator, activities=visits)
    # "Default" keeps only the visit 5 days ago. "Own" keeps the visits 5 and 15 days ago.
    assert result.rule("Default").points == 1
    assert result.rule("Own").points == 20


# ---------------------------------------------------------------- windows and days_since


def test_within_window_bounds(evaluator: str) -> None:
    visits = [
        activity(AT - 30 * DAY, id="edge"),  # at - window is outside: the window is open there
        activity(AT - 30 * DAY + dt.timedelta(seconds=1), id="inside"),
        activity(AT, id="now"),  # the scoring instant itself is inside
        activity(AT + dt.timedelta(seconds=1), id="future"),  # after the instant: ignored
    ]
    found = values_equal(
        "count(page_visit within 30 days)", [0, 1, 2, 3, 4], evaluator, activities=visits
    )
    assert found == [2]


def test_within_calendar_month(evaluator: str) -> None:
    # A visit stays in a one-month window until one calendar month after it, as an
    # award with `expire after 1 month` would: 28 February 23:00 leaves on 28 March
    # 23:00, 1 March 00:00 leaves on 1 April 00:00 (2026 is no leap year).
    at = dt.datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    visits = [
        activity(dt.datetime(2026, 2, 28, 23, 0, tzinfo=UTC), id="left"),
        activity(dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC), id="inside"),
    ]
    found = values_equal(
        "count(page_visit within 1 month)", [0, 1, 2], evaluator, activities=visits, at=at
    )
    assert found == [1]


def test_within_calendar_month_never_returns(evaluator: str) -> None:
    # Stepping `at` back by a month would put 29 March 00:00 - 1 month at 28 February
    # 00:00 and readmit a visit of 28 February 06:00 that left on 28 March 06:00.
    visit = activity(dt.datetime(2026, 2, 28, 6, 0, tzinfo=UTC), id="february")
    for at in (
        dt.datetime(2026, 3, 28, 6, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 31, 3, 0, tzinfo=UTC),
    ):
        found = values_equal(
            "count(page_visit within 1 month)", [0, 1], evaluator, activities=[visit], at=at
        )
        assert found == [0], at


@pytest.mark.parametrize(
    ("elapsed", "days"),
    [
        (dt.timedelta(hours=23, minutes=59), 0),
        (dt.timedelta(hours=24), 1),
        (dt.timedelta(hours=47, minutes=59), 1),
        (dt.timedelta(days=60), 60),
    ],
)
def test_days_since_whole_periods(evaluator: str, elapsed: dt.timedelta, days: int) -> None:
    profile = {"seen": AT - elapsed}
    found = values_equal(
        "days_since(contact.seen)", [0, 1, 2, 59, 60, 61], evaluator, profile=profile
    )
    assert found == [days]


def test_days_since_counts_hours_across_dst(evaluator: str) -> None:
    # Two calendar days in Prague, but only 47.5 hours because the clocks go forward on 29 March.
    profile = {"seen": dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)}
    at = dt.datetime(2026, 3, 30, 11, 30, tzinfo=UTC)
    found = values_equal(
        "days_since(contact.seen)",
        [0, 1, 2],
        evaluator,
        profile=profile,
        at=at,
        settings='timezone "Europe/Prague"',
    )
    assert found == [1]


@pytest.mark.parametrize(("zone", "days"), [("UTC", 0), ("Europe/Prague", 1)])
def test_days_since_date_starts_in_zone(evaluator: str, zone: str, days: int) -> None:
    # 29 June starts at 00:00 UTC (23 hours before the instant) or at 22:00 UTC on
    # 28 June in Prague (25 hours before).
    at = dt.datetime(2026, 6, 29, 23, 0, tzinfo=UTC)
    profile = {"signed_up": dt.date(2026, 6, 29)}
    settings = f"timezone {quote(zone)}"
    found = values_equal(
        "days_since(contact.signed_up)",
        [0, 1],
        evaluator,
        profile=profile,
        at=at,
        settings=settings,
    )
    assert found == [days]


# ---------------------------------------------------------------- values: wrong types, missing, NaN


WRONG_TYPE = scoring(
    'rule "Large company" { when contact.employees > 50 award 10 }',
    'rule "Czech" { when contact.country == "CZ" award 5 }',
)


def test_wrong_type_not_met(evaluator: str) -> None:
    result = card(WRONG_TYPE, evaluator, profile={"employees": "many", "country": "CZ"})
    assert result.rule("Large company").met is False
    assert result.rule("Czech").met is True
    assert result.total == 5


def test_wrong_type_diagnostic(evaluator: str) -> None:
    result = card(WRONG_TYPE, evaluator, profile={"employees": "many", "country": "CZ"})
    (diagnostic,) = result.diagnostics
    assert diagnostic.rule == "Large company"
    assert diagnostic.field == "contact.employees"
    assert diagnostic.value == "'many'"
    assert "text" in diagnostic.message


def test_wrong_type_other_contact_normal(evaluator: str) -> None:
    result = card(WRONG_TYPE, evaluator, profile={"employees": 120, "country": "CZ"})
    assert result.total == 15
    assert result.diagnostics == ()


MISSING_CHECKS = {
    "equal": 'contact.country == "CZ"',
    "not equal": 'contact.country != "CZ"',
    "less": "contact.employees < 10",
    "not equal number": "contact.employees != 10",
    "in": 'contact.country in ["CZ", "SK"]',
    "not in": 'contact.country not in ["CZ", "SK"]',
    "starts with": 'contact.country starts with "C"',
    "matches": "contact.country matches /z/",
    "empty": "contact.country is empty",
    "not empty": "contact.country is not empty",
}
MISSING_TEXT = scoring(
    *(
        f"rule {quote(name)} {{ when {condition} award 1 }}"
        for name, condition in MISSING_CHECKS.items()
    )
)


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param({}, id="absent"),
        pytest.param({"country": None, "employees": None}, id="none"),
        pytest.param({"country": math.nan, "employees": math.nan}, id="nan"),
        pytest.param({"country": Decimal("NaN"), "employees": Decimal("NaN")}, id="decimal-nan"),
    ],
)
def test_missing_values(evaluator: str, missing: dict[str, Any]) -> None:
    result = card(MISSING_TEXT, evaluator, profile=missing)
    met = [rule.rule for rule in result.breakdown if rule.met]
    # Only "is empty" is met, because every comparison with a missing value is false, != included.
    assert met == ["empty"]
    assert result.diagnostics == ()


def test_numpy_nan_missing(evaluator: str) -> None:
    numpy = pytest.importorskip("numpy")
    nan = numpy.float64("nan")
    result = card(MISSING_TEXT, evaluator, profile={"country": nan, "employees": nan})
    met = [rule.rule for rule in result.breakdown if rule.met]
    assert met == ["empty"]


def test_decimal_is_number(evaluator: str) -> None:
    found = values_equal(
        "contact.revenue", [1.5, 2, "1.5"], evaluator, profile={"revenue": Decimal("1.5")}
    )
    assert found == [1.5]


def test_boolean_not_number(evaluator: str) -> None:
    text = scoring(
        'rule "Numeric" { when contact.subscribed == 1 award 1 }',
        'rule "Boolean" { when contact.subscribed == true award 10 }',
    )
    result = card(text, evaluator, profile={"subscribed": True})
    assert result.total == 10
    assert [d.rule for d in result.diagnostics] == ["Numeric"]


def test_naive_datetime_diagnostic(evaluator: str) -> None:
    text = scoring('rule "Early" { when contact.signed_up_at < 2026-01-01T00:00Z award 10 }')
    result = card(text, evaluator, profile={"signed_up_at": dt.datetime(2025, 12, 31, 23, 0)})
    assert result.total == 0
    (diagnostic,) = result.diagnostics
    assert diagnostic.field == "contact.signed_up_at"
    assert "time zone" in diagnostic.message


def test_naive_datetime_default_zone(evaluator: str) -> None:
    # 00:30 on 1 January in Prague is 23:30 UTC on 31 December, so before midnight UTC.
    text = scoring('rule "Early" { when contact.signed_up_at < 2026-01-01T00:00Z award 10 }')
    profile = {"signed_up_at": dt.datetime(2026, 1, 1, 0, 30)}
    result = card(text, evaluator, profile=profile, default_timezone="Europe/Prague")
    assert result.total == 10
    assert result.diagnostics == ()


def test_naive_datetime_right_side_named(evaluator: str) -> None:
    text = scoring('rule "Came back" { when contact.last_login > contact.signed_up_at award 10 }')
    profile = {
        "last_login": dt.datetime(2026, 6, 1, tzinfo=UTC),
        "signed_up_at": dt.datetime(2026, 1, 1, 9, 0),
    }
    (diagnostic,) = card(text, evaluator, profile=profile).diagnostics
    assert diagnostic.field == "contact.signed_up_at"
    assert diagnostic.value == repr(dt.datetime(2026, 1, 1, 9, 0))
    assert "time zone" in diagnostic.message


def test_duration_first_names_field(evaluator: str) -> None:
    text = scoring('rule "Recent" { when 30 days + contact.signed_up_at > now() award 10 }')
    (diagnostic,) = card(text, evaluator, profile={"signed_up_at": "yesterday"}).diagnostics
    assert diagnostic.field == "contact.signed_up_at"
    assert diagnostic.value == "'yesterday'"


def test_equal_instants_keep_offsets(evaluator: str) -> None:
    # Two literals for one instant, written with different UTC offsets.
    text = scoring(
        'rule "Plus one" { when (2026-01-01T01:00+01:00 + 1 day) == contact.seen award 1 }',
        'rule "Zulu" { when (2026-01-01T00:00Z + 1 day) == contact.seen award 1 }',
    )
    diagnostics = card(text, evaluator, profile={"seen": "text"}).diagnostics
    values = {d.rule: d.value for d in diagnostics}
    assert values["Zulu"] == repr(dt.datetime(2026, 1, 2, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("condition", "value"),
    [
        ("contact.size / 3 > 1", 10**400),
        ("contact.size * 1.5 > 1", 10**400),
        ("contact.size * contact.size > 1", Decimal("9E+999999")),
        ("contact.size + 1 day > now()", dt.date(9999, 12, 31)),
        ("1 month + contact.size > now()", dt.date(9999, 12, 31)),
    ],
)
def test_out_of_range_diagnostic(evaluator: str, condition: str, value: Any) -> None:
    # 10**400 is beyond a float, and 9999-12-31 is the last date Python represents.
    text = scoring(
        f'rule "Huge" {{ when {condition} award 10 }}',
        'rule "Czech" { when contact.country == "CZ" award 5 }',
    )
    result = card(text, evaluator, profile={"size": value, "country": "CZ"})
    assert result.total == 5
    (diagnostic,) = result.diagnostics
    assert diagnostic.field == "contact.size"
    assert "out of range" in diagnostic.message


def test_sum_out_of_range_diagnostic(evaluator: str) -> None:
    text = scoring('rule "Spend" { when sum(page_visit.amount) > 1 award 10 }')
    visits = [activity(AT - DAY, id="a", amount=10**400), activity(AT - DAY, id="b", amount=0.5)]
    result = card(text, evaluator, activities=visits)
    assert result.total == 0
    (diagnostic,) = result.diagnostics
    assert "out of range" in diagnostic.message


# ---------------------------------------------------------------- activities in the input


VISITS = scoring('rule "Visit" { on page_visit award 5 }')


def test_naive_activity_time_raises(evaluator: str) -> None:
    with pytest.raises(DataError, match="naive"):
        card(VISITS, evaluator, activities=[activity(dt.datetime(2026, 6, 1, 9, 0))])


def test_naive_activity_time_default_zone(evaluator: str) -> None:
    # In Prague (UTC+2 in summer) 13:30 is 11:30 UTC, before the instant, and 14:30 is after it.
    visits = [
        activity(dt.datetime(2026, 6, 30, 13, 30), id="a"),
        activity(dt.datetime(2026, 6, 30, 14, 30), id="b"),
    ]
    result = card(VISITS, evaluator, activities=visits, default_timezone="Europe/Prague")
    assert [a.activity.id for a in result.rule("Visit").awards] == ["a"]
    assert result.rule("Visit").awards[0].activity.occurred_at == dt.datetime(
        2026, 6, 30, 11, 30, tzinfo=UTC
    )


def test_other_contact_activity_raises(evaluator: str) -> None:
    stranger = Activity("c-2", "page_visit", AT - DAY, {})
    with pytest.raises(DataError, match="c-2"):
        card(VISITS, evaluator, activities=[stranger])


def test_activity_after_instant_ignored(evaluator: str) -> None:
    visits = [activity(AT, id="a"), activity(AT + dt.timedelta(microseconds=1), id="b")]
    result = card(VISITS, evaluator, activities=visits)
    assert result.total == 5


def test_duplicate_id_counts_once(evaluator: str) -> None:
    visits = [activity(AT - DAY, id="same", url="/b"), activity(AT - 2 * DAY, id="same", url="/a")]
    result = card(VISITS, evaluator, activities=visits)
    assert result.total == 5
    # Of the two, the earlier one counts.
    assert result.rule("Visit").awards[0].activity.occurred_at == AT - 2 * DAY


def test_where_reads_contact_id(evaluator: str) -> None:
    text = scoring('rule "Own" { on page_visit where activity.owner == contact.id award 5 }')
    visits = [activity(AT - DAY, id="a", owner=CONTACT), activity(AT - DAY, id="b", owner="c-9")]
    result = card(text, evaluator, activities=visits)
    assert [a.activity.id for a in result.rule("Own").awards] == ["a"]


def test_bracket_fields_read_data(evaluator: str) -> None:
    text = scoring(
        'rule "Profile id" { when contact["id"] == "crm-7" award 1 }',
        'rule "Contact id" { when contact.id == "c-1" award 2 }',
        'rule "Attribute type" { on page_visit where activity["type"] == "landing" award 4 }',
        'rule "Activity type" { on page_visit where activity.type == "page_visit" award 8 }',
        'rule "Attribute id" { on page_visit where activity["id"] == "x" award 16 }',
        'rule "Activity id" { on page_visit where activity.id == "e1" award 32 }',
    )
    visit = Activity(CONTACT, "page_visit", AT - DAY, {"type": "landing", "id": "x"}, id="e1")
    result = card(text, evaluator, profile={"id": "crm-7"}, activities=[visit])
    met = [rule.rule for rule in result.breakdown if rule.met]
    assert met == [
        "Profile id",
        "Contact id",
        "Attribute type",
        "Activity type",
        "Attribute id",
        "Activity id",
    ]


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("john@Example.COM", "example.com"),
        ("https://www.Example.com:8080/pricing?plan=pro", "example.com"),
        ("http://user:secret@Shop.Example.org/cart", "shop.example.org"),
        ("WWW.EXAMPLE.NET", "example.net"),
        ("example.com/docs", "example.com"),
        ("jane@www.example.org", "example.org"),
        ("https://[2001:db8::1]:443/", "2001:db8::1"),
    ],
)
def test_domain(evaluator: str, address: str, expected: str) -> None:
    candidates = [
        "example.com",
        "shop.example.org",
        "example.net",
        "example.org",
        "2001:db8::1",
        address,
    ]
    found = values_equal(
        "domain(contact.address)", candidates, evaluator, profile={"address": address}
    )
    assert found == [expected]


def test_domain_of_blank_empty(evaluator: str) -> None:
    text = scoring('rule "No domain" { when domain(contact.email) is empty award 1 }')
    assert card(text, evaluator, profile={"email": "  "}).total == 1


def test_filled_counts_non_empty(evaluator: str) -> None:
    profile: dict[str, Any] = {
        "a": "",
        "b": "  ",
        "c": [],
        "d": {},
        "e": None,
        "f": math.nan,
        "g": 0,
        "h": False,
        "i": "x",
    }
    fields = ", ".join(f"contact.{name}" for name in [*profile, "absent"])
    # 0, false and "x" are values. Blank text, empty lists and mappings, null and NaN are not.
    found = values_equal(f"filled({fields})", list(range(11)), evaluator, profile=profile)
    assert found == [3]


# ---------------------------------------------------------------- aggregates


AGGREGATE_DATA = [
    activity(AT - 1 * DAY, id="v1", amount=10),
    activity(AT - 2 * DAY, id="v2", amount=20.5),
    activity(AT - 3 * DAY, id="v3", amount="30"),
    activity(AT - 4 * DAY, id="v4", amount=None),
    activity(AT - 40 * DAY, id="v5", amount=40),
    activity(AT + 1 * DAY, id="v6", amount=100),  # after the instant: ignored
    activity(AT - 1 * DAY, "download", id="d1", amount=1000),
]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("count(page_visit)", 5),
        ("count(page_visit within 30 days)", 4),
        ("count(page_visit where activity.amount >= 20)", 2),
        ("count(page_visit where activity.amount >= 20 within 30 days)", 1),
        ("count(download)", 1),
        ("sum(page_visit.amount)", 70.5),
        ("sum(page_visit.amount within 30 days)", 30.5),
        ("min(page_visit.amount)", 10),
        ("max(page_visit.amount)", 40),
        ("max(page_visit.amount within 30 days)", 20.5),
        ("avg(page_visit.amount within 30 days)", 15.25),
        ("avg(page_visit.amount where activity.amount > 15)", 30.25),
        ("first(page_visit)", AT - 40 * DAY),
        ("last(page_visit)", AT - DAY),
        ("first(page_visit within 30 days)", AT - 4 * DAY),
        ("last(page_visit where activity.amount == 40)", AT - 40 * DAY),
    ],
)
def test_aggregate_value(evaluator: str, expression: str, expected: Any) -> None:
    if isinstance(expected, dt.datetime):
        others: list[Any] = [AT, AT - DAY, AT - 4 * DAY, AT - 40 * DAY]
    else:
        others = [0, 1, 2, 4, 5, 10, 15.25, 20.5, 30.5, 40, 70.5]
    candidates = [expected, *(other for other in others if other != expected)]
    found = values_equal(expression, candidates, evaluator, activities=AGGREGATE_DATA)
    assert found == [expected]


@pytest.mark.parametrize(
    ("condition", "met"),
    [
        ("exists(download)", True),
        ("exists(page_visit within 1 hour)", False),
        ("exists(page_visit where activity.amount == 40)", True),
        ("exists(webinar)", False),
        ("sum(webinar.amount) == 0", True),
        ("min(webinar.amount) is empty", True),
    ],
)
def test_aggregate_condition(evaluator: str, condition: str, met: bool) -> None:
    text = scoring(f'rule "R" {{ when {condition} award 1 }}')
    assert card(text, evaluator, activities=AGGREGATE_DATA).rule("R").met is met


def test_aggregate_skips_text_with_diagnostic(evaluator: str) -> None:
    text = scoring('rule "Spend" { when sum(page_visit.amount within 30 days) > 30 award 1 }')
    result = card(text, evaluator, activities=AGGREGATE_DATA)
    assert result.rule("Spend").met is True
    (diagnostic,) = result.diagnostics
    assert diagnostic.rule == "Spend"
    assert diagnostic.value == "'30'"
    assert "skipped" in diagnostic.message


def test_aggregate_min_tie_order_free(evaluator: str) -> None:
    # 1 and 1.0 are equal, so which is the minimum must not depend on the input order.
    text = scoring('rule "R" { when min(page_visit.amount) + contact.country == 1 award 1 }')
    visits = [activity(AT - DAY, id="a", amount=1), activity(AT - 2 * DAY, id="b", amount=1.0)]
    forward = card(text, evaluator, profile={"country": "CZ"}, activities=visits).diagnostics
    backward = card(text, evaluator, profile={"country": "CZ"}, activities=visits[::-1]).diagnostics
    assert forward == backward


# ---------------------------------------------------------------- caps, floor, ceiling, levels


@pytest.mark.parametrize(
    ("award", "count", "expected"),
    [
        ("award 5 each max 12", 4, 12),
        ("award 5 max 25", 4, 20),
        ("award 10 once", 3, 10),
        ("award -10 each max 25", 4, -25),
        ("award -10 once", 3, -10),
        ("award -10", 3, -30),
    ],
)
def test_cap(evaluator: str, award: str, count: int, expected: int) -> None:
    text = scoring(f'rule "Visit" {{ on page_visit {award} }}')
    visits = [activity(AT - n * HOUR, id=str(n)) for n in range(count)]
    result = card(text, evaluator, activities=visits)
    assert result.rule("Visit").points == expected
    assert result.rule("Visit").capped is (expected != int(award.split()[1]) * count)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("floor 0", 0),
        ("floor -20", -20),
        ("floor -100", -30),
        ("ceiling 10", -30),
        ("ceiling -40", -40),
    ],
)
def test_floor_ceiling_negative(evaluator: str, settings: str, expected: int) -> None:
    text = scoring('rule "Unsubscribed" { on newsletter_unsubscribe award -30 }', settings=settings)
    result = card(text, evaluator, activities=[activity(AT - DAY, "newsletter_unsubscribe")])
    assert result.total == expected


@pytest.mark.parametrize(
    ("settings", "expected"), [("ceiling 30", 30), ("ceiling 60", 50), ("floor 60", 60)]
)
def test_floor_ceiling_positive(evaluator: str, settings: str, expected: int) -> None:
    text = scoring('rule "Czech" { when contact.country == "CZ" award 50 }', settings=settings)
    assert card(text, evaluator, profile={"country": "CZ"}).total == expected


LEVELS = scoring(
    'rule "Visit" { on page_visit award 1 }',
    settings='threshold "Warm" at 2  threshold "MQL" at 4  threshold "SQL" at 6',
)


@pytest.mark.parametrize(
    ("visits", "level", "reached"),
    [
        (0, None, []),
        (1, None, []),
        (2, "Warm", ["Warm"]),
        (5, "MQL", ["Warm", "MQL"]),
        (6, "SQL", ["Warm", "MQL", "SQL"]),
        (9, "SQL", ["Warm", "MQL", "SQL"]),
    ],
)
def test_level_highest_reached(
    evaluator: str, visits: int, level: str | None, reached: list[str]
) -> None:
    activities = [activity(AT - n * HOUR, id=str(n)) for n in range(visits)]
    result = card(LEVELS, evaluator, activities=activities)
    assert result.level == level
    assert [t.name for t in result.thresholds_reached] == reached


def test_scorings_independent(evaluator: str) -> None:
    text = scoring(
        'rule "Czech" { when contact.country == "CZ" award 10 }',
        'rule "Size" { when contact.employees > 50 award 5 }',
        name="A",
        settings='threshold "Hot" at 10',
    ) + scoring(
        'rule "Czech" { when contact.country == "CZ" award 1 }',
        'rule "Visit" { on page_visit award 3 }',
        name="B",
        settings="floor 0",
    )
    scores = score(
        text,
        evaluator,
        profile={"country": "CZ", "employees": "many"},
        activities=[activity(AT - DAY)],
    )
    assert list(scores) == ["A", "B"]
    assert scores.totals == {"A": 10, "B": 4}
    assert scores.levels == {"A": "Hot", "B": None}
    assert [d.rule for d in scores["A"].diagnostics] == ["Size"]
    assert scores["B"].diagnostics == ()


# ---------------------------------------------------------------- breakdown


def test_breakdown_lists_every_rule(evaluator: str) -> None:
    text = scoring(
        'rule "Czech" { when contact.country == "CZ" award 10 }',
        'rule "Visit" { on page_visit award 2 expire after 7 days }',
        'rule "Download" { on download award 20 }',
        'rule "Slovak" { when contact.country == "SK" award 3 }',
    )
    visits = [
        activity(AT - 2 * DAY, id="late"),
        activity(AT - 5 * DAY, id="early"),
        activity(AT - 2 * DAY, id="tie"),
    ]
    result = card(text, evaluator, profile={"country": "CZ"}, activities=visits)
    assert [(r.rule, r.kind, r.met, r.points) for r in result.breakdown] == [
        ("Czech", "profile", True, 10),
        ("Visit", "activity", True, 6),
        ("Download", "activity", False, 0),
        ("Slovak", "profile", False, 0),
    ]
    awards = result.rule("Visit").awards
    # Oldest first, and equal times are ordered by id.
    assert [a.activity.id for a in awards] == ["early", "late", "tie"]
    assert [a.expires_at for a in awards] == [AT + 2 * DAY, AT + 5 * DAY, AT + 5 * DAY]
    assert [a.points for a in awards] == [2, 2, 2]


# ---------------------------------------------------------------- the example file


EXAMPLE = r"""
scoring "Product A" {
    threshold "MQL" at 100
    threshold "SQL" at 150
    expire after 90 days            # default validity of activity points in this scoring
    floor 0                         # the total never drops below 0
    timezone "Europe/Prague"        # calendar steps (months, years, dates) follow this zone

    rule "Decision maker" {
        when contact.job_title matches /\b(ceo|cto|vp|head|director)\b/i
        award 20
    }
    rule "Target country" {
        when contact.country in ["CZ", "SK", "DE"]
        award 10
    }
    rule "Complete profile" {
        when filled(contact.phone, contact.company, contact.job_title) >= 2
        award 5
    }
    rule "Pricing page" {
        on page_visit where activity.url glob "*/pricing*"
        award 5 each
        max 25
        expire after 30 days
    }
    rule "Whitepaper" {
        on download where activity.file == "lead-scoring-whitepaper.pdf"
        award 15 once
    }
    rule "Unsubscribed" {
        on newsletter_unsubscribe
        award -50
        expire never
    }
    rule "Busy month" {
        when count(page_visit within 30 days) >= 5
        award 10
    }
    rule "Gone quiet" {
        when days_since(last(page_visit)) > 60
        award -20
    }
}
"""

PRICING = "https://example.com/pricing"
WHITEPAPER = "lead-scoring-whitepaper.pdf"


def test_example_hot_lead(evaluator: str) -> None:
    profile = {
        "job_title": "Head of Marketing",
        "country": "CZ",
        "phone": "+420 123 456",
        "company": " ",
    }
    activities = [
        *(activity(AT - n * DAY, id=f"p{n}", url=PRICING) for n in (1, 2, 3, 10, 20, 31)),
        activity(AT - 5 * DAY, id="blog", url="https://example.com/blog"),
        activity(AT - 40 * DAY, "download", id="d1", file=WHITEPAPER),
        activity(AT - 60 * DAY, "download", id="d2", file=WHITEPAPER),
        activity(AT - 100 * DAY, "download", id="d3", file=WHITEPAPER),
    ]
    result = score(EXAMPLE, evaluator, profile=profile, activities=activities)["Product A"]
    points = {r.rule: r.points for r in result.breakdown}
    assert points == {
        "Decision maker": 20,  # "Head" is a whole word, matched ignoring case
        "Target country": 10,
        "Complete profile": 5,  # phone and job title, because a blank company is empty
        "Pricing page": 25,  # five visits in the last 30 days, since the one 31 days ago expired
        "Whitepaper": 15,  # two downloads within 90 days, capped by once
        "Unsubscribed": 0,
        "Busy month": 10,  # six visits within 30 days, the blog visit included
        "Gone quiet": 0,  # the last visit was one day ago
    }
    assert result.total == 85
    assert result.level is None
    assert result.rule("Whitepaper").capped is True
    assert [a.activity.id for a in result.rule("Whitepaper").awards] == ["d2", "d1"]
    assert result.rule("Pricing page").awards[0].expires_at == AT - 20 * DAY + 30 * DAY


def test_example_cold_lead(evaluator: str) -> None:
    profile = {"job_title": "Engineer", "country": "US"}
    activities = [
        activity(AT - 400 * DAY, "newsletter_unsubscribe", id="u1"),
        activity(AT - 70 * DAY, id="p1", url=PRICING),
    ]
    result = score(EXAMPLE, evaluator, profile=profile, activities=activities)["Product A"]
    # -50 for the unsubscribe, which never expires, and -20 for 70 days without a visit.
    # The floor lifts -70 to 0.
    assert result.rule("Unsubscribed").points == -50
    assert result.rule("Gone quiet").points == -20
    assert result.total == 0


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Jane Doe <jane@Example.COM>", "example.com"),
        ("<jane@example.com>", "example.com"),
    ],
)
def test_domain_of_display_name_address(evaluator: str, address: str, expected: str) -> None:
    found = values_equal(
        "domain(contact.email)", [expected, "example.com>"], evaluator, profile={"email": address}
    )
    assert found == [expected]
