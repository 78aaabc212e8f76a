"""Child process for the crash tests: records activities into an SQLite store until killed.

Usage: python crash_child.py DATABASE FIRST_NUMBER

It records activity number FIRST_NUMBER, then the next, and so on. Each line on
stdout is the id of an activity whose `record` call has returned. Every threshold
event is appended to the table ``event_log`` in the tracker's own transaction.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

import leadscore
from leadscore import Activity
from leadscore.tracking import SQLiteStore, ThresholdEvent, ThresholdReached, Tracker

RULES = """
scoring "Sales" {
    threshold "Warm" at 10
    threshold "Hot" at 30
    rule "Visit" { on visit award 4 each max 20 expire after 3 hours }
    rule "Deal" { on deal award 25 expire after 2 hours }
    rule "Busy" { when count(visit within 90 minutes) >= 3 award 6 }
}
"""
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CONTACTS = 7


def activity(number: int) -> Activity:
    """Return activity ``number`` of the test stream; a number always gives the same activity."""
    kind = "deal" if number % 11 == 0 else "visit"
    # Every fifth activity is late by up to two hours.
    late = dt.timedelta(minutes=(number * 37) % 120) if number % 5 == 0 else dt.timedelta(0)
    occurred_at = BASE + dt.timedelta(minutes=number) - late
    return Activity(f"c{number % CONTACTS}", kind, occurred_at, {}, f"e{number}")


def log_events(transaction: Any, events: Sequence[ThresholdEvent]) -> None:
    """Append events to ``event_log`` inside the tracker's transaction."""
    connection = transaction.connection
    connection.executemany(
        "INSERT INTO event_log (contact_id, scoring, threshold, kind, at) VALUES (?, ?, ?, ?, ?)",
        [
            (
                event.contact_id,
                event.scoring,
                event.threshold.name,
                "reached" if isinstance(event, ThresholdReached) else "dropped",
                event.at.isoformat(),
            )
            for event in events
        ],
    )


def open_tracker(path: str) -> Tracker:
    """Open the test tracker on ``path``, creating the event log table."""
    store = SQLiteStore(path)
    store.connection.execute(
        "CREATE TABLE IF NOT EXISTS event_log "
        "(seq INTEGER PRIMARY KEY, contact_id TEXT, scoring TEXT, "
        "threshold TEXT, kind TEXT, at TEXT)"
    )
    return Tracker(leadscore.compile(RULES), store, keep_history=True, on_events=log_events)


def main(path: str, first: int) -> None:
    tracker = open_tracker(path)
    number = first
    while True:
        item = activity(number)
        tracker.record(item)
        sys.stdout.write(f"{item.id}\n")
        sys.stdout.flush()
        if number % 40 == 0:
            tracker.advance(item.occurred_at)
        number += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
