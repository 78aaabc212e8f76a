"""Benchmark: does decay make `Tracker.record` cost grow with a contact's history?

One contact receives 100,000 activities, one a minute (``--quick``: 20,000), through a
`Tracker` with `MemoryStore`, under two rule files in the same run: the baseline
without decay, and the same rules with ``decay`` on every rule. Nothing expires, so
every activity stays in the contact's history. The table shows the cost per record in
each block of the stream. Flat rows mean the cost does not grow with the history. The
decay column costs more because of its decay steps, about four per award over its life.

Run: .venv/bin/python benchmarks/bench_tracker_decay.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import time

import leadscore
from leadscore import Activity
from leadscore.tracking import Tracker

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

BASELINE = """
scoring "Engagement" {
    threshold "Warm" at 50
    threshold "Hot" at 200
    rule "Visit" { on page_visit award 5 each }
    rule "Download" { on download award 20 each }
}
"""

DECAYING = """
scoring "Engagement" {
    threshold "Warm" at 50
    threshold "Hot" at 200
    rule "Visit" { on page_visit award 5 each decay 50% every 1 hours }
    rule "Download" { on download award 20 each decay 25% every 3 hours }
}
"""


def stream(count: int) -> list[Activity]:
    """Return ``count`` activities of one contact, one a minute, every tenth a download."""
    return [
        Activity(
            "c-1",
            "download" if number % 10 == 0 else "page_visit",
            START + dt.timedelta(minutes=number),
            {},
            f"a-{number}",
        )
        for number in range(count)
    ]


def per_block(rules: str, activities: list[Activity], blocks: int) -> list[float]:
    """Return the microseconds per `record` call in each of ``blocks`` equal blocks."""
    tracker = Tracker(leadscore.compile(rules), keep_history=True)
    size = len(activities) // blocks
    costs = []
    gc.collect()
    for block in range(blocks):
        chunk = activities[block * size : (block + 1) * size]
        began = time.perf_counter()
        for activity in chunk:
            tracker.record(activity)
        costs.append((time.perf_counter() - began) / len(chunk) * 1e6)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 activities, not 100,000")
    args = parser.parse_args()
    count = 20_000 if args.quick else 100_000
    blocks = 5
    activities = stream(count)

    baseline = per_block(BASELINE, activities, blocks)
    decaying = per_block(DECAYING, activities, blocks)

    size = count // blocks
    print(f"One contact, {count:,} activities, one a minute, history kept (µs per record)")
    print()
    print("| activities already recorded | without decay | with decay | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for block, (plain, decayed) in enumerate(zip(baseline, decaying, strict=True)):
        print(
            f"| {block * size:,} to {(block + 1) * size:,} | {plain:.1f} | {decayed:.1f} "
            f"| {decayed / plain:.2f} |"
        )


if __name__ == "__main__":
    main()
