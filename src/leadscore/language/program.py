"""The checked program: what the rules mean, resolved and validated, ready to compile.

The checker turns a syntax tree into a `Program`. Every default is filled in here
(a rule without ``expire`` takes its scoring's expiry, ``once`` becomes a cap), so the
compiled engine and the reference evaluator read one unambiguous description and
cannot drift apart on a default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal
from zoneinfo import ZoneInfo

import attrs

from leadscore.errors import Problem
from leadscore.language import syntax as ast
from leadscore.model import Duration, Threshold

__all__ = [
    "Band",
    "Decay",
    "Program",
    "ProgramGrade",
    "ProgramGroup",
    "ProgramRule",
    "ProgramScoring",
    "Validity",
]

StaticType = Literal[
    "number", "text", "boolean", "date", "datetime", "list", "duration", "null", "any"
]


@attrs.frozen
class Validity:
    """How long an activity award stays valid.

    ``never``: it does not expire. ``after``: it expires ``duration`` after the
    activity. ``until``: every award of the rule ends at the instant ``until``.
    """

    kind: Literal["never", "after", "until"]
    duration: Duration | None = None
    until: dt.datetime | None = None


NEVER = Validity("never")


@attrs.frozen
class Decay:
    """The rate and period by which an activity award loses value with age.

    An award's value after ``k`` whole periods is ``points * (1 - rate/100) ** k``,
    rounded half to even. ``rate`` is a whole percentage from 1 to 100.
    """

    rate: int
    period: Duration

    def __str__(self) -> str:
        return f"{self.rate}% every {self.period}"


@attrs.frozen
class ProgramRule:
    """One checked rule.

    ``kind`` is ``profile`` for ``when`` rules and ``activity`` for ``on`` rules. ``cap``
    is the most the rule may add (or take away, for negative points); None means no
    cap. ``aggregates`` are the aggregates in the condition, in the order they appear.
    ``uses_profile`` says the ``where`` condition reads contact fields, so a profile
    change can change which activities match. ``decay`` is how the rule's awards lose
    value with age (None: they keep their points), and ``group`` is the index of the
    scoring's group the rule belongs to, or None.
    """

    index: int
    name: str
    kind: Literal["profile", "activity"]
    points: int
    cap: int | None
    condition: ast.Expr | None
    activity_types: tuple[str, ...]
    where: ast.Expr | None
    validity: Validity
    aggregates: tuple[ast.Aggregate, ...]
    uses_profile: bool
    span: ast.Span
    decay: Decay | None = None
    group: int | None = None


@attrs.frozen
class ProgramGroup:
    """A checked group: the sum of its rules' contributions is capped at ``cap``, up or down."""

    index: int
    name: str
    cap: int
    rules: tuple[int, ...]
    span: ast.Span


@attrs.frozen
class ProgramScoring:
    """One checked scoring or persona: its thresholds in ascending order, settings and rules.

    A persona (``kind`` is ``"persona"``) has exactly one threshold, named after the
    persona. ``decay`` is the scoring's default for its ``on`` rules, already applied
    to each rule's own ``decay``.
    """

    index: int
    name: str
    thresholds: tuple[Threshold, ...]
    floor: int | None
    ceiling: int | None
    timezone: ZoneInfo
    notify_once: bool
    rules: tuple[ProgramRule, ...]
    span: ast.Span
    groups: tuple[ProgramGroup, ...] = ()
    decay: Decay | None = None
    kind: Literal["scoring", "persona"] = "scoring"

    @property
    def has_decay(self) -> bool:
        """True when any rule's awards lose value with age, so totals change between activities."""
        return any(rule.decay is not None for rule in self.rules)

    @property
    def activity_types(self) -> frozenset[str]:
        """Every activity type an ``on`` rule or an aggregate of this scoring reads."""
        types: set[str] = set()
        for rule in self.rules:
            types.update(rule.activity_types)
            types.update(aggregate.activity_type for aggregate in rule.aggregates)
        return frozenset(types)


@attrs.frozen
class Band:
    """A band of a grade: reached by a total of at least ``points``."""

    name: str
    points: int


@attrs.frozen
class ProgramGrade:
    """A checked grade: the fit and engagement scorings and their bands, highest first.

    The label is the name of the highest fit band reached followed by the name of the
    highest engagement band reached, or None when either total is below all its bands.
    """

    name: str
    fit: str
    fit_bands: tuple[Band, ...]
    engagement: str
    engagement_bands: tuple[Band, ...]
    span: ast.Span

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the grade can give, highest fit band first."""
        return tuple(
            fit.name + engagement.name
            for fit in self.fit_bands
            for engagement in self.engagement_bands
        )


@attrs.frozen
class Program:
    """Checked scorings, personas and grades, the declared fields and activity types, and any warnings."""

    scorings: tuple[ProgramScoring, ...]
    contact_fields: Mapping[str, str] | None
    activity_attributes: Mapping[str, Mapping[str, str]] | None
    warnings: tuple[Problem, ...] = ()
    # Test blocks are kept as written; the testing kit checks and runs them.
    tests: tuple[ast.TestBlock, ...] = ()
    personas: tuple[ProgramScoring, ...] = ()
    grades: tuple[ProgramGrade, ...] = ()
