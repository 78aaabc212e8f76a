"""Expected scores and their differences from score cards.

`expectations_from` turns the ``expected`` argument of `assert_scores` into one
`Expectation` per scoring and rejects unknown names; `compare_scores` lists the
scorings whose cards differ. `compare_persona` and `compare_grades` compare the
persona and the grade labels, which belong to the contact rather than to one scoring.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from leadscore.engine import Engine
from leadscore.scorecard import GradeResult, RuleResult, ScoreCard, Scores

__all__ = [
    "NOT_CHECKED",
    "Expectation",
    "GradeDifference",
    "PersonaDifference",
    "RuleDifference",
    "ScoringDifference",
    "compare_grades",
    "compare_persona",
    "compare_scores",
    "expectations_from",
]

_EXPECTATION_KEYS = ("total", "level", "rules")


class _NotChecked(enum.Enum):
    NOT_CHECKED = "not checked"

    def __repr__(self) -> str:
        return "NOT_CHECKED"


# The level of an `Expectation` that does not check the level; None expects no level.
NOT_CHECKED: Final = _NotChecked.NOT_CHECKED


@attrs.frozen
class Expectation:
    """The expected score of one scoring: a total, a level (None for no level) and rule points.

    Each part is checked only when given: ``total`` None and ``level`` `NOT_CHECKED`
    leave those unchecked, and ``rules`` lists only the rules to check.
    """

    total: int | None = None
    level: str | _NotChecked | None = NOT_CHECKED
    rules: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class RuleDifference:
    """A rule whose points differ from the expected ones; ``actual`` is its breakdown line."""

    rule: str
    expected: int
    actual: RuleResult


@attrs.frozen
class ScoringDifference:
    """The expectation of one scoring next to its actual score card."""

    scoring: str
    expectation: Expectation
    card: ScoreCard
    rules: tuple[RuleDifference, ...] = ()

    @property
    def total_differs(self) -> bool:
        """True when the total is checked and differs."""
        return self.expectation.total is not None and self.expectation.total != self.card.total

    @property
    def level_differs(self) -> bool:
        """True when the level is checked and differs."""
        level = self.expectation.level
        return level is not NOT_CHECKED and level != self.card.level


@attrs.frozen
class PersonaDifference:
    """The expected persona next to the actual one; None stands for no persona."""

    expected: str | None
    actual: str | None


@attrs.frozen
class GradeDifference:
    """The expected label of a grade (None for no label) next to the actual grade."""

    grade: str
    expected: str | None
    actual: GradeResult


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _known(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names) or "none"


def _points(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where} must be a whole number of points, got {value!r}")
    return value


def expectations_from(
    engine: Engine, expected: Mapping[str, int | Mapping[str, Any] | Expectation]
) -> dict[str, Expectation]:
    """Turn an ``expected`` mapping into one `Expectation` per scoring, checking every name.

    A value is a total, a mapping with the keys ``total``, ``level`` and ``rules`` (each
    optional), or an `Expectation`. Raises ValueError for an unknown scoring, rule or
    level, and TypeError for a value of the wrong type, because those are mistakes in
    the test rather than in the rules.
    """
    if not isinstance(expected, Mapping) or not expected:
        raise TypeError(
            "expected must be a non-empty mapping of scoring name to a total or to "
            "{'total': ..., 'level': ..., 'rules': {...}}"
        )
    result: dict[str, Expectation] = {}
    for scoring, value in expected.items():
        if scoring not in engine.scorings:
            raise ValueError(
                f"expected: no scoring named {scoring!r}{_did_you_mean(scoring, engine.scorings)} "
                f"The scorings are {_known(engine.scorings)}."
            )
        if isinstance(value, Expectation):
            expectation = value
        elif isinstance(value, Mapping):
            expectation = _expectation_from_mapping(scoring, value)
        else:
            expectation = Expectation(total=_points(value, f"the total of {scoring!r}"))
        _check_names(engine, scoring, expectation)
        result[scoring] = expectation
    return result


def _expectation_from_mapping(scoring: str, value: Mapping[str, Any]) -> Expectation:
    for key in value:
        if key not in _EXPECTATION_KEYS:
            raise ValueError(
                f"expected[{scoring!r}]: unknown key {key!r}{_did_you_mean(str(key), _EXPECTATION_KEYS)} "
                f"The keys are {', '.join(_EXPECTATION_KEYS)}."
            )
    total = value.get("total")
    rules = value.get("rules", {})
    if not isinstance(rules, Mapping):
        raise TypeError(
            f"expected[{scoring!r}]['rules'] must map rule names to points, got {rules!r}"
        )
    level = value.get("level", NOT_CHECKED)
    if level is not NOT_CHECKED and level is not None and not isinstance(level, str):
        raise TypeError(
            f"expected[{scoring!r}]['level'] must be a threshold name or None, got {level!r}"
        )
    return Expectation(
        total=None if total is None else _points(total, f"expected[{scoring!r}]['total']"),
        level=level,
        rules={
            str(rule): _points(points, f"expected[{scoring!r}]['rules'][{rule!r}]")
            for rule, points in rules.items()
        },
    )


def _check_names(engine: Engine, scoring: str, expectation: Expectation) -> None:
    rules = engine.rules(scoring)
    for rule in expectation.rules:
        if rule not in rules:
            raise ValueError(
                f"expected: scoring {scoring!r} has no rule {rule!r}{_did_you_mean(rule, rules)} "
                f"Its rules are {_known(rules)}."
            )
    level = expectation.level
    levels = [threshold.name for threshold in engine.thresholds(scoring)]
    if isinstance(level, str) and level not in levels:
        raise ValueError(
            f"expected: scoring {scoring!r} has no threshold {level!r}{_did_you_mean(level, levels)} "
            f"Its thresholds are {_known(levels)}; use None to expect no level."
        )


def compare_scores(
    scores: Scores, expectations: Mapping[str, Expectation]
) -> tuple[ScoringDifference, ...]:
    """Return the scorings whose cards differ from their expectation, in the order given."""
    differences: list[ScoringDifference] = []
    for scoring, expectation in expectations.items():
        card = scores[scoring]
        rule_differences = []
        for rule, points in expectation.rules.items():
            result = card.rule(rule)
            if result.points != points:
                rule_differences.append(RuleDifference(rule, points, result))
        difference = ScoringDifference(scoring, expectation, card, tuple(rule_differences))
        if difference.total_differs or difference.level_differs or difference.rules:
            differences.append(difference)
    return tuple(differences)


def compare_persona(scores: Scores, expected: str | None) -> PersonaDifference | None:
    """Return the difference when the contact's persona is not ``expected``, else None."""
    if scores.persona == expected:
        return None
    return PersonaDifference(expected, scores.persona)


def compare_grades(
    scores: Scores, expected: Mapping[str, str | None]
) -> tuple[GradeDifference, ...]:
    """Return the grades whose label differs from the expected one, in the order given."""
    differences = []
    for grade, label in expected.items():
        result = scores.grade(grade)
        if result.label != label:
            differences.append(GradeDifference(grade, label, result))
    return tuple(differences)
