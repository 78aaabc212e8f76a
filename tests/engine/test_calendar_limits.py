"""Hand-computed cases for expiries and windows that end past the end of ``datetime``.

``datetime`` ends at 9999-12-31 23:59:59.999999 and starts at 0001-01-01. An expiry
that would fall after that end never comes, as with ``expire never``, and the card
reports ``expires_at`` as None. A ``within`` window whose end is past it, or whose
start is before year 1, has no bound. Each test runs against both the compiled engine
and the reference evaluator.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import leadscore
from leadscore import Contact, ScoreCard
from leadscore.model import Duration
from leadscore.runtime import add_duration_or_none, calendar_window, expiry, window_start

from .engine_helpers import AT, CONTACT, DAY, UTC, activity, card, scoring

LAST_DAY = dt.datetime(9999, 12, 31, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14, the earliest wall clock on Earth
UTC_ZONE = ZoneInfo("UTC")


def only_award(result: ScoreCard) -> leadscore.Award:
    (rule,) = result.breakdown
    (award,) = rule.awards
    return award


# ---------------------------------------------------------------- award expiry


def test_expiry_past_year_9999_never_comes(evaluator: str) -> None:
    # 2026-06-29 plus 8000 years is in year 10026, so the award never expires.
    text = scoring('rule "R" { on v award 1 expire after 8000 years }')
    result = card(text, evaluator, activities=[activity(AT - DAY, "v")])
    assert result.total == 1
    assert only_award(result).expires_at is None


def test_expiry_inside_year_9999_still_ends(evaluator: str) -> None:
    # 2026-06-29 12:00 plus 7973 years is 9999-06-29 12:00, which datetime can represent.
    text = scoring('rule "R" { on v award 1 expire after 7973 years }')
    result = card(text, evaluator, activities=[activity(AT - DAY, "v")])
    assert result.total == 1
    assert only_award(result).expires_at == dt.datetime(9999, 6, 29, 12, tzinfo=UTC)
    expired = card(text, evaluator, activities=[activity(AT - DAY, "v")], at=LAST_DAY)
    assert expired.total == 0


@pytest.mark.parametrize(
    ("rule", "occurred_at"),
    [
        ('rule "R" { on v award 1 expire after 30 days }', LAST_DAY),
        ('rule "R" { on v award 1 expire after 1 day }', LAST_DAY),
        (
            'rule "R" { on v award 1 expire after 1 minute }',
            dt.datetime(9999, 12, 31, 23, 59, 30, tzinfo=UTC),
        ),
        ('rule "R" { on v award 1 expire after 1 month }', dt.datetime(9999, 12, 15, tzinfo=UTC)),
    ],
)
def test_expiry_near_last_day_never_comes(
    evaluator: str, rule: str, occurred_at: dt.datetime
) -> None:
    # Each expiry falls in year 10000, so the award is valid at the last microsecond.
    at = dt.datetime.max.replace(tzinfo=UTC)
    result = card(scoring(rule), evaluator, activities=[activity(occurred_at, "v")], at=at)
    assert result.total == 1
    assert only_award(result).expires_at is None


def test_expiry_one_day_before_end_still_ends(evaluator: str) -> None:
    # 9999-12-30 plus 1 day is 9999-12-31 00:00, so by noon that day the award is gone.
    text = scoring('rule "R" { on v award 1 expire after 1 day }')
    occurred_at = LAST_DAY - DAY
    before = card(text, evaluator, activities=[activity(occurred_at, "v")], at=LAST_DAY - HOUR)
    assert before.total == 1
    assert only_award(before).expires_at == LAST_DAY
    after = card(text, evaluator, activities=[activity(occurred_at, "v")], at=LAST_DAY + 12 * HOUR)
    assert after.total == 0


def test_expiry_past_end_with_decay(evaluator: str) -> None:
    # One whole day has passed by 12:00 on the last day: 40 * 1/2 = 20. The expiry,
    # 9999-12-30 plus 30 days, is in year 10000, so the award stays.
    text = scoring('rule "R" { on v award 40 decay 50% every 1 day expire after 30 days }')
    occurred_at = LAST_DAY - DAY
    result = card(text, evaluator, activities=[activity(occurred_at, "v")], at=LAST_DAY + 12 * HOUR)
    assert result.total == 20
    assert only_award(result).expires_at is None


def test_scoring_expiry_past_end_never_comes(evaluator: str) -> None:
    # The scoring's default expiry applies to the rule, with the same result.
    text = scoring('rule "R" { on v award 3 }', settings="expire after 20 days")
    result = card(text, evaluator, activities=[activity(LAST_DAY - DAY, "v")], at=LAST_DAY)
    assert result.total == 3
    assert only_award(result).expires_at is None


def test_naive_activity_near_end_expires_in_utc(evaluator: str) -> None:
    # 9999-12-31 23:00 in Kiritimati (UTC+14) is 09:00 UTC, and an Activity stores it
    # in UTC. Exact units move the instant, not the wall clock, so the expiry is 11:00
    # UTC on the last day, though on the Kiritimati clock that is year 10000.
    engine = leadscore.compile(
        scoring('rule "R" { on v award 1 expire after 2 hours }'),
        default_timezone=KIRITIMATI,
        evaluator=evaluator,  # type: ignore[arg-type]
    )
    naive = leadscore.Activity(CONTACT, "v", dt.datetime(9999, 12, 31, 23), id="a-1")
    before = engine.score(Contact(CONTACT, {}), [naive], LAST_DAY + 10 * HOUR)["S"]
    assert before.total == 1
    assert only_award(before).expires_at == LAST_DAY + 11 * HOUR
    after = engine.score(Contact(CONTACT, {}), [naive], LAST_DAY + 11 * HOUR)["S"]
    assert after.total == 0


def test_calendar_expiry_in_scoring_time_zone(evaluator: str) -> None:
    # 9999-12-01 00:00 UTC is 14:00 in Kiritimati, and one month later there is
    # 10000-01-01, so the award never expires.
    text = scoring(
        'rule "R" { on v award 1 expire after 1 month }', settings='timezone "Pacific/Kiritimati"'
    )
    occurred_at = dt.datetime(9999, 12, 1, tzinfo=UTC)
    result = card(text, evaluator, activities=[activity(occurred_at, "v")], at=LAST_DAY)
    assert result.total == 1
    assert only_award(result).expires_at is None


# ---------------------------------------------------------------- windows


def test_calendar_window_past_end_has_no_bound(evaluator: str) -> None:
    # 2026-06-29 plus 9999 years is in year 12025, so the entry stays in the window.
    text = scoring('rule "R" { when count(v within 9999 years) >= 1 award 1 }')
    result = card(text, evaluator, activities=[activity(AT - DAY, "v")])
    assert result.total == 1


def test_exact_window_before_year_one_has_no_bound(evaluator: str) -> None:
    # 520000 weeks is about 9970 years, so the window's start, at minus 520000 weeks,
    # would be before year 1. Both the activity in year 1 and the one in 2026 count.
    text = scoring('rule "R" { when count(v within 520000 weeks) >= 2 award 1 }')
    first = dt.datetime(1, 1, 1, tzinfo=UTC)
    result = card(
        text, evaluator, activities=[activity(first, "v", "a-1"), activity(AT - DAY, "v", "a-2")]
    )
    assert result.total == 1


def test_exact_window_near_last_day(evaluator: str) -> None:
    # The entry at 9999-12-31 00:00 would leave a 30-day window in year 10000, so it
    # counts at the last microsecond. The one 30 days earlier left at 9999-12-31 00:00.
    text = scoring('rule "R" { when count(v within 30 days) == 1 award 1 }')
    activities = [activity(LAST_DAY, "v", "a-1"), activity(LAST_DAY - 30 * DAY, "v", "a-2")]
    at = dt.datetime.max.replace(tzinfo=UTC)
    assert card(text, evaluator, activities=activities, at=at).total == 1


def test_calendar_window_near_last_day(evaluator: str) -> None:
    # 9999-12-15 plus 1 month is 10000-01-15, so the entry is in the window at the end.
    text = scoring('rule "R" { when exists(v within 1 month) award 1 }')
    activities = [activity(dt.datetime(9999, 12, 15, tzinfo=UTC), "v")]
    assert card(text, evaluator, activities=activities, at=LAST_DAY).total == 1


# ---------------------------------------------------------------- runtime helpers


def test_add_duration_or_none_past_end() -> None:
    assert add_duration_or_none(AT, Duration(8000, "years"), UTC_ZONE) is None
    assert add_duration_or_none(LAST_DAY, Duration(1, "days"), UTC_ZONE) is None
    assert add_duration_or_none(LAST_DAY - DAY, Duration(1, "days"), UTC_ZONE) == LAST_DAY


def test_window_start_before_year_one() -> None:
    assert window_start(AT, Duration(520000, "weeks"), UTC_ZONE) is None
    assert window_start(AT, Duration(1, "days"), UTC_ZONE) == AT - DAY


def test_calendar_window_keeps_entry_past_end() -> None:
    entry = (dt.datetime(9999, 12, 15, tzinfo=UTC), None, None)
    assert calendar_window([entry], Duration(1, "months"), UTC_ZONE, LAST_DAY) == [entry]


def test_expiry_of_validity_past_end() -> None:
    engine = leadscore.compile(scoring('rule "R" { on v award 1 expire after 8000 years }'))
    (rule,) = engine.program.scorings[0].rules
    assert expiry(AT, rule.validity, UTC_ZONE) is None
