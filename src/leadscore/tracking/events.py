"""Threshold, persona and grade events and score history entries produced by the `Tracker`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import attrs

from leadscore.model import Threshold
from leadscore.scorecard import ScoreCard

_NO_PROFILE: Mapping[str, Any] = MappingProxyType({})

__all__ = [
    "Cause",
    "GradeChanged",
    "HistoryEntry",
    "LazyCard",
    "PersonaChanged",
    "ThresholdDropped",
    "ThresholdEvent",
    "ThresholdReached",
    "TrackerEvent",
]

Cause = Literal["activity", "late_activity", "profile", "expiry", "decay", "time", "merge", "rules"]
"""What changed a score.

``activity``: an activity at the contact's clock. ``late_activity``: an activity that
occurred before the contact's clock. ``profile``: a profile update. ``expiry``: an
award reached its expiry. ``decay``: an award of a rule with ``decay`` lost value.
``time``: an aggregate window moved or a condition that reads ``now()`` or
``days_since`` changed. ``merge``: another contact was merged in. ``rules``:
`Tracker.replace_engine` installed other rules.
"""


class LazyCard:
    """A score card built on first use from a snapshot taken when the event happened.

    A subclass keeps the snapshot and builds the card in `_build`.
    """

    __slots__ = ("_card",)

    def __init__(self) -> None:
        self._card: ScoreCard | None = None

    def get(self) -> ScoreCard:
        """Return the card, building it the first time."""
        if self._card is None:
            self._card = self._build()
        return self._card

    def _build(self) -> ScoreCard:
        raise NotImplementedError


@attrs.frozen
class ThresholdReached:
    """A contact's total in one scoring rose from below a threshold to at or above it.

    ``at`` is the instant the crossing took effect, ``card`` the score card at that
    instant, ``cause`` what moved the score, and ``profile`` the contact's profile
    then (read-only). Events compare equal without their cards and profiles.
    """

    contact_id: str
    scoring: str
    threshold: Threshold
    score_before: int
    score_after: int
    at: dt.datetime
    cause: Cause
    card_source: LazyCard = attrs.field(repr=False, eq=False)
    profile: Mapping[str, Any] = attrs.field(default=_NO_PROFILE, repr=False, eq=False)

    @property
    def card(self) -> ScoreCard:
        """The contact's score card in this scoring at ``at``, built on first access."""
        return self.card_source.get()


@attrs.frozen
class ThresholdDropped:
    """A contact's total in one scoring fell from at or above a threshold to below it.

    The fields mean the same as in `ThresholdReached`.
    """

    contact_id: str
    scoring: str
    threshold: Threshold
    score_before: int
    score_after: int
    at: dt.datetime
    cause: Cause
    card_source: LazyCard = attrs.field(repr=False, eq=False)
    profile: Mapping[str, Any] = attrs.field(default=_NO_PROFILE, repr=False, eq=False)

    @property
    def card(self) -> ScoreCard:
        """The contact's score card in this scoring at ``at``, built on first access."""
        return self.card_source.get()


ThresholdEvent: TypeAlias = ThresholdReached | ThresholdDropped


@attrs.frozen
class PersonaChanged:
    """The persona a contact belongs to changed; ``before`` or ``after`` is None for none.

    ``at`` and ``cause`` mean the same as in `ThresholdReached`.
    """

    contact_id: str
    before: str | None
    after: str | None
    at: dt.datetime
    cause: Cause


@attrs.frozen
class GradeChanged:
    """A contact's label in one grade changed, such as from ``"B2"`` to ``"A1"``.

    ``before`` or ``after`` is None while a total is below all of its bands. ``at``,
    ``cause`` and ``profile`` mean the same as in `ThresholdReached`, and
    ``fit_card`` and ``engagement_card`` are the two scorings' cards at ``at``.
    """

    contact_id: str
    grade: str
    before: str | None
    after: str | None
    at: dt.datetime
    cause: Cause
    fit_source: LazyCard | None = attrs.field(default=None, repr=False, eq=False)
    engagement_source: LazyCard | None = attrs.field(default=None, repr=False, eq=False)
    profile: Mapping[str, Any] = attrs.field(default=_NO_PROFILE, repr=False, eq=False)

    @property
    def fit_card(self) -> ScoreCard:
        """The fit scoring's card at ``at``, built on first access."""
        if self.fit_source is None:
            raise LookupError("this event was made without score cards")
        return self.fit_source.get()

    @property
    def engagement_card(self) -> ScoreCard:
        """The engagement scoring's card at ``at``, built on first access."""
        if self.engagement_source is None:
            raise LookupError("this event was made without score cards")
        return self.engagement_source.get()


TrackerEvent: TypeAlias = ThresholdReached | ThresholdDropped | PersonaChanged | GradeChanged
"""Any event a `Tracker` call returns, in the order the changes happened."""


@attrs.frozen
class HistoryEntry:
    """One change of a contact's total in one scoring or persona, with its cause.

    ``activity_id`` and ``activity_type`` name the activity for the causes
    ``activity``, ``late_activity``, ``expiry`` and ``decay`` (the activity whose award
    expired or lost value). ``rule`` is that award's rule. ``fields`` lists the profile fields a
    ``profile`` change set or removed, and ``source_id`` the contact merged in.
    """

    contact_id: str
    scoring: str
    at: dt.datetime
    score_before: int
    score_after: int
    cause: Cause
    activity_id: str | None = None
    activity_type: str | None = None
    rule: str | None = None
    fields: tuple[str, ...] = ()
    source_id: str | None = None
