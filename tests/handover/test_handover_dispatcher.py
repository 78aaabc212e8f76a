"""Dispatcher: backoff with jitter, dead letters, enrichment, per-sink tracking, the thread."""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from handover_helpers import CROSSED_AT, FakeClock, make_handover

from leadscore.errors import DeliveryError
from leadscore.handover import (
    CallbackSink,
    Delivery,
    Dispatcher,
    HandOver,
    MemoryOutbox,
    SQLiteOutbox,
    backoff_delay,
)
from leadscore.handover.dispatcher import MAX_RETRY_AFTER
from leadscore.model import Contact


class ScriptedSink:
    """A sink that fails with the queued errors, then succeeds, recording every attempt."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.attempts: list[HandOver] = []
        self.delivered: list[HandOver] = []

    def deliver(self, handover: HandOver) -> None:
        self.attempts.append(handover)
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(handover)


class AlwaysFailing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.attempts = 0

    def deliver(self, handover: HandOver) -> None:
        self.attempts += 1
        raise self.error


def retryable(message: str = "HTTP 503", retry_after: float | None = None) -> DeliveryError:
    return DeliveryError(message, retryable=True, retry_after=retry_after)


def only_delivery(outbox: MemoryOutbox) -> Delivery:
    (delivery,) = outbox.deliveries()
    return delivery


def test_backoff_schedule_uses_full_jitter(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    sink = AlwaysFailing(retryable())
    dispatcher = Dispatcher(
        outbox,
        {"hook": sink},
        max_attempts=6,
        base_delay=2.0,
        max_delay=10.0,
        clock=clock,
        rng=random.Random(42),
    )
    dispatcher.submit(handover)
    expected_rng = random.Random(42)
    ceilings = [2.0, 4.0, 8.0, 10.0, 10.0]

    for attempt, ceiling in enumerate(ceilings, start=1):
        summary = dispatcher.run_pending()
        delivery = only_delivery(outbox)
        assert delivery.next_attempt_at is not None
        delay = (delivery.next_attempt_at - clock.now).total_seconds()

        assert summary.retried == 1
        assert delivery.attempts == attempt
        assert delay == pytest.approx(expected_rng.uniform(0.0, ceiling), abs=1e-6)
        assert 0.0 <= delay <= ceiling

        # Not due yet: a round just before the retry time does nothing.
        clock.advance(max(delay - 0.001, 0.0))
        if delay > 0.001:
            assert dispatcher.run_pending().attempted == 0
        clock.advance(0.001)

    final = dispatcher.run_pending()

    assert final.dead == 1
    assert sink.attempts == 6
    (letter,) = dispatcher.dead_letters()
    assert letter.attempts == 6
    assert letter.last_error == "DeliveryError: HTTP 503"


def test_backoff_delay_bounds() -> None:
    rng = random.Random(0)

    draws = [backoff_delay(n, base_delay=1.0, max_delay=300.0, rng=rng) for n in range(1, 200)]

    assert all(0.0 <= delay <= 300.0 for delay in draws)
    assert max(draws[12:]) > 150.0  # the ceiling reached max_delay
    assert backoff_delay(10_000, base_delay=1.0, max_delay=5.0, rng=rng) <= 5.0


def test_same_seed_same_schedule(clock: FakeClock) -> None:
    schedules = []
    for _ in range(2):
        outbox = MemoryOutbox()
        dispatcher = Dispatcher(
            outbox, {"hook": AlwaysFailing(retryable())}, clock=clock, rng=random.Random(7)
        )
        for number in range(3):
            dispatcher.submit(make_handover(contact=Contact(f"c-{number}")))
        dispatcher.run_pending()
        schedules.append([d.next_attempt_at for d in outbox.deliveries()])

    assert schedules[0] == schedules[1]
    assert len(set(schedules[0])) == 3  # jitter spreads the retries


def test_retry_after_is_honoured(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    dispatcher = Dispatcher(
        outbox,
        {"hook": ScriptedSink(retryable("HTTP 429", retry_after=120.0))},
        base_delay=1.0,
        max_delay=10.0,
        clock=clock,
        rng=random.Random(1),
    )
    dispatcher.submit(handover)

    dispatcher.run_pending()

    assert only_delivery(outbox).next_attempt_at == clock.now + dt.timedelta(seconds=120)
    clock.advance(119)
    assert dispatcher.run_pending().attempted == 0
    clock.advance(1)
    assert dispatcher.run_pending().delivered == 1


def test_retry_after_is_capped(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    dispatcher = Dispatcher(
        outbox,
        {"hook": ScriptedSink(retryable("HTTP 503", retry_after=10 * 86400.0))},
        clock=clock,
    )
    dispatcher.submit(handover)

    dispatcher.run_pending()

    delay = only_delivery(outbox).next_attempt_at - clock.now  # type: ignore[operator]
    assert delay == dt.timedelta(seconds=MAX_RETRY_AFTER)


def test_permanent_failure_is_dead_at_once(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    sink = AlwaysFailing(DeliveryError("HTTP 400", retryable=False))
    dispatcher = Dispatcher(outbox, {"hook": sink}, clock=clock)
    dispatcher.submit(handover)

    summary = dispatcher.run_pending()

    assert (summary.attempted, summary.dead) == (1, 1)
    (letter,) = dispatcher.dead_letters()
    assert (letter.attempts, letter.last_error) == (1, "DeliveryError: HTTP 400")


def test_unexpected_exception_is_retried_and_stored(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    sink = ScriptedSink(ValueError("bad row for ann@example.com"))
    dispatcher = Dispatcher(outbox, {"hook": sink}, clock=clock, rng=random.Random(1))
    dispatcher.submit(handover)

    first = dispatcher.run_pending()

    assert first.retried == 1
    assert only_delivery(outbox).last_error == "ValueError: bad row for ann@example.com"
    clock.advance(5)
    assert dispatcher.run_pending().delivered == 1


def test_unknown_sink_becomes_dead_letter(clock: FakeClock, handover: HandOver) -> None:
    outbox = MemoryOutbox()
    outbox.add(handover, ["retired-sink"], now=clock.now)
    dispatcher = Dispatcher(outbox, {"hook": ScriptedSink()}, clock=clock)

    summary = dispatcher.run_pending()

    assert summary.dead == 1
    (letter,) = dispatcher.dead_letters()
    assert "no sink named 'retired-sink'" in (letter.last_error or "")


def test_failing_sink_does_not_resend_others(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    good = ScriptedSink()
    flaky = ScriptedSink(retryable(), retryable())
    dispatcher = Dispatcher(
        outbox, {"email": good, "crm": flaky}, clock=clock, rng=random.Random(5)
    )
    handovers = [make_handover(contact=Contact(f"c-{n}")) for n in range(3)]
    for handover in handovers:
        dispatcher.submit(handover)

    for _ in range(6):
        dispatcher.run_pending()
        clock.advance(60)

    assert good.delivered == handovers
    assert sorted(h.key for h in flaky.delivered) == sorted(h.key for h in handovers)
    assert len(flaky.attempts) == 5  # two failures, then three deliveries
    assert {d.status for d in outbox.deliveries()} == {"delivered"}


def test_submit_twice_delivers_once(clock: FakeClock, handover: HandOver) -> None:
    sink = ScriptedSink()
    dispatcher = Dispatcher(MemoryOutbox(), {"hook": sink}, clock=clock)

    assert dispatcher.submit(handover) == 1
    dispatcher.run_pending()
    assert dispatcher.submit(handover) == 0
    dispatcher.run_pending()

    assert sink.delivered == [handover]


class OwnerLookup:
    """An enricher reading the user's own contact table, which may lose contacts."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        self.calls: list[str] = []

    def enrich(self, handover: HandOver) -> HandOver:
        self.calls.append(handover.contact_id)
        return handover.with_details({"owner": self.owners[handover.contact_id]})


def test_enricher_runs_once_per_handover_per_round(clock: FakeClock, handover: HandOver) -> None:
    email, crm = ScriptedSink(), ScriptedSink()
    enricher = OwnerLookup({"c-1": "Bob"})
    dispatcher = Dispatcher(
        MemoryOutbox(), {"email": email, "crm": crm}, enricher=enricher, clock=clock
    )
    dispatcher.submit(handover)

    dispatcher.run_pending()

    assert enricher.calls == ["c-1"]
    assert email.delivered[0].details == {"owner": "Bob"}
    assert crm.delivered[0].details == {"owner": "Bob"}
    assert email.delivered[0].profile == handover.profile


def test_deleted_contact_enrichment_dead_letters(clock: FakeClock) -> None:
    kept = make_handover(contact=Contact("c-kept", {"name": "Kept"}))
    deleted = make_handover(contact=Contact("c-deleted", {"name": "Gone"}))
    sink = ScriptedSink()
    outbox = MemoryOutbox()
    enricher = OwnerLookup({"c-kept": "Bob", "c-deleted": "Eve"})
    dispatcher = Dispatcher(
        outbox,
        {"hook": sink},
        enricher=enricher,
        max_attempts=3,
        clock=clock,
        rng=random.Random(2),
    )
    dispatcher.submit(deleted)
    dispatcher.submit(kept)
    del enricher.owners["c-deleted"]  # the contact is deleted after the crossing

    summaries = []
    for _ in range(4):
        summaries.append(dispatcher.run_pending())
        clock.advance(60)

    assert [h.contact_id for h in sink.delivered] == ["c-kept"]
    (letter,) = dispatcher.dead_letters()
    assert (letter.contact_id, letter.attempts) == ("c-deleted", 3)
    assert letter.last_error == "KeyError: 'c-deleted'"
    assert sum(s.dead for s in summaries) == 1


def test_deleted_contact_delivers_snapshot(clock: FakeClock) -> None:
    contacts = {"c-1": Contact("c-1", {"name": "Ann", "email": "ann@example.com"})}
    handover = make_handover(contact=contacts["c-1"])
    sink = ScriptedSink()
    dispatcher = Dispatcher(MemoryOutbox(), {"hook": sink}, clock=clock)
    dispatcher.submit(handover)

    del contacts["c-1"]
    dispatcher.run_pending()

    assert sink.delivered[0].profile == {"name": "Ann", "email": "ann@example.com"}


def test_enricher_changing_key_is_dead(clock: FakeClock, handover: HandOver) -> None:
    class KeyChanger:
        def enrich(self, handover: HandOver) -> HandOver:
            return make_handover(contact=Contact("someone-else"))

    dispatcher = Dispatcher(MemoryOutbox(), {"hook": ScriptedSink()}, enricher=KeyChanger())
    dispatcher.submit(handover)

    assert dispatcher.run_pending().dead == 1
    assert "same key" in (dispatcher.dead_letters()[0].last_error or "")


def test_damaged_payload_is_dead_letter(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "outbox.db"
    outbox = SQLiteOutbox(path)
    dispatcher = Dispatcher(outbox, {"hook": ScriptedSink()})
    dispatcher.submit(handover)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE leadscore_handover SET payload = '{\"version\": 1}'")
    raw.close()

    summary = dispatcher.run_pending()

    assert summary.dead == 1
    assert "cannot be decoded" in (dispatcher.dead_letters()[0].last_error or "")
    outbox.close()


def test_retry_and_purge_dead_letters(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    sink = ScriptedSink(*[DeliveryError("HTTP 400", retryable=False)] * 3)
    dispatcher = Dispatcher(outbox, {"hook": sink}, clock=clock)
    handovers = [make_handover(contact=Contact(f"c-{n}")) for n in range(3)]
    for handover in handovers:
        dispatcher.submit(handover)
    dispatcher.run_pending()
    first, _, _ = dispatcher.dead_letters()

    assert dispatcher.retry_dead_letter(first.id) is True
    assert dispatcher.retry_dead_letter(first.id) is False
    assert dispatcher.run_pending().delivered == 1
    clock.advance(3600)
    assert dispatcher.purge_dead_letters(older_than=dt.timedelta(minutes=30)) == 2
    assert dispatcher.dead_letters() == []
    assert [h.contact_id for h in sink.delivered] == ["c-0"]


def test_retry_all_sends_again(clock: FakeClock) -> None:
    sink = ScriptedSink(*[DeliveryError("HTTP 400", retryable=False)] * 2)
    dispatcher = Dispatcher(MemoryOutbox(), {"hook": sink}, clock=clock)
    for number in range(2):
        dispatcher.submit(make_handover(contact=Contact(f"c-{number}")))
    dispatcher.run_pending()

    assert dispatcher.retry_all() == 2
    assert dispatcher.run_pending().delivered == 2
    assert dispatcher.purge_dead_letters() == 0


def test_logs_name_ids_not_personal_data(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handover = make_handover(
        contact=Contact("c-9", {"name": "Zelda Secretname", "email": "zelda@example.com"})
    )
    sink = ScriptedSink(
        ValueError("zelda@example.com rejected"),
        DeliveryError("HTTP 400", retryable=False),
    )
    dispatcher = Dispatcher(MemoryOutbox(), {"hook": sink}, clock=clock)
    caplog.set_level(logging.DEBUG, logger="leadscore.handover")

    dispatcher.submit(handover)
    dispatcher.run_pending()
    clock.advance(60)
    dispatcher.run_pending()

    messages = [record.getMessage() for record in caplog.records]
    assert any("retrying" in m and handover.key in m and "c-9" in m for m in messages)
    assert any("dead letter" in m and "unexpected" not in m for m in messages)
    assert any("unexpected ValueError" in m for m in messages)
    text = "\n".join(messages)
    assert "zelda@example.com" not in text
    assert "Secretname" not in text
    assert all(record.exc_info is None for record in caplog.records)


def test_background_thread_delivers_and_stops(handover: HandOver) -> None:
    delivered = threading.Event()
    received: list[HandOver] = []

    def receive(handover: HandOver) -> None:
        received.append(handover)
        delivered.set()

    dispatcher = Dispatcher(MemoryOutbox(), {"hook": CallbackSink(receive)}, poll_interval=30.0)
    dispatcher.start()
    try:
        assert dispatcher.running
        with pytest.raises(RuntimeError, match="already running"):
            dispatcher.start()
        dispatcher.submit(handover)  # wakes the thread, which waits 30 s otherwise
        assert delivered.wait(5.0)
    finally:
        started = time.monotonic()
        dispatcher.stop()

    assert time.monotonic() - started < 2.0
    assert not dispatcher.running
    assert received == [handover]


def test_background_thread_survives_outbox_errors(
    handover: HandOver, caplog: pytest.LogCaptureFixture
) -> None:
    class LockedOnce(MemoryOutbox):
        def __init__(self) -> None:
            super().__init__()
            self.failed = False

        def claim_next(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
            if not self.failed:
                self.failed = True
                raise sqlite3.OperationalError("database is locked")
            return super().claim_next(now, lease)

    delivered = threading.Event()
    outbox = LockedOnce()
    outbox.add(handover, ["hook"])
    dispatcher = Dispatcher(
        outbox, {"hook": CallbackSink(lambda h: delivered.set())}, poll_interval=0.05
    )

    with dispatcher:
        assert delivered.wait(5.0)

    assert outbox.failed
    assert any("dispatcher round failed" in r.getMessage() for r in caplog.records)


def test_run_pending_works_after_stop(handover: HandOver) -> None:
    sink = ScriptedSink()
    dispatcher = Dispatcher(MemoryOutbox(), {"hook": sink}, poll_interval=30.0)
    dispatcher.start()
    dispatcher.stop()

    dispatcher.submit(handover)
    summary = dispatcher.run_pending()

    assert summary.delivered == 1
    assert sink.delivered == [handover]


def test_outbox_error_waits_poll_interval(handover: HandOver) -> None:
    class AlwaysLocked(MemoryOutbox):
        def __init__(self) -> None:
            super().__init__()
            self.claims = 0

        def claim_next(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
            self.claims += 1
            raise sqlite3.OperationalError("database is locked")

    outbox = AlwaysLocked()
    outbox.add(handover, ["hook"])
    waits: list[float] = []
    enough = threading.Event()

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 3:
            enough.set()
        time.sleep(0.001)

    dispatcher = Dispatcher(outbox, {"hook": ScriptedSink()}, sleep=sleep, poll_interval=2.5)
    with dispatcher:
        assert enough.wait(5.0)

    # The delivery is due at once, but a failing round must not retry without a pause.
    assert waits[:3] == [2.5, 2.5, 2.5]


def test_background_thread_with_custom_sleep(clock: FakeClock, handover: HandOver) -> None:
    sink = ScriptedSink(retryable(), retryable())
    outbox = MemoryOutbox()
    done = threading.Event()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if only_delivery(outbox).status == "delivered":
            done.set()
        time.sleep(0.001)

    dispatcher = Dispatcher(
        outbox, {"hook": sink}, clock=clock, sleep=sleep, rng=random.Random(3), poll_interval=5.0
    )
    dispatcher.submit(handover)

    with dispatcher:
        assert done.wait(5.0)

    assert len(sink.attempts) == 3
    assert clock.sleeps
    assert all(0.0 <= seconds <= 5.0 for seconds in clock.sleeps)


def test_sqlite_outbox_survives_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "outbox.db"
    handovers = [make_handover(contact=Contact(f"c-{n}")) for n in range(3)]
    first_run = ScriptedSink(*[retryable()] * 3)
    with SQLiteOutbox(path) as outbox:
        dispatcher = Dispatcher(outbox, {"hook": first_run}, clock=clock, rng=random.Random(4))
        for handover in handovers:
            dispatcher.submit(handover)
        assert dispatcher.run_pending().retried == 3

    second_run = ScriptedSink()
    clock.advance(60)
    with SQLiteOutbox(path) as reopened:
        dispatcher = Dispatcher(reopened, {"hook": second_run}, clock=clock)
        assert dispatcher.submit(handovers[0]) == 0
        summary = dispatcher.run_pending()
        attempts = [d.attempts for d in reopened.deliveries()]

    assert summary.delivered == 3
    assert second_run.delivered == handovers
    assert attempts == [2, 2, 2]


def test_sqlite_caller_transaction_then_dispatch(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    outbox = SQLiteOutbox(connection)
    sink = ScriptedSink()
    dispatcher = Dispatcher(outbox, {"email": sink, "crm": ScriptedSink()}, clock=clock)
    handover = make_handover()

    outbox.add(handover, dispatcher.sink_names, now=clock.now)
    before_commit = dispatcher.run_pending()
    connection.commit()
    after_commit = dispatcher.run_pending()

    assert before_commit.attempted == 0
    assert after_commit.delivered == 2
    assert sink.delivered == [handover]
    outbox.close()
    connection.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base_delay": 0}, "base_delay"),
        ({"base_delay": 10.0, "max_delay": 5.0}, "base_delay <= max_delay"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"claim_timeout": -1}, "claim_timeout"),
    ],
)
def test_configuration_errors(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Dispatcher(MemoryOutbox(), {"hook": ScriptedSink()}, **options)  # type: ignore[arg-type]


def test_sinks_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one sink"):
        Dispatcher(MemoryOutbox(), {})
    with pytest.raises(TypeError, match="no deliver"):
        Dispatcher(MemoryOutbox(), {"hook": object()})  # type: ignore[dict-item]


def test_clock_default_is_utc_now(handover: HandOver) -> None:
    outbox = MemoryOutbox()
    dispatcher = Dispatcher(outbox, {"hook": ScriptedSink()})

    dispatcher.submit(handover)

    created = outbox.deliveries()[0].created_at
    assert created.tzinfo is not None
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    assert created > CROSSED_AT - dt.timedelta(days=3650)
