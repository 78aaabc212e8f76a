"""The Tracker: score activity streams as they arrive, with durable state and threshold events.

The clock. Every contact has a clock: the latest of the instants its activities
occurred at, the instants given to `Tracker.update_profile`, and the tracker's own
clock, which only `Tracker.advance` moves. A contact's scores and levels describe the
instant on its clock. Time moves only through data and `advance`, never through the
wall clock, so replaying the same calls gives the same events.

Late data. An activity that occurred before its contact's clock is scored as if it had
arrived on time: ``tracker.scores(c, at)`` equals ``engine.score(contact, activities,
at)`` for every instant the kept state covers. Its events carry the contact's clock,
because that is when the tracker learned of the change. A crossing that started and
ended before the clock is not reported.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from leadscore.engine import Engine
from leadscore.errors import DataError, LeadscoreError
from leadscore.model import Activity
from leadscore.scorecard import Scores
from leadscore.tracking.events import Cause, HistoryEntry, TrackerEvent
from leadscore.tracking.plan import EnginePlan
from leadscore.tracking.state import ContactState, Scorer
from leadscore.tracking.stores import MemoryStore, SQLiteStore, Transaction

__all__ = ["EventHook", "RulesChangedError", "Tracker"]

logger = logging.getLogger("leadscore.tracking")

EventHook = Callable[[Transaction, Sequence[TrackerEvent]], None]
"""Called with the open store transaction and the events of one tracker call, before commit."""

UTC = dt.UTC


class RulesChangedError(LeadscoreError, RuntimeError):
    """The store was scored under other rules than the tracker's engine."""


class Tracker:
    """Score a stream of activities incrementally and report threshold crossings.

    Example::

        tracker = Tracker(leadscore.compile(rules))
        events = tracker.record(Activity("c-1", "page_visit", at, {"url": "/pricing"}, id="e-1"))

    ``store`` is a `MemoryStore` (the default) or an `SQLiteStore`. With
    ``keep_history=False`` state no rule can use any more is pruned, so
    ``scores(c, at)`` raises `PrunedHistoryError` for instants before the pruned
    state, and `replace_engine` rescores only the activities still kept.
    ``history_limit`` is how many score changes `history` keeps per contact (default 20; None:
    all). ``on_events`` is called with ``(transaction, events)`` inside the store's
    transaction, before it commits, whenever a call causes events.

    Events are `ThresholdReached` and `ThresholdDropped`, and with personas or grades
    in the rules also `PersonaChanged` and `GradeChanged`. Every method takes the
    tracker's lock, so one tracker can serve many threads.
    """

    def __init__(
        self,
        engine: Engine,
        store: MemoryStore | SQLiteStore | None = None,
        *,
        keep_history: bool = False,
        history_limit: int | None = 20,
        on_events: EventHook | None = None,
    ) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"expected a leadscore.Engine, got {type(engine).__name__}")
        if history_limit is not None and history_limit < 0:
            raise ValueError(f"history_limit must be None or at least 0, not {history_limit!r}")
        self._store: MemoryStore | SQLiteStore = MemoryStore() if store is None else store
        self._store.history_limit = history_limit
        self._keep_history = keep_history
        self._history_limit = history_limit
        self._durable = isinstance(self._store, SQLiteStore)
        # The memory store, for the fast path of `record` that skips the transaction object.
        self._memory = self._store if isinstance(self._store, MemoryStore) else None
        self._on_events = on_events
        self._lock = threading.RLock()
        self._plan = EnginePlan(engine)
        self._scorer = self._new_scorer(self._plan)
        with self._store.transaction() as transaction:
            _, fingerprint = transaction.meta()
            if fingerprint is None:
                transaction.set_fingerprint(self._plan.fingerprint)
            elif fingerprint != self._plan.fingerprint:
                raise RulesChangedError(
                    "the store holds scores computed under other rules; create the tracker with "
                    "the rules the store was scored with, then call replace_engine(new_engine)"
                )

    # ---------------------------------------------------------------- properties

    @property
    def engine(self) -> Engine:
        """The engine scoring the contacts."""
        return self._plan.engine

    @property
    def store(self) -> MemoryStore | SQLiteStore:
        """The store holding the contact states."""
        return self._store

    @property
    def now(self) -> dt.datetime | None:
        """The tracker's clock: the latest instant given to `advance`, or None before the first."""
        with self._lock, self._store.transaction(write=False) as transaction:
            return transaction.meta()[0]

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            self._store.close()

    # ---------------------------------------------------------------- recording

    def record(self, activity: Activity) -> list[TrackerEvent]:
        """Score one activity and return the threshold events it causes.

        An activity after its contact's clock first moves that clock to its instant, so
        expiries and time-dependent changes in between come first, each at its own
        instant. An activity id the contact already recorded is ignored, whatever its
        content, and returns no events.
        """
        if activity.__class__ is not Activity or activity.occurred_at.tzinfo is None:
            activity = self._prepare(activity)
        events: list[TrackerEvent] = []
        with self._lock:
            memory = self._memory
            if memory is not None:
                self._record_in_memory(memory, activity, events)
                if events and self._on_events is not None:
                    with memory.transaction() as transaction:
                        self._on_events(transaction, events)
                return events
            with self._store.transaction() as transaction:
                clock = self._check_meta(transaction)
                state = self._record_one(transaction, activity, clock, None, events)
                self._scorer.prune(state)
                transaction.save(state)
                self._emit(transaction, events)
        return events

    def record_many(self, activities: Iterable[Activity]) -> list[TrackerEvent]:
        """Score activities in order, in one store transaction; returns their events in order."""
        prepared = [self._prepare(activity) for activity in activities]
        events: list[TrackerEvent] = []
        with self._lock:
            store = self._store
            if isinstance(store, MemoryStore):
                for activity in prepared:
                    self._record_in_memory(store, activity, events)
                if events and self._on_events is not None:
                    with store.transaction() as transaction:
                        self._on_events(transaction, events)
                return events
            with store.transaction() as transaction:
                clock = self._check_meta(transaction)
                transaction.prefetch(prepared)
                dirty: dict[str, ContactState] = {}
                for activity in prepared:
                    state = self._record_one(transaction, activity, clock, dirty, events)
                    dirty[state.contact_id] = state
                for state in dirty.values():
                    self._scorer.prune(state)
                transaction.save_many(dirty.values())
                self._emit(transaction, events)
        return events

    def _record_in_memory(
        self, store: MemoryStore, activity: Activity, events: list[TrackerEvent]
    ) -> None:
        """Apply one activity to a `MemoryStore`, which needs no transaction or save.

        It does what `_record_one`, `Scorer.prune` and `MemoryTransaction.save` do
        together, with the store's tables read directly.
        """
        if store.fingerprint != self._plan.fingerprint:
            self._check_meta(store.transaction())
        scorer = self._scorer
        contact_id = activity.contact_id
        if store.aliases:
            resolved = store.aliases.get(contact_id, contact_id)
            if resolved != contact_id:
                activity = attrs.evolve(activity, contact_id=resolved)
                contact_id = resolved
        state = store.states.get(contact_id)
        clock = store.clock
        occurred_at = activity.occurred_at
        if state is None:
            start = occurred_at if clock is None or occurred_at > clock else clock
            state = self._create(contact_id, {}, start, "activity", events)
            store.states[contact_id] = state
            scorer.add_activity(state, activity, events)
        else:
            if clock is not None and clock > state.clock:
                scorer.settle(state, clock, events)
            if activity.id is None or activity.id not in state.seen:
                if occurred_at > state.clock:
                    # Settling is needed only when a change is due on the way.
                    due = state.due
                    if due is not None and due <= occurred_at:
                        scorer.settle(state, occurred_at, events)
                    else:
                        state.clock = occurred_at
                prune_at = state.prune_at
                if prune_at is not None and prune_at <= state.clock:
                    scorer.prune(state)
                scorer.add_activity(state, activity, events)
            else:
                scorer.prune(state)
        due = state.due
        if due is not None and (state.scheduled is None or due < state.scheduled):
            store.schedule(state, due)

    def _record_one(
        self,
        transaction: Any,
        activity: Activity,
        clock: dt.datetime | None,
        dirty: dict[str, ContactState] | None,
        events: list[TrackerEvent],
    ) -> ContactState:
        """Apply one activity, ignoring a repeated id, and return the contact's state."""
        contact_id = transaction.resolve(activity.contact_id)
        if contact_id != activity.contact_id:
            activity = attrs.evolve(activity, contact_id=contact_id)
        state = dirty.get(contact_id) if dirty is not None else None
        if state is None:
            state = self._load(transaction, contact_id, clock, events)
        if state is None:
            start = activity.occurred_at if clock is None else max(clock, activity.occurred_at)
            state = self._create(contact_id, {}, start, "activity", events)
        elif activity.id is not None and transaction.known(state, activity.id):
            return state
        elif activity.occurred_at > state.clock:
            self._scorer.settle(state, activity.occurred_at, events)
        self._scorer.add_activity(state, activity, events)
        return state

    def _prepare(self, activity: Activity) -> Activity:
        if activity.__class__ is not Activity and not isinstance(activity, Activity):
            raise TypeError(f"expected leadscore.Activity, got {type(activity).__name__}")
        if activity.occurred_at.tzinfo is not None:
            return activity
        default = self._plan.default_timezone
        if default is None:
            raise DataError(
                f"activity {activity.id or activity.type!r} of contact {activity.contact_id!r} "
                "has a naive occurred_at",
                field="occurred_at",
                hint="give occurred_at a time zone, or create the engine with default_timezone=",
            )
        return attrs.evolve(
            activity, occurred_at=activity.occurred_at.replace(tzinfo=default).astimezone(UTC)
        )

    # ---------------------------------------------------------------- profiles and merges

    def update_profile(
        self, contact_id: str, changes: Mapping[str, Any], at: dt.datetime | None = None
    ) -> list[TrackerEvent]:
        """Merge ``changes`` into a contact's profile and return the events; None removes a field.

        Creates the contact when it is new. A profile has no history, so the new values
        count for every instant, as in `Engine.score`. ``at`` later than the contact's
        clock moves the clock there first; None or an earlier ``at`` applies the change
        at the clock. For a new contact without ``at`` or a tracker clock, the wall
        clock is used.
        """
        if not isinstance(changes, Mapping):
            raise TypeError(
                f"changes must be a mapping of field name to value, got {type(changes).__name__}"
            )
        for field in changes:
            if not isinstance(field, str):
                raise TypeError(f"profile field names must be text, got {field!r}")
        instant = None if at is None else self._instant(at)
        with self._lock, self._store.transaction() as transaction:
            clock = self._check_meta(transaction)
            contact_id = transaction.resolve(contact_id)
            events: list[TrackerEvent] = []
            state = self._load(transaction, contact_id, clock, events)
            if state is None:
                start = _latest(instant, clock) or dt.datetime.now(UTC)
                profile = {field: value for field, value in changes.items() if value is not None}
                state = self._create(contact_id, profile, start, "profile", events)
                if state.persisted is not None:
                    state.persisted.profile_changed = True
            else:
                if instant is not None:
                    self._scorer.settle(state, instant, events)
                self._scorer.update_profile(state, changes, events)
            self._scorer.prune(state)
            transaction.save(state)
            self._emit(transaction, events)
        return events

    def merge(self, source_id: str, into_id: str) -> list[TrackerEvent]:
        """Merge contact ``source_id`` into ``into_id`` and return the events for ``into_id``.

        The merged contact is scored as if it had always been one: activities move,
        profile fields of ``into_id`` win over those of ``source_id``, and the state is
        recomputed at the later of the two clocks. ``source_id`` stops existing without
        events of its own, and later activities and profile updates for it go to
        ``into_id``. Merging an unknown ``source_id`` only redirects it.
        """
        if source_id == into_id:
            raise ValueError(f"cannot merge contact {source_id!r} into itself")
        with self._lock, self._store.transaction() as transaction:
            clock = self._check_meta(transaction)
            resolved = transaction.resolve(source_id)
            if resolved != source_id:
                raise ValueError(f"contact {source_id!r} was already merged into {resolved!r}")
            target_id = transaction.resolve(into_id)
            if target_id == source_id:
                raise ValueError(
                    f"contact {into_id!r} was merged into {source_id!r}, "
                    "so it cannot be merged back"
                )
            events: list[TrackerEvent] = []
            source = self._load(transaction, source_id, clock, [])
            if source is None:
                transaction.add_alias(source_id, target_id)
                return events
            into = self._load(transaction, target_id, clock, events)
            start = source.clock if into is None else max(into.clock, source.clock)
            if into is None:
                into = self._scorer.new_contact(target_id, {}, start)
                before = [0] * len(into.scorings)
            else:
                self._scorer.settle(into, start, events)
                before = into.totals()
            self._scorer.merge(
                into,
                source,
                lambda activity_id: transaction.known(into, activity_id),
                before,
                events,
            )
            self._scorer.prune(into)
            transaction.save(into)
            transaction.delete(source_id, target_id)
            transaction.add_alias(source_id, target_id)
            self._emit(transaction, events)
        return events

    # ---------------------------------------------------------------- time

    def advance(self, to: dt.datetime) -> list[TrackerEvent]:
        """Move the tracker's clock to ``to`` and return the events time causes on the way.

        Award expiries, aggregate windows that close and conditions that read ``now()``
        or ``days_since`` take effect at their own instants, and the events carry those
        instants, ordered by instant. Only contacts with a change due by ``to`` are
        touched. An earlier ``to`` than the clock changes nothing.
        """
        instant = self._instant(to)
        events: list[TrackerEvent] = []
        with self._lock:
            with self._store.transaction(write=False) as transaction:
                clock = self._check_meta(transaction)
                due = transaction.due_contacts(instant)
            for contact_id in due:
                with self._store.transaction() as transaction:
                    clock = self._check_meta(transaction)
                    found: list[TrackerEvent] = []
                    state = self._load(transaction, contact_id, clock, found)
                    if state is None:
                        continue
                    self._scorer.settle(state, instant, found)
                    self._scorer.prune(state)
                    transaction.save(state)
                    self._emit(transaction, found)
                events += found
            if clock is None or instant > clock:
                with self._store.transaction() as transaction:
                    transaction.set_clock(instant)
        events.sort(key=lambda event: event.at)
        return events

    # ---------------------------------------------------------------- reading

    def scores(self, contact_id: str, at: dt.datetime | None = None) -> Scores:
        """Return a contact's score cards as of ``at`` (default: the contact's clock).

        An instant before the clock gives the score the contact had then, as far as the
        kept state covers it; before that, PrunedHistoryError. An instant after the
        clock is a forecast from what is known now: it moves no clock and emits nothing.
        Raises KeyError for a contact the tracker has never seen.
        """
        instant = None if at is None else self._instant(at)
        with self._lock, self._store.transaction(write=False) as transaction:
            state, clock = self._read(transaction, contact_id)
            return self._scorer.scores(state, instant if instant is not None else clock)

    def clock(self, contact_id: str) -> dt.datetime:
        """Return the contact's clock: the instant `scores` describes by default."""
        with self._lock, self._store.transaction(write=False) as transaction:
            return self._read(transaction, contact_id)[1]

    def profile(self, contact_id: str) -> dict[str, Any]:
        """Return a copy of the contact's profile."""
        with self._lock, self._store.transaction(write=False) as transaction:
            return dict(self._read(transaction, contact_id)[0].profile)

    def contact_ids(self) -> list[str]:
        """Return the ids of every contact in the store, merged contacts excluded."""
        with self._lock, self._store.transaction(write=False) as transaction:
            return transaction.contact_ids()

    def history(self, contact_id: str) -> list[HistoryEntry]:
        """Return the contact's recorded score changes, oldest first, at most ``history_limit``."""
        with self._lock, self._store.transaction(write=False) as transaction:
            return transaction.history_of(transaction.resolve(contact_id))

    # ---------------------------------------------------------------- rules

    def replace_engine(self, engine: Engine) -> list[TrackerEvent]:
        """Rescore every contact under ``engine`` at its clock and return the events.

        A threshold that a contact now meets but had not reached under the old rules
        gives a reached event, and one it no longer meets gives a dropped event. A
        contact already above a threshold gets nothing new. Thresholds and scorings the
        new rules no longer have are forgotten without events. With `SQLiteStore` the
        whole rescoring is one transaction, so a crash leaves the old rules in force.
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"expected a leadscore.Engine, got {type(engine).__name__}")
        plan = EnginePlan(engine)
        scorer = self._new_scorer(plan)
        known_pairs = plan.threshold_names()
        events: list[TrackerEvent] = []
        with self._lock, self._store.transaction() as transaction:
            clock = self._check_meta(transaction)
            rescored: list[ContactState] = []
            for contact_id in transaction.contact_ids():
                state = self._load(transaction, contact_id, clock, events)
                if state is None:
                    continue
                old_totals = {
                    scoring.name: total
                    for scoring, total in zip(self._plan.scorings, state.totals(), strict=True)
                }
                state.reached = tuple(pair for pair in state.reached if pair in known_pairs)
                names = {scoring.name for scoring in plan.scorings}
                state.retained = {
                    name: found for name, found in state.retained.items() if name in names
                }
                scorer.rebuild(state)
                before = [old_totals.get(scoring.name, 0) for scoring in plan.scorings]
                scorer.compare(
                    state, before, state.clock, ("rules", None, None, None, (), None), events
                )
                scorer.prune(state)
                rescored.append(state)
            transaction.set_fingerprint(plan.fingerprint)
            self._plan = plan
            self._scorer = scorer
            try:
                for state in rescored:
                    transaction.save(state)
                self._emit(transaction, events)
            except BaseException:
                # The cached states were rebuilt under the new rules; reload the committed ones.
                if isinstance(self._store, SQLiteStore):
                    self._store.cache.clear()
                raise
        logger.info("rescored %d contacts under new rules: %d events", len(rescored), len(events))
        return events

    # ---------------------------------------------------------------- helpers

    def _new_scorer(self, plan: EnginePlan) -> Scorer:
        return Scorer(
            plan,
            keep_history=self._keep_history,
            track_changes=self._durable,
            history_limit=self._history_limit,
        )

    def _check_meta(self, transaction: Any) -> dt.datetime | None:
        clock, fingerprint = transaction.meta()
        if fingerprint is not None and fingerprint != self._plan.fingerprint:
            raise RulesChangedError(
                "another tracker replaced the rules of this store; "
                "call replace_engine with the same rules in this process too"
            )
        return clock  # type: ignore[no-any-return]

    def _load(
        self,
        transaction: Any,
        contact_id: str,
        clock: dt.datetime | None,
        events: list[TrackerEvent],
    ) -> ContactState | None:
        """Load a contact's state and bring its clock up to the tracker's clock."""
        state: ContactState | None = transaction.load(contact_id, self._scorer)
        if state is not None and clock is not None and clock > state.clock:
            self._scorer.settle(state, clock, events)
        return state

    def _create(
        self,
        contact_id: str,
        profile: Mapping[str, Any],
        clock: dt.datetime,
        cause: Cause,
        events: list[TrackerEvent],
    ) -> ContactState:
        """Create a contact whose totals start from 0; events for thresholds its profile meets."""
        state = self._scorer.new_contact(contact_id, profile, clock)
        self._scorer.start(state, cause, events)
        return state

    def _read(self, transaction: Any, contact_id: str) -> tuple[ContactState, dt.datetime]:
        clock = self._check_meta(transaction)
        resolved = transaction.resolve(contact_id)
        state: ContactState | None = transaction.load(resolved, self._scorer)
        if state is None:
            raise KeyError(f"the tracker has no contact {contact_id!r}")
        return state, state.clock if clock is None else max(clock, state.clock)

    def _emit(self, transaction: Any, events: list[TrackerEvent]) -> None:
        if events and self._on_events is not None:
            self._on_events(transaction, events)

    def _instant(self, value: dt.datetime) -> dt.datetime:
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime.datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            default = self._plan.default_timezone
            if default is None:
                raise DataError(
                    f"the instant {value.isoformat()} has no time zone",
                    hint="pass an aware datetime, or create the engine with default_timezone=",
                )
            value = value.replace(tzinfo=default)
        return value.astimezone(UTC)


def _latest(*instants: dt.datetime | None) -> dt.datetime | None:
    present = [instant for instant in instants if instant is not None]
    return max(present) if present else None
