"""Hand-computed cases for decay: each award is worth points * (1 - R/100) ** k at ``at``.

``k`` is the number of whole periods since the activity, and the value is rounded half
to even from the exact fraction. Every expected value is worked out by hand. Each test
runs against both the compiled engine and the reference evaluator.
"""

from __future__ import annotations

import datetime as dt

import pytest

import leadscore
from leadscore import Contact
from leadscore.evaluation import next_decay_change
from leadscore.runtime import EvalContext

from .engine_helpers import AT, DAY, UTC, activity, card, scoring

HALF_MONTHLY = scoring('rule "Visit" { on page_visit award 40 decay 50% every 30 days }')


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (0 * DAY, 40),
        (29 * DAY, 40),
        # One whole period has passed at exactly 30 days: 40 * 1/2.
        (30 * DAY, 20),
        (30 * DAY - dt.timedelta(microseconds=1), 40),
        (59 * DAY, 20),
        # Two periods: 40 * 1/4.
        (60 * DAY, 10),
        # Three periods: 40 * 1/8.
        (90 * DAY, 5),
    ],
)
def test_decay_halves_each_period(evaluator: str, age: dt.timedelta, expected: int) -> None:
    result = card(HALF_MONTHLY, evaluator, activities=[activity(AT - age)])
    assert result.total == expected
    assert result.rule("Visit").awards[0].points == expected


@pytest.mark.parametrize(
    ("points", "periods", "expected"),
    [
        # 5 / 2 = 2.5, which rounds to the even 2.
        (5, 1, 2),
        # 7 / 2 = 3.5, which rounds to the even 4.
        (7, 1, 4),
        # 3 / 2 = 1.5 rounds to 2; 3 / 4 = 0.75 rounds to 1; 3 / 8 = 0.375 rounds to 0.
        (3, 1, 2),
        (3, 2, 1),
        (3, 3, 0),
        # 5 / 4 = 1.25 rounds to 1.
        (5, 2, 1),
        # Negative points round the same way: -2.5 to -2 and -3.5 to -4.
        (-5, 1, -2),
        (-7, 1, -4),
    ],
)
def test_decay_rounds_half_to_even(
    evaluator: str, points: int, periods: int, expected: int
) -> None:
    text = scoring(f'rule "Visit" {{ on page_visit award {points} decay 50% every 1 day }}')
    result = card(text, evaluator, activities=[activity(AT - periods * DAY)])
    assert result.total == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        # 15 * 30/100 is exactly 4.5, so it rounds to 4. Floats give 4.500000000000001 and 5.
        (70, 4),
        # 15 * 10/100 is exactly 1.5, so it rounds to 2. Floats give 1.4999999999999996 and 1.
        (90, 2),
    ],
)
def test_decay_is_exact_not_float(evaluator: str, rate: int, expected: int) -> None:
    text = scoring(f'rule "Visit" {{ on page_visit award 15 decay {rate}% every 1 day }}')
    result = card(text, evaluator, activities=[activity(AT - DAY)])
    assert result.total == expected


def test_decay_before_rule_cap(evaluator: str) -> None:
    # Three awards of 10, each a period old, are worth 5 each: 15, capped at 12.
    text = scoring('rule "Visit" { on page_visit award 10 max 12 decay 50% every 1 day }')
    visits = [activity(AT - DAY, id=f"v{n}") for n in range(3)]
    result = card(text, evaluator, activities=visits)
    assert result.total == 12
    assert result.rule("Visit").capped
    assert [award.points for award in result.rule("Visit").awards] == [5, 5, 5]


def test_decay_applies_before_cap_not_after(evaluator: str) -> None:
    # Decayed first: 5 + 5 + 5 = 15, under the cap of 20. Capping first would give
    # 30 capped at 20, then halved to 10.
    text = scoring('rule "Visit" { on page_visit award 10 max 20 decay 50% every 1 day }')
    visits = [activity(AT - DAY, id=f"v{n}") for n in range(3)]
    result = card(text, evaluator, activities=visits)
    assert result.total == 15
    assert not result.rule("Visit").capped


def test_once_caps_decayed_awards(evaluator: str) -> None:
    # `once` caps at 10: awards of 10 (new) and 5 (one day old) add to 15, capped at 10.
    text = scoring('rule "Demo" { on demo award 10 once decay 50% every 1 day }')
    demos = [activity(AT, "demo", id="d1"), activity(AT - DAY, "demo", id="d2")]
    result = card(text, evaluator, activities=demos)
    assert result.total == 10


def test_awards_decay_by_their_own_age(evaluator: str) -> None:
    # Ages 0, 1 and 2 periods: 40 + 20 + 10.
    visits = [activity(AT - n * 30 * DAY, id=f"v{n}") for n in range(3)]
    result = card(HALF_MONTHLY, evaluator, activities=visits)
    assert result.total == 70
    assert [award.points for award in result.rule("Visit").awards] == [10, 20, 40]


def test_scoring_decay_is_rule_default(evaluator: str) -> None:
    text = scoring(
        'rule "Default" { on page_visit award 40 }',
        'rule "Own" { on page_visit award 40 decay 25% every 10 days }',
        'rule "Opted out" { on page_visit award 40 decay none }',
        settings="decay 50% every 30 days",
    )
    # 30 days old: the scoring's decay halves 40 to 20; the rule's own decay takes
    # three periods of 25%: 40 * 27/64 = 16.875, which rounds to 17; `decay none` keeps 40.
    result = card(text, evaluator, activities=[activity(AT - 30 * DAY)])
    assert result.rule("Default").points == 20
    assert result.rule("Own").points == 17
    assert result.rule("Opted out").points == 40
    assert result.total == 77


def test_decay_leaves_when_rules_alone(evaluator: str) -> None:
    text = scoring(
        'rule "Country" { when contact.country == "CZ" award 40 }',
        settings="decay 50% every 1 day",
    )
    result = card(text, evaluator, profile={"country": "CZ"})
    assert result.total == 40


def test_full_decay_keeps_award_listed(evaluator: str) -> None:
    # At 100% an award is worth 0 after one period, but it is still valid, so the rule is met.
    text = scoring('rule "Visit" { on page_visit award 40 decay 100% every 1 day }')
    result = card(text, evaluator, activities=[activity(AT - DAY)])
    assert result.total == 0
    assert result.rule("Visit").met
    assert [award.points for award in result.rule("Visit").awards] == [0]


def test_decay_stops_at_expiry(evaluator: str) -> None:
    text = scoring(
        'rule "Visit" { on page_visit award 40 decay 50% every 30 days expire after 45 days }'
    )
    visit = activity(AT - 45 * DAY)
    assert card(text, evaluator, activities=[visit], at=AT - DAY).total == 20
    assert card(text, evaluator, activities=[visit]).total == 0


def test_very_old_award_decays_to_zero(evaluator: str) -> None:
    # 40 / 2 ** 7 = 0.3125 rounds to 0; after 400 days of 1-minute periods it is long 0.
    text = scoring('rule "Visit" { on page_visit award 40 decay 50% every 1 minute }')
    assert card(text, evaluator, activities=[activity(AT - 7 * dt.timedelta(minutes=1))]).total == 0
    assert card(text, evaluator, activities=[activity(AT - 400 * DAY)]).total == 0


# ---------------------------------------------------------------- calendar periods


MONTHLY = scoring('rule "Visit" { on page_visit award 40 decay 50% every 1 month }')
END_OF_JANUARY = dt.datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 31 January plus one month is 28 February, the last day of the month.
        (dt.datetime(2026, 2, 28, 9, 59, tzinfo=UTC), 40),
        (dt.datetime(2026, 2, 28, 10, 0, tzinfo=UTC), 20),
        # Two months are added as one step: 31 January plus two months is 31 March.
        (dt.datetime(2026, 3, 30, 10, 0, tzinfo=UTC), 20),
        (dt.datetime(2026, 3, 31, 9, 59, tzinfo=UTC), 20),
        (dt.datetime(2026, 3, 31, 10, 0, tzinfo=UTC), 10),
        # Four months: 40 / 16 = 2.5, which rounds to the even 2.
        (dt.datetime(2026, 5, 31, 10, 0, tzinfo=UTC), 2),
    ],
)
def test_month_decay_steps_the_calendar(evaluator: str, at: dt.datetime, expected: int) -> None:
    result = card(MONTHLY, evaluator, activities=[activity(END_OF_JANUARY)], at=at)
    assert result.total == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 13:00 CET on 15 March plus one month is 13:00 CEST on 15 April, 11:00 UTC.
        (dt.datetime(2026, 4, 15, 10, 59, tzinfo=UTC), 40),
        (dt.datetime(2026, 4, 15, 11, 0, tzinfo=UTC), 20),
    ],
)
def test_month_decay_follows_scoring_zone(evaluator: str, at: dt.datetime, expected: int) -> None:
    text = scoring(
        'rule "Visit" { on page_visit award 40 decay 50% every 1 month }',
        settings='timezone "Europe/Prague"',
    )
    visit = activity(dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    assert card(text, evaluator, activities=[visit], at=at).total == expected


def test_year_decay_from_leap_day(evaluator: str) -> None:
    # 29 February 2024 plus one year is 28 February 2025, plus two years 28 February 2026.
    text = scoring('rule "Visit" { on page_visit award 40 decay 50% every 1 year }')
    visit = activity(dt.datetime(2024, 2, 29, tzinfo=UTC))
    assert (
        card(text, evaluator, activities=[visit], at=dt.datetime(2025, 2, 27, tzinfo=UTC)).total
        == 40
    )
    assert (
        card(text, evaluator, activities=[visit], at=dt.datetime(2025, 2, 28, tzinfo=UTC)).total
        == 20
    )
    assert (
        card(text, evaluator, activities=[visit], at=dt.datetime(2026, 2, 28, tzinfo=UTC)).total
        == 10
    )


# ---------------------------------------------------------------- the next instant a value changes


def _next_change(text: str, occurred_at: dt.datetime, at: dt.datetime) -> dt.datetime | None:
    engine = leadscore.compile(text)
    compiled = engine.compiled[0]
    awards, entries = compiled.new_state()
    visit = activity(occurred_at)
    ctx = EvalContext(at, compiled.scoring.timezone, None)
    compiled.match_all([visit], Contact("c-1").profile, ctx, awards, entries)
    return next_decay_change(compiled.scoring, awards, at)


def test_next_change_at_period_end() -> None:
    start = AT - 10 * DAY
    assert _next_change(HALF_MONTHLY, start, AT) == start + 30 * DAY


def test_next_change_from_period_boundary() -> None:
    # At exactly 30 days the value has just changed, so the next change is at 60 days.
    start = AT - 30 * DAY
    assert _next_change(HALF_MONTHLY, start, AT) == start + 60 * DAY


def test_next_change_skips_unchanged_periods() -> None:
    # 1 point at 10% a day: 0.9, 0.81, … stay 1 when rounded until 0.9 ** 7 = 0.478…
    text = scoring('rule "Visit" { on page_visit award 1 decay 10% every 1 day }')
    assert _next_change(text, AT, AT) == AT + 7 * DAY


def test_next_change_last_one_is_zero() -> None:
    # 40 / 2 ** 6 = 0.625 rounds to 1, and 40 / 2 ** 7 = 0.3125 to 0; after that, nothing changes.
    start = AT - 180 * DAY
    assert _next_change(HALF_MONTHLY, start, AT) == start + 210 * DAY
    assert _next_change(HALF_MONTHLY, start, start + 210 * DAY) is None


def test_next_change_none_after_expiry() -> None:
    # The award expires at 20 days, before its first decay at 30 days.
    text = scoring(
        'rule "Visit" { on page_visit award 40 decay 50% every 30 days expire after 20 days }'
    )
    assert _next_change(text, AT - DAY, AT) is None


def test_next_change_on_calendar_step() -> None:
    assert _next_change(MONTHLY, END_OF_JANUARY, END_OF_JANUARY) == dt.datetime(
        2026, 2, 28, 10, 0, tzinfo=UTC
    )


def test_next_change_none_without_decay() -> None:
    text = scoring('rule "Visit" { on page_visit award 40 }')
    assert _next_change(text, AT - DAY, AT) is None


def test_scoring_reports_decay() -> None:
    assert leadscore.compile(HALF_MONTHLY).program.scorings[0].has_decay
    plain = scoring(
        'rule "Visit" { on page_visit award 40 decay none }', settings="decay 50% every 1 day"
    )
    assert not leadscore.compile(plain).program.scorings[0].has_decay
