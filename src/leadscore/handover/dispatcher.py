"""Dispatcher: deliver the outbox's due hand-overs to their sinks, with retries and dead letters."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Mapping
from typing import Final, Literal

import attrs

from leadscore.errors import DataError, DeliveryError
from leadscore.handover.outbox import Delivery, Outbox
from leadscore.handover.protocols import Enricher, Sink
from leadscore.handover.record import HandOver

__all__ = ["DispatchSummary", "Dispatcher", "backoff_delay"]

logger = logging.getLogger("leadscore.handover")

# A Retry-After is honoured even beyond max_delay, but never for longer than this,
# so that one odd header cannot park a delivery for days.
MAX_RETRY_AFTER: Final = 3600.0

_MICROSECOND: Final = dt.timedelta(microseconds=1)

# The outcome of one delivery attempt in a round.
_Outcome = Literal["delivered", "retry", "dead"]


@attrs.frozen
class DispatchSummary:
    """Counts of the deliveries one `Dispatcher.run_pending` round attempted, by outcome."""

    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def backoff_delay(
    attempt: int, *, base_delay: float, max_delay: float, rng: random.Random
) -> float:
    """Return the wait in seconds after failed attempt number ``attempt`` (1-based).

    This is "full jitter": a uniform draw between 0 and
    ``min(max_delay, base_delay * 2 ** (attempt - 1))``, which spreads the retries of
    many failed deliveries instead of sending them back in one burst.
    """
    # Capping the exponent keeps 2 ** n finite for any attempt count.
    ceiling = min(max_delay, base_delay * 2.0 ** min(attempt - 1, 64))
    return rng.uniform(0.0, ceiling)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Dispatcher:
    """Deliver each pending (hand-over, sink) pair of an outbox, retrying failures.

    ``sinks_by_name`` maps the sink names used in the outbox to sinks. Each pair is
    tracked on its own, so a failing sink never causes a resend to the others. A
    failure that is retryable waits for `backoff_delay` or the receiver's
    ``retry_after`` (at most `MAX_RETRY_AFTER`), whichever is longer. After
    ``max_attempts`` attempts, or at once for a permanent failure, the pair becomes a
    dead letter with its last error. An exception other than DeliveryError from a
    sink or the enricher counts as retryable. A delivery whose sink name is not
    configured becomes a dead letter, and `retry_dead_letter` brings it back once the
    sink is.

    The ``enricher`` runs once per hand-over in each round, before its sinks. Its
    failures are retried like a sink's. A contact deleted since the crossing is
    delivered from the hand-over's snapshot. If the enricher cannot find it, the
    hand-over becomes a dead letter after its retries, and nothing is raised.

    `run_pending` delivers what is due once, in the caller's thread. `start` runs
    rounds in a background thread until `stop`. ``clock`` returns the current aware
    datetime, ``rng`` draws the jitter (seed it for repeatable delays), and ``sleep``
    replaces the background thread's wait between rounds. By default the thread waits
    on an event, so that `stop` and `wake` act at once. Example::

        dispatcher = Dispatcher(SQLiteOutbox("outbox.db"), {"sales": email_sink})
        dispatcher.start()
        ...
        dispatcher.stop()

    Logs go to the ``leadscore.handover`` logger and name hand-over keys, contact ids
    and sink names, never profile values or addresses.
    """

    def __init__(
        self,
        outbox: Outbox,
        sinks_by_name: Mapping[str, Sink],
        *,
        enricher: Enricher | None = None,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        clock: Callable[[], dt.datetime] = _utc_now,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        poll_interval: float = 1.0,
        claim_timeout: float = 300.0,
    ) -> None:
        if not sinks_by_name:
            raise ValueError("a dispatcher needs at least one sink")
        for name, sink in sinks_by_name.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"sink names must be non-empty text, got {name!r}")
            if not isinstance(sink, Sink):
                raise TypeError(
                    f"sink {name!r} has no deliver(handover) method; "
                    "wrap a plain function in CallbackSink"
                )
        if enricher is not None and not isinstance(enricher, Enricher):
            raise TypeError("enricher has no enrich(handover) method")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(
                f"max_attempts must be a whole number of at least 1, got {max_attempts!r}"
            )
        if not 0 < base_delay <= max_delay:
            raise ValueError(
                "delays must satisfy 0 < base_delay <= max_delay, "
                f"got {base_delay!r} and {max_delay!r}"
            )
        if not poll_interval > 0:
            raise ValueError(
                f"poll_interval must be a positive number of seconds, got {poll_interval!r}"
            )
        if not claim_timeout > 0:
            raise ValueError(
                f"claim_timeout must be a positive number of seconds, got {claim_timeout!r}"
            )

        self.outbox = outbox
        self._sinks = dict(sinks_by_name)
        self._enricher = enricher
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._poll_interval = poll_interval
        # A claimed delivery that was never settled (the process died mid-delivery)
        # becomes due again after this long, and is then sent again.
        self._claim_lease = dt.timedelta(seconds=claim_timeout)

        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def sink_names(self) -> tuple[str, ...]:
        """The configured sink names, in the order given."""
        return tuple(self._sinks)

    def submit(self, handover: HandOver) -> int:
        """Add ``handover`` to the outbox for every configured sink; returns how many were new.

        On an `SQLiteOutbox` built from a caller's connection, the caller must commit.
        """
        added = self.outbox.add(handover, self._sinks, now=self._clock())
        self._wake.set()
        return added

    def run_pending(self) -> DispatchSummary:
        """Attempt each delivery that is due now once, and return what happened.

        Deliveries that fail and come due again during this round wait for the next.
        """
        with self._round_lock:
            return self._run_round(stoppable=False)

    def _run_round(self, *, stoppable: bool) -> DispatchSummary:
        """Run one round; with ``stoppable``, `stop` ends it before the next delivery."""
        started = self._clock()
        attempted = delivered = retried = dead = 0
        # One enrichment per hand-over and round, shared by its sinks.
        enriched: dict[str, HandOver | BaseException] = {}

        while not (stoppable and self._stopping.is_set()):
            delivery = self.outbox.claim_next(started, self._claim_lease)
            if delivery is None:
                break
            attempted += 1
            outcome = self._attempt(delivery, enriched, started)
            if outcome == "delivered":
                delivered += 1
            elif outcome == "retry":
                retried += 1
            else:
                dead += 1

        return DispatchSummary(attempted=attempted, delivered=delivered, retried=retried, dead=dead)

    def _attempt(
        self,
        delivery: Delivery,
        enriched: dict[str, HandOver | BaseException],
        round_started: dt.datetime,
    ) -> _Outcome:
        attempt = delivery.attempts + 1
        try:
            handover = self._prepare(delivery, enriched)
            self._sinks[delivery.sink].deliver(handover)
        except Exception as error:  # a sink or enricher failure is recorded, not raised
            return self._record_failure(delivery, attempt, error, round_started)

        self.outbox.record_delivered(delivery.id, attempts=attempt, now=self._clock())
        logger.debug(
            "delivered hand-over %s (contact %s) to sink %s on attempt %d",
            delivery.key,
            delivery.contact_id,
            delivery.sink,
            attempt,
        )
        return "delivered"

    def _prepare(
        self, delivery: Delivery, enriched: dict[str, HandOver | BaseException]
    ) -> HandOver:
        """Return the decoded and enriched hand-over; raises DeliveryError if there is none."""
        if delivery.sink not in self._sinks:
            raise DeliveryError(
                f"no sink named {delivery.sink!r} is configured in this dispatcher",
                retryable=False,
            )

        if delivery.key not in enriched:
            try:
                enriched[delivery.key] = self._enrich(delivery)
            except Exception as error:  # shared by every sink of this hand-over
                enriched[delivery.key] = error
        result = enriched[delivery.key]
        if isinstance(result, BaseException):
            raise result
        return result

    def _enrich(self, delivery: Delivery) -> HandOver:
        try:
            handover = delivery.load_handover()
        except DataError as error:
            raise DeliveryError(
                f"the stored hand-over {delivery.key} cannot be decoded: {error}", retryable=False
            ) from error
        if self._enricher is None:
            return handover

        result = self._enricher.enrich(handover)
        if not isinstance(result, HandOver) or result.key != handover.key:
            raise DeliveryError(
                "the enricher must return a HandOver with the same key, "
                f"got {type(result).__name__}",
                retryable=False,
            )
        return result

    def _record_failure(
        self, delivery: Delivery, attempt: int, error: Exception, round_started: dt.datetime
    ) -> _Outcome:
        now = self._clock()
        if isinstance(error, DeliveryError):
            retryable, retry_after = error.retryable, error.retry_after
            reason = str(error)
        else:
            # Exception text may quote profile values, so the log names the type only.
            retryable, retry_after = True, None
            reason = f"unexpected {type(error).__name__}"
        stored_error = _describe(error)

        if not retryable or attempt >= self._max_attempts:
            self.outbox.record_dead(delivery.id, attempts=attempt, error=stored_error, now=now)
            logger.error(
                "hand-over %s (contact %s) to sink %s is a dead letter after %d attempt(s): %s",
                delivery.key,
                delivery.contact_id,
                delivery.sink,
                attempt,
                reason,
            )
            return "dead"

        delay = backoff_delay(
            attempt, base_delay=self._base_delay, max_delay=self._max_delay, rng=self._rng
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        # The round claims what is due at its start; a later time keeps a zero delay
        # from being claimed again in the same round.
        next_attempt_at = max(now + dt.timedelta(seconds=delay), round_started + _MICROSECOND)
        self.outbox.record_retry(
            delivery.id,
            attempts=attempt,
            error=stored_error,
            next_attempt_at=next_attempt_at,
            now=now,
        )
        logger.warning(
            "hand-over %s (contact %s) to sink %s failed on attempt %d of %d, "
            "retrying in %.1f s: %s",
            delivery.key,
            delivery.contact_id,
            delivery.sink,
            attempt,
            self._max_attempts,
            delay,
            reason,
        )
        return "retry"

    def dead_letters(self) -> list[Delivery]:
        """Return the outbox's dead letters, each with its last error and attempt count."""
        return self.outbox.dead_letters()

    def retry_dead_letter(self, delivery_id: int) -> bool:
        """Queue a dead letter again with a fresh attempt count; returns False if it is not one."""
        revived = self.outbox.retry_dead_letter(delivery_id, now=self._clock())
        if revived:
            logger.info("dead letter %d queued again", delivery_id)
            self._wake.set()
        return revived

    def retry_all(self) -> int:
        """Queue every dead letter again with a fresh attempt count; returns how many."""
        count = self.outbox.retry_all(now=self._clock())
        if count:
            logger.info("%d dead letter(s) queued again", count)
            self._wake.set()
        return count

    def purge_dead_letters(self, older_than: dt.timedelta | dt.datetime | None = None) -> int:
        """Delete dead letters that died more than ``older_than`` ago, or before that instant.

        None deletes them all. Returns how many were deleted.
        """
        cutoff = self._clock() - older_than if isinstance(older_than, dt.timedelta) else older_than
        count = self.outbox.purge_dead_letters(cutoff)
        logger.info("purged %d dead letter(s)", count)
        return count

    def start(self) -> None:
        """Start delivering in a background thread; raises RuntimeError if it is running."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the dispatcher is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run_forever, name="leadscore-handover-dispatcher", daemon=True
        )
        self._thread.start()
        logger.info("dispatcher started with sinks %s", ", ".join(self._sinks))

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background thread after the delivery in progress; waits up to ``timeout`` s."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("dispatcher thread did not stop within %s s", timeout)
            return
        self._thread = None
        logger.info("dispatcher stopped")

    def wake(self) -> None:
        """End the background thread's wait, so that it runs a round now."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the background thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run_forever(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                with self._round_lock:
                    self._run_round(stoppable=True)
            except Exception:
                # Keeps the thread alive through outbox errors such as a locked
                # database. The next round, one poll interval later, tries again.
                logger.exception("dispatcher round failed; retrying in %.1f s", self._poll_interval)
                wait = self._poll_interval
            else:
                wait = self._seconds_to_next_round()
            if self._stopping.is_set():
                break
            self._wait(wait)

    def _seconds_to_next_round(self) -> float:
        try:
            due = self.outbox.next_due()
        except Exception:
            logger.exception("could not read the next due time from the outbox")
            return self._poll_interval
        if due is None:
            return self._poll_interval
        # New hand-overs can arrive from other connections at any time, so the wait is
        # never longer than the poll interval.
        seconds = (due - self._clock()).total_seconds()
        return min(max(seconds, 0.0), self._poll_interval)

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self._wake.wait(seconds)


def _describe(error: Exception) -> str:
    """Return the error as stored with the delivery: the message and the underlying cause.

    This text stays in the outbox, which contains the profile anyway, so it keeps the
    detail that the log leaves out.
    """
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None:
        text += f" (caused by {type(cause).__name__}: {cause})"
    return text
