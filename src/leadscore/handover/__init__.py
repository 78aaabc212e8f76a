"""Hand a lead over to sales when a contact crosses a threshold, through pluggable sinks.

A `HandOver` is added to an `Outbox` (in the same transaction as the state change
that caused it, with `SQLiteOutbox`), and a `Dispatcher` delivers it to each sink,
retrying failures and keeping dead letters. `HandOverPipeline` does this for the
crossings a `leadscore.tracking.Tracker` reports, with `HandOverRoutes` choosing the
sinks per scoring and threshold.

Sinks: `EmailSink`, `WebhookSink`, `SalesforceSink` (extra ``salesforce``),
`FileSink`, `NotifySink` (extra ``notify``) and `CallbackSink`. The optional
libraries are imported only when their sink is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadscore.errors import DeliveryError
from leadscore.handover.callback import CallbackSink
from leadscore.handover.dispatcher import Dispatcher, DispatchSummary, backoff_delay
from leadscore.handover.fields import HandOverTemplate
from leadscore.handover.files import FileSink, escape_csv_cell, read_jsonl
from leadscore.handover.outbox import Delivery, MemoryOutbox, Outbox, SQLiteOutbox
from leadscore.handover.protocols import Enricher, Sink
from leadscore.handover.record import HandOver
from leadscore.handover.routing import HandOverRoutes
from leadscore.handover.smtp import EmailSink
from leadscore.handover.webhook import WebhookSink, sign_body, verify_signature

if TYPE_CHECKING:
    from leadscore.handover.notify import NotifySink
    from leadscore.handover.pipeline import HandOverPipeline
    from leadscore.handover.salesforce import SalesforceSink

__all__ = [
    "CallbackSink",
    "Delivery",
    "DeliveryError",
    "DispatchSummary",
    "Dispatcher",
    "EmailSink",
    "Enricher",
    "FileSink",
    "HandOver",
    "HandOverPipeline",
    "HandOverRoutes",
    "HandOverTemplate",
    "MemoryOutbox",
    "NotifySink",
    "Outbox",
    "SQLiteOutbox",
    "SalesforceSink",
    "Sink",
    "WebhookSink",
    "backoff_delay",
    "escape_csv_cell",
    "read_jsonl",
    "sign_body",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    # The modules of the sinks with optional libraries load on first use. They import
    # their library only when a sink is built, so this keeps `import leadscore.handover`
    # fast as well. The pipeline loads on first use because it imports the tracker,
    # which the rest of the package does not depend on.
    if name == "HandOverPipeline":
        from leadscore.handover.pipeline import HandOverPipeline

        return HandOverPipeline
    if name == "SalesforceSink":
        from leadscore.handover.salesforce import SalesforceSink

        return SalesforceSink
    if name == "NotifySink":
        from leadscore.handover.notify import NotifySink

        return NotifySink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
