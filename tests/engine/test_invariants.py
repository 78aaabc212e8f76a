"""Properties every score card keeps, on random rule files and data.

The order of activities never matters, and scoring is repeatable. Caps bound each rule
and each group, decay never raises an award or changes its sign, and expiry and decay
only ever take points away. Floor and ceiling bound the total, and the level is the
highest threshold the total reaches. The persona is the one with the highest ratio at
or above 1, and a grade's label is made of the bands the totals reach.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore import Activity, ScoreCard, Scores

from . import strategies
from .strategies import Case, Draw

SLOW_EXAMPLES = 2000


def _score(
    case: Case, activities: tuple[Activity, ...] | None = None, at: dt.datetime | None = None
) -> Scores:
    engine = leadscore.compile(case.rules.text, default_timezone=case.default_timezone)
    return engine.score(
        case.contact,
        case.activities if activities is None else activities,
        case.at if at is None else at,
    )


def _clamp(total: int, floor: int | None, ceiling: int | None) -> int:
    if floor is not None:
        total = max(total, floor)
    if ceiling is not None:
        total = min(total, ceiling)
    return total


# ---------------------------------------------------------------- activity order


@st.composite
def reordered_cases(draw: Draw) -> tuple[Case, tuple[Activity, ...]]:
    """Draw a case with duplicates of its activities added, and the same activities reordered.

    Each duplicate has the id of an existing activity but a different time, type or
    attributes, so which of the two counts must not depend on the order.
    """
    case: Case = draw(strategies.cases(naive_times=False))
    activities = list(case.activities)
    for _ in range(draw(st.integers(0, 3))):
        if not activities:
            break
        original = draw(st.sampled_from(activities))
        changes: dict[str, Any] = {"id": original.id or "e1"}
        change = draw(st.sampled_from(["time", "type", "attributes"]))
        if change == "time":
            changes["occurred_at"] = original.occurred_at + dt.timedelta(
                seconds=draw(st.sampled_from([-86400, -1, 1, 3600]))
            )
        elif change == "type":
            changes["type"] = draw(st.sampled_from(strategies.DATA_ACTIVITY_TYPES))
        else:
            changes["attributes"] = draw(strategies.attribute_maps())
        activities.insert(draw(st.integers(0, len(activities))), attrs.evolve(original, **changes))
    first = dataclasses.replace(case, activities=tuple(activities))
    return first, tuple(draw(st.permutations(activities)))


def check_order_irrelevant(pair: tuple[Case, tuple[Activity, ...]]) -> None:
    case, reordered = pair
    assert _score(case, reordered) == _score(case)


@given(pair=reordered_cases())
@settings(deadline=None)
def test_activity_order_irrelevant(pair: tuple[Case, tuple[Activity, ...]]) -> None:
    check_order_irrelevant(pair)


@pytest.mark.slow
@given(pair=reordered_cases())
@settings(deadline=None, max_examples=SLOW_EXAMPLES)
def test_activity_order_irrelevant_slow(pair: tuple[Case, tuple[Activity, ...]]) -> None:
    check_order_irrelevant(pair)


# ---------------------------------------------------------------- repeatability


@given(case=strategies.cases(naive_times=False))
@settings(deadline=None)
def test_scoring_repeatable(case: Case) -> None:
    engine = leadscore.compile(case.rules.text, default_timezone=case.default_timezone)
    first = engine.score(case.contact, case.activities, case.at)
    assert engine.score(case.contact, case.activities, case.at) == first
    assert _score(case) == first


# ---------------------------------------------------------------- cards


def check_card(card: ScoreCard, scoring: strategies.GeneratedScoring, at: dt.datetime) -> None:
    """Assert caps, floor and ceiling, the level, and how the total adds up."""
    assert [result.rule for result in card.breakdown] == [rule.name for rule in scoring.rules]
    for result, rule in zip(card.breakdown, scoring.rules, strict=True):
        if rule.kind == "profile":
            assert result.points == (rule.points if result.met else 0)
            continue
        if rule.cap is not None:
            assert abs(result.points) <= rule.cap
        raw = sum(award.points for award in result.awards)
        if rule.cap is None:
            assert result.points == raw
        elif rule.points >= 0:
            assert result.points == min(raw, rule.cap)
        else:
            assert result.points == max(raw, -rule.cap)
        assert result.met == bool(result.awards)
        instants = [award.activity.occurred_at for award in result.awards]
        assert instants == sorted(instants)
        for award in result.awards:
            if rule.decays:
                # A decayed award keeps its sign and is worth at most the full points.
                assert abs(award.points) <= abs(rule.points)
                assert award.points * rule.points >= 0
            else:
                assert award.points == rule.points
            assert award.activity.occurred_at <= at
            assert award.expires_at is None or at < award.expires_at

    assert [result.group for result in card.breakdown] == [rule.group for rule in scoring.rules]
    assert [group.name for group in card.groups] == [name for name, _ in scoring.groups]
    for group, (_, cap) in zip(card.groups, scoring.groups, strict=True):
        assert abs(group.points) <= cap
        raw = sum(result.points for result in card.breakdown if result.group == group.name)
        assert group.points == max(-cap, min(raw, cap))
        assert group.capped == (group.points != raw)

    if scoring.floor is not None:
        assert card.total >= scoring.floor
    if scoring.ceiling is not None:
        assert card.total <= scoring.ceiling
    ungrouped = sum(result.points for result in card.breakdown if result.group is None)
    expected_total = _clamp(
        ungrouped + sum(group.points for group in card.groups), scoring.floor, scoring.ceiling
    )
    assert card.total == expected_total

    reached = [name for name, points in scoring.thresholds if points <= card.total]
    assert card.level == (reached[-1] if reached else None)
    assert [threshold.name for threshold in card.thresholds_reached] == reached


def check_cards(case: Case) -> None:
    scores = _score(case)
    at = case.at.astimezone(dt.UTC)
    assert list(scores) == [scoring.name for scoring in case.rules.scorings]
    for scoring in case.rules.scorings:
        check_card(scores[scoring.name], scoring, at)

    assert list(scores.personas) == [persona.name for persona in case.rules.personas]
    ratios = []
    for persona in case.rules.personas:
        card = scores.personas[persona.name]
        check_card(card, persona, at)
        [(_, threshold)] = persona.thresholds
        assert card.ratio == Fraction(card.total, threshold)
        ratios.append((Fraction(card.total, threshold), persona.name))
    members = [(ratio, name) for ratio, name in ratios if ratio >= 1]
    # The highest ratio wins, and of equal ratios the persona listed first.
    best = max(members, key=lambda member: member[0], default=None)
    assert scores.persona == (best[1] if best is not None else None)

    assert list(scores.grades) == [grade.name for grade in case.rules.grades]
    for grade in case.rules.grades:
        fit = [name for name, points in grade.fit_bands if scores[grade.fit].total >= points]
        engagement = [
            name
            for name, points in grade.engagement_bands
            if scores[grade.engagement].total >= points
        ]
        result = scores.grade(grade.name)
        assert result.fit == (fit[0] if fit else None)
        assert result.engagement == (engagement[0] if engagement else None)
        assert result.label == (fit[0] + engagement[0] if fit and engagement else None)


@given(case=strategies.cases(naive_times=False))
@settings(deadline=None)
def test_cards_consistent(case: Case) -> None:
    check_cards(case)


@pytest.mark.slow
@given(case=strategies.cases(naive_times=False))
@settings(deadline=None, max_examples=SLOW_EXAMPLES)
def test_cards_consistent_slow(case: Case) -> None:
    check_cards(case)


# ---------------------------------------------------------------- expiry


# Rules without aggregates, now() or days_since() depend on the instant only through
# expiry and decay, so with positive awards a later instant can only lower the total.
timeless_rules = strategies.rule_files(
    instant_functions=False, aggregates=False, positive_awards=True
)
later = st.sampled_from(
    [0, 1, 3600, 86400, 30 * 86400, 31 * 86400, 91 * 86400, 400 * 86400, 800 * 86400]
)


def check_expiry_monotone(case: Case, seconds_later: int) -> None:
    at = case.at
    later_at = at + dt.timedelta(seconds=seconds_later)
    # Activities between the two instants would be new points, so they are left out.
    activities = tuple(a for a in case.activities if not at < a.occurred_at <= later_at)
    before = _score(case, activities, at)
    after = _score(case, activities, later_at)
    for name, card in after.items():
        assert card.total <= before[name].total
    for name, card in after.personas.items():
        assert card.total <= before.personas[name].total


@given(case=strategies.cases(rules=timeless_rules, naive_times=False), seconds_later=later)
@settings(deadline=None)
def test_expiry_and_decay_never_raise_total(case: Case, seconds_later: int) -> None:
    check_expiry_monotone(case, seconds_later)


@pytest.mark.slow
@given(case=strategies.cases(rules=timeless_rules, naive_times=False), seconds_later=later)
@settings(deadline=None, max_examples=SLOW_EXAMPLES)
def test_expiry_and_decay_never_raise_total_slow(case: Case, seconds_later: int) -> None:
    check_expiry_monotone(case, seconds_later)
