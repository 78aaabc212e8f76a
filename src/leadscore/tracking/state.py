"""A contact's scoring state, and the steps that change it: activities, time, profiles, merges.

`ContactState` keeps what the compiled engine builds while scoring (the matched awards
and aggregate entries per scoring) and, on top of it, what makes updates cheap: each
activity rule's sum of awards valid at the contact's clock, the ``when`` conditions at
the clock, the total, and a heap of award expiries. `Scorer` applies one change at a
time and reports threshold events by comparing each total with the thresholds last
emitted for the contact.

Invariant: every kept activity occurred at or before the contact's clock, so the sums,
conditions and totals always describe the score at the clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from leadscore.engine import card_from_state
from leadscore.errors import LeadscoreError
from leadscore.evaluation import MAX_DIAGNOSTICS_PER_RULE, _full_key, diagnostics_for
from leadscore.model import Activity, Contact
from leadscore.runtime import EvalContext
from leadscore.scorecard import Diagnostic, ScoreCard, Scores
from leadscore.tracking.events import (
    Cause,
    LazyCard,
    ThresholdDropped,
    ThresholdEvent,
    ThresholdReached,
)
from leadscore.tracking.plan import EnginePlan, ScoringPlan, next_condition_change

__all__ = ["ContactState", "HistoryRow", "PrunedHistoryError", "Scorer", "activity_key"]

# Raw diagnostics as the runtime records them: (rule index, expression text, value, message).
RawDiagnostic = tuple[int, str, Any, str]
# An award expiry: (expires_at, tie-breaker, scoring position, rule index, activity).
Expiry = tuple[dt.datetime, int, int, int, Activity]
# The HistoryEntry fields from ``cause`` on, recorded with each changed total.
HistoryDetail = tuple[Cause, str | None, str | None, str | None, tuple[str, ...], str | None]
# A history entry as stored until it is read: the HistoryEntry fields in order.
HistoryRow = tuple[Any, ...]

_sequence = itertools.count()


class PrunedHistoryError(LeadscoreError, LookupError):
    """A score was requested for an instant whose state the tracker has already pruned."""


def activity_key(activity: Activity, serial: int) -> str:
    """Return the key an activity is stored under: its id, or a per-contact serial without one."""
    if activity.id is not None:
        return "i:" + activity.id
    return f"n:{serial}"


class ScoringState:
    """One contact's state in one scoring."""

    __slots__ = ("awards", "condition_due", "diagnostics", "entries", "met", "sums", "total")

    def __init__(self, plan: ScoringPlan) -> None:
        count = len(plan.rule_points)
        self.awards: list[list[tuple[Activity, dt.datetime | None]]] = [[] for _ in range(count)]
        self.entries: list[list[tuple[dt.datetime, Any, Activity]]] = [[] for _ in plan.aggregates]
        # Per activity rule: the points of the awards valid at the clock, before the cap.
        self.sums = [0] * count
        self.met: tuple[bool, ...] = (False,) * count
        self.total = 0
        # The next instant a ``when`` condition may change without any new input.
        self.condition_due: dt.datetime | None = None
        # Activity key -> diagnostics its ``where`` conditions produced.
        self.diagnostics: dict[str, list[RawDiagnostic]] = {}


class ContactState:
    """Everything the tracker keeps about one contact.

    ``activities`` maps keys to the activities some rule may still use. ``reached``
    contains the (scoring, threshold) pairs whose last emitted event was a reached one.
    ``horizon`` is the earliest instant the kept state can score exactly, or None
    when nothing was pruned. ``added``, ``pruned``, ``profile_changed`` and
    ``new_history`` collect what changed since the store last saved the contact.
    """

    __slots__ = (
        "activities",
        "added",
        "clock",
        "contact_id",
        "expiries",
        "horizon",
        "new_history",
        "next_serial",
        "profile",
        "profile_changed",
        "pruned",
        "prunes",
        "reached",
        "retained",
        "scorings",
        "seen",
        "stale",
        "version",
    )

    def __init__(self, contact_id: str, profile: Mapping[str, Any], clock: dt.datetime) -> None:
        self.contact_id = contact_id
        self.profile: dict[str, Any] = dict(profile)
        self.clock = clock
        self.activities: dict[str, Activity] = {}
        self.seen: set[str] = set()
        self.reached: set[tuple[str, str]] = set()
        self.expiries: list[Expiry] = []
        self.prunes: list[tuple[dt.datetime, str]] = []
        self.scorings: list[ScoringState] = []
        self.horizon: dt.datetime | None = None
        # Scoring name -> diagnostics of activities already pruned.
        self.retained: dict[str, set[Diagnostic]] = {}
        self.next_serial = 0
        self.version = 0
        self.stale = 0
        self.added: list[tuple[str, Activity]] = []
        self.pruned: list[str] = []
        self.profile_changed = False
        self.new_history: list[HistoryRow] = []

    def next_due(self) -> dt.datetime | None:
        """Return the next instant the score may change with time alone, or None."""
        due = self.expiries[0][0] if self.expiries else None
        for scoring in self.scorings:
            condition_due = scoring.condition_due
            if condition_due is not None and (due is None or condition_due < due):
                due = condition_due
        return due

    def totals(self) -> list[int]:
        """Return the total of each scoring at the clock."""
        return [scoring.total for scoring in self.scorings]

    def take_changes(self) -> tuple[list[tuple[str, Activity]], list[str], list[HistoryRow]]:
        """Return and clear the activities added, keys pruned and history since the last save."""
        changes = (self.added, self.pruned, self.new_history)
        self.added, self.pruned, self.new_history = [], [], []
        self.profile_changed = False
        return changes


class Scorer:
    """Apply changes to contact states under one engine and report the threshold events."""

    def __init__(self, plan: EnginePlan, *, keep_history: bool, track_changes: bool) -> None:
        self.plan = plan
        self.keep_history = keep_history
        # Only a store that writes changes row by row needs the added and pruned keys.
        self.track_changes = track_changes

    # ---------------------------------------------------------------- building state

    def new_contact(
        self, contact_id: str, profile: Mapping[str, Any], clock: dt.datetime
    ) -> ContactState:
        """Return the state of a contact with no activities, evaluated at ``clock``."""
        state = ContactState(contact_id, profile, clock)
        self.rebuild(state)
        return state

    def rebuild(self, state: ContactState) -> None:
        """Match every kept activity again and recompute the state at the clock.

        Costs time in proportion to the kept activities. Used after a profile change, a
        merge, a rule change and when a contact is loaded from a store.
        """
        plan = self.plan
        at = state.clock
        state.scorings = scorings = [ScoringState(scoring) for scoring in plan.scorings]
        profile = state.profile
        for key, activity in state.activities.items():
            for position, matcher in plan.dispatch.get(activity.type, ()):
                scoring_plan = plan.scorings[position]
                scoring = scorings[position]
                context = scoring_plan.match_context
                matcher(activity, profile, context, scoring.awards, scoring.entries)
                if context.diagnostics:
                    scoring.diagnostics[key] = list(context.diagnostics)
                    context.diagnostics.clear()

        expiries: list[Expiry] = []
        for scoring_plan, scoring in zip(plan.scorings, scorings, strict=True):
            position = scoring_plan.position
            for rule in scoring_plan.activity_rules:
                points = scoring_plan.rule_points[rule]
                total = 0
                for activity, expires_at in scoring.awards[rule]:
                    if expires_at is None or at < expires_at:
                        total += points
                        if expires_at is not None:
                            expiries.append((expires_at, next(_sequence), position, rule, activity))
                scoring.sums[rule] = total
            self._evaluate_conditions(state, scoring_plan, scoring, at)
            scoring.total = _total(scoring_plan, scoring)
        heapq.heapify(expiries)
        state.expiries = expiries

        prunes = []
        for key, activity in state.activities.items():
            until = plan.relevant_until(activity)
            if until is not None:
                prunes.append((until, key))
        heapq.heapify(prunes)
        state.prunes = prunes
        state.stale = 0

    def _evaluate_conditions(
        self, state: ContactState, plan: ScoringPlan, scoring: ScoringState, at: dt.datetime
    ) -> None:
        if not plan.profile_rules:
            return
        default_timezone = self.plan.default_timezone
        context = EvalContext(at, plan.timezone, default_timezone)
        scoring.met = plan.compiled.profile_conditions(
            state.profile, state.contact_id, context, scoring.entries
        )
        scoring.condition_due = next_condition_change(
            plan, state.profile, state.contact_id, scoring.entries, at, default_timezone
        )

    # ---------------------------------------------------------------- changes

    def add_activity(self, state: ContactState, activity: Activity) -> list[ThresholdEvent]:
        """Add an activity that occurred at or before the contact's clock; returns the events.

        Costs time in proportion to the rules and aggregates that read the activity's
        type, plus one evaluation of the ``when`` conditions of each scoring whose
        aggregates the activity feeds.
        """
        plan = self.plan
        at = state.clock
        if activity.id is None:
            key = f"n:{state.next_serial}"
            state.next_serial += 1
        else:
            key = "i:" + activity.id
            state.seen.add(key)
        if self.track_changes:
            state.added.append((key, activity))

        until = plan.relevant_until(activity)
        if until is not None and until <= at and not self.keep_history:
            # No rule can use it any more; only the horizon and its diagnostics change.
            self._forget(state, key, activity, until, matched=False)
            if self.track_changes:
                state.pruned.append(key)
            return []
        state.activities[key] = activity
        if until is not None:
            heapq.heappush(state.prunes, (until, key))

        events: list[ThresholdEvent] = []
        cause: Cause = "late_activity" if activity.occurred_at < at else "activity"
        profile = state.profile
        for position, matcher, rules, aggregates in plan.type_dispatch.get(activity.type, ()):
            scoring_plan = plan.scorings[position]
            scoring = state.scorings[position]
            awards = scoring.awards
            entries = scoring.entries
            award_counts = [len(awards[rule]) for rule in rules]
            entry_counts = [len(entries[index]) for index in aggregates]
            context = scoring_plan.match_context
            matcher(activity, profile, context, awards, entries)
            if context.diagnostics:
                scoring.diagnostics[key] = list(context.diagnostics)
                context.diagnostics.clear()

            moved = False
            for rule, count in zip(rules, award_counts, strict=True):
                if len(awards[rule]) == count:
                    continue
                expires_at = awards[rule][-1][1]
                if expires_at is None or at < expires_at:
                    scoring.sums[rule] += scoring_plan.rule_points[rule]
                    moved = True
                    if expires_at is not None:
                        heapq.heappush(
                            state.expiries, (expires_at, next(_sequence), position, rule, activity)
                        )
            for index, count in zip(aggregates, entry_counts, strict=True):
                if len(entries[index]) != count:
                    self._evaluate_conditions(state, scoring_plan, scoring, at)
                    moved = True
                    break
            if moved:
                previous = scoring.total
                scoring.total = after = _total(scoring_plan, scoring)
                if after != previous:
                    history = (cause, activity.id, activity.type, None, (), None)
                    events += self._changed(state, position, previous, after, at, history)
        return events

    def update_profile(
        self, state: ContactState, changes: Mapping[str, Any]
    ) -> list[ThresholdEvent]:
        """Merge ``changes`` into the profile, None removing a field, and rescore at the clock."""
        before = state.totals()
        for field, value in changes.items():
            if value is None:
                state.profile.pop(field, None)
            else:
                state.profile[field] = value
        state.profile_changed = True
        self.rebuild(state)
        history: HistoryDetail = ("profile", None, None, None, tuple(sorted(changes)), None)
        return self.compare(state, before, state.clock, history)

    def settle(self, state: ContactState, to: dt.datetime) -> list[ThresholdEvent]:
        """Move the contact's clock to ``to``, applying each expiry and time-dependent change.

        Each change is applied at its own instant and its events carry that instant.
        Costs time in proportion to the expiries and condition checks due. The caller
        prunes afterwards.
        """
        events: list[ThresholdEvent] = []
        if to <= state.clock:
            return events
        plan = self.plan
        while True:
            due = state.next_due()
            if due is None or due > to:
                break
            state.clock = due
            expired: dict[int, tuple[int, Activity | None]] = {}
            heap = state.expiries
            while heap and heap[0][0] <= due:
                _, _, position, rule, activity = heapq.heappop(heap)
                state.scorings[position].sums[rule] -= plan.scorings[position].rule_points[rule]
                expired.setdefault(position, (rule, activity))
            for scoring_plan, scoring in zip(plan.scorings, state.scorings, strict=True):
                if scoring.condition_due is not None and scoring.condition_due <= due:
                    self._evaluate_conditions(state, scoring_plan, scoring, due)
                    expired.setdefault(scoring_plan.position, (-1, None))
            for position in sorted(expired):
                scoring_plan = plan.scorings[position]
                scoring = state.scorings[position]
                previous = scoring.total
                scoring.total = after = _total(scoring_plan, scoring)
                if after == previous:
                    continue
                rule, expired_activity = expired[position]
                if expired_activity is None:
                    history: HistoryDetail = ("time", None, None, None, (), None)
                else:
                    rule_name = scoring_plan.scoring.rules[rule].name
                    history = (
                        "expiry",
                        expired_activity.id,
                        expired_activity.type,
                        rule_name,
                        (),
                        None,
                    )
                events += self._changed(state, position, previous, after, due, history)
        state.clock = to
        return events

    # ---------------------------------------------------------------- events

    def _changed(
        self,
        state: ContactState,
        position: int,
        previous: int,
        after: int,
        at: dt.datetime,
        history: HistoryDetail,
    ) -> list[ThresholdEvent]:
        """Record a changed total and return the events for the thresholds it crossed.

        Reached events come lowest threshold first and dropped events highest first, the
        order in which a rising or falling score passes them.
        """
        scoring_plan = self.plan.scorings[position]
        state.new_history.append(
            (state.contact_id, scoring_plan.name, at, previous, after, *history)
        )
        # The thresholds last emitted always match ``previous`` here, so a threshold was
        # crossed exactly when the two totals have different counts of thresholds below them.
        points = scoring_plan.threshold_points
        if bisect.bisect_right(points, previous) == bisect.bisect_right(points, after):
            return []
        return self._crossings(state, position, previous, after, at, history[0])

    def _crossings(
        self,
        state: ContactState,
        position: int,
        previous: int,
        after: int,
        at: dt.datetime,
        cause: Cause,
    ) -> list[ThresholdEvent]:
        scoring_plan = self.plan.scorings[position]
        name = scoring_plan.name
        reached = state.reached
        card: LazyCard | None = None
        rising: list[ThresholdEvent] = []
        falling: list[ThresholdEvent] = []
        for threshold in scoring_plan.thresholds:
            pair = (name, threshold.name)
            now_reached = after >= threshold.points
            if now_reached == (pair in reached):
                continue
            if card is None:
                card = self._card_snapshot(state, position, at)
            if now_reached:
                reached.add(pair)
                rising.append(
                    ThresholdReached(
                        state.contact_id, name, threshold, previous, after, at, cause, card
                    )
                )
            else:
                reached.discard(pair)
                falling.append(
                    ThresholdDropped(
                        state.contact_id, name, threshold, previous, after, at, cause, card
                    )
                )
        if falling:
            falling.reverse()
            return rising + falling
        return rising

    def compare(
        self, state: ContactState, before: list[int], at: dt.datetime, history: HistoryDetail
    ) -> list[ThresholdEvent]:
        """Compare every scoring's total with ``before`` and the thresholds last emitted.

        Unlike the incremental steps this also checks scorings whose total did not move,
        because after new rules the thresholds themselves may have moved.
        """
        events: list[ThresholdEvent] = []
        for position, scoring in enumerate(state.scorings):
            previous = before[position]
            after = scoring.total
            if after != previous:
                name = self.plan.scorings[position].name
                state.new_history.append((state.contact_id, name, at, previous, after, *history))
            events += self._crossings(state, position, previous, after, at, history[0])
        return events

    # ---------------------------------------------------------------- reading

    def card(self, state: ContactState, position: int, at: dt.datetime) -> ScoreCard:
        """Return the score card of one scoring as of ``at`` from the kept state."""
        return self._card_snapshot(state, position, at).get()

    def _card_snapshot(self, state: ContactState, position: int, at: dt.datetime) -> LazyCard:
        """Capture what the card at ``at`` needs, to build it only if someone reads it.

        Award and entry lists only grow at their end until they are replaced by new lists,
        so their current lengths pin what they hold now.
        """
        scoring_plan = self.plan.scorings[position]
        scoring = state.scorings[position]
        awards = [(awards, len(awards)) for awards in scoring.awards]
        entries = [(entries, len(entries)) for entries in scoring.entries]
        raw: list[RawDiagnostic] = []
        for key, found in scoring.diagnostics.items():
            activity = state.activities.get(key)
            if activity is not None and activity.occurred_at <= at:
                raw.extend(found)
        contact = Contact(state.contact_id, state.profile)
        retained = state.retained.get(scoring_plan.name)
        default_timezone = self.plan.default_timezone

        def build() -> ScoreCard:
            context = EvalContext(at, scoring_plan.timezone, default_timezone)
            context.diagnostics.extend(raw)
            card = card_from_state(
                scoring_plan.compiled,
                contact,
                [items[:count] for items, count in awards],
                [items[:count] for items, count in entries],
                context,
            )
            if not retained:
                return card
            return ScoreCard(
                card.scoring,
                card.contact_id,
                card.at,
                card.total,
                card.level,
                card.thresholds_reached,
                card.breakdown,
                _cap_diagnostics(set(card.diagnostics) | retained),
            )

        return LazyCard(build)

    def scores(self, state: ContactState, at: dt.datetime) -> Scores:
        """Return every scoring's card as of ``at``; PrunedHistoryError before ``horizon``."""
        if state.horizon is not None and at < state.horizon:
            raise PrunedHistoryError(
                f"contact {state.contact_id!r} can be scored from {state.horizon.isoformat()} on, "
                f"not at {at.isoformat()}: older state was pruned",
            )
        return Scores(
            {plan.name: self.card(state, plan.position, at) for plan in self.plan.scorings}
        )

    # ---------------------------------------------------------------- pruning and merging

    def prune(self, state: ContactState) -> None:
        """Drop activities no rule can use at or after the clock, unless history is kept.

        The award and entry lists are compacted once at least half of the activities in
        them are pruned, so the amortised cost per pruned activity is constant.
        """
        if self.keep_history:
            return
        heap = state.prunes
        clock = state.clock
        while heap and heap[0][0] <= clock:
            until, key = heapq.heappop(heap)
            activity = state.activities.pop(key, None)
            if activity is not None:
                self._forget(state, key, activity, until, matched=True)
                if self.track_changes:
                    state.pruned.append(key)
                state.stale += 1
        if state.stale and state.stale >= len(state.activities):
            self._compact(state)

    def _forget(
        self,
        state: ContactState,
        key: str,
        activity: Activity,
        until: dt.datetime,
        *,
        matched: bool,
    ) -> None:
        if state.horizon is None or until > state.horizon:
            state.horizon = until
        for scoring_plan, scoring in zip(self.plan.scorings, state.scorings, strict=True):
            raw = scoring.diagnostics.pop(key, None)
            if not matched:
                raw = self._diagnostics_of(state, scoring_plan, activity)
            if raw:
                found = diagnostics_for(scoring_plan.scoring, raw)
                retained = state.retained.setdefault(scoring_plan.name, set())
                state.retained[scoring_plan.name] = set(_cap_diagnostics(retained | set(found)))

    def _diagnostics_of(
        self, state: ContactState, plan: ScoringPlan, activity: Activity
    ) -> list[RawDiagnostic]:
        """Return the diagnostics matching ``activity`` produces, without keeping its awards."""
        matcher = plan.compiled.matchers.get(activity.type)
        if matcher is None:
            return []
        awards: list[list[Any]] = [[] for _ in plan.rule_points]
        entries: list[list[Any]] = [[] for _ in plan.aggregates]
        context = plan.match_context
        matcher(activity, state.profile, context, awards, entries)
        raw = list(context.diagnostics)
        context.diagnostics.clear()
        return raw

    def _compact(self, state: ContactState) -> None:
        kept = {id(activity) for activity in state.activities.values()}
        for scoring in state.scorings:
            scoring.awards = [
                [award for award in awards if id(award[0]) in kept] for awards in scoring.awards
            ]
            scoring.entries = [
                [entry for entry in entries if id(entry[2]) in kept] for entries in scoring.entries
            ]
        state.stale = 0

    def merge(
        self,
        into: ContactState,
        source: ContactState,
        known: Callable[[str], bool],
        before: list[int],
    ) -> list[ThresholdEvent]:
        """Merge ``source`` into ``into`` as if they had always been one contact.

        Both states must be settled to the same clock. Activities move with their
        contact id changed, ``into``'s profile values win, and an activity id held by
        both counts once, keeping the activity the engine would keep. ``known`` returns
        whether ``into`` already recorded an activity key, including pruned ones, and
        ``before`` contains the totals that events are compared with.
        """
        into.profile = {**source.profile, **into.profile}
        into.profile_changed = True
        by_id = {
            activity.id: key for key, activity in into.activities.items() if activity.id is not None
        }
        for activity in source.activities.values():
            moved = attrs.evolve(activity, contact_id=into.contact_id)
            if moved.id is not None and moved.id in by_id:
                existing_key = by_id[moved.id]
                if _full_key(moved) < _full_key(into.activities[existing_key]):
                    into.activities[existing_key] = moved
                    into.added.append((existing_key, moved))
                continue
            if moved.id is not None and known("i:" + moved.id):
                continue
            key = activity_key(moved, into.next_serial)
            if moved.id is None:
                into.next_serial += 1
            into.activities[key] = moved
            into.added.append((key, moved))
        into.seen |= source.seen
        if source.horizon is not None and (into.horizon is None or source.horizon > into.horizon):
            into.horizon = source.horizon
        for name, diagnostics in source.retained.items():
            into.retained[name] = set(
                _cap_diagnostics(into.retained.get(name, set()) | diagnostics)
            )
        self.rebuild(into)
        return self.compare(
            into, before, into.clock, ("merge", None, None, None, (), source.contact_id)
        )


def _total(plan: ScoringPlan, scoring: ScoringState) -> int:
    points = plan.rule_points
    caps = plan.rule_caps
    sums = scoring.sums
    total = 0
    for rule in plan.activity_rules:
        raw = sums[rule]
        cap = caps[rule]
        if cap is not None:
            raw = min(raw, cap) if points[rule] >= 0 else max(raw, -cap)
        total += raw
    met = scoring.met
    for rule in plan.profile_rules:
        if met[rule]:
            total += points[rule]
    scoring_floor = plan.scoring.floor
    if scoring_floor is not None and total < scoring_floor:
        total = scoring_floor
    ceiling = plan.scoring.ceiling
    if ceiling is not None and total > ceiling:
        total = ceiling
    return total


def _cap_diagnostics(diagnostics: set[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Keep the first diagnostics per rule in sorted order, as the engine's score cards do."""
    per_rule: dict[str, int] = {}
    kept = []
    for diagnostic in sorted(diagnostics):
        count = per_rule.get(diagnostic.rule, 0)
        per_rule[diagnostic.rule] = count + 1
        if count < MAX_DIAGNOSTICS_PER_RULE:
            kept.append(diagnostic)
    return tuple(kept)
