"""A contact's scoring state, and the steps that change it: activities, time, profiles, merges.

`ContactState` keeps the activities some rule may still use and the aggregate entries
the compiled engine builds from them. On top of that it keeps what makes updates cheap:
each activity rule's sum of awards valid at the contact's clock, the ``when`` conditions
at the clock, the total, the persona and grade labels last reported, and a heap of
award expiries and decay steps. It keeps no award lists, because
a score card matches the kept activities again when it is built, as `Engine.score` does.
`Scorer` applies one change at a time and reports threshold events by comparing each
total with the thresholds last emitted for the contact.

Invariant: every kept activity occurred at or before the contact's clock, so the sums,
conditions and totals always describe the score at the clock.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush
from types import MappingProxyType
from typing import Any

import attrs

from leadscore.engine import card_from_state
from leadscore.errors import LeadscoreError
from leadscore.evaluation import (
    MAX_DIAGNOSTICS_PER_RULE,
    _full_key,
    diagnostics_for,
    grade_results,
)
from leadscore.model import Activity, Contact, FrozenMapping
from leadscore.runtime import EvalContext
from leadscore.scorecard import Diagnostic, ScoreCard, Scores, best_persona
from leadscore.tracking.events import (
    Cause,
    GradeChanged,
    LazyCard,
    PersonaChanged,
    ThresholdDropped,
    ThresholdReached,
    TrackerEvent,
)
from leadscore.tracking.plan import (
    DecaySpec,
    DispatchEntry,
    EnginePlan,
    ScoringPlan,
    next_condition_change,
)

__all__ = [
    "HISTORY_WIDTH",
    "ActivityKey",
    "ContactState",
    "HistoryRow",
    "Persisted",
    "PrunedHistoryError",
    "Scorer",
    "history_rows",
]

# Raw diagnostics as the runtime records them: (rule index, expression text, value, message).
RawDiagnostic = tuple[int, str, Any, str]
# An aggregate entry, as the compiled engine appends it.
Entry = tuple[dt.datetime, Any, Activity]
# An award expiry: (expires_at, tie-breaker, scoring position, rule index, activity id,
# activity type). It names the activity instead of holding it, so it holds only atomic
# values and the garbage collector stops tracking it.
Expiry = tuple[dt.datetime, int, int, int, str | None, str]
# The next value change of an award of a rule with decay: (instant, tie-breaker, scoring
# position, rule index, activity id, activity type, occurred at, value until the instant,
# expires_at). The two kinds share one heap, and their lengths differ.
DecayStep = tuple[dt.datetime, int, int, int, str | None, str, dt.datetime, int, dt.datetime | None]
# A persona or grade label last reported: ("persona", "", persona name) or ("grade", grade
# name, label). Labels that are None are left out.
Label = tuple[str, str, str]
# The key a kept activity is stored under: its id, or a per-contact serial number without one.
# The two kinds never collide because one is text and the other an int.
ActivityKey = str | int
# The HistoryEntry fields from ``cause`` on, recorded with each changed total.
HistoryDetail = tuple[Cause, str | None, str | None, str | None, tuple[str, ...], str | None]
# A history entry as stored until it is read: the HistoryEntry fields after ``contact_id``.
HistoryRow = tuple[Any, ...]
# A contact's history is kept flat, HISTORY_WIDTH values per entry (the fields of a
# HistoryRow), so recording a change allocates no object that outlives the call.
HISTORY_WIDTH = 10

# Heap entries with equal instants compare by this number, in the order they were made,
# and never by what follows it.
_next_tie_breaker = itertools.count().__next__

# The relevance and dispatch of an activity type that no rule reads.
_NO_TYPE: tuple[None, tuple[DispatchEntry, ...]] = (None, ())

# Shared empty values for the many contacts that have no profile or retained diagnostic.
# They are immutable, because states replace these values on change.
_NO_PROFILE: Mapping[str, Any] = FrozenMapping()
_NO_RETAINED: Mapping[str, frozenset[Diagnostic]] = MappingProxyType({})


class PrunedHistoryError(LeadscoreError, LookupError):
    """A score was requested for an instant whose state the tracker has already pruned."""


class ScoringState(list[int]):
    """One contact's state in one scoring.

    The list items are the sums of each rule: per ``on`` rule, the points of the awards
    valid at the clock, before the cap. They live in the state object itself, rather than
    in a list of their own, because one object fewer per contact and scoring is less work
    for the garbage collector, whose full collections visit every object a contact keeps.
    """

    __slots__ = ("condition_due", "diagnostics", "entries", "met", "raw", "total")

    # The aggregate entry lists; a scoring without aggregates shares one empty tuple.
    entries: Sequence[list[Entry]]
    met: tuple[bool, ...]
    # The total before floor and ceiling: capped sums plus the points of met conditions.
    raw: int
    total: int
    # The next instant a ``when`` condition may change without any new input.
    condition_due: dt.datetime | None
    # Activity key -> diagnostics its ``where`` conditions produced; None until one does.
    diagnostics: dict[ActivityKey, list[RawDiagnostic]] | None


def _new_scoring(plan: ScoringPlan) -> ScoringState:
    """Return the state of a contact without activities in one scoring, before its conditions."""
    # Setting the slots here rather than in __init__ skips a call through super().
    scoring = ScoringState(plan.no_sums)
    scoring.entries = [[] for _ in plan.aggregates] if plan.aggregates else ()
    scoring.met = plan.unmet
    scoring.raw = 0
    scoring.total = 0
    scoring.condition_due = None
    scoring.diagnostics = None
    return scoring


class Persisted:
    """The record `SQLiteStore` keeps with a state: its stored version and the changes since."""

    __slots__ = ("added", "history_seq", "profile_changed", "pruned", "snapshot", "version")

    def __init__(self) -> None:
        # The version stored with the contact; 0 for a contact not stored yet.
        self.version = 0
        self.added: list[tuple[ActivityKey, Activity]] = []
        self.pruned: list[ActivityKey] = []
        self.profile_changed = False
        # The sequence number of the contact's last stored history row: 0 for a new
        # contact, None until read for one loaded from the database.
        self.history_seq: int | None = 0
        # The parts of the stored state column last written, and their JSON text.
        self.snapshot: tuple[tuple[Any, ...], str] | None = None


class ContactState:
    """Everything the tracker keeps about one contact.

    ``activities`` maps keys to the activities some rule may still use, and ``seen``
    contains the ids recorded. ``reached`` contains the (scoring, threshold) pairs
    whose last emitted event was a reached one. ``horizon`` is the earliest instant
    the kept state can score exactly, or None when nothing was pruned. ``due`` is the
    next instant the score may change with time alone, or None. ``history`` receives a
    history entry per changed total, as HISTORY_WIDTH values: for `MemoryStore` it is
    the contact's history itself, for `SQLiteStore` the entries not yet saved.
    ``persisted`` is what `SQLiteStore` keeps with the state, and None for `MemoryStore`.

    ``labels`` contains the persona and grade labels last reported.

    ``profile``, ``reached``, ``labels`` and ``retained`` are immutable and replaced on change, so a
    score card snapshot can keep them.
    """

    __slots__ = (
        "activities",
        "clock",
        "contact_id",
        "due",
        "expiries",
        "history",
        "horizon",
        "labels",
        "next_serial",
        "persisted",
        "profile",
        "prune_all_at",
        "prune_at",
        "reached",
        "retained",
        "scheduled",
        "scorings",
        "seen",
        "stale",
        "unscanned",
    )

    def __init__(
        self,
        contact_id: str,
        profile: Mapping[str, Any],
        clock: dt.datetime,
        *,
        persisted: bool = True,
    ) -> None:
        self.contact_id = contact_id
        self.profile = _frozen(profile)
        self.clock = clock
        self.activities: dict[ActivityKey, Activity] = {}
        # A dict of ids to None rather than a set: CPython 3.11 does not track a dict of text
        # in the garbage collector, so a full collection does not visit every id.
        self.seen: dict[str, None] = {}
        # A tuple rather than a set: CPython 3.11 stops tracking a tuple of text at its
        # first collection. It contains at most one pair per threshold.
        self.reached: tuple[tuple[str, str], ...] = ()
        # The persona and grade labels last reported, in the engine's declaration order.
        self.labels: tuple[Label, ...] = ()
        self.expiries: list[Expiry | DecayStep] = []
        # The earliest instant some kept activity stops mattering, or None when none ever does.
        self.prune_at: dt.datetime | None = None
        # The instant by which every kept activity has stopped mattering, or None when some
        # never do.
        self.prune_all_at: dt.datetime | None = None
        # How many activities were added since `Scorer.prune` last looked at them.
        self.unscanned = 0
        self.scorings: list[ScoringState] = []
        self.due: dt.datetime | None = None
        # The instant of this contact's live entry in `MemoryStore`'s schedule, or None.
        self.scheduled: dt.datetime | None = None
        self.horizon: dt.datetime | None = None
        # Scoring name -> diagnostics of activities already pruned.
        self.retained = _NO_RETAINED
        self.next_serial = 0
        # How many pruned activities may still have entries in the aggregate lists.
        self.stale = 0
        self.persisted = Persisted() if persisted else None
        self.history: list[Any] | collections.deque[Any] = []

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


class CardSnapshot(LazyCard):
    """The inputs of one scoring's score card at one instant, captured when an event happens.

    It copies the references to the kept activities, and building the card matches
    them again, as `Engine.score` does. The profile and the retained diagnostics are
    immutable, so the snapshot keeps them as they are.
    """

    __slots__ = (
        "activities",
        "at",
        "contact_id",
        "default_timezone",
        "plan",
        "profile",
        "retained",
    )

    def __init__(
        self, plan: ScoringPlan, state: ContactState, at: dt.datetime, engine_plan: EnginePlan
    ) -> None:
        self._card = None
        self.plan = plan
        self.at = at
        self.activities = tuple(state.activities.values())
        self.contact_id = state.contact_id
        self.profile = state.profile
        self.retained = state.retained.get(plan.name)
        self.default_timezone = engine_plan.default_timezone

    def _build(self) -> ScoreCard:
        plan = self.plan
        at = self.at
        compiled = plan.compiled
        context = EvalContext(at, plan.timezone, self.default_timezone)
        awards, entries = compiled.new_state()
        kept = [activity for activity in self.activities if activity.occurred_at <= at]
        compiled.match_all(kept, self.profile, context, awards, entries)
        card = card_from_state(
            compiled, Contact(self.contact_id, self.profile), awards, entries, context
        )
        self.activities = ()
        retained = self.retained
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


class Scorer:
    """Apply changes to contact states under one engine and report the threshold events.

    The methods that change a state append the events they cause to ``events``.
    """

    def __init__(
        self,
        plan: EnginePlan,
        *,
        keep_history: bool,
        track_changes: bool,
        history_limit: int | None = 20,
    ) -> None:
        self.plan = plan
        self.keep_history = keep_history
        # Only a store that writes changes row by row needs the added and pruned keys.
        self.track_changes = track_changes
        # How many history rows a state kept in memory keeps (None: all).
        self.history_limit = history_limit

    # ---------------------------------------------------------------- building state

    def new_contact(
        self, contact_id: str, profile: Mapping[str, Any], clock: dt.datetime
    ) -> ContactState:
        """Return the state of a contact with no activities, evaluated at ``clock``."""
        state = ContactState(contact_id, profile, clock, persisted=self.track_changes)
        if not self.track_changes:
            limit = self.history_limit
            state.history = collections.deque(
                maxlen=None if limit is None else limit * HISTORY_WIDTH
            )
        # What `rebuild` computes for a state without activities.
        scorings = []
        for plan in self.plan.scorings:
            scoring = _new_scoring(plan)
            if plan.profile_rules:
                self._evaluate_conditions(state, plan, scoring, clock)
                scoring.raw = _raw_total(plan, scoring)
            scoring.total = _clamp(plan, scoring.raw)
            scorings.append(scoring)
        state.scorings = scorings
        if self.plan.conditional:
            state.due = state.next_due()
        return state

    def start(self, state: ContactState, cause: Cause, events: list[TrackerEvent]) -> None:
        """Record a new contact's totals as changes from 0, with events for thresholds they meet."""
        clock = state.clock
        scorings = state.scorings
        for plan in self.plan.scorings:
            total = scorings[plan.position].total
            if total:
                state.history.extend(
                    (plan.name, clock, 0, total, cause, None, None, None, (), None)
                )
                if bisect_right(plan.threshold_points, total):
                    self._crossings(state, plan, 0, total, clock, cause, events)
            elif plan.threshold_points and plan.threshold_points[0] <= 0:
                # A threshold at 0 or below is reached by a new contact's total of 0.
                self._crossings(state, plan, 0, total, clock, cause, events)
        if self.plan.labelled:
            self._relabel(state, clock, cause, events)

    def rebuild(self, state: ContactState) -> None:
        """Match every kept activity again and recompute the state at the clock.

        Costs time in proportion to the kept activities. Used after a profile change, a
        merge, a rule change and when a contact is loaded from a store.
        """
        plan = self.plan
        at = state.clock
        state.scorings = scorings = [_new_scoring(scoring) for scoring in plan.scorings]
        state.stale = 0
        profile = state.profile
        # Awards are matched into lists that live only for this rebuild.
        awards: list[list[list[Any]]] = [
            [[] for _ in scoring.rule_points] for scoring in plan.scorings
        ]
        for key, activity in state.activities.items():
            for position, matcher in plan.dispatch.get(activity.type, ()):
                scoring_plan = plan.scorings[position]
                scoring = scorings[position]
                context = scoring_plan.match_context
                matcher(activity, profile, context, awards[position], scoring.entries)
                if context.diagnostics:
                    if scoring.diagnostics is None:
                        scoring.diagnostics = {}
                    scoring.diagnostics[key] = list(context.diagnostics)
                    context.diagnostics.clear()

        expiries: list[Expiry | DecayStep] = []
        for scoring_plan, scoring in zip(plan.scorings, scorings, strict=True):
            if state.activities:
                position = scoring_plan.position
                for rule in scoring_plan.activity_rules:
                    points = scoring_plan.rule_points[rule]
                    decay = scoring_plan.rule_decays[rule]
                    total = 0
                    for activity, expires_at in awards[position][rule]:
                        if expires_at is not None and at >= expires_at:
                            continue
                        if decay is not None:
                            value, step = _decay_step(
                                decay,
                                position,
                                rule,
                                activity.id,
                                activity.type,
                                activity.occurred_at,
                                expires_at,
                                at,
                            )
                            total += value
                            if step is not None:
                                expiries.append(step)
                            continue
                        total += points
                        if expires_at is not None:
                            expiries.append(
                                (
                                    expires_at,
                                    _next_tie_breaker(),
                                    position,
                                    rule,
                                    activity.id,
                                    activity.type,
                                )
                            )
                    scoring[rule] = total
            self._evaluate_conditions(state, scoring_plan, scoring, at)
            scoring.raw = _raw_total(scoring_plan, scoring)
            scoring.total = _clamp(scoring_plan, scoring.raw)
        heapify(expiries)
        state.expiries = expiries
        state.due = state.next_due()

        self._scan(state, None)
        state.unscanned = len(state.activities)

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

    def add_activity(
        self, state: ContactState, activity: Activity, events: list[TrackerEvent]
    ) -> None:
        """Add an activity that occurred at or before the contact's clock.

        Costs time in proportion to the rules and aggregates that read the activity's
        type, plus one evaluation of the ``when`` conditions of each scoring whose
        aggregates the activity feeds. Only a changed total that crosses a threshold
        builds events.
        """
        plan = self.plan
        at = state.clock
        activity_id = activity.id
        key: ActivityKey
        if activity_id is None:
            key = state.next_serial
            state.next_serial += 1
        else:
            key = activity_id
            state.seen[activity_id] = None
        persisted = state.persisted
        if persisted is not None:
            persisted.added.append((key, activity))

        activity_type = activity.type
        exact, dispatch = plan.types.get(activity_type, _NO_TYPE)
        until: dt.datetime | None
        if exact is None:
            until = plan.relevant_until(activity)
        else:
            try:
                until = activity.occurred_at + exact
            except OverflowError:
                # Past the last instant a datetime can hold: the activity matters for good.
                until = None
        if until is not None:
            if until <= at and not self.keep_history:
                # No rule can use it any more; only the horizon and its diagnostics change.
                self._forget(state, key, activity, until)
                if persisted is not None:
                    persisted.pruned.append(key)
                return
            if state.prune_at is None or until < state.prune_at:
                state.prune_at = until
        # A first activity, one that never goes or a later instant sets ``prune_all_at``.
        latest = state.prune_all_at
        if not state.activities or (latest is not None and (until is None or until > latest)):
            state.prune_all_at = until
        state.activities[key] = activity
        state.unscanned += 1

        if not dispatch:
            return
        cause: Cause = "late_activity" if activity.occurred_at < at else "activity"
        profile = state.profile
        scorings = state.scorings
        changed = False
        for scoring_plan, matcher, rules, aggregates in dispatch:
            position = scoring_plan.position
            scoring = scorings[position]
            entries = scoring.entries
            context = scoring_plan.match_context
            # The matcher appends (activity, expires_at) to ``awards[rule]`` for each rule
            # the activity meets. Those lists are the plan's scratch lists, emptied below.
            awards = scoring_plan.scratch_awards
            entry_counts = [len(entries[index]) for index in aggregates] if aggregates else ()
            try:
                matcher(activity, profile, context, awards, entries)
            except BaseException:
                for found in awards:
                    found.clear()
                raise
            if context.diagnostics:
                if scoring.diagnostics is None:
                    scoring.diagnostics = {}
                scoring.diagnostics[key] = list(context.diagnostics)
                context.diagnostics.clear()

            raw = scoring.raw
            moved = False
            for rule, points, cap, decay in rules:
                found = awards[rule]
                if not found:
                    continue
                expires_at = found[0][1]
                found.clear()
                if expires_at is not None and expires_at <= at:
                    continue
                if decay is not None:
                    # The award adds its value at the clock, and its next decay step, not
                    # an expiry, takes the value away again.
                    points, step = _decay_step(
                        decay,
                        position,
                        rule,
                        activity_id,
                        activity_type,
                        activity.occurred_at,
                        expires_at,
                        at,
                    )
                    if step is not None:
                        heappush(state.expiries, step)
                        if state.due is None or step[0] < state.due:
                            state.due = step[0]
                    expires_at = None
                before = scoring[rule]
                scoring[rule] = after = before + points
                # The capped sums, with min() and max() spelled out because this runs per award.
                if cap is None:
                    raw += points
                elif points >= 0:
                    raw += (after if after < cap else cap) - (before if before < cap else cap)
                else:
                    raw += (after if after > -cap else -cap) - (before if before > -cap else -cap)
                moved = True
                if expires_at is not None:
                    heappush(
                        state.expiries,
                        (
                            expires_at,
                            _next_tie_breaker(),
                            position,
                            rule,
                            activity_id,
                            activity_type,
                        ),
                    )
                    if state.due is None or expires_at < state.due:
                        state.due = expires_at
            if scoring_plan.group_caps and moved:
                # A rule in a group changes the total through its group's capped sum.
                raw = _raw_total(scoring_plan, scoring)
            scoring.raw = raw
            if aggregates and any(
                len(entries[index]) != count
                for index, count in zip(aggregates, entry_counts, strict=True)
            ):
                self._evaluate_conditions(state, scoring_plan, scoring, at)
                scoring.raw = raw = _raw_total(scoring_plan, scoring)
                state.due = state.next_due()
                moved = True
            if not moved:
                continue

            previous = scoring.total
            total = raw
            if scoring_plan.floor is not None and total < scoring_plan.floor:
                total = scoring_plan.floor
            if scoring_plan.ceiling is not None and total > scoring_plan.ceiling:
                total = scoring_plan.ceiling
            if total == previous:
                continue
            scoring.total = total
            changed = True
            state.history.extend(
                (
                    scoring_plan.name,
                    at,
                    previous,
                    total,
                    cause,
                    activity_id,
                    activity_type,
                    None,
                    (),
                    None,
                )
            )
            # The thresholds last emitted always match ``previous`` here, so a threshold was
            # crossed exactly when the two totals have different counts of thresholds below them.
            points_at = scoring_plan.threshold_points
            if bisect_right(points_at, previous) != bisect_right(points_at, total):
                self._crossings(state, scoring_plan, previous, total, at, cause, events)
        if changed and plan.labelled:
            self._relabel(state, at, cause, events)

    def update_profile(
        self, state: ContactState, changes: Mapping[str, Any], events: list[TrackerEvent]
    ) -> None:
        """Merge ``changes`` into the profile, None removing a field, and rescore at the clock."""
        before = state.totals()
        profile = dict(state.profile)
        for field, value in changes.items():
            if value is None:
                profile.pop(field, None)
            else:
                profile[field] = value
        state.profile = _frozen(profile)
        if state.persisted is not None:
            state.persisted.profile_changed = True
        self.rebuild(state)
        history: HistoryDetail = ("profile", None, None, None, tuple(sorted(changes)), None)
        self.compare(state, before, state.clock, history, events)

    def settle(self, state: ContactState, to: dt.datetime, events: list[TrackerEvent]) -> None:
        """Move the contact's clock to ``to``, applying each expiry and time-dependent change.

        Each change is applied at its own instant and its events carry that instant.
        Costs time in proportion to the expiries and condition checks due. The caller
        prunes afterwards.
        """
        if to <= state.clock:
            return
        due = state.due
        if due is None or due > to:
            state.clock = to
            return
        plans = self.plan.scorings
        conditional = self.plan.conditional
        scorings = state.scorings
        heap = state.expiries
        labelled = self.plan.labelled
        while due is not None and due <= to:
            state.clock = due
            # Scoring position -> (cause, rule, activity id, activity type) of its first
            # expired or decayed award, or None for a changed condition.
            expired: dict[int, tuple[Cause, int, str | None, str] | None] = {}
            while heap and heap[0][0] <= due:
                expiry = heappop(heap)
                position = expiry[2]
                rule = expiry[3]
                scoring_plan = plans[position]
                scoring = scorings[position]
                points = scoring_plan.rule_points[rule]
                cap = scoring_plan.rule_caps[rule]
                if len(expiry) == 6:
                    change = -points
                    cause: Cause = "expiry"
                else:
                    change, cause = self._decay(state, expiry, due)
                before = scoring[rule]
                scoring[rule] = after = before + change
                if cap is None:
                    scoring.raw += change
                elif points >= 0:
                    scoring.raw += (after if after < cap else cap) - (
                        before if before < cap else cap
                    )
                else:
                    scoring.raw += (after if after > -cap else -cap) - (
                        before if before > -cap else -cap
                    )
                if position not in expired:
                    expired[position] = (cause, rule, expiry[4], expiry[5])
            for position in conditional:
                scoring = scorings[position]
                if scoring.condition_due is not None and scoring.condition_due <= due:
                    self._evaluate_conditions(state, plans[position], scoring, due)
                    scoring.raw = _raw_total(plans[position], scoring)
                    expired.setdefault(position, None)
            relabel: Cause | None = None
            for position in sorted(expired) if len(expired) > 1 else expired:
                scoring_plan = plans[position]
                scoring = scorings[position]
                if scoring_plan.group_caps:
                    # A rule in a group changes the total through its group's capped sum.
                    scoring.raw = _raw_total(scoring_plan, scoring)
                previous = scoring.total
                total = scoring.raw
                if scoring_plan.floor is not None and total < scoring_plan.floor:
                    total = scoring_plan.floor
                if scoring_plan.ceiling is not None and total > scoring_plan.ceiling:
                    total = scoring_plan.ceiling
                if total == previous:
                    continue
                scoring.total = total
                first = expired[position]
                if first is None:
                    cause = "time"
                    state.history.extend(
                        (scoring_plan.name, due, previous, total, cause, None, None, None, (), None)
                    )
                else:
                    cause, rule, activity_id, activity_type = first
                    state.history.extend(
                        (
                            scoring_plan.name,
                            due,
                            previous,
                            total,
                            cause,
                            activity_id,
                            activity_type,
                            scoring_plan.rule_names[rule],
                            (),
                            None,
                        )
                    )
                # As in add_activity: a threshold was crossed exactly when the two totals
                # have different counts of thresholds below them.
                points_at = scoring_plan.threshold_points
                if bisect_right(points_at, previous) != bisect_right(points_at, total):
                    self._crossings(state, scoring_plan, previous, total, due, cause, events)
                if relabel is None:
                    relabel = cause
            if labelled and relabel is not None:
                self._relabel(state, due, relabel, events)
            if conditional:
                due = state.next_due()
            elif heap:
                due = heap[0][0]
            else:
                due = None
        state.due = due
        state.clock = to

    def _decay(self, state: ContactState, step: DecayStep, at: dt.datetime) -> tuple[int, Cause]:
        """Apply a due decay step at ``at``: return the change of the award's value and its cause.

        The award's next step goes on the heap, unless its value stays as it is for good.
        """
        _, _, position, rule, activity_id, activity_type, occurred_at, value, expires_at = step
        if expires_at is not None and at >= expires_at:
            return -value, "expiry"
        decay = self.plan.scorings[position].rule_decays[rule]
        assert decay is not None
        after, following = _decay_step(
            decay, position, rule, activity_id, activity_type, occurred_at, expires_at, at
        )
        if following is not None:
            heappush(state.expiries, following)
        return after - value, "decay"

    # ---------------------------------------------------------------- events

    def _crossings(
        self,
        state: ContactState,
        plan: ScoringPlan,
        previous: int,
        after: int,
        at: dt.datetime,
        cause: Cause,
        events: list[TrackerEvent],
    ) -> None:
        """Add the events of the thresholds whose last emitted state ``after`` changes.

        Reached events come lowest threshold first and dropped events highest first, the
        order in which a rising or falling score passes them.
        """
        name = plan.name
        reached = state.reached
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        card: LazyCard | None = None
        falling: list[TrackerEvent] = []
        for threshold, pair in plan.threshold_pairs:
            now_reached = after >= threshold.points
            if now_reached == (pair in reached):
                continue
            if card is None:
                card = CardSnapshot(plan, state, at, self.plan)
            if now_reached:
                added.append(pair)
                events.append(
                    ThresholdReached(
                        state.contact_id,
                        name,
                        threshold,
                        previous,
                        after,
                        at,
                        cause,
                        card,
                        state.profile,
                    )
                )
            else:
                removed.append(pair)
                falling.append(
                    ThresholdDropped(
                        state.contact_id,
                        name,
                        threshold,
                        previous,
                        after,
                        at,
                        cause,
                        card,
                        state.profile,
                    )
                )
        if removed:
            reached = tuple(pair for pair in reached if pair not in removed)
        if added or removed:
            state.reached = (*reached, *added)
        if falling:
            falling.reverse()
            events += falling

    def compare(
        self,
        state: ContactState,
        before: list[int],
        at: dt.datetime,
        history: HistoryDetail,
        events: list[TrackerEvent],
    ) -> None:
        """Compare every scoring's total with ``before`` and the thresholds last emitted.

        Unlike the incremental steps this also checks scorings whose total did not move,
        because after new rules the thresholds themselves may have moved.
        """
        for plan, scoring in zip(self.plan.scorings, state.scorings, strict=True):
            previous = before[plan.position]
            after = scoring.total
            if after != previous:
                state.history.extend((plan.name, at, previous, after, *history))
            if state.reached or bisect_right(plan.threshold_points, after):
                # Otherwise no threshold is reached, before or after.
                self._crossings(state, plan, previous, after, at, history[0], events)
        # Always, because new rules may have dropped the personas or grades of old labels.
        self._relabel(state, at, history[0], events)

    def _relabel(
        self, state: ContactState, at: dt.datetime, cause: Cause, events: list[TrackerEvent]
    ) -> None:
        """Report the persona and grade labels the totals give now, where they changed.

        Labels of personas and grades the rules no longer have are forgotten without
        events, as thresholds are.
        """
        plan = self.plan
        scorings = state.scorings
        labels: list[Label] = []
        persona = None
        if plan.personas:
            persona = best_persona(
                (persona_plan.name, scorings[persona_plan.position].total, points)
                for persona_plan, points in plan.persona_points
            )
            if persona is not None:
                labels.append(("persona", "", persona))
        grades: list[str | None] = []
        if plan.grades:
            # Grades read scoring totals only, which the first scoring_count states hold.
            totals = {
                scoring_plan.name: scorings[scoring_plan.position].total
                for scoring_plan in plan.scorings[: plan.scoring_count]
            }
            for name, result in grade_results(plan.grades, totals).items():
                grades.append(result.label)
                if result.label is not None:
                    labels.append(("grade", name, result.label))
        found = tuple(labels)
        old = state.labels
        if found == old:
            return
        state.labels = found
        before = {(kind, name): value for kind, name, value in old}
        contact_id = state.contact_id
        if plan.personas and before.get(("persona", "")) != persona:
            events.append(
                PersonaChanged(contact_id, before.get(("persona", "")), persona, at, cause)
            )
        for grade, label in zip(plan.grades, grades, strict=True):
            previous = before.get(("grade", grade.name))
            if previous != label:
                fit_plan = plan.scorings[plan.positions[grade.fit]]
                engagement_plan = plan.scorings[plan.positions[grade.engagement]]
                events.append(
                    GradeChanged(
                        contact_id,
                        grade.name,
                        previous,
                        label,
                        at,
                        cause,
                        CardSnapshot(fit_plan, state, at, plan),
                        CardSnapshot(engagement_plan, state, at, plan),
                        state.profile,
                    )
                )

    # ---------------------------------------------------------------- reading

    def card(self, state: ContactState, position: int, at: dt.datetime) -> ScoreCard:
        """Return the score card of one scoring as of ``at`` from the kept state."""
        return CardSnapshot(self.plan.scorings[position], state, at, self.plan).get()

    def scores(self, state: ContactState, at: dt.datetime) -> Scores:
        """Return every scoring's and persona's card as of ``at``, and the grades.

        Raises PrunedHistoryError before ``horizon``.
        """
        if state.horizon is not None and at < state.horizon:
            raise PrunedHistoryError(
                f"contact {state.contact_id!r} can be scored from {state.horizon.isoformat()} on, "
                f"not at {at.isoformat()}: older state was pruned",
            )
        plan = self.plan
        cards = {
            scoring.name: self.card(state, scoring.position, at)
            for scoring in plan.scorings[: plan.scoring_count]
        }
        if not plan.labelled:
            return Scores(cards)
        personas = {
            persona.name: self.card(state, persona.position, at) for persona in plan.personas
        }
        totals = {name: card.total for name, card in cards.items()}
        totals.update((name, card.total) for name, card in personas.items())
        return Scores(cards, personas, grade_results(plan.grades, totals))

    # ---------------------------------------------------------------- pruning and merging

    def prune(self, state: ContactState) -> None:
        """Drop activities no rule can use at or after the clock, unless history is kept.

        It looks at the kept activities only once the clock has passed ``prune_at`` and
        at least half as many activities were added since it last looked as are kept, so
        the cost per activity added stays constant. Pruning later than possible keeps
        more state, but changes no score.
        """
        prune_at = state.prune_at
        clock = state.clock
        if self.keep_history or prune_at is None or prune_at > clock:
            return
        activities = state.activities
        if state.unscanned * 2 < len(activities):
            return
        prune_all_at = state.prune_all_at
        if prune_all_at is not None and prune_all_at <= clock:
            # Every kept activity goes, so none needs its own instant.
            gone = list(activities.items())
            activities.clear()
            if state.horizon is None or prune_all_at > state.horizon:
                state.horizon = prune_all_at
            state.prune_at = state.prune_all_at = None
        else:
            gone = self._scan(state, clock)
        for scoring in state.scorings:
            if scoring.diagnostics:
                for key, activity in gone:
                    self._retain(state, key, activity, matched=True)
                break
        if state.persisted is not None:
            state.persisted.pruned.extend(key for key, _ in gone)
        state.stale += len(gone)
        state.unscanned = 0
        if self.plan.aggregated and state.stale >= len(activities):
            self._compact(state)

    def _scan(
        self, state: ContactState, clock: dt.datetime | None
    ) -> list[tuple[ActivityKey, Activity]]:
        """Remove the activities that stop mattering by ``clock`` (None: none) and return them.

        Sets ``prune_at``, ``prune_all_at`` and the horizon from what it finds.
        """
        relevant_until = self.plan.relevant_until
        activities = state.activities
        gone: list[tuple[ActivityKey, Activity]] = []
        prune_at = prune_all_at = None
        never = False
        for key, activity in list(activities.items()):
            until = relevant_until(activity)
            if until is None:
                never = True
            elif clock is not None and until <= clock:
                gone.append((key, activity))
                del activities[key]
                if state.horizon is None or until > state.horizon:
                    state.horizon = until
            else:
                if prune_at is None or until < prune_at:
                    prune_at = until
                if prune_all_at is None or until > prune_all_at:
                    prune_all_at = until
        state.prune_at = prune_at
        state.prune_all_at = None if never else prune_all_at
        return gone

    def _forget(
        self, state: ContactState, key: ActivityKey, activity: Activity, until: dt.datetime
    ) -> None:
        """Account for an activity that is not kept because no rule can use it any more."""
        if state.horizon is None or until > state.horizon:
            state.horizon = until
        self._retain(state, key, activity, matched=False)

    def _retain(
        self, state: ContactState, key: ActivityKey, activity: Activity, *, matched: bool
    ) -> None:
        """Move a forgotten activity's diagnostics to the retained ones of each scoring."""
        for scoring_plan, scoring in zip(self.plan.scorings, state.scorings, strict=True):
            if matched:
                if not scoring.diagnostics:
                    continue
                raw = scoring.diagnostics.pop(key, None)
            else:
                raw = self._diagnostics_of(state, scoring_plan, activity)
            if raw:
                found = diagnostics_for(scoring_plan.scoring, raw)
                retained = state.retained.get(scoring_plan.name, frozenset())
                state.retained = {
                    **state.retained,
                    scoring_plan.name: frozenset(_cap_diagnostics(retained | set(found))),
                }

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
        """Remove the entries of pruned activities from the aggregate lists."""
        activities = state.activities
        kept = {id(activity) for activity in activities.values()}
        for scoring in state.scorings:
            for entries in scoring.entries:
                if not activities:
                    entries.clear()
                else:
                    entries[:] = [entry for entry in entries if id(entry[2]) in kept]
        state.stale = 0

    def merge(
        self,
        into: ContactState,
        source: ContactState,
        known: Callable[[str], bool],
        before: list[int],
        events: list[TrackerEvent],
    ) -> None:
        """Merge ``source`` into ``into`` as if they had always been one contact.

        Both states must be settled to the same clock. Activities move with their
        contact id changed, ``into``'s profile values win, and an activity id held by
        both counts once, keeping the activity the engine would keep. ``known`` returns
        whether ``into`` already recorded an activity id, including pruned ones, and
        ``before`` contains the totals that events are compared with.
        """
        into.profile = _frozen({**source.profile, **into.profile})
        persisted = into.persisted
        if persisted is not None:
            persisted.profile_changed = True
        by_id = {
            activity.id: key for key, activity in into.activities.items() if activity.id is not None
        }
        for activity in source.activities.values():
            moved = attrs.evolve(activity, contact_id=into.contact_id)
            if moved.id is not None and moved.id in by_id:
                existing_key = by_id[moved.id]
                if _full_key(moved) < _full_key(into.activities[existing_key]):
                    into.activities[existing_key] = moved
                    if persisted is not None:
                        persisted.added.append((existing_key, moved))
                continue
            key: ActivityKey
            if moved.id is None:
                key = into.next_serial
                into.next_serial += 1
            elif known(moved.id):
                continue
            else:
                key = moved.id
            into.activities[key] = moved
            if persisted is not None:
                persisted.added.append((key, moved))
        into.seen.update(source.seen)
        if source.horizon is not None and (into.horizon is None or source.horizon > into.horizon):
            into.horizon = source.horizon
        if source.retained:
            retained = dict(into.retained)
            for name, diagnostics in source.retained.items():
                retained[name] = frozenset(
                    _cap_diagnostics(retained.get(name, frozenset()) | diagnostics)
                )
            into.retained = retained
        self.rebuild(into)
        self.compare(
            into, before, into.clock, ("merge", None, None, None, (), source.contact_id), events
        )


def history_rows(history: Iterable[Any]) -> list[HistoryRow]:
    """Return the entries of a flat history, HISTORY_WIDTH values each, as rows."""
    values = list(history)
    return [
        tuple(values[start : start + HISTORY_WIDTH])
        for start in range(0, len(values), HISTORY_WIDTH)
    ]


def _frozen(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``profile`` as a read-only mapping, shared with other contacts when empty."""
    if profile.__class__ is FrozenMapping:
        return profile
    return FrozenMapping(profile) if profile else _NO_PROFILE


def _decay_step(
    decay: DecaySpec,
    position: int,
    rule: int,
    activity_id: str | None,
    activity_type: str,
    occurred_at: dt.datetime,
    expires_at: dt.datetime | None,
    at: dt.datetime,
) -> tuple[int, DecayStep | None]:
    """Return an award's decayed value at ``at`` and the heap entry of its next change.

    The next change is the next instant the decayed value differs, or the award's
    expiry if that comes first; None when the value stays as it is for good.
    """
    value, change = decay.value_and_next(occurred_at, at)
    if expires_at is not None and (change is None or change >= expires_at):
        if value == 0:
            return value, None
        change = expires_at
    if change is None:
        return value, None
    step: DecayStep = (
        change,
        _next_tie_breaker(),
        position,
        rule,
        activity_id,
        activity_type,
        occurred_at,
        value,
        expires_at,
    )
    return value, step


def _raw_total(plan: ScoringPlan, scoring: ScoringState) -> int:
    """Return the total before floor and ceiling, as the engine adds it up.

    Each ``on`` rule adds its capped sum and each met ``when`` rule its points, to the
    total or to the sum of its group. Each group's sum is capped at its cap, up or down,
    and added to the total.
    """
    points = plan.rule_points
    caps = plan.rule_caps
    groups = plan.rule_groups
    group_sums = [0] * len(plan.group_caps)
    total = 0
    for rule in plan.activity_rules:
        raw = scoring[rule]
        cap = caps[rule]
        if cap is not None:
            raw = min(raw, cap) if points[rule] >= 0 else max(raw, -cap)
        group = groups[rule]
        if group is None:
            total += raw
        else:
            group_sums[group] += raw
    met = scoring.met
    for rule in plan.profile_rules:
        if met[rule]:
            group = groups[rule]
            if group is None:
                total += points[rule]
            else:
                group_sums[group] += points[rule]
    for group_sum, cap in zip(group_sums, plan.group_caps, strict=True):
        total += max(-cap, min(group_sum, cap))
    return total


def _clamp(plan: ScoringPlan, raw: int) -> int:
    """Return the total after the scoring's floor and ceiling."""
    total = raw
    if plan.floor is not None and total < plan.floor:
        total = plan.floor
    if plan.ceiling is not None and total > plan.ceiling:
        total = plan.ceiling
    return total


def _cap_diagnostics(
    diagnostics: set[Diagnostic] | frozenset[Diagnostic],
) -> tuple[Diagnostic, ...]:
    """Keep the first diagnostics per rule in sorted order, as the engine's score cards do."""
    per_rule: dict[str, int] = {}
    kept = []
    for diagnostic in sorted(diagnostics):
        count = per_rule.get(diagnostic.rule, 0)
        per_rule[diagnostic.rule] = count + 1
        if count < MAX_DIAGNOSTICS_PER_RULE:
            kept.append(diagnostic)
    return tuple(kept)
