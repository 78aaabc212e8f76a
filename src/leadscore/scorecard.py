"""Score cards: the result of scoring one contact, with the reasons behind every point.

A `ScoreCard` answers "why is this lead hot?": the total, the level reached, each
rule's contribution with the activities behind it and when each award expires, and
diagnostics for data that could not be compared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

from leadscore.model import Activity, Threshold

__all__ = ["Award", "Diagnostic", "RuleResult", "ScoreCard", "Scores", "Threshold"]


@attrs.frozen
class Award:
    """Points one activity earns under one rule, valid until ``expires_at`` (None: never)."""

    activity: Activity
    points: int
    expires_at: dt.datetime | None


@attrs.frozen
class RuleResult:
    """One rule's contribution to a total.

    ``points`` is what the rule adds after its cap. ``met`` is true when the rule's
    condition holds (``when`` rules) or when at least one award is valid (``on``
    rules). ``awards`` lists the valid awards of an ``on`` rule, oldest first.
    """

    rule: str
    kind: Literal["profile", "activity"]
    points: int
    met: bool
    capped: bool = False
    awards: tuple[Award, ...] = ()


@attrs.frozen(order=True)
class Diagnostic:
    """A value a rule could not use, such as text where a number was compared.

    The rule is scored as not met for that value; other rules and contacts are not
    affected. ``value`` is the ``repr`` of the offending value, cut to 80 characters.
    """

    scoring: str
    rule: str
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"scoring {self.scoring!r}, rule {self.rule!r}: {self.field} = {self.value}: {self.message}"


@attrs.frozen
class ScoreCard:
    """One contact's score in one scoring as of an instant ``at``."""

    scoring: str
    contact_id: str
    at: dt.datetime
    total: int
    level: str | None
    thresholds_reached: tuple[Threshold, ...]
    breakdown: tuple[RuleResult, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    def rule(self, name: str) -> RuleResult:
        """Return the result of the rule called ``name``; raises KeyError if there is none."""
        for result in self.breakdown:
            if result.rule == name:
                return result
        raise KeyError(f"scoring {self.scoring!r} has no rule {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the card as plain JSON-ready data, with instants in ISO 8601."""
        return {
            "scoring": self.scoring,
            "contact_id": self.contact_id,
            "at": self.at.isoformat(),
            "total": self.total,
            "level": self.level,
            "thresholds_reached": [t.name for t in self.thresholds_reached],
            "breakdown": [
                {
                    "rule": result.rule,
                    "kind": result.kind,
                    "points": result.points,
                    "met": result.met,
                    "capped": result.capped,
                    "awards": [
                        {
                            "activity_id": award.activity.id,
                            "activity_type": award.activity.type,
                            "occurred_at": award.activity.occurred_at.isoformat(),
                            "points": award.points,
                            "expires_at": award.expires_at.isoformat() if award.expires_at else None,
                        }
                        for award in result.awards
                    ],
                }
                for result in self.breakdown
            ],
            "diagnostics": [attrs.asdict(d) for d in self.diagnostics],
        }


class Scores(Mapping[str, ScoreCard]):
    """The score cards of one contact, keyed by scoring name in declaration order."""

    __slots__ = ("_cards",)

    def __init__(self, cards: Mapping[str, ScoreCard]) -> None:
        self._cards = dict(cards)

    def __getitem__(self, scoring: str) -> ScoreCard:
        try:
            return self._cards[scoring]
        except KeyError:
            known = ", ".join(repr(name) for name in self._cards) or "none"
            raise KeyError(f"no scoring named {scoring!r}; the scorings are {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._cards)

    def __len__(self) -> int:
        return len(self._cards)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Scores):
            return self._cards == other._cards
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {card.total} ({card.level})" for name, card in self._cards.items())
        return f"Scores({{{inner}}})"

    @property
    def totals(self) -> dict[str, int]:
        """Each scoring's total."""
        return {name: card.total for name, card in self._cards.items()}

    @property
    def levels(self) -> dict[str, str | None]:
        """Each scoring's level: the highest threshold reached, or None."""
        return {name: card.level for name, card in self._cards.items()}
