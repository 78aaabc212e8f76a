"""Durable outbox of hand-overs waiting for their sinks, and its delivery records.

The outbox stores one *delivery* per (hand-over, sink name) pair: ``pending`` until a
sink accepts it, then ``delivered``, or ``dead`` (a dead letter) when it failed for
good. The `Dispatcher` takes due deliveries out and records each outcome. Adding the
same hand-over again, judged by its key, adds nothing for sinks it already has.

`SQLiteOutbox` can join the caller's transaction: `SQLiteOutbox.add` runs INSERTs on
the caller's connection and never commits, so a hand-over is stored if and only if
the state change that caused it is committed.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Literal, Protocol, runtime_checkable

import attrs

from leadscore.handover.record import HandOver

__all__ = ["Delivery", "DeliveryStatus", "MemoryOutbox", "Outbox", "SQLiteOutbox"]

DeliveryStatus = Literal["pending", "delivered", "dead"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)


@attrs.frozen
class Delivery:
    """One hand-over for one sink, with its delivery state.

    ``attempts`` counts the attempts made so far. ``next_attempt_at`` is when a pending
    delivery is next due, or None when it is due at once (and for delivered and dead
    ones). ``last_error`` is the last failure's message, also kept after success.
    ``updated_at`` is when the state last changed, which for a dead letter is when it
    died. ``payload`` is the hand-over's JSON.
    """

    id: int
    key: str
    contact_id: str
    sink: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    payload: str = attrs.field(repr=False)

    def load_handover(self) -> HandOver:
        """Decode the stored hand-over; raises DataError if the payload is damaged."""
        return HandOver.from_json(self.payload)


@runtime_checkable
class Outbox(Protocol):
    """Storage for deliveries that survives the dispatcher; see `MemoryOutbox` and `SQLiteOutbox`.

    Instants are aware UTC datetimes. ``now`` defaults to the current time.
    """

    def add(
        self, handover: HandOver, sinks: Iterable[str], *, now: dt.datetime | None = None
    ) -> int:
        """Store a pending delivery of ``handover`` per sink name; returns how many were new."""
        ...

    def claim_next(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
        """Return the oldest due delivery, held back from other claims until ``now + lease``."""
        ...

    def next_due(self) -> dt.datetime | None:
        """Return when the earliest pending delivery is due (the epoch if at once), or None."""
        ...

    def record_delivered(self, delivery_id: int, *, attempts: int, now: dt.datetime) -> None:
        """Mark a delivery delivered after ``attempts`` attempts."""
        ...

    def record_retry(
        self,
        delivery_id: int,
        *,
        attempts: int,
        error: str,
        next_attempt_at: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """Keep a failed delivery pending until ``next_attempt_at`` and store the error."""
        ...

    def record_dead(self, delivery_id: int, *, attempts: int, error: str, now: dt.datetime) -> None:
        """Make a delivery a dead letter with its last error and attempt count."""
        ...

    def deliveries(
        self, *, key: str | None = None, status: DeliveryStatus | None = None
    ) -> list[Delivery]:
        """Return deliveries in the order they were added, filtered by key and status."""
        ...

    def dead_letters(self) -> list[Delivery]:
        """Return the dead letters in the order they were added."""
        ...

    def retry_dead_letter(self, delivery_id: int, *, now: dt.datetime | None = None) -> bool:
        """Make a dead letter pending again with zero attempts; returns False if it is not one."""
        ...

    def retry_all(self, *, now: dt.datetime | None = None) -> int:
        """Make every dead letter pending again; returns how many."""
        ...

    def purge_dead_letters(self, older_than: dt.datetime | None = None) -> int:
        """Delete dead letters that died before ``older_than`` (all if None); returns how many.

        Adding a purged hand-over again queues it again.
        """
        ...

    def purge_delivered(self, older_than: dt.datetime | None = None) -> int:
        """Delete delivered records updated before ``older_than`` (all if None); returns how many.

        Adding a purged hand-over again sends it again, so keep records for longer than
        anything could re-add them.
        """
        ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_instant(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(dt.UTC)


def _check_sinks(sinks: Iterable[str]) -> list[str]:
    if isinstance(sinks, str):
        raise TypeError("sinks must be a list of sink names, not one text value")
    names = list(dict.fromkeys(sinks))  # drops repeats, keeps the order
    if not names:
        raise ValueError("a hand-over needs at least one sink name")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"sink names must be non-empty text, got {name!r}")
    return names


@attrs.define
class _MemoryRow:
    id: int
    key: str
    sink: str
    created_at: dt.datetime
    updated_at: dt.datetime
    status: DeliveryStatus = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None


class MemoryOutbox:
    """An outbox in memory, for tests and for processes that may lose pending hand-overs.

    Thread-safe. Everything is lost when the process ends. Example::

        dispatcher = Dispatcher(MemoryOutbox(), {"sales": EmailSink(...)})
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: dict[str, tuple[str, str]] = {}  # key -> (contact id, JSON)
        self._rows: dict[int, _MemoryRow] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._last_id = 0

    def add(
        self, handover: HandOver, sinks: Iterable[str], *, now: dt.datetime | None = None
    ) -> int:
        """Store a pending delivery of ``handover`` per sink name; returns how many were new."""
        names = _check_sinks(sinks)
        instant = _check_instant(now, "now") if now is not None else _utc_now()
        payload = handover.to_json()

        with self._lock:
            self._payloads.setdefault(handover.key, (handover.contact_id, payload))
            added = 0
            for sink in names:
                if (handover.key, sink) in self._ids:
                    continue
                self._last_id += 1
                self._rows[self._last_id] = _MemoryRow(
                    self._last_id, handover.key, sink, created_at=instant, updated_at=instant
                )
                self._ids[(handover.key, sink)] = self._last_id
                added += 1
            return added

    def claim_next(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
        """Return the oldest due delivery, held back from other claims until ``now + lease``."""
        now = _check_instant(now, "now")
        with self._lock:
            for row in self._rows.values():
                due = row.next_attempt_at is None or row.next_attempt_at <= now
                if row.status == "pending" and due:
                    row.next_attempt_at = now + lease
                    row.updated_at = now
                    return self._delivery(row)
            return None

    def next_due(self) -> dt.datetime | None:
        """Return when the earliest pending delivery is due (the epoch if at once), or None."""
        with self._lock:
            times = [
                row.next_attempt_at or _EPOCH
                for row in self._rows.values()
                if row.status == "pending"
            ]
            return min(times, default=None)

    def record_delivered(self, delivery_id: int, *, attempts: int, now: dt.datetime) -> None:
        """Mark a delivery delivered after ``attempts`` attempts."""
        with self._lock:
            row = self._pending_row(delivery_id)
            if row is not None:
                row.status, row.attempts, row.next_attempt_at = "delivered", attempts, None
                row.updated_at = _check_instant(now, "now")

    def record_retry(
        self,
        delivery_id: int,
        *,
        attempts: int,
        error: str,
        next_attempt_at: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """Keep a failed delivery pending until ``next_attempt_at`` and store the error."""
        with self._lock:
            row = self._pending_row(delivery_id)
            if row is not None:
                row.attempts, row.last_error = attempts, error
                row.next_attempt_at = _check_instant(next_attempt_at, "next_attempt_at")
                row.updated_at = _check_instant(now, "now")

    def record_dead(self, delivery_id: int, *, attempts: int, error: str, now: dt.datetime) -> None:
        """Make a delivery a dead letter with its last error and attempt count."""
        with self._lock:
            row = self._pending_row(delivery_id)
            if row is not None:
                row.status, row.attempts, row.last_error = "dead", attempts, error
                row.next_attempt_at = None
                row.updated_at = _check_instant(now, "now")

    def deliveries(
        self, *, key: str | None = None, status: DeliveryStatus | None = None
    ) -> list[Delivery]:
        """Return deliveries in the order they were added, filtered by key and status."""
        with self._lock:
            return [
                self._delivery(row)
                for row in self._rows.values()
                if (key is None or row.key == key) and (status is None or row.status == status)
            ]

    def dead_letters(self) -> list[Delivery]:
        """Return the dead letters in the order they were added."""
        return self.deliveries(status="dead")

    def retry_dead_letter(self, delivery_id: int, *, now: dt.datetime | None = None) -> bool:
        """Make a dead letter pending again with zero attempts; returns False if it is not one."""
        instant = _check_instant(now, "now") if now is not None else _utc_now()
        with self._lock:
            row = self._rows.get(delivery_id)
            if row is None or row.status != "dead":
                return False
            self._revive(row, instant)
            return True

    def retry_all(self, *, now: dt.datetime | None = None) -> int:
        """Make every dead letter pending again; returns how many."""
        instant = _check_instant(now, "now") if now is not None else _utc_now()
        with self._lock:
            dead = [row for row in self._rows.values() if row.status == "dead"]
            for row in dead:
                self._revive(row, instant)
            return len(dead)

    def purge_dead_letters(self, older_than: dt.datetime | None = None) -> int:
        """Delete dead letters that died before ``older_than`` (all if None); returns how many."""
        return self._purge("dead", older_than)

    def purge_delivered(self, older_than: dt.datetime | None = None) -> int:
        """Delete delivered records older than ``older_than`` (all if None); returns how many."""
        return self._purge("delivered", older_than)

    def _purge(self, status: DeliveryStatus, older_than: dt.datetime | None) -> int:
        cutoff = _check_instant(older_than, "older_than") if older_than is not None else None
        with self._lock:
            doomed = [
                row
                for row in self._rows.values()
                if row.status == status and (cutoff is None or row.updated_at < cutoff)
            ]
            for row in doomed:
                del self._rows[row.id]
                del self._ids[(row.key, row.sink)]
            kept_keys = {row.key for row in self._rows.values()}
            for key in [key for key in self._payloads if key not in kept_keys]:
                del self._payloads[key]
            return len(doomed)

    def _pending_row(self, delivery_id: int) -> _MemoryRow | None:
        row = self._rows.get(delivery_id)
        return row if row is not None and row.status == "pending" else None

    @staticmethod
    def _revive(row: _MemoryRow, now: dt.datetime) -> None:
        row.status, row.attempts, row.next_attempt_at, row.updated_at = "pending", 0, None, now

    def _delivery(self, row: _MemoryRow) -> Delivery:
        contact_id, payload = self._payloads[row.key]
        return Delivery(
            id=row.id,
            key=row.key,
            contact_id=contact_id,
            sink=row.sink,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            payload=payload,
        )


_SCHEMA: Final = (
    """
    CREATE TABLE IF NOT EXISTS leadscore_handover (
        key TEXT PRIMARY KEY,
        contact_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )
    """,
    # Instants are integer microseconds since the Unix epoch, UTC. AUTOINCREMENT keeps
    # the id of a purged dead letter from being given to a new delivery.
    """
    CREATE TABLE IF NOT EXISTS leadscore_handover_delivery (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL REFERENCES leadscore_handover (key),
        sink TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (key, sink)
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS leadscore_handover_delivery_due
        ON leadscore_handover_delivery (status, next_attempt_at)
    """,
)

_SELECT_DELIVERY: Final = """
    SELECT d.id, d.key, h.contact_id, d.sink, d.status, d.attempts, d.next_attempt_at,
           d.last_error, d.created_at, d.updated_at, h.payload
    FROM leadscore_handover_delivery AS d
    JOIN leadscore_handover AS h ON h.key = d.key
"""


class SQLiteOutbox:
    """An outbox in an SQLite database, which survives restarts.

    Given a path, the outbox owns its connection and `add` commits. Given an
    ``sqlite3.Connection``, `add` joins the caller's transaction: it runs INSERTs on
    that connection and never commits or rolls back. The caller commits the
    hand-over together with the state change that caused it, or rolls both back.
    Until then the dispatcher does not see it. With a connection in autocommit mode
    (``isolation_level=None``) each INSERT commits by itself.

    Everything else (claims, outcomes, dead letters) runs on a second connection that
    the outbox opens to the same database file and commits at once, so it never
    commits the caller's work. That is why a given connection must be to a database
    file, not ``:memory:``. Construct the outbox before opening a write transaction,
    because it creates its tables (``leadscore_handover`` and
    ``leadscore_handover_delivery``) through that second connection. While the
    caller has a write transaction open, the dispatcher waits up to ``timeout``
    seconds for it to end, so keep transactions short. WAL mode (``PRAGMA journal_mode=WAL``) lets
    the two connections read and write more freely. Example::

        connection = sqlite3.connect("state.db")
        outbox = SQLiteOutbox(connection)
        with connection:  # commits both or neither
            save_state(connection, ...)
            outbox.add(handover, ["sales-email", "crm"])

    Run one dispatcher per outbox. Claims hold a delivery back from other
    dispatchers only for the claim lease.
    """

    def __init__(
        self,
        connection_or_path: sqlite3.Connection | str | os.PathLike[str],
        *,
        timeout: float = 30.0,
    ) -> None:
        self._caller: sqlite3.Connection | None
        if isinstance(connection_or_path, sqlite3.Connection):
            self._caller = connection_or_path
            path = _database_file(connection_or_path)
        else:
            self._caller = None
            path = os.fspath(connection_or_path)

        # Autocommit mode: each method writes in its own explicit transaction.
        self._own = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        with self._transaction() as cursor:
            for statement in _SCHEMA:
                cursor.execute(statement)

    def close(self) -> None:
        """Close the outbox's own connection; a connection the caller gave stays open."""
        with self._lock:
            self._own.close()

    def __enter__(self) -> SQLiteOutbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(
        self, handover: HandOver, sinks: Iterable[str], *, now: dt.datetime | None = None
    ) -> int:
        """Store a pending delivery of ``handover`` per sink name; returns how many were new.

        On a caller's connection this only runs INSERTs and leaves the commit to the
        caller. The count is then what the INSERTs added in that transaction.
        """
        names = _check_sinks(sinks)
        instant = _to_micros(_check_instant(now, "now") if now is not None else _utc_now())
        payload = handover.to_json()

        if self._caller is not None:
            return self._insert(self._caller.cursor(), handover, payload, names, instant)
        with self._transaction() as cursor:
            return self._insert(cursor, handover, payload, names, instant)

    @staticmethod
    def _insert(
        cursor: sqlite3.Cursor, handover: HandOver, payload: str, sinks: list[str], now: int
    ) -> int:
        cursor.execute(
            "INSERT INTO leadscore_handover (key, contact_id, payload, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (handover.key, handover.contact_id, payload, now),
        )
        added = 0
        for sink in sinks:
            cursor.execute(
                "INSERT INTO leadscore_handover_delivery (key, sink, created_at, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (key, sink) DO NOTHING",
                (handover.key, sink, now, now),
            )
            added += cursor.rowcount
        return added

    def claim_next(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
        """Return the oldest due delivery, held back from other claims until ``now + lease``."""
        now = _check_instant(now, "now")
        query = (
            _SELECT_DELIVERY + " WHERE d.status = 'pending'"
            " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?)"
            " ORDER BY d.id LIMIT 1"
        )

        # A plain read first: the dispatcher polls often, and taking the write lock on
        # every poll would make the caller's transactions wait for nothing.
        with self._lock:
            if self._own.execute(query, (_to_micros(now),)).fetchone() is None:
                return None

        with self._transaction() as cursor:
            # Read again under the write lock, because another claim may have come first.
            row = cursor.execute(query, (_to_micros(now),)).fetchone()
            if row is None:
                return None
            cursor.execute(
                "UPDATE leadscore_handover_delivery SET next_attempt_at = ?, updated_at = ?"
                " WHERE id = ?",
                (_to_micros(now + lease), _to_micros(now), row[0]),
            )
        return attrs.evolve(_delivery(row), next_attempt_at=now + lease, updated_at=now)

    def next_due(self) -> dt.datetime | None:
        """Return when the earliest pending delivery is due (the epoch if at once), or None."""
        with self._lock:
            (earliest,) = self._own.execute(
                "SELECT MIN(COALESCE(next_attempt_at, 0)) FROM leadscore_handover_delivery"
                " WHERE status = 'pending'"
            ).fetchone()
        return _from_micros(earliest) if earliest is not None else None

    def record_delivered(self, delivery_id: int, *, attempts: int, now: dt.datetime) -> None:
        """Mark a delivery delivered after ``attempts`` attempts."""
        self._update_pending(
            delivery_id,
            "status = 'delivered', attempts = ?, next_attempt_at = NULL, updated_at = ?",
            (attempts, _to_micros(_check_instant(now, "now"))),
        )

    def record_retry(
        self,
        delivery_id: int,
        *,
        attempts: int,
        error: str,
        next_attempt_at: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """Keep a failed delivery pending until ``next_attempt_at`` and store the error."""
        self._update_pending(
            delivery_id,
            "attempts = ?, last_error = ?, next_attempt_at = ?, updated_at = ?",
            (
                attempts,
                error,
                _to_micros(_check_instant(next_attempt_at, "next_attempt_at")),
                _to_micros(_check_instant(now, "now")),
            ),
        )

    def record_dead(self, delivery_id: int, *, attempts: int, error: str, now: dt.datetime) -> None:
        """Make a delivery a dead letter with its last error and attempt count."""
        self._update_pending(
            delivery_id,
            "status = 'dead', attempts = ?, last_error = ?, next_attempt_at = NULL, updated_at = ?",
            (attempts, error, _to_micros(_check_instant(now, "now"))),
        )

    def _update_pending(self, delivery_id: int, assignments: str, values: tuple[Any, ...]) -> None:
        with self._transaction() as cursor:
            cursor.execute(
                f"UPDATE leadscore_handover_delivery SET {assignments}"
                " WHERE id = ? AND status = 'pending'",
                (*values, delivery_id),
            )

    def deliveries(
        self, *, key: str | None = None, status: DeliveryStatus | None = None
    ) -> list[Delivery]:
        """Return deliveries in the order they were added, filtered by key and status."""
        with self._lock:
            rows = self._own.execute(
                _SELECT_DELIVERY + " WHERE (:key IS NULL OR d.key = :key)"
                " AND (:status IS NULL OR d.status = :status)"
                " ORDER BY d.id",
                {"key": key, "status": status},
            ).fetchall()
        return [_delivery(row) for row in rows]

    def dead_letters(self) -> list[Delivery]:
        """Return the dead letters in the order they were added."""
        return self.deliveries(status="dead")

    def retry_dead_letter(self, delivery_id: int, *, now: dt.datetime | None = None) -> bool:
        """Make a dead letter pending again with zero attempts; returns False if it is not one."""
        instant = _check_instant(now, "now") if now is not None else _utc_now()
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE leadscore_handover_delivery"
                " SET status = 'pending', attempts = 0, next_attempt_at = NULL, updated_at = ?"
                " WHERE id = ? AND status = 'dead'",
                (_to_micros(instant), delivery_id),
            )
            return cursor.rowcount == 1

    def retry_all(self, *, now: dt.datetime | None = None) -> int:
        """Make every dead letter pending again; returns how many."""
        instant = _check_instant(now, "now") if now is not None else _utc_now()
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE leadscore_handover_delivery"
                " SET status = 'pending', attempts = 0, next_attempt_at = NULL, updated_at = ?"
                " WHERE status = 'dead'",
                (_to_micros(instant),),
            )
            return cursor.rowcount

    def purge_dead_letters(self, older_than: dt.datetime | None = None) -> int:
        """Delete dead letters that died before ``older_than`` (all if None); returns how many."""
        return self._purge("dead", older_than)

    def purge_delivered(self, older_than: dt.datetime | None = None) -> int:
        """Delete delivered records older than ``older_than`` (all if None); returns how many."""
        return self._purge("delivered", older_than)

    def _purge(self, status: DeliveryStatus, older_than: dt.datetime | None) -> int:
        cutoff = (
            _to_micros(_check_instant(older_than, "older_than")) if older_than is not None else None
        )
        with self._transaction() as cursor:
            cursor.execute(
                "DELETE FROM leadscore_handover_delivery"
                " WHERE status = :status AND (:cutoff IS NULL OR updated_at < :cutoff)",
                {"status": status, "cutoff": cutoff},
            )
            purged = cursor.rowcount
            # A hand-over with no delivery left is dropped too.
            cursor.execute(
                "DELETE FROM leadscore_handover WHERE NOT EXISTS"
                " (SELECT 1 FROM leadscore_handover_delivery AS d"
                "  WHERE d.key = leadscore_handover.key)"
            )
            return purged

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        # BEGIN IMMEDIATE takes the write lock at once, so a claim's SELECT and UPDATE
        # cannot interleave with another dispatcher's claim.
        with self._lock:
            cursor = self._own.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")


def _database_file(connection: sqlite3.Connection) -> str:
    """Return the file of the connection's main database; raises ValueError for one in memory."""
    for _, name, file in connection.execute("PRAGMA database_list").fetchall():
        if name == "main":
            if file:
                return str(file)
            break
    raise ValueError(
        "SQLiteOutbox needs a connection to a database file, because the dispatcher writes "
        "through a second connection to the same file; for an in-memory database use "
        "SQLiteOutbox(':memory:') or MemoryOutbox"
    )


def _to_micros(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> dt.datetime:
    return _EPOCH + micros * _MICROSECOND


def _delivery(row: tuple[Any, ...]) -> Delivery:
    (
        delivery_id,
        key,
        contact_id,
        sink,
        status,
        attempts,
        next_at,
        error,
        created,
        updated,
        payload,
    ) = row
    return Delivery(
        id=delivery_id,
        key=key,
        contact_id=contact_id,
        sink=sink,
        status=status,
        attempts=attempts,
        next_attempt_at=_from_micros(next_at) if next_at is not None else None,
        last_error=error,
        created_at=_from_micros(created),
        updated_at=_from_micros(updated),
        payload=payload,
    )
