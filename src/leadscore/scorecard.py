"""Score cards: the result of scoring one contact, with the reasons behind every point.

A `ScoreCard` explains why a lead is hot: the total, the level reached, each
rule's contribution with the activities behind it and when each award expires, and
diagnostics for data that could not be compared. `Scores` holds the cards of one
contact, and its persona and grades.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

import attrs

from leadscore.model import Activity, Threshold

__all__ = [
    "Award",
    "Diagnostic",
    "GradeResult",
    "GroupResult",
    "RuleResult",
    "ScoreCard",
    "Scores",
    "Threshold",
]


@attrs.frozen
class Award:
    """Points one activity earns under one rule, valid until ``expires_at`` (None: never).

    For a rule with decay, ``points`` is the award's decayed value at the card's instant.
    """

    activity: Activity
    points: int
    expires_at: dt.datetime | None


@attrs.frozen
class RuleResult:
    """One rule's contribution to a total.

    ``points`` is what the rule adds after its cap, before its group's cap. ``met`` is
    true when the rule's condition is true (``when`` rules) or when at least one award is
    valid (``on`` rules), even one that has decayed to 0. ``awards`` lists the valid
    awards of an ``on`` rule, oldest first. ``group`` is the name of the rule's group,
    or None.
    """

    rule: str
    kind: Literal["profile", "activity"]
    points: int
    met: bool
    capped: bool = False
    awards: tuple[Award, ...] = ()
    group: str | None = None


@attrs.frozen
class GroupResult:
    """One group's contribution to a total: its rules' points added up, then capped.

    ``capped`` is true when the group's cap changed the sum. ``rules`` are the names of the
    group's rules, in declaration order.
    """

    name: str
    points: int
    capped: bool
    rules: tuple[str, ...]


@attrs.frozen
class GradeResult:
    """A contact's grade: the fit band and the engagement band reached, and the label they make.

    ``label`` is the fit band's name followed by the engagement band's, such as ``"A1"``,
    or None when either total is below all its bands.
    """

    grade: str
    label: str | None
    fit: str | None
    engagement: str | None


def group_results(
    group_caps: Sequence[tuple[str, int]], breakdown: Sequence[RuleResult]
) -> tuple[GroupResult, ...]:
    """Add up each group's rules and cap the sum at the group's cap, up or down."""
    results = []
    for name, cap in group_caps:
        members = [result for result in breakdown if result.group == name]
        raw = sum(result.points for result in members)
        points = max(-cap, min(raw, cap))
        results.append(
            GroupResult(name, points, points != raw, tuple(result.rule for result in members))
        )
    return tuple(results)


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


class CardSpec:
    """The thresholds, group caps and kind that every card of one scoring shares."""

    __slots__ = ("group_caps", "kind", "thresholds")

    def __init__(
        self,
        thresholds: tuple[Threshold, ...],
        group_caps: tuple[tuple[str, int], ...] = (),
        kind: Literal["scoring", "persona"] = "scoring",
    ) -> None:
        self.thresholds = thresholds
        self.group_caps = group_caps
        self.kind = kind


class _CardCache:
    """The parts of a card built on first access."""

    __slots__ = ("breakdown", "diagnostics", "groups", "thresholds_reached")

    def __init__(
        self,
        thresholds_reached: tuple[Threshold, ...] | None,
        breakdown: tuple[RuleResult, ...] | None,
        diagnostics: tuple[Diagnostic, ...] | None,
    ) -> None:
        self.thresholds_reached = thresholds_reached
        self.breakdown = breakdown
        self.diagnostics = diagnostics
        self.groups: tuple[GroupResult, ...] | None = None


class ScoreCard:
    """One contact's score in one scoring or persona as of an instant ``at``.

    ``total`` and ``level`` are computed when the card is made. The breakdown, the
    groups, the thresholds reached and the diagnostics are built on first access,
    because most callers of a bulk scoring run read only the total. ``kind`` is
    ``"persona"`` for a persona's card, whose one threshold is the persona's.
    """

    __slots__ = ("_cache", "_details", "_spec", "at", "contact_id", "level", "scoring", "total")

    _cache: _CardCache | None

    def __init__(
        self,
        scoring: str,
        contact_id: str,
        at: dt.datetime,
        total: int,
        level: str | None,
        thresholds_reached: tuple[Threshold, ...] | None = None,
        breakdown: tuple[RuleResult, ...] | None = None,
        diagnostics: tuple[Diagnostic, ...] | None = None,
        *,
        thresholds: tuple[Threshold, ...] = (),
        details: Callable[[], tuple[tuple[RuleResult, ...], tuple[Diagnostic, ...]]] | None = None,
        group_caps: tuple[tuple[str, int], ...] = (),
        kind: Literal["scoring", "persona"] = "scoring",
    ) -> None:
        if details is None and (breakdown is None or diagnostics is None):
            raise ValueError(
                "a ScoreCard needs its breakdown and diagnostics, or a details function"
            )
        self.scoring = scoring
        self.contact_id = contact_id
        self.at = at
        self.total = total
        self.level = level
        self._spec = CardSpec(thresholds, group_caps, kind)
        self._details = details
        self._cache = _CardCache(thresholds_reached, breakdown, diagnostics)

    @classmethod
    def lazy(
        cls,
        spec: CardSpec,
        scoring: str,
        contact_id: str,
        at: dt.datetime,
        total: int,
        level: str | None,
        details: Callable[[], tuple[tuple[RuleResult, ...], tuple[Diagnostic, ...]]],
    ) -> ScoreCard:
        """Make a card whose breakdown ``details()`` builds on first access.

        The engine makes one of these per scoring per contact, so it skips the checks and
        keyword handling of ``__init__``; ``spec`` is shared by every card of a scoring.
        """
        card = object.__new__(cls)
        card.scoring = scoring
        card.contact_id = contact_id
        card.at = at
        card.total = total
        card.level = level
        card._spec = spec
        card._details = details
        card._cache = None
        return card

    @property
    def group_caps(self) -> tuple[tuple[str, int], ...]:
        """The scoring's groups and their caps, in declaration order."""
        return self._spec.group_caps

    @property
    def kind(self) -> Literal["scoring", "persona"]:
        """``"persona"`` for a persona's card, whose one threshold is the persona's."""
        return self._spec.kind

    def _cached(self) -> _CardCache:
        cache = self._cache
        if cache is None:
            cache = self._cache = _CardCache(None, None, None)
        if cache.breakdown is None or cache.diagnostics is None:
            assert self._details is not None
            breakdown, diagnostics = self._details()
            if cache.breakdown is None:
                cache.breakdown = breakdown
            if cache.diagnostics is None:
                cache.diagnostics = diagnostics
            self._details = None
        return cache

    @property
    def breakdown(self) -> tuple[RuleResult, ...]:
        """Each rule's contribution, in declaration order, met or not."""
        breakdown = self._cached().breakdown
        assert breakdown is not None
        return breakdown

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Values the rules could not use, sorted."""
        diagnostics = self._cached().diagnostics
        assert diagnostics is not None
        return diagnostics

    @property
    def groups(self) -> tuple[GroupResult, ...]:
        """Each group's contribution, in declaration order, from ``group_caps`` and the breakdown."""
        cache = self._cached()
        if cache.groups is None:
            cache.groups = group_results(self.group_caps, self.breakdown)
        return cache.groups

    @property
    def ratio(self) -> Fraction | None:
        """A persona's total divided by its threshold, exactly; None for a scoring's card."""
        thresholds = self._spec.thresholds
        if self._spec.kind != "persona" or not thresholds:
            return None
        return Fraction(self.total, thresholds[0].points)

    @property
    def thresholds_reached(self) -> tuple[Threshold, ...]:
        """The thresholds whose points the total reaches, lowest first."""
        cache = self._cache
        if cache is None:
            cache = self._cache = _CardCache(None, None, None)
        if cache.thresholds_reached is None:
            cache.thresholds_reached = tuple(
                t for t in self._spec.thresholds if self.total >= t.points
            )
        return cache.thresholds_reached

    def _key(self) -> tuple[Any, ...]:
        return (
            self.scoring,
            self.contact_id,
            self.at,
            self.total,
            self.level,
            self.thresholds_reached,
            self.breakdown,
            self.diagnostics,
            self.groups,
            self.kind,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreCard):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ScoreCard(scoring={self.scoring!r}, contact_id={self.contact_id!r}, at={self.at!r}, "
            f"total={self.total!r}, level={self.level!r}, thresholds_reached={self.thresholds_reached!r}, "
            f"breakdown={self.breakdown!r}, diagnostics={self.diagnostics!r})"
        )

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
            "ratio": None if self.ratio is None else float(self.ratio),
            "thresholds_reached": [t.name for t in self.thresholds_reached],
            "breakdown": [
                {
                    "rule": result.rule,
                    "kind": result.kind,
                    "points": result.points,
                    "met": result.met,
                    "capped": result.capped,
                    "group": result.group,
                    "awards": [
                        {
                            "activity_id": award.activity.id,
                            "activity_type": award.activity.type,
                            "occurred_at": award.activity.occurred_at.isoformat(),
                            "points": award.points,
                            "expires_at": award.expires_at.isoformat()
                            if award.expires_at
                            else None,
                        }
                        for award in result.awards
                    ],
                }
                for result in self.breakdown
            ],
            "groups": [
                {
                    "name": group.name,
                    "points": group.points,
                    "capped": group.capped,
                    "rules": list(group.rules),
                }
                for group in self.groups
            ],
            "diagnostics": [attrs.asdict(d) for d in self.diagnostics],
        }


class Scores(Mapping[str, ScoreCard]):
    """The score cards of one contact, keyed by scoring name in declaration order.

    Iterating, indexing, ``totals`` and ``levels`` cover the scorings only. Personas
    are in ``personas`` and ``persona``, and grades in ``grades`` and `grade`.
    """

    __slots__ = ("_cards", "_grades", "_personas")

    def __init__(
        self,
        cards: Mapping[str, ScoreCard],
        personas: Mapping[str, ScoreCard] | None = None,
        grades: Mapping[str, GradeResult] | None = None,
    ) -> None:
        self._cards = cards if cards.__class__ is dict else dict(cards)
        self._personas: Mapping[str, ScoreCard] = personas or {}
        self._grades: Mapping[str, GradeResult] = grades or {}

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
            return (
                self._cards == other._cards
                and dict(self._personas) == dict(other._personas)
                and dict(self._grades) == dict(other._grades)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name!r}: {card.total} ({card.level})" for name, card in self._cards.items()
        )
        extra = ""
        if self._personas:
            extra += f", persona={self.persona!r}"
        if self._grades:
            extra += f", grades={self.grades!r}"
        return f"Scores({{{inner}}}{extra})"

    @property
    def totals(self) -> dict[str, int]:
        """Each scoring's total."""
        return {name: card.total for name, card in self._cards.items()}

    @property
    def levels(self) -> dict[str, str | None]:
        """Each scoring's level: the highest threshold reached, or None."""
        return {name: card.level for name, card in self._cards.items()}

    @property
    def personas(self) -> dict[str, ScoreCard]:
        """Each persona's card, by persona name in declaration order."""
        return dict(self._personas)

    @property
    def persona(self) -> str | None:
        """The persona the contact belongs to, or None.

        It is the persona with the highest ratio of total to threshold among those with
        a ratio of at least 1. Of equal ratios, the persona declared first wins.
        """
        return best_persona(
            (name, card.total, card._spec.thresholds[0].points)
            for name, card in self._personas.items()
            if card._spec.thresholds
        )

    @property
    def grades(self) -> dict[str, str | None]:
        """Each grade's label, such as ``"A1"``, or None when a total is below all its bands."""
        return {name: result.label for name, result in self._grades.items()}

    def grade(self, name: str) -> GradeResult:
        """Return the grade called ``name`` with its bands; raises KeyError if there is none."""
        try:
            return self._grades[name]
        except KeyError:
            known = ", ".join(repr(grade) for grade in self._grades) or "none"
            raise KeyError(f"no grade named {name!r}; the grades are {known}") from None


def best_persona(personas: Iterable[tuple[str, int, int]]) -> str | None:
    """Return the persona with the highest ratio of total to threshold, at least 1, or None.

    ``personas`` are (name, total, threshold points) in declaration order, and of equal
    ratios the first wins.
    """
    best: str | None = None
    best_ratio = Fraction(0)
    for name, total, points in personas:
        ratio = Fraction(total, points)
        if ratio < 1:
            continue
        if best is None or ratio > best_ratio:
            best, best_ratio = name, ratio
    return best
