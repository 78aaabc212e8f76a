"""The two interfaces a hand-over passes through: an optional enricher, then each sink."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from leadscore.handover.record import HandOver

__all__ = ["Enricher", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Somewhere a hand-over goes: an inbox, a CRM, a file, a chat.

    `deliver` returns when the receiver has accepted the hand-over and raises
    `leadscore.errors.DeliveryError` when it has not, with ``retryable`` telling the
    dispatcher whether to try again. Any other exception is treated as retryable.
    The dispatcher may deliver the same hand-over more than once (after a crash or a
    timeout that hid a success), so a sink should pass ``handover.key`` on for the
    receiver to drop repeats. Example::

        class PrintSink:
            def deliver(self, handover: HandOver) -> None:
                my_queue.put(handover.to_json())
    """

    def deliver(self, handover: HandOver) -> None:
        """Deliver ``handover``; raises DeliveryError on failure."""
        ...


@runtime_checkable
class Enricher(Protocol):
    """Adds data from the user's own systems, such as the account owner, before delivery.

    `enrich` returns a copy with ``details`` filled, usually through
    `HandOver.with_details`, and must keep the ``key``. Its failures are retried like
    a sink's. The contact may have been deleted since the crossing, so an enricher
    should raise DeliveryError(retryable=False) when it cannot find it, or return the
    hand-over unchanged to send the snapshot. Example::

        class OwnerEnricher:
            def enrich(self, handover: HandOver) -> HandOver:
                owner = crm_db.owner_of(handover.contact_id)
                return handover.with_details({"owner_email": owner.email})
    """

    def enrich(self, handover: HandOver) -> HandOver:
        """Return a copy of ``handover`` with ``details`` filled."""
        ...
