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

__all__ = ["Program", "ProgramRule", "ProgramScoring", "Validity"]

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
class ProgramRule:
    """One checked rule.

    ``kind`` is ``profile`` for ``when`` rules and ``activity`` for ``on`` rules. ``cap``
    is the most the rule may add (or take away, for negative points); None means no
    cap. ``aggregates`` are the aggregates in the condition, in the order they appear.
    ``uses_profile`` says the ``where`` condition reads contact fields, so a profile
    change can change which activities match.
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


@attrs.frozen
class ProgramScoring:
    """One checked scoring: its thresholds in ascending order, settings and rules."""

    index: int
    name: str
    thresholds: tuple[Threshold, ...]
    floor: int | None
    ceiling: int | None
    timezone: ZoneInfo
    notify_once: bool
    rules: tuple[ProgramRule, ...]
    span: ast.Span

    @property
    def activity_types(self) -> frozenset[str]:
        """Every activity type an ``on`` rule or an aggregate of this scoring reads."""
        types: set[str] = set()
        for rule in self.rules:
            types.update(rule.activity_types)
            types.update(aggregate.activity_type for aggregate in rule.aggregates)
        return frozenset(types)


@attrs.frozen
class Program:
    """Checked scorings plus the declared fields and activity types, and any warnings."""

    scorings: tuple[ProgramScoring, ...]
    contact_fields: Mapping[str, str] | None
    activity_attributes: Mapping[str, Mapping[str, str]] | None
    warnings: tuple[Problem, ...] = ()
    # Test blocks are kept as written; the testing kit checks and runs them.
    tests: tuple[ast.TestBlock, ...] = ()
