"""Threshold events and score history entries produced by the `Tracker`."""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias

import attrs

from leadscore.model import Threshold
from leadscore.scorecard import ScoreCard

__all__ = [
    "Cause",
    "HistoryEntry",
    "LazyCard",
    "ThresholdDropped",
    "ThresholdEvent",
    "ThresholdReached",
]

Cause = Literal["activity", "late_activity", "profile", "expiry", "time", "merge", "rules"]
"""What changed a score.

``activity``: an activity at the contact's clock. ``late_activity``: an activity that
occurred before the contact's clock. ``profile``: a profile update. ``expiry``: an
award reached its expiry. ``time``: an aggregate window moved or a condition that
reads ``now()`` or ``days_since`` changed. ``merge``: another contact was merged in.
``rules``: `Tracker.replace_engine` installed other rules.
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
    instant, and ``cause`` what moved the score. Events compare equal without
    their cards.
    """

    contact_id: str
    scoring: str
    threshold: Threshold
    score_before: int
    score_after: int
    at: dt.datetime
    cause: Cause
    card_source: LazyCard = attrs.field(repr=False, eq=False)

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

    @property
    def card(self) -> ScoreCard:
        """The contact's score card in this scoring at ``at``, built on first access."""
        return self.card_source.get()


ThresholdEvent: TypeAlias = ThresholdReached | ThresholdDropped


@attrs.frozen
class HistoryEntry:
    """One change of a contact's total in one scoring, with its cause.

    ``activity_id`` and ``activity_type`` name the activity for the causes
    ``activity``, ``late_activity`` and ``expiry`` (the activity whose award expired).
    ``rule`` is the expired award's rule. ``fields`` lists the profile fields a
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
