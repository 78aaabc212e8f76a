"""MemoryOutbox and SQLiteOutbox: idempotent adds, claims, outcomes, dead letters, transactions."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from handover_helpers import CROSSED_AT, make_handover

from leadscore.handover import HandOver, MemoryOutbox, Outbox, SQLiteOutbox
from leadscore.model import Contact

LEASE = dt.timedelta(minutes=5)
NOW = CROSSED_AT


@pytest.fixture(params=["memory", "sqlite"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    if request.param == "memory":
        yield MemoryOutbox()
        return
    sqlite_outbox = SQLiteOutbox(tmp_path / "outbox.db")
    yield sqlite_outbox
    sqlite_outbox.close()


def test_outboxes_follow_protocol(tmp_path: Path) -> None:
    with SQLiteOutbox(tmp_path / "outbox.db") as sqlite_outbox:
        assert isinstance(sqlite_outbox, Outbox)
    assert isinstance(MemoryOutbox(), Outbox)


def test_add_counts_new_pairs_only(outbox: Outbox, handover: HandOver) -> None:
    assert outbox.add(handover, ["email", "crm"], now=NOW) == 2
    assert outbox.add(handover, ["email", "crm"], now=NOW) == 0
    assert outbox.add(handover, ["crm", "file", "file"], now=NOW) == 1

    deliveries = outbox.deliveries()
    assert [(d.sink, d.status, d.attempts) for d in deliveries] == [
        ("email", "pending", 0),
        ("crm", "pending", 0),
        ("file", "pending", 0),
    ]
    assert {d.key for d in deliveries} == {handover.key}
    assert deliveries[0].load_handover() == handover


def test_add_rejects_bad_sink_names(outbox: Outbox, handover: HandOver) -> None:
    with pytest.raises(TypeError, match="not one text value"):
        outbox.add(handover, "email")
    with pytest.raises(ValueError, match="at least one"):
        outbox.add(handover, [])
    with pytest.raises(ValueError, match="non-empty text"):
        outbox.add(handover, [""])


def test_claim_hides_delivery_for_lease(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email", "crm"], now=NOW)

    first = outbox.claim_next(NOW, LEASE)
    second = outbox.claim_next(NOW, LEASE)
    third = outbox.claim_next(NOW, LEASE)
    after_lease = outbox.claim_next(NOW + LEASE, LEASE)

    assert first is not None
    assert second is not None
    assert (first.sink, second.sink) == ("email", "crm")
    assert first.next_attempt_at == NOW + LEASE
    assert third is None
    assert after_lease is not None
    assert after_lease.id == first.id


def test_retry_waits_until_due(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None
    due = NOW + dt.timedelta(seconds=30)

    outbox.record_retry(claimed.id, attempts=1, error="HTTP 503", next_attempt_at=due, now=NOW)

    assert outbox.next_due() == due
    assert outbox.claim_next(due - dt.timedelta(microseconds=1), LEASE) is None
    again = outbox.claim_next(due, LEASE)
    assert again is not None
    assert (again.attempts, again.last_error) == (1, "HTTP 503")


def test_next_due_for_new_and_empty(outbox: Outbox, handover: HandOver) -> None:
    assert outbox.next_due() is None

    outbox.add(handover, ["email"], now=NOW)

    assert outbox.next_due() == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_delivered_is_never_claimed_again(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None

    outbox.record_delivered(claimed.id, attempts=1, now=NOW)

    assert outbox.claim_next(NOW + dt.timedelta(days=1), LEASE) is None
    assert outbox.next_due() is None
    assert outbox.add(handover, ["email"], now=NOW) == 0
    (delivery,) = outbox.deliveries(status="delivered")
    assert delivery.attempts == 1


def test_dead_letter_keeps_error_and_attempts(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email", "crm"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None
    later = NOW + dt.timedelta(hours=1)

    outbox.record_dead(claimed.id, attempts=8, error="HTTP 400", now=later)

    (letter,) = outbox.dead_letters()
    assert (letter.id, letter.sink, letter.status) == (claimed.id, "email", "dead")
    assert (letter.attempts, letter.last_error, letter.updated_at) == (8, "HTTP 400", later)
    assert letter.contact_id == "c-1"


def test_retry_dead_letter_resets_attempts(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email", "crm"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None
    outbox.record_dead(claimed.id, attempts=8, error="HTTP 400", now=NOW)

    assert outbox.retry_dead_letter(claimed.id, now=NOW) is True
    assert outbox.retry_dead_letter(claimed.id, now=NOW) is False
    assert outbox.retry_dead_letter(9999, now=NOW) is False

    revived = outbox.claim_next(NOW, LEASE)
    assert revived is not None
    assert (revived.id, revived.attempts, revived.last_error) == (claimed.id, 0, "HTTP 400")


def test_retry_all_counts(outbox: Outbox) -> None:
    for number in range(3):
        outbox.add(make_handover(contact=Contact(f"c-{number}")), ["email"], now=NOW)
    for _ in range(3):
        claimed = outbox.claim_next(NOW, LEASE)
        assert claimed is not None
        outbox.record_dead(claimed.id, attempts=1, error="x", now=NOW)

    assert outbox.retry_all(now=NOW) == 3
    assert outbox.dead_letters() == []
    assert len(outbox.deliveries(status="pending")) == 3


def test_purge_by_age(outbox: Outbox) -> None:
    old, recent = make_handover(contact=Contact("old")), make_handover(contact=Contact("new"))
    outbox.add(old, ["email"], now=NOW)
    outbox.add(recent, ["email"], now=NOW)
    for died_at in (NOW, NOW + dt.timedelta(days=10)):
        claimed = outbox.claim_next(NOW, LEASE)
        assert claimed is not None
        outbox.record_dead(claimed.id, attempts=1, error="x", now=died_at)

    purged = outbox.purge_dead_letters(NOW + dt.timedelta(days=5))

    assert purged == 1
    assert [letter.contact_id for letter in outbox.dead_letters()] == ["new"]
    assert outbox.purge_dead_letters() == 1
    assert outbox.dead_letters() == []


def test_purged_handover_can_be_added_again(outbox: Outbox, handover: HandOver) -> None:
    outbox.add(handover, ["email"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None
    outbox.record_dead(claimed.id, attempts=1, error="x", now=NOW)
    outbox.purge_dead_letters()

    assert outbox.add(handover, ["email"], now=NOW) == 1
    (delivery,) = outbox.deliveries()
    assert delivery.id != claimed.id


def test_purge_delivered_keeps_pending(outbox: Outbox) -> None:
    outbox.add(make_handover(contact=Contact("done")), ["email"], now=NOW)
    outbox.add(make_handover(contact=Contact("waiting")), ["email"], now=NOW)
    claimed = outbox.claim_next(NOW, LEASE)
    assert claimed is not None
    outbox.record_delivered(claimed.id, attempts=1, now=NOW)

    assert outbox.purge_delivered() == 1
    assert [d.contact_id for d in outbox.deliveries()] == ["waiting"]


def test_naive_instants_are_rejected(outbox: Outbox, handover: HandOver) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        outbox.add(handover, ["email"], now=dt.datetime(2026, 6, 1))


# --- SQLite only ------------------------------------------------------------------------


def test_add_on_caller_connection_waits_for_commit(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE score_state (contact_id TEXT PRIMARY KEY, score INTEGER)")
    connection.commit()
    outbox = SQLiteOutbox(connection)

    connection.execute("INSERT INTO score_state VALUES ('c-1', 105)")
    added = outbox.add(handover, ["email", "crm"], now=NOW)

    assert added == 2
    assert connection.in_transaction
    assert outbox.deliveries() == []  # the dispatcher's connection reads no delivery yet
    assert outbox.claim_next(NOW, LEASE) is None

    connection.commit()

    assert [d.sink for d in outbox.deliveries()] == ["email", "crm"]
    outbox.close()
    connection.close()


def test_rollback_drops_handover_with_state(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE score_state (contact_id TEXT PRIMARY KEY, score INTEGER)")
    connection.commit()
    outbox = SQLiteOutbox(connection)

    def change_state_then_fail() -> None:
        with connection:  # rolls back when the block raises
            connection.execute("INSERT INTO score_state VALUES ('c-1', 105)")
            outbox.add(handover, ["email"], now=NOW)
            raise RuntimeError("state store failed")

    with pytest.raises(RuntimeError):
        change_state_then_fail()

    assert outbox.deliveries() == []
    assert connection.execute("SELECT COUNT(*) FROM score_state").fetchone() == (0,)
    outbox.close()
    connection.close()


def test_readding_in_later_transaction_is_noop(tmp_path: Path, handover: HandOver) -> None:
    connection = sqlite3.connect(tmp_path / "state.db")
    outbox = SQLiteOutbox(connection)
    with connection:
        outbox.add(handover, ["email"], now=NOW)

    with connection:
        added = outbox.add(handover, ["email"], now=NOW)

    assert added == 0
    assert len(outbox.deliveries()) == 1
    outbox.close()
    connection.close()


def test_unique_constraint_on_key_and_sink(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "outbox.db"
    with SQLiteOutbox(path) as outbox:
        outbox.add(handover, ["email"], now=NOW)

    connection = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        connection.execute(
            "INSERT INTO leadscore_handover_delivery (key, sink, created_at, updated_at)"
            " VALUES (?, 'email', 0, 0)",
            (handover.key,),
        )
    connection.close()


def test_reopened_file_keeps_state(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "outbox.db"
    with SQLiteOutbox(path) as outbox:
        outbox.add(handover, ["email", "crm"], now=NOW)
        claimed = outbox.claim_next(NOW, LEASE)
        assert claimed is not None
        outbox.record_dead(claimed.id, attempts=3, error="HTTP 400", now=NOW)

    with SQLiteOutbox(path) as reopened:
        assert reopened.add(handover, ["email", "crm"], now=NOW) == 0
        (letter,) = reopened.dead_letters()
        pending = reopened.claim_next(NOW, LEASE)

    assert (letter.sink, letter.attempts, letter.last_error) == ("email", 3, "HTTP 400")
    assert pending is not None
    assert pending.sink == "crm"
    assert pending.load_handover() == handover


def test_memory_connection_is_rejected() -> None:
    connection = sqlite3.connect(":memory:")

    with pytest.raises(ValueError, match="database file"):
        SQLiteOutbox(connection)
    connection.close()


def test_memory_path_works(handover: HandOver) -> None:
    with SQLiteOutbox(":memory:") as outbox:
        assert outbox.add(handover, ["email"], now=NOW) == 1
        assert outbox.claim_next(NOW, LEASE) is not None


def test_instants_round_trip_to_microsecond(tmp_path: Path, handover: HandOver) -> None:
    exact = dt.datetime(2026, 6, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
    with SQLiteOutbox(tmp_path / "outbox.db") as outbox:
        outbox.add(handover, ["email"], now=exact)

        (delivery,) = outbox.deliveries()

    assert delivery.created_at == exact
