"""assert_scores and assert_level: passing checks, the mismatch message and misuse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from testing_helpers import AT, PRODUCT_A

import leadscore
from leadscore import Activity
from leadscore.testing import (
    Expectation,
    RelativeActivity,
    ScoreMismatch,
    activity,
    assert_level,
    assert_scores,
    contact,
    days_ago,
)

ENGINE = leadscore.compile(PRODUCT_A)
HEAD_OF_MARKETING = contact("c-1", country="CZ", job_title="Head of Marketing")
PRICING = "https://example.com/pricing"


def failure(
    expected: dict[str, object], activities: Sequence[Activity | RelativeActivity]
) -> ScoreMismatch:
    """Return the mismatch that assert_scores raises for the head of marketing."""
    with pytest.raises(ScoreMismatch) as caught:
        assert_scores(ENGINE, HEAD_OF_MARKETING, activities, at=AT, expected=expected)  # type: ignore[arg-type]
    return caught.value


def test_assert_scores_passes_total() -> None:
    visit = activity("page_visit", days_ago(3), url=PRICING)
    scores = assert_scores(ENGINE, HEAD_OF_MARKETING, [visit], at=AT, expected={"Product A": 35})
    assert scores["Product A"].total == 35


def test_assert_scores_passes_mapping() -> None:
    visit = activity("page_visit", days_ago(3), url=PRICING)
    expected = {"Product A": {"total": 35, "level": None, "rules": {"Pricing page": 5}}}
    assert_scores(ENGINE, HEAD_OF_MARKETING, [visit], at=AT, expected=expected)


def test_assert_scores_accepts_profile_mapping() -> None:
    assert_scores(ENGINE, {"country": "DE"}, at=AT, expected={"Product A": 10})


def test_assert_level_passes() -> None:
    visits = [activity("page_visit", days_ago(day), url=PRICING) for day in (1, 2)]
    # 20 + 10 + 2 * 5 = 40, exactly MQL.
    assert_level(ENGINE, HEAD_OF_MARKETING, visits, at=AT, expected={"Product A": "MQL"})


def test_assert_level_fails() -> None:
    with pytest.raises(ScoreMismatch, match=r'level: expected "MQL", actual none'):
        assert_level(ENGINE, HEAD_OF_MARKETING, [], at=AT, expected={"Product A": "MQL"})


# ---- the message of a failing assert_scores


def pricing_mistake() -> ScoreMismatch:
    """The test expects both pricing visits to count, but the 40-day-old one has expired."""
    activities = [
        activity("page_visit", days_ago(3), id="v1", url=PRICING),
        activity("page_visit", days_ago(40), id="v0", url=PRICING),
        activity("page_visit", days_ago(2), id="b1", url="https://example.com/blog"),
    ]
    return failure({"Product A": {"total": 40, "rules": {"Pricing page": 10}}}, activities)


def test_message_names_scoring() -> None:
    assert 'scoring "Product A":' in str(pricing_mistake())


def test_message_names_contact_and_instant() -> None:
    first = str(pricing_mistake()).splitlines()[0]
    assert first == (
        'scores of contact "c-1" as of 2026-06-30T12:00:00+00:00 differ from the expected ones'
    )


def test_message_shows_totals() -> None:
    # 20 + 10 + one valid pricing visit.
    assert "total: expected 40, actual 35" in str(pricing_mistake())


def test_message_shows_differing_rule() -> None:
    assert 'rule "Pricing page": expected 10 points, actual 5' in str(pricing_mistake())


def test_message_shows_breakdown_line() -> None:
    assert "5 points from 1 valid award" in str(pricing_mistake())


def test_message_shows_award_with_expiry() -> None:
    occurred = AT - dt.timedelta(days=3)
    expires = occurred + dt.timedelta(days=30)
    line = (
        f'award: page_visit "v1" at {occurred.isoformat()}, 5 points, expires {expires.isoformat()}'
    )
    assert line in str(pricing_mistake())


def test_message_shows_expired_activity() -> None:
    occurred = AT - dt.timedelta(days=40)
    expired = occurred + dt.timedelta(days=30)
    line = f'no award: page_visit "v0" at {occurred.isoformat()}, expired {expired.isoformat()}'
    assert line in str(pricing_mistake())


def test_message_shows_unmatched_activity() -> None:
    occurred = AT - dt.timedelta(days=2)
    line = (
        f'no award: page_visit "b1" at {occurred.isoformat()}, did not match the condition; '
        "activity.url = 'https://example.com/blog'"
    )
    assert line in str(pricing_mistake())


def test_message_lists_other_rules() -> None:
    message = str(pricing_mistake())
    assert 'rule "Decision maker": 20 points, condition met' in message
    assert "reads contact.job_title = 'Head of Marketing'" in message


def test_message_omits_matching_scoring_parts() -> None:
    message = str(failure({"Product A": {"level": "MQL"}}, []))
    assert "total: 30" in message
    assert "rules whose points differ" not in message


def test_message_lists_unread_activity_types() -> None:
    typo = activity("page-visit", days_ago(1), id="t1", url=PRICING)
    message = str(failure({"Product A": 40}, [typo]))
    assert "activities of a type no rule reads:" in message
    assert 'page-visit "t1"' in message


def test_message_notes_later_activities() -> None:
    later = activity("download", AT + dt.timedelta(days=1), file="whitepaper.pdf")
    message = str(failure({"Product A": 45}, [later]))
    assert "(1 activity after the scoring instant is ignored)" in message


def test_message_shows_capped_rule() -> None:
    visits = [activity("page_visit", days_ago(day), url=PRICING) for day in (1, 2, 3, 4)]
    message = str(failure({"Product A": 50}, visits))
    assert 'rule "Pricing page": 15 points from 4 valid awards, capped at 15' in message


def test_mismatch_carries_differences() -> None:
    [difference] = pricing_mistake().differences
    assert difference.scoring == "Product A"
    assert difference.total_differs
    assert not difference.level_differs
    assert difference.card.total == 35


def test_mismatch_carries_rule_difference() -> None:
    [rule_difference] = pricing_mistake().differences[0].rules
    assert rule_difference.rule == "Pricing page"
    assert rule_difference.expected == 10
    assert rule_difference.actual.points == 5


def test_mismatch_is_assertion_error() -> None:
    assert isinstance(pricing_mistake(), AssertionError)


def test_expectation_object_accepted() -> None:
    with pytest.raises(ScoreMismatch, match="total: expected 1, actual 30"):
        assert_scores(
            ENGINE, HEAD_OF_MARKETING, at=AT, expected={"Product A": Expectation(total=1)}
        )


# ---- mistakes in the test itself


@pytest.mark.parametrize(
    ("expected", "error", "message"),
    [
        (
            {"Product B": 10},
            ValueError,
            r"no scoring named 'Product B'; did you mean 'Product A'\?",
        ),
        ({"Product A": {"rules": {"Pricing": 5}}}, ValueError, r"has no rule 'Pricing'"),
        ({"Product A": {"level": "HOT"}}, ValueError, r"has no threshold 'HOT'"),
        ({"Product A": {"totl": 5}}, ValueError, r"unknown key 'totl'; did you mean 'total'\?"),
        ({"Product A": "35"}, TypeError, r"must be a whole number of points"),
        ({"Product A": {"level": 3}}, TypeError, r"must be a threshold name or None"),
        ({}, TypeError, r"expected must be a non-empty mapping"),
    ],
)
def test_expected_mistake_rejected(
    expected: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        assert_scores(ENGINE, HEAD_OF_MARKETING, at=AT, expected=expected)  # type: ignore[arg-type]


def test_message_explains_repeated_id() -> None:
    # Both visits have the id "v1", so only the earlier one counts.
    visits = [
        activity("page_visit", days_ago(3), id="v1", url=PRICING),
        activity("page_visit", days_ago(2), id="v1", url=PRICING),
    ]
    message = str(failure({"Product A": {"rules": {"Pricing page": 10}}}, visits))
    later = (AT - dt.timedelta(days=2)).isoformat()
    expected = (
        f'no award: page_visit "v1" at {later}, another activity with the same id counts instead'
    )
    assert expected in message


# ---- decay

DECAYING = leadscore.compile(
    'scoring "E" { rule "Webinar" { on webinar award 40 decay 50% every 30 days } }'
)


def decay_failure(*ages_in_days: int) -> str:
    """Return the report for webinars "w1", "w2", … attended the given numbers of days ago."""
    webinars = [
        activity("webinar", days_ago(age), id=f"w{number}")
        for number, age in enumerate(ages_in_days, start=1)
    ]
    with pytest.raises(ScoreMismatch) as caught:
        assert_scores(DECAYING, contact("c-1"), webinars, at=AT, expected={"E": 999})
    return str(caught.value)


def test_message_shows_decayed_award_with_points_before_decay() -> None:
    occurred = (AT - dt.timedelta(days=65)).isoformat()
    line = (
        f'award: webinar "w1" at {occurred}, 10 points '
        "(40, decayed 50% every 30 days, 2 periods), expires never"
    )
    assert line in decay_failure(65)


def test_message_counts_one_decay_period() -> None:
    assert "20 points (40, decayed 50% every 30 days, 1 period)," in decay_failure(35)


def test_message_shows_undecayed_award_plainly() -> None:
    occurred = (AT - dt.timedelta(days=3)).isoformat()
    line = f'award: webinar "w1" at {occurred}, 40 points, expires never'
    assert line in decay_failure(3)
