"""Crash test: a pipeline in a child process, killed with SIGKILL between commit and delivery.

The child (pipeline_crash_child.py) records activities into a Tracker with SQLiteStore
and posts hand-overs to a webhook server in this process. Each run is killed at a
moment chosen at random from four kinds: right after a record call committed, while
the server keeps a delivery waiting for its reply, after a random pause, or once
everything was delivered. After every restart, every crossing whose state change was committed must
have reached the server. A hand-over may arrive more than once, but only with the
same idempotency key, and nothing may arrive for a crossing that was rolled back.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from handover_helpers import ReceivedRequest, RecordingHTTPServer, Reply

from leadscore.handover import HandOver, verify_signature

CHILD = Path(__file__).with_name("pipeline_crash_child.py")
SECRET = "crash-test-secret"  # the child's webhook secret
PER_RUN = 24  # the child's activities per run
KILL_MODES = ("after_commit", "during_delivery", "after_pause", "after_drain")
# A child still running this many seconds after its start is killed, so a hung child
# fails the test instead of hanging it. It bounds a wait; no assertion depends on it.
WATCHDOG_SECONDS = 60.0


class KeyRecorder:
    """A webhook receiver that records each request's key and crossing, and can hold one.

    After `hold_next`, the next request is recorded and left unanswered until `release`.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        # The crossing each key was sent for: (contact, scoring, threshold, instant).
        self.crossings: dict[tuple[str, str, str, str], set[str]] = collections.defaultdict(set)
        self.bad_signatures = 0
        self.request_held = threading.Event()
        self._hold = False
        self._release = threading.Event()
        self._lock = threading.Lock()

    def hold_next(self) -> None:
        with self._lock:
            self._hold = True
            self.request_held.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def __call__(self, request: ReceivedRequest) -> Reply:
        signature = request.headers.get("X-Leadscore-Signature", "")
        handover = json.loads(request.body)["handover"]
        key = request.headers["Idempotency-Key"]
        crossing = (
            handover["contact_id"],
            handover["scoring"],
            handover["threshold"]["name"],
            handover["at"],
        )
        with self._lock:
            self.keys.append(key)
            self.crossings[crossing].add(key)
            if not verify_signature(SECRET, request.body, signature) or handover["key"] != key:
                self.bad_signatures += 1
            hold, self._hold = self._hold, False
        if hold:
            self.request_held.set()
            self._release.wait(WATCHDOG_SECONDS)
        return Reply(200, body=b"{}")


class Child:
    """One run of the child process, with a watchdog that kills it if it hangs."""

    def __init__(self, database: Path, url: str, run: int) -> None:
        self.stderr_path = database.with_name(f"child-{run}-stderr.txt")
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(CHILD), str(database), url, str(run)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=os.environ.copy(),
                text=True,
            )
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self.process.kill)
        self._watchdog.start()

    def expect(self, prefix: str) -> None:
        """Read lines until one starts with ``prefix``; fails if the child ends first."""
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            assert line, (
                f"the child ended before printing {prefix!r}; its stderr ends with:\n"
                + self.stderr_path.read_text(errors="replace")[-3000:]
            )
            if line.startswith(prefix):
                return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._watchdog.cancel()
        assert self.process.stdout is not None
        self.process.stdout.close()


def committed_keys(database: Path) -> set[str]:
    """Return the keys of the crossings the child's transactions committed."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT contact_id, scoring, threshold, at FROM crossing_log"
        ).fetchall()
    finally:
        connection.close()
    return {
        HandOver.make_key(contact, scoring, threshold, dt.datetime.fromisoformat(at))
        for contact, scoring, threshold, at in rows
    }


def delivery_statuses(database: Path) -> collections.Counter[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT status FROM leadscore_handover_delivery").fetchall()
    finally:
        connection.close()
    return collections.Counter(status for (status,) in rows)


def kill_at_random(child: Child, receiver: KeyRecorder, mode: str, rng: random.Random) -> None:
    if mode == "after_commit":
        for _ in range(rng.randint(1, PER_RUN)):
            child.expect("committed ")
    elif mode == "during_delivery":
        receiver.hold_next()
        assert receiver.request_held.wait(WATCHDOG_SECONDS), "no delivery reached the server"
    elif mode == "after_pause":
        threading.Event().wait(rng.uniform(0.0, 0.3))
    else:
        child.expect("drained")
    child.kill()
    receiver.release()


def restart_and_check(database: Path, url: str, run: int, receiver: KeyRecorder) -> Child:
    """Start the child and check that it delivered every hand-over committed so far."""
    child = Child(database, url, run)
    child.expect("recovered")
    missing = committed_keys(database) - set(receiver.keys)
    assert not missing, f"run {run}: {len(missing)} committed hand-over(s) not delivered"
    return child


def crash_and_restart(tmp_path: Path, runs: int, seed: int) -> None:
    database = tmp_path / "scores.db"
    rng = random.Random(seed)
    receiver = KeyRecorder()
    server = RecordingHTTPServer()
    server.handler = receiver
    url = f"{server.url}/hooks/leads"

    try:
        for run in range(runs):
            child = restart_and_check(database, url, run, receiver)
            # The first runs use each kind of kill once; later runs choose at random.
            mode = KILL_MODES[run] if run < len(KILL_MODES) else rng.choice(KILL_MODES)
            kill_at_random(child, receiver, mode, rng)
        # A last run records nothing: it only delivers what the last kill left.
        restart_and_check(database, url, -1, receiver).kill()
    finally:
        receiver.release()
        server.close()

    committed = committed_keys(database)
    received = collections.Counter(receiver.keys)
    assert committed, "the child committed no crossing"
    assert set(received) == committed
    assert receiver.bad_signatures == 0
    assert all(len(keys) == 1 for keys in receiver.crossings.values())
    # The delivery the server held when its child died was sent again after the restart.
    assert any(count > 1 for count in received.values())
    assert delivery_statuses(database) == {"delivered": len(committed)}


def test_sigkill_loses_no_handover(tmp_path: Path) -> None:
    crash_and_restart(tmp_path, runs=20, seed=20260302)


@pytest.mark.slow
def test_sigkill_soak(tmp_path: Path) -> None:
    crash_and_restart(tmp_path, runs=150, seed=7)
