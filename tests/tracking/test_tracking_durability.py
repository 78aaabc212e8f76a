"""Crashes, threads and processes: nothing acknowledged is lost and no event repeats."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from crash_child import CONTACTS, RULES, activity, open_tracker

import leadscore
from leadscore import Activity, Contact
from leadscore.tracking import MemoryStore, SQLiteStore, Tracker

CHILD = Path(__file__).with_name("crash_child.py")


def _stored_activities(path: Path) -> dict[str, list[Activity]]:
    """Return every activity stored in the tracker database, by contact."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT contact_id, key FROM tracker_activities").fetchall()
    found: dict[str, list[Activity]] = {}
    for contact_id, key in rows:
        number = int(key.removeprefix("i:e"))
        found.setdefault(contact_id, []).append(activity(number))
    return found


def _event_log(path: Path) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT contact_id, scoring, threshold, kind, at FROM event_log ORDER BY seq"
        ).fetchall()


def _last_events(path: Path) -> dict[tuple[str, str, str], str]:
    """Check that events alternate per threshold (reached, dropped, ...); return the last ones."""
    last: dict[tuple[str, str, str], str] = {}
    for contact_id, scoring, threshold, kind, _ in _event_log(path):
        key = (contact_id, scoring, threshold)
        assert last.get(key, "dropped") != kind, f"{kind} emitted twice in a row for {key}"
        last[key] = kind
    return last


def _run_child(path: Path, first: int, lifetime: float) -> list[str]:
    """Let the child record for ``lifetime`` seconds, SIGKILL it, return the ids it acknowledged."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHILD.parent), *sys.path])}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    first_line = child.stdout.readline()
    time.sleep(lifetime)
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors.decode()
    return (first_line + rest).decode().split()


def _check_store(path: Path, acknowledged: set[str]) -> None:
    stored = _stored_activities(path)
    stored_ids = {item.id for items in stored.values() for item in items}
    assert acknowledged <= stored_ids

    last = _last_events(path)
    tracker = open_tracker(str(path))
    engine = tracker.engine
    for contact_id, items in stored.items():
        clock = tracker.clock(contact_id)
        expected = engine.score(Contact(contact_id), items, clock)
        assert tracker.scores(contact_id) == expected
        for threshold in engine.thresholds("Sales"):
            reached = expected["Sales"].total >= threshold.points
            assert (last.get((contact_id, "Sales", threshold.name)) == "reached") == reached
    tracker.close()


def _crash_rounds(path: Path, rounds: int, seed: int) -> None:
    chooser = random.Random(seed)
    acknowledged: set[str] = set()
    first = 0
    for _ in range(rounds):
        acknowledged.update(_run_child(path, first, chooser.uniform(0.02, 0.4)))
        _check_store(path, acknowledged)
        # The next child starts a little before the last acknowledgement, so it repeats some ids.
        first = max(
            0, max((int(found[1:]) for found in acknowledged), default=0) - chooser.randint(0, 5)
        )


def test_sigkill_loses_nothing(tmp_path: Path) -> None:
    _crash_rounds(tmp_path / "crash.db", rounds=20, seed=7)


@pytest.mark.slow
def test_sigkill_soak(tmp_path: Path) -> None:
    _crash_rounds(tmp_path / "soak.db", rounds=300, seed=11)


# ---------------------------------------------------------------- concurrency


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_threads_share_tracker(tmp_path: Path, store_kind: str) -> None:
    engine = leadscore.compile(RULES)
    store = (
        MemoryStore()
        if store_kind == "memory"
        else SQLiteStore(tmp_path / "threads.db", synchronous="NORMAL")
    )
    tracker = Tracker(engine, store, keep_history=True)
    numbers = list(range(800))
    chunks = [numbers[start::4] for start in range(4)]
    errors: list[BaseException] = []

    def work(chunk: list[int]) -> None:
        try:
            for number in chunk:
                tracker.record(activity(number))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    for index in range(CONTACTS):
        contact_id = f"c{index}"
        items = [activity(number) for number in numbers if number % CONTACTS == index]
        clock = tracker.clock(contact_id)
        assert clock == max(item.occurred_at for item in items)
        assert tracker.scores(contact_id) == engine.score(Contact(contact_id), items, clock)


_WRITER = """
import sys
from crash_child import activity, open_tracker
tracker = open_tracker(sys.argv[1])
for number in range(int(sys.argv[2]), 600, 2):
    tracker.record(activity(number))
tracker.close()
"""


def test_two_processes_share_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    open_tracker(str(path)).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHILD.parent), *sys.path])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(start)], env=env, stderr=subprocess.PIPE
        )
        for start in (0, 1)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()

    last = _last_events(path)
    tracker = open_tracker(str(path))
    engine = tracker.engine
    for index in range(CONTACTS):
        contact_id = f"c{index}"
        items = [activity(number) for number in range(600) if number % CONTACTS == index]
        clock = tracker.clock(contact_id)
        expected = engine.score(Contact(contact_id), items, clock)
        assert tracker.scores(contact_id) == expected
        reached = {
            name
            for (contact, _, name), kind in last.items()
            if contact == contact_id and kind == "reached"
        }
        assert reached == {threshold.name for threshold in expected["Sales"].thresholds_reached}
    stored = _stored_activities(path)
    assert sum(len(items) for items in stored.values()) == 600
