"""HandOverPipeline: a Tracker whose upward crossings become hand-overs in an outbox.

The pipeline creates the `leadscore.tracking.Tracker` with its own ``on_events``
hook. For every `ThresholdReached` event whose scoring and threshold have a route,
and every `GradeChanged` event whose grade and new label have one, the hook builds
a `HandOver` and adds it to the outbox inside the tracker's store
transaction. With `SQLiteStore` the outbox tables live in the store's file and the
hook writes them on the store's connection, so a hand-over is stored if and only if
the crossing that caused it is committed. A `Dispatcher` reads the outbox through
its own connection, which reads committed rows only, and delivers them.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from leadscore.engine import Engine
from leadscore.handover.dispatcher import Dispatcher, DispatchSummary
from leadscore.handover.outbox import Delivery, DeliveryStatus, MemoryOutbox, SQLiteOutbox
from leadscore.handover.protocols import Enricher, Sink
from leadscore.handover.record import HandOver
from leadscore.handover.routing import HandOverRoutes
from leadscore.model import Contact, Threshold
from leadscore.tracking import (
    EventHook,
    GradeChanged,
    MemoryStore,
    SQLiteStore,
    ThresholdReached,
    Tracker,
    TrackerEvent,
    Transaction,
)

__all__ = ["HandOverPipeline"]

logger = logging.getLogger("leadscore.handover")

# One row per (contact, scoring, threshold) ever handed over, with the key of the
# first hand-over. `notify once` reads it. It lives in the tracker's store, so it is
# committed or rolled back with the crossing.
_NOTIFIED_SCHEMA: Final = """
    CREATE TABLE IF NOT EXISTS leadscore_handover_notified (
        contact_id TEXT NOT NULL,
        scoring TEXT NOT NULL,
        threshold TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (contact_id, scoring, threshold)
    ) WITHOUT ROWID
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HandOverPipeline:
    """A `Tracker` wired to an outbox and a `Dispatcher`, so that routed crossings reach sales.

    Each `ThresholdReached` event whose scoring and threshold have a route in
    ``routes`` becomes a `HandOver` (key from contact, scoring, threshold and the
    crossing instant, the profile at the crossing, and score, level and breakdown
    from the event's card). It is added to the outbox for the routed sink names in
    the tracker's transaction. Dropped events hand nothing over.

    A grade routed by name, with labels for thresholds, hands a contact over when its
    label changes to a routed one. That hand-over's ``scoring`` is the grade's name,
    its ``threshold`` is named after the label (with 0 points), ``level`` is the
    label, ``score`` is the engagement total, ``breakdown`` lists the rules of both
    scorings, and ``details["grade"]`` holds the label before and both scorings'
    names and totals.

    - With `SQLiteStore`, the outbox is an `SQLiteOutbox` in the store's file: a
      hand-over is committed together with its crossing, or rolled back with it.
    - With `MemoryStore` (the default), it is a `MemoryOutbox`, added to as the last
      step of the hook. Pending hand-overs are lost with the process, and a tracker
      call that fails has already changed the state, as `MemoryStore` documents.

    ``notify once`` in a scoring hands over only the first crossing ever of each
    (contact, scoring, threshold). That memory is kept in the store's transaction too.
    A contact who drops below a threshold and climbs back is handed over again
    otherwise, because the new crossing instant gives a new key. Adding a key the
    outbox already has adds nothing, so a repeated event sends nothing twice.

    ``routes`` is a `HandOverRoutes` or its mapping form, checked against ``engine``
    and ``sinks`` here (`leadscore.ConfigError` on an unknown name). ``on_events``
    is called after the hand-overs are queued, in the same transaction. The
    remaining options go to `Tracker` (``keep_history``, ``history_limit``) and to
    `Dispatcher`. Example::

        pipeline = HandOverPipeline(
            engine, SQLiteStore("scores.db"),
            routes={"Product A": {"MQL": ["email"]}},
            sinks={"email": EmailSink(...)},
        )
        with pipeline:  # delivers in a background thread, closes everything on exit
            pipeline.tracker.record(activity)

    The dispatcher's thread looks at the outbox every ``poll_interval`` seconds, so a
    committed hand-over is sent about that long after its commit at the latest.
    """

    def __init__(
        self,
        engine: Engine,
        store: MemoryStore | SQLiteStore | None = None,
        *,
        routes: HandOverRoutes | Mapping[str, Mapping[str, Sequence[str]]],
        sinks: Mapping[str, Sink],
        enricher: Enricher | None = None,
        on_events: EventHook | None = None,
        keep_history: bool = False,
        history_limit: int | None = 20,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        poll_interval: float = 1.0,
        claim_timeout: float = 300.0,
        clock: Callable[[], dt.datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"expected a leadscore.Engine, got {type(engine).__name__}")
        if store is None:
            store = MemoryStore()
        elif not isinstance(store, MemoryStore | SQLiteStore):
            raise TypeError(
                f"store must be a MemoryStore or an SQLiteStore, got {type(store).__name__}"
            )
        self._routes = routes if isinstance(routes, HandOverRoutes) else HandOverRoutes(routes)
        self._routes.check(engine, sinks)
        self._clock = clock
        self._user_hook = on_events
        self._notify_once: tuple[Engine, frozenset[str]] | None = None

        self._outbox: SQLiteOutbox | MemoryOutbox
        # The connection the hook writes the outbox on, or None for a MemoryOutbox.
        self._outbox_connection: sqlite3.Connection | None
        if isinstance(store, SQLiteStore):
            self._outbox = SQLiteOutbox(store.connection)
            self._outbox_connection = store.connection
        else:
            self._outbox = MemoryOutbox()
            self._outbox_connection = None

        try:
            self._dispatcher = Dispatcher(
                self._outbox,
                sinks,
                enricher=enricher,
                max_attempts=max_attempts,
                base_delay=base_delay,
                max_delay=max_delay,
                clock=clock,
                rng=rng,
                poll_interval=poll_interval,
                claim_timeout=claim_timeout,
            )
            self._tracker = Tracker(
                engine,
                store,
                keep_history=keep_history,
                history_limit=history_limit,
                on_events=self._on_events,
            )
        except BaseException:
            if isinstance(self._outbox, SQLiteOutbox):
                self._outbox.close()
            raise

    # ---------------------------------------------------------------- parts

    @property
    def tracker(self) -> Tracker:
        """The tracker to record activities, profile changes and merges into."""
        return self._tracker

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher that delivers the outbox."""
        return self._dispatcher

    @property
    def outbox(self) -> SQLiteOutbox | MemoryOutbox:
        """The outbox: an `SQLiteOutbox` in the store's file, or a `MemoryOutbox`."""
        return self._outbox

    @property
    def routes(self) -> HandOverRoutes:
        """The routes in force."""
        return self._routes

    # ---------------------------------------------------------------- running

    def start(self) -> None:
        """Start delivering in the dispatcher's background thread."""
        self._dispatcher.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background thread after the delivery in progress; waits up to ``timeout`` s."""
        self._dispatcher.stop(timeout)

    def run_pending(self) -> DispatchSummary:
        """Attempt each delivery that is due now once, in the caller's thread."""
        return self._dispatcher.run_pending()

    def close(self) -> None:
        """Stop the dispatcher, then close the outbox and the tracker's store."""
        self._dispatcher.stop()
        if isinstance(self._outbox, SQLiteOutbox):
            self._outbox.close()
        else:
            pending = len(self._outbox.deliveries(status="pending"))
            if pending:
                logger.warning(
                    "closing with %d pending deliveries in a MemoryOutbox; they are lost", pending
                )
        self._tracker.close()

    def __enter__(self) -> HandOverPipeline:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def replace_engine(self, engine: Engine) -> list[TrackerEvent]:
        """Check the routes against ``engine``, then rescore every contact under it.

        Raises `leadscore.ConfigError` before anything changes when a route names a
        scoring or threshold that ``engine`` lacks. Contacts already above a threshold
        get no new event, so nothing is handed over twice. See `Tracker.replace_engine`.
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"expected a leadscore.Engine, got {type(engine).__name__}")
        self._routes.check(engine, self._dispatcher.sink_names)
        return self._tracker.replace_engine(engine)

    # ---------------------------------------------------------------- deliveries

    def deliveries(
        self, *, key: str | None = None, status: DeliveryStatus | None = None
    ) -> list[Delivery]:
        """Return the outbox's deliveries in the order they were added, filtered."""
        return self._outbox.deliveries(key=key, status=status)

    def dead_letters(self) -> list[Delivery]:
        """Return the dead letters, each with its last error and attempt count."""
        return self._dispatcher.dead_letters()

    def retry_dead_letter(self, delivery_id: int) -> bool:
        """Queue a dead letter again with a fresh attempt count; returns False if it is not one."""
        return self._dispatcher.retry_dead_letter(delivery_id)

    def retry_all(self) -> int:
        """Queue every dead letter again; returns how many."""
        return self._dispatcher.retry_all()

    def purge_dead_letters(self, older_than: dt.timedelta | dt.datetime | None = None) -> int:
        """Delete dead letters that died more than ``older_than`` ago (all if None); returns how many."""
        return self._dispatcher.purge_dead_letters(older_than)

    def purge_delivered(self, older_than: dt.timedelta | dt.datetime | None = None) -> int:
        """Delete delivered records older than ``older_than`` (all if None); returns how many.

        The tracker never reports a crossing twice, so a purged hand-over is not added
        again, and `notify once` keeps its own memory apart from the outbox.
        """
        cutoff = self._clock() - older_than if isinstance(older_than, dt.timedelta) else older_than
        count = self._outbox.purge_delivered(cutoff)
        logger.info("purged %d delivered record(s)", count)
        return count

    # ---------------------------------------------------------------- the hook

    def _on_events(self, transaction: Transaction, events: Sequence[TrackerEvent]) -> None:
        crossings: list[tuple[ThresholdReached | GradeChanged, tuple[str, ...]]] = []
        for event in events:
            if isinstance(event, ThresholdReached):
                sinks = self._routes.sinks_for(event.scoring, event.threshold.name)
                if sinks:
                    crossings.append((event, sinks))
            elif isinstance(event, GradeChanged) and event.after is not None:
                sinks = self._routes.grade_sinks_for(event.grade, event.after)
                if sinks:
                    crossings.append((event, sinks))
        if crossings:
            self._queue(transaction.connection, crossings)
        if self._user_hook is not None:
            self._user_hook(transaction, events)

    def _queue(
        self,
        connection: sqlite3.Connection,
        crossings: list[tuple[ThresholdReached | GradeChanged, tuple[str, ...]]],
    ) -> None:
        """Build the hand-overs and add them to the outbox on the transaction's connection."""
        if self._outbox_connection is not None and connection is not self._outbox_connection:
            raise RuntimeError(
                "the tracker's transaction runs on another connection than the outbox's, "
                "so the hand-overs would not commit with the crossings"
            )
        connection.execute(_NOTIFIED_SCHEMA)
        once = self._notify_once_scorings()

        # Everything that can fail runs before the first outbox write, because a
        # MemoryOutbox keeps what it was given even when the tracker call then fails.
        queued: list[tuple[HandOver, tuple[str, ...]]] = []
        for event, sinks in crossings:
            if isinstance(event, GradeChanged):
                # A grade has no notify once: each change to a routed label hands over.
                queued.append((_grade_handover(event), sinks))
                continue
            handover = self._build(event)
            first = _remember_handover(connection, handover)
            if not first and event.scoring in once:
                logger.debug(
                    "hand-over %s (contact %s) skipped: notify once, handed over before",
                    handover.key,
                    handover.contact_id,
                )
                continue
            queued.append((handover, sinks))

        now = self._clock()
        for handover, sinks in queued:
            added = self._outbox.add(handover, sinks, now=now)
            logger.debug(
                "queued hand-over %s (contact %s) for %d sink(s), %d new",
                handover.key,
                handover.contact_id,
                len(sinks),
                added,
            )
        # A MemoryOutbox shows new deliveries at once, so the dispatcher is woken. An
        # SQLiteOutbox shows them only after the commit, at the dispatcher's next poll.
        if queued and self._outbox_connection is None:
            self._dispatcher.wake()

    def _build(self, event: ThresholdReached) -> HandOver:
        card = event.card
        return HandOver.for_crossing(
            Contact(event.contact_id, event.profile),
            scoring=event.scoring,
            threshold=event.threshold,
            score=card.total,
            level=card.level,
            at=event.at,
            breakdown=card.breakdown,
        )

    def _notify_once_scorings(self) -> frozenset[str]:
        # Read from the tracker, because replace_engine may have changed the rules.
        engine = self._tracker.engine
        cached = self._notify_once
        if cached is None or cached[0] is not engine:
            names = frozenset(
                scoring.name for scoring in engine.program.scorings if scoring.notify_once
            )
            cached = self._notify_once = (engine, names)
        return cached[1]


def _remember_handover(connection: sqlite3.Connection, handover: HandOver) -> bool:
    """Record that the crossing's (contact, scoring, threshold) was handed over; True the first time."""
    cursor = connection.execute(
        "INSERT INTO leadscore_handover_notified (contact_id, scoring, threshold, key)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (handover.contact_id, handover.scoring, handover.threshold.name, handover.key),
    )
    return cursor.rowcount == 1


def _grade_handover(event: GradeChanged) -> HandOver:
    """Return the hand-over of a contact whose grade changed to a routed label."""
    assert event.after is not None
    fit = event.fit_card
    engagement = event.engagement_card
    return HandOver.for_crossing(
        Contact(event.contact_id, event.profile),
        scoring=event.grade,
        threshold=Threshold(event.after, 0),
        score=engagement.total,
        level=event.after,
        at=event.at,
        breakdown=(*fit.breakdown, *engagement.breakdown),
        details={
            "grade": {
                "name": event.grade,
                "label": event.after,
                "before": event.before,
                "fit": {"scoring": fit.scoring, "total": fit.total},
                "engagement": {"scoring": engagement.scoring, "total": engagement.total},
            }
        },
    )
