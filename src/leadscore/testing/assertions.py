"""Assertions on scores: `assert_scores`, `assert_level` and the `ScoreMismatch` they raise.

A mismatch carries the structured differences and renders them as a readable diff:
the scoring, the expected and actual total and level, and each rule whose points
differ, with its breakdown and the activities behind its points.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from leadscore.engine import Engine
from leadscore.model import Activity, Contact
from leadscore.scorecard import Scores
from leadscore.testing.builders import DEFAULT_CONTACT_ID, RelativeActivity, resolve_activities
from leadscore.testing.expectations import (
    Expectation,
    GradeDifference,
    PersonaDifference,
    ScoringDifference,
    compare_grades,
    compare_persona,
    compare_scores,
    expectations_from,
)
from leadscore.testing.report import render_mismatch

__all__ = ["ScoreMismatch", "assert_level", "assert_scores"]

logger = logging.getLogger("leadscore.testing")

# Stands for "no expectation" where None already means "no persona".
_UNCHECKED: Any = object()


class ScoreMismatch(AssertionError):
    """Scores that differ from the expected ones.

    ``differences`` lists the scorings that differ, ``persona`` the persona when it
    differs (else None), ``grades`` the grades whose label differs, ``scores`` every
    score card, and ``contact``, ``activities`` and ``at`` the scenario that was
    scored. The message is the readable diff that
    `leadscore.testing.report.render_mismatch` writes.
    """

    def __init__(
        self,
        message: str,
        *,
        differences: Sequence[ScoringDifference],
        scores: Scores,
        contact: Contact,
        activities: Sequence[Activity],
        at: dt.datetime,
        persona: PersonaDifference | None = None,
        grades: Sequence[GradeDifference] = (),
    ) -> None:
        super().__init__(message)
        self.differences: tuple[ScoringDifference, ...] = tuple(differences)
        self.persona = persona
        self.grades: tuple[GradeDifference, ...] = tuple(grades)
        self.scores = scores
        self.contact = contact
        self.activities: tuple[Activity, ...] = tuple(activities)
        self.at = at

    @property
    def message(self) -> str:
        """The readable diff."""
        return str(self.args[0])


def _as_contact(contact: Contact | Mapping[str, Any] | None) -> Contact:
    if contact is None:
        return Contact(DEFAULT_CONTACT_ID)
    if isinstance(contact, Contact):
        return contact
    if isinstance(contact, Mapping):
        return Contact(DEFAULT_CONTACT_ID, contact)
    raise TypeError(f"contact must be a Contact, a profile mapping or None, got {contact!r}")


def assert_scores(
    engine: Engine,
    contact: Contact | Mapping[str, Any] | None,
    activities: Iterable[Activity | RelativeActivity] = (),
    *,
    at: dt.datetime,
    expected: Mapping[str, int | Mapping[str, Any] | Expectation] | None = None,
    persona: str | None = _UNCHECKED,
    grades: Mapping[str, str | None] | None = None,
) -> Scores:
    """Score ``contact`` as of ``at`` and raise `ScoreMismatch` unless the scores are as ``expected``.

    ``expected`` maps a scoring name to a total, or to a mapping such as
    ``{"total": 35, "level": None, "rules": {"Pricing page": 5}}`` whose parts are
    each optional. ``persona`` is the persona the contact should belong to (None for
    none), and ``grades`` maps a grade name to its expected label (None for none);
    both are checked only when given. ``contact`` may be a profile mapping, which gets
    `DEFAULT_CONTACT_ID`. Relative activities such as ``activity("page_visit",
    days_ago(3))`` are resolved against ``at``, and activities built without a
    contact get the contact's id. Returns the scores, for further checks.
    """
    scored = _as_contact(contact)
    if expected is None and persona is _UNCHECKED and not grades:
        raise TypeError("give expected=, persona= or grades=, so there is something to check")
    expectations = {} if expected is None else expectations_from(engine, expected)
    _check_names(engine, persona, grades or {})
    resolved = resolve_activities(activities, at, scored.id)
    scores = engine.score(scored, resolved, at=at)
    differences = compare_scores(scores, expectations)
    persona_difference = None if persona is _UNCHECKED else compare_persona(scores, persona)
    grade_differences = compare_grades(scores, grades or {})
    if differences or persona_difference is not None or grade_differences:
        logger.debug(
            "scores of contact %s differ in %s", scored.id, [d.scoring for d in differences]
        )
        message = render_mismatch(
            engine,
            scored,
            resolved,
            at,
            differences,
            persona=persona_difference,
            grades=grade_differences,
        )
        raise ScoreMismatch(
            message,
            differences=differences,
            scores=scores,
            contact=scored,
            activities=resolved,
            at=at,
            persona=persona_difference,
            grades=grade_differences,
        )
    return scores


def _check_names(engine: Engine, persona: str | None, grades: Mapping[str, str | None]) -> None:
    """Raise ValueError for a persona or grade the rules do not have, before scoring."""
    if persona is not _UNCHECKED and persona is not None and persona not in engine.personas:
        known = ", ".join(map(repr, engine.personas)) or "none"
        raise ValueError(f"the rules have no persona named {persona!r}; the personas are {known}")
    for grade in grades:
        if grade not in engine.grades:
            known = ", ".join(map(repr, engine.grades)) or "none"
            raise ValueError(f"the rules have no grade named {grade!r}; the grades are {known}")


def assert_level(
    engine: Engine,
    contact: Contact | Mapping[str, Any] | None,
    activities: Iterable[Activity | RelativeActivity] = (),
    *,
    at: dt.datetime,
    expected: Mapping[str, str | None],
) -> Scores:
    """Score ``contact`` as of ``at`` and raise `ScoreMismatch` unless each scoring reaches the ``expected`` level.

    ``expected`` maps a scoring name to a threshold name, or to None for no level.
    """
    if not isinstance(expected, Mapping):
        raise TypeError(f"expected must map scoring names to levels, got {expected!r}")
    return assert_scores(
        engine,
        contact,
        activities,
        at=at,
        expected={scoring: {"level": level} for scoring, level in expected.items()},
    )
