"""The hand-overs of one command-line scoring run, built and delivered by a HandOverPipeline.

The run records its activities in the pipeline's tracker, so the command line hands
over what `leadscore.handover.HandOverPipeline` would, with the same keys and values.
That is one hand-over per upward crossing, and under ``notify once`` only the first
crossing of each contact, scoring and threshold. The outbox is a
`MemoryOutbox` that the run empties after each tracker call, in the run's own thread,
and a failed write stops the run instead of waiting for a retry.
"""

from __future__ import annotations

from typing import Final

from leadscore.engine import Engine
from leadscore.errors import DeliveryError
from leadscore.handover import Dispatcher, HandOver, MemoryOutbox, Sink
from leadscore.handover.pipeline import HandOverPipeline
from leadscore.handover.routing import ANY
from leadscore.model import Contact, Threshold
from leadscore.scorecard import ScoreCard
from leadscore.tracking import MemoryStore, Tracker

__all__ = ["RunHandOvers"]

# The name the pipeline's routes and dispatcher know the run's one sink by.
SINK_NAME: Final = "handover"


class _SinkFailed(BaseException):
    """Carries a sink's exception out of `Dispatcher.run_pending`, which catches Exception.

    The dispatcher would keep the delivery for a retry and log it as a dead letter, but
    the command line stops at the first failure and reports the sink's own message.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _StopOnFailure:
    """A sink that passes each hand-over on and stops the dispatcher's round on a failure."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def deliver(self, handover: HandOver) -> None:
        try:
            self.sink.deliver(handover)
        except Exception as error:
            raise _SinkFailed(error) from error


class RunHandOvers:
    """Hand-overs to ``sink`` through a `HandOverPipeline` in a `MemoryStore`.

    Record activities and profiles in the tracker that `new_tracker` returns, then call
    `deliver_pending` after each tracker call that reported a `ThresholdReached`.
    Contacts scored by the engine alone go through `add`: a run without activities
    needs no tracker. Each delivery is attempted once, and a failure raises the sink's
    exception and leaves the rest undelivered. Delivered records are removed from the
    outbox at once, so the outbox does not grow with the run. The pipeline's record of
    who was handed over, which ``notify once`` reads, keeps one row per hand-over for
    the whole run. Nothing is remembered between runs.
    """

    def __init__(self, engine: Engine, sink: Sink) -> None:
        self._engine = engine
        self._sink = _StopOnFailure(sink)
        self._pipeline: HandOverPipeline | None = None
        # Delivers the hand-overs of `add` until `new_tracker` replaces it with the pipeline's.
        self._dispatcher = Dispatcher(MemoryOutbox(), {SINK_NAME: self._sink}, max_attempts=1)

    def new_tracker(self) -> Tracker:
        """Create the pipeline and return its tracker, whose crossings are queued for the sink."""
        if self._pipeline is not None:
            raise RuntimeError("the run's hand-over pipeline already exists")
        self._pipeline = HandOverPipeline(
            self._engine,
            MemoryStore(),
            routes={ANY: {ANY: [SINK_NAME]}},
            sinks={SINK_NAME: self._sink},
            history_limit=0,
            max_attempts=1,
        )
        self._dispatcher = self._pipeline.dispatcher
        return self._pipeline.tracker

    def add(self, contact: Contact, card: ScoreCard, threshold: Threshold) -> None:
        """Queue the hand-over of a contact scored by the engine alone, outside the tracker.

        Such a contact is scored at the run's instant only, so each threshold it meets
        is one crossing, and ``notify once`` is not consulted.
        """
        handover = HandOver.from_score_card(contact, card, threshold)
        self._dispatcher.outbox.add(handover, (SINK_NAME,))

    def deliver_pending(self) -> int:
        """Deliver the queued hand-overs in order and return how many were delivered.

        Raises the sink's exception, such as `leadscore.errors.DeliveryError` for a
        file that cannot be written, when a delivery fails.
        """
        try:
            summary = self._dispatcher.run_pending()
        except _SinkFailed as failure:
            raise failure.error from None
        if summary.dead or summary.retried:
            # Only a failure outside the sink, such as a payload that does not decode, gets here.
            raise DeliveryError(
                f"{summary.dead + summary.retried} hand-over(s) could not be delivered; "
                "the log above names the cause",
                retryable=False,
            )
        self._dispatcher.outbox.purge_delivered()
        return summary.delivered

    def close(self) -> None:
        """Close the pipeline and its tracker, if `new_tracker` created them."""
        if self._pipeline is not None:
            self._pipeline.close()
