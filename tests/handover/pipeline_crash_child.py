"""Child process for the hand-over crash test: a pipeline that records activities until killed.

Usage: python pipeline_crash_child.py DATABASE WEBHOOK_URL RUN

The child opens a HandOverPipeline on DATABASE whose sink posts to WEBHOOK_URL, and
starts the dispatcher. It waits until the outbox has nothing pending, which delivers
what a killed run left behind, and prints ``recovered``. With RUN >= 0 it then
records the activities of that run, printing ``committed ID`` after each `record`
call returns, waits until the outbox has nothing pending again, prints ``drained``
and waits to be killed. Each run's activities fall on a day of their own, so a
crossing that a killed run rolled back never happens again in a later run.

Every upward crossing is also written to the table ``crossing_log`` in the
tracker's transaction: the list of crossings whose state change was committed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import leadscore
from leadscore import Activity
from leadscore.handover import HandOverPipeline, WebhookSink
from leadscore.tracking import SQLiteStore, ThresholdEvent, ThresholdReached

RULES = """
scoring "Sales" {
    threshold "MQL" at 30
    threshold "SQL" at 45
    rule "Visit" { on visit award 10 each expire after 2 hours }
    rule "Deal" { on deal award 25 expire after 1 hour }
}
"""
SECRET = "crash-test-secret"
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CONTACTS = 4
PER_RUN = 24


def activity(run: int, number: int) -> Activity:
    """Return activity ``number`` of ``run``; the same arguments always give the same activity."""
    kind = "deal" if number % 5 == 4 else "visit"
    occurred_at = BASE + dt.timedelta(days=run, minutes=10 * number)
    return Activity(f"c{number % CONTACTS}", kind, occurred_at, {}, id=f"r{run}-a{number}")


def log_crossings(transaction: Any, events: Sequence[ThresholdEvent]) -> None:
    transaction.connection.executemany(
        "INSERT INTO crossing_log (contact_id, scoring, threshold, at) VALUES (?, ?, ?, ?)",
        [
            (event.contact_id, event.scoring, event.threshold.name, event.at.isoformat())
            for event in events
            if isinstance(event, ThresholdReached)
        ],
    )


def wait_until_nothing_pending(pipeline: HandOverPipeline) -> None:
    while pipeline.deliveries(status="pending"):
        time.sleep(0.01)


def main(path: str, url: str, run: int) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS crossing_log "
            "(contact_id TEXT, scoring TEXT, threshold TEXT, at TEXT)"
        )
    connection.close()

    pipeline = HandOverPipeline(
        leadscore.compile(RULES),
        SQLiteStore(path),
        routes={"Sales": {"*": ["hook"]}},
        sinks={"hook": WebhookSink(url, secret=SECRET, timeout=5.0)},
        on_events=log_crossings,
        max_attempts=1000,
        base_delay=0.01,
        max_delay=0.05,
        poll_interval=0.01,
        # A delivery claimed by a killed run is due again after this many seconds.
        claim_timeout=0.3,
    )
    pipeline.start()
    wait_until_nothing_pending(pipeline)
    sys.stdout.write("recovered\n")
    sys.stdout.flush()
    if run < 0:
        threading.Event().wait()

    for number in range(PER_RUN):
        item = activity(run, number)
        pipeline.tracker.record(item)
        sys.stdout.write(f"committed {item.id}\n")
        sys.stdout.flush()
        if number % 8 == 7:
            pipeline.tracker.advance(item.occurred_at)

    wait_until_nothing_pending(pipeline)
    sys.stdout.write("drained\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
