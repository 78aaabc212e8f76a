"""Incremental scoring of activity streams: `Tracker`, its stores and its events.

Example::

    from leadscore.tracking import SQLiteStore, Tracker

    tracker = Tracker(engine, SQLiteStore("scores.db"))
    for event in tracker.record(activity):
        ...

docs/tracking.md describes the clock, late data, events, stores and their guarantees.
"""

import logging

from leadscore.tracking.events import (
    Cause,
    GradeChanged,
    HistoryEntry,
    PersonaChanged,
    ThresholdDropped,
    ThresholdEvent,
    ThresholdReached,
    TrackerEvent,
)
from leadscore.tracking.state import PrunedHistoryError
from leadscore.tracking.stores import (
    MemoryStore,
    MemoryTransaction,
    SQLiteStore,
    SQLiteTransaction,
    Transaction,
)
from leadscore.tracking.tracker import EventHook, RulesChangedError, Tracker

__all__ = [
    "Cause",
    "EventHook",
    "GradeChanged",
    "HistoryEntry",
    "MemoryStore",
    "MemoryTransaction",
    "PersonaChanged",
    "PrunedHistoryError",
    "RulesChangedError",
    "SQLiteStore",
    "SQLiteTransaction",
    "ThresholdDropped",
    "ThresholdEvent",
    "ThresholdReached",
    "Tracker",
    "TrackerEvent",
    "Transaction",
]

# A library leaves logging output to the application.
logging.getLogger("leadscore.tracking").addHandler(logging.NullHandler())
