"""Stores for the tracker's contact states: in memory, or durably in an SQLite file.

A store is used by one `Tracker`, which serialises every call with its own lock. Each
tracker call runs inside one store transaction: with `SQLiteStore` that is a real
``BEGIN IMMEDIATE`` transaction, so a crash loses either the whole call or nothing,
and several processes sharing a file take turns. `MemoryStore` keeps the live state
objects and has nothing to recover, so it cannot undo a call that failed halfway.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import itertools
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, Literal, Protocol

from leadscore.scorecard import Diagnostic
from leadscore.tracking import codec
from leadscore.tracking.events import HistoryEntry
from leadscore.tracking.state import ContactState, HistoryRow, Scorer

__all__ = [
    "MemoryStore",
    "MemoryTransaction",
    "SQLiteStore",
    "SQLiteTransaction",
    "Store",
    "Transaction",
]

_KEY_CLOCK: Final = "clock"
_KEY_RULES: Final = "rules"


class Transaction(Protocol):
    """One store transaction, as handed to the ``on_events`` hook.

    ``connection`` is an `sqlite3.Connection` inside an open transaction: statements
    run on it are committed together with the tracker's state change, or not at all.
    """

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection to write into, inside the open transaction."""
        ...


class Store(Protocol):
    """The operations a `Tracker` needs from a store. Use `MemoryStore` or `SQLiteStore`."""

    def transaction(self, *, write: bool = True) -> Any:
        """Return a context manager that yields a transaction for one tracker call."""
        ...


class _BaseTransaction:
    """Transaction methods shared by both stores."""

    def __init__(self) -> None:
        self.touched: set[str] = set()


# ---------------------------------------------------------------- memory


class MemoryTransaction(_BaseTransaction):
    """A transaction of `MemoryStore`.

    ``connection`` is an in-memory SQLite database owned by the store, opened on first
    use. A hook can write an outbox into it exactly as it would into an `SQLiteStore`,
    and those writes commit when the tracker call succeeds.
    """

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self.store = store
        self._opened = False

    @property
    def connection(self) -> sqlite3.Connection:
        connection = self.store.connection
        if not self._opened:
            connection.execute("BEGIN")
            self._opened = True
        return connection

    def __enter__(self) -> MemoryTransaction:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: Any
    ) -> None:
        if self._opened:
            self.store.connection.execute("ROLLBACK" if kind is not None else "COMMIT")

    # The tracker's view of the store.

    def meta(self) -> tuple[dt.datetime | None, str | None]:
        return self.store.clock, self.store.fingerprint

    def set_clock(self, clock: dt.datetime) -> None:
        self.store.clock = clock

    def set_fingerprint(self, fingerprint: str) -> None:
        self.store.fingerprint = fingerprint

    def resolve(self, contact_id: str) -> str:
        return self.store.aliases.get(contact_id, contact_id)

    def add_alias(self, source_id: str, into_id: str) -> None:
        aliases = self.store.aliases
        for alias, target in list(aliases.items()):
            if target == source_id:
                aliases[alias] = into_id
        aliases[source_id] = into_id

    def load(self, contact_id: str, scorer: Scorer) -> ContactState | None:
        return self.store.states.get(contact_id)

    def known(self, state: ContactState, key: str) -> bool:
        return key in state.seen

    def save(self, state: ContactState) -> None:
        store = self.store
        contact_id = state.contact_id
        store.states[contact_id] = state
        history = state.new_history
        if history:
            log = store.history.get(contact_id)
            if log is None:
                log = store.history[contact_id] = collections.deque(maxlen=store.history_limit)
            log.extend(history)
            state.new_history = []
        state.profile_changed = False
        due = state.next_due()
        if due is not None and store.scheduled.get(contact_id) != due:
            store.scheduled[contact_id] = due
            heapq.heappush(store.due, (due, next(store.serial), contact_id))

    def delete(self, contact_id: str, into_id: str) -> None:
        store = self.store
        store.states.pop(contact_id, None)
        store.history.pop(contact_id, None)
        store.scheduled.pop(contact_id, None)

    def history_of(self, contact_id: str) -> list[HistoryEntry]:
        return [HistoryEntry(*row) for row in self.store.history.get(contact_id, ())]

    def due_contacts(self, to: dt.datetime) -> list[str]:
        store = self.store
        heap = store.due
        found: list[str] = []
        while heap and heap[0][0] <= to:
            due, _, contact_id = heapq.heappop(heap)
            if store.scheduled.get(contact_id) == due:
                del store.scheduled[contact_id]
                found.append(contact_id)
        return found

    def contact_ids(self) -> list[str]:
        return list(self.store.states)


class MemoryStore:
    """Keep contact states in this process; the default store.

    Nothing survives the process. ``history_limit`` is how many history entries are
    kept per contact (None: all).
    """

    def __init__(self) -> None:
        self.states: dict[str, ContactState] = {}
        self.aliases: dict[str, str] = {}
        self.history: dict[str, collections.deque[HistoryRow]] = {}
        self.history_limit: int | None = 20
        self.clock: dt.datetime | None = None
        self.fingerprint: str | None = None
        # Contacts by the next instant their score may change with time alone. Entries
        # whose instant no longer matches ``scheduled`` are stale and skipped.
        self.due: list[tuple[dt.datetime, int, str]] = []
        self.scheduled: dict[str, dt.datetime] = {}
        self.serial = itertools.count()
        self._connection: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        """The in-memory SQLite database handed to ``on_events`` hooks."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                ":memory:", isolation_level=None, check_same_thread=False
            )
        return self._connection

    def transaction(self, *, write: bool = True) -> MemoryTransaction:
        """Return a transaction for a ``with`` block; hook writes commit when the block succeeds."""
        return MemoryTransaction(self)

    def close(self) -> None:
        """Close the hook database, if one was opened."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# ---------------------------------------------------------------- SQLite

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS tracker_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tracker_contacts (
    contact_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    clock INTEGER NOT NULL,
    next_due INTEGER,
    profile TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tracker_contacts_next_due
    ON tracker_contacts (next_due) WHERE next_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS tracker_activities (
    contact_id TEXT NOT NULL,
    key TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    activity TEXT,
    PRIMARY KEY (contact_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tracker_history (
    contact_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (contact_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tracker_aliases (
    source_id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL
);
"""


class SQLiteTransaction(_BaseTransaction):
    """A ``BEGIN IMMEDIATE`` transaction of `SQLiteStore` on its connection."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__()
        self.store = store

    @property
    def connection(self) -> sqlite3.Connection:
        return self.store.connection

    def meta(self) -> tuple[dt.datetime | None, str | None]:
        rows = dict(self.connection.execute("SELECT key, value FROM tracker_meta").fetchall())
        clock = rows.get(_KEY_CLOCK)
        return (codec.from_micros(int(clock)) if clock is not None else None), rows.get(_KEY_RULES)

    def _set_meta(self, key: str, value: str) -> None:
        self.connection.execute(
            "INSERT INTO tracker_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def set_clock(self, clock: dt.datetime) -> None:
        self._set_meta(_KEY_CLOCK, str(codec.to_micros(clock)))

    def set_fingerprint(self, fingerprint: str) -> None:
        self._set_meta(_KEY_RULES, fingerprint)

    def resolve(self, contact_id: str) -> str:
        row = self.connection.execute(
            "SELECT into_id FROM tracker_aliases WHERE source_id = ?", (contact_id,)
        ).fetchone()
        return contact_id if row is None else str(row[0])

    def add_alias(self, source_id: str, into_id: str) -> None:
        connection = self.connection
        connection.execute(
            "UPDATE tracker_aliases SET into_id = ? WHERE into_id = ?", (into_id, source_id)
        )
        connection.execute(
            "INSERT OR REPLACE INTO tracker_aliases (source_id, into_id) VALUES (?, ?)",
            (source_id, into_id),
        )

    def load(self, contact_id: str, scorer: Scorer) -> ContactState | None:
        """Return the contact's state as committed, from the cache when no one changed it since."""
        store = self.store
        connection = self.connection
        row = connection.execute(
            "SELECT version FROM tracker_contacts WHERE contact_id = ?", (contact_id,)
        ).fetchone()
        cache = store.cache
        if row is None:
            cache.pop(contact_id, None)
            return None
        cached = cache.get(contact_id)
        if cached is not None and cached.version == row[0]:
            cache.move_to_end(contact_id)
            self.touched.add(contact_id)
            return cached
        version, clock, profile, encoded = connection.execute(
            "SELECT version, clock, profile, state FROM tracker_contacts WHERE contact_id = ?",
            (contact_id,),
        ).fetchone()
        state = ContactState(contact_id, codec.loads(profile), codec.from_micros(clock))
        state.version = version
        _restore(state, codec.loads(encoded))
        for key, text in connection.execute(
            "SELECT key, activity FROM tracker_activities "
            "WHERE contact_id = ? AND activity IS NOT NULL",
            (contact_id,),
        ):
            state.activities[key] = codec.activity_from_json(contact_id, text)
        scorer.rebuild(state)
        store.remember(state)
        self.touched.add(contact_id)
        return state

    def known(self, state: ContactState, key: str) -> bool:
        if key in state.seen:
            return True
        row = self.connection.execute(
            "SELECT 1 FROM tracker_activities WHERE contact_id = ? AND key = ?",
            (state.contact_id, key),
        ).fetchone()
        return row is not None

    def save(self, state: ContactState) -> None:
        connection = self.connection
        contact_id = state.contact_id
        new = state.version == 0
        profile_changed = state.profile_changed
        added, pruned, history = state.take_changes()
        state.version += 1
        # Ids are remembered by the database; the set only has to last one transaction.
        state.seen.clear()
        if added:
            connection.executemany(
                "INSERT OR REPLACE INTO tracker_activities "
                "(contact_id, key, occurred_at, activity) "
                "VALUES (?, ?, ?, ?)",
                [
                    (
                        contact_id,
                        key,
                        codec.to_micros(activity.occurred_at),
                        codec.activity_to_json(activity),
                    )
                    for key, activity in added
                ],
            )
        for key in pruned:
            if key.startswith("i:"):
                # The id stays, so a repeat of the activity is still recognised.
                connection.execute(
                    "UPDATE tracker_activities SET activity = NULL "
                    "WHERE contact_id = ? AND key = ?",
                    (contact_id, key),
                )
            else:
                connection.execute(
                    "DELETE FROM tracker_activities WHERE contact_id = ? AND key = ?",
                    (contact_id, key),
                )
        due = state.next_due()
        due_micros = None if due is None else codec.to_micros(due)
        encoded = codec.dumps(_snapshot(state))
        if new or profile_changed:
            connection.execute(
                "INSERT INTO tracker_contacts "
                "(contact_id, version, clock, next_due, profile, state) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id) DO UPDATE SET "
                "version = excluded.version, clock = excluded.clock, next_due = excluded.next_due, "
                "profile = excluded.profile, state = excluded.state",
                (
                    contact_id,
                    state.version,
                    codec.to_micros(state.clock),
                    due_micros,
                    codec.dumps(state.profile),
                    encoded,
                ),
            )
        else:
            connection.execute(
                "UPDATE tracker_contacts SET version = ?, clock = ?, next_due = ?, state = ? "
                "WHERE contact_id = ?",
                (state.version, codec.to_micros(state.clock), due_micros, encoded, contact_id),
            )
        if history:
            self._add_history(contact_id, history)
        self.store.remember(state)
        self.touched.add(contact_id)

    def _add_history(self, contact_id: str, entries: list[HistoryRow]) -> None:
        connection = self.connection
        row = connection.execute(
            "SELECT MAX(seq) FROM tracker_history WHERE contact_id = ?", (contact_id,)
        ).fetchone()
        start = (row[0] or 0) + 1
        connection.executemany(
            "INSERT INTO tracker_history (contact_id, seq, entry) VALUES (?, ?, ?)",
            [
                (contact_id, start + offset, codec.dumps(_history_data(HistoryEntry(*entry))))
                for offset, entry in enumerate(entries)
            ],
        )
        limit = self.store.history_limit
        last = start + len(entries) - 1
        # Trimming once per 64 entries keeps the cost per entry constant.
        if limit is not None and last // 64 != (start - 1) // 64:
            connection.execute(
                "DELETE FROM tracker_history WHERE contact_id = ? AND seq <= ?",
                (contact_id, last - limit),
            )

    def delete(self, contact_id: str, into_id: str) -> None:
        """Delete a merged contact; its remembered activity ids move to ``into_id``."""
        connection = self.connection
        connection.execute(
            "DELETE FROM tracker_activities WHERE contact_id = ? AND activity IS NOT NULL",
            (contact_id,),
        )
        connection.execute(
            "UPDATE OR IGNORE tracker_activities SET contact_id = ? WHERE contact_id = ?",
            (into_id, contact_id),
        )
        connection.execute("DELETE FROM tracker_activities WHERE contact_id = ?", (contact_id,))
        connection.execute("DELETE FROM tracker_history WHERE contact_id = ?", (contact_id,))
        connection.execute("DELETE FROM tracker_contacts WHERE contact_id = ?", (contact_id,))
        self.store.cache.pop(contact_id, None)

    def history_of(self, contact_id: str) -> list[HistoryEntry]:
        rows = self.connection.execute(
            "SELECT entry FROM tracker_history WHERE contact_id = ? ORDER BY seq", (contact_id,)
        ).fetchall()
        return [HistoryEntry(**_history_fields(codec.loads(text))) for (text,) in rows]

    def due_contacts(self, to: dt.datetime) -> list[str]:
        rows = self.connection.execute(
            "SELECT contact_id FROM tracker_contacts WHERE next_due <= ? ORDER BY next_due",
            (codec.to_micros(to),),
        ).fetchall()
        return [str(contact_id) for (contact_id,) in rows]

    def contact_ids(self) -> list[str]:
        rows = self.connection.execute(
            "SELECT contact_id FROM tracker_contacts ORDER BY contact_id"
        ).fetchall()
        return [str(contact_id) for (contact_id,) in rows]


Synchronous = Literal["FULL", "NORMAL"]


class SQLiteStore:
    """Keep contact states in an SQLite file, safe against crashes and shared by processes.

    The database runs in WAL mode. ``synchronous="FULL"`` (the default) syncs the log
    at every commit, so an activity `Tracker.record` accepted survives a power loss
    too. ``"NORMAL"`` syncs only at checkpoints: a process crash loses nothing, but a
    power loss or OS crash can lose the last commits, in exchange for fewer syncs.

    ``cache_size`` is how many contact states this process keeps in memory between
    calls; a state another process changed is reloaded. ``timeout`` is how many
    seconds a call waits for another process's transaction to finish.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        cache_size: int = 10_000,
        timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size!r}")
        self.path = os.fspath(path)
        self.cache_size = cache_size
        self.history_limit: int | None = 20
        self.cache: collections.OrderedDict[str, ContactState] = collections.OrderedDict()
        # isolation_level=None leaves transactions to the explicit BEGIN and COMMIT below.
        self.connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=timeout
        )
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(f"PRAGMA synchronous={synchronous}")
        self.connection.executescript(_SCHEMA)

    def remember(self, state: ContactState) -> None:
        """Keep ``state`` in the cache, dropping the least recently used beyond ``cache_size``."""
        cache = self.cache
        cache[state.contact_id] = state
        cache.move_to_end(state.contact_id)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SQLiteTransaction]:
        """Yield a transaction: ``BEGIN IMMEDIATE`` for writes, a deferred ``BEGIN`` for reads.

        On any exception the transaction rolls back and the states it touched leave
        the cache, so the next call reloads what was committed.
        """
        transaction = SQLiteTransaction(self)
        self.connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield transaction
        except BaseException:
            self.connection.execute("ROLLBACK")
            for contact_id in transaction.touched:
                self.cache.pop(contact_id, None)
            raise
        try:
            self.connection.execute("COMMIT")
        except BaseException:
            for contact_id in transaction.touched:
                self.cache.pop(contact_id, None)
            raise

    def close(self) -> None:
        """Close the database connection."""
        self.connection.close()


# ---------------------------------------------------------------- serialising states


def _snapshot(state: ContactState) -> dict[str, Any]:
    return {
        "reached": sorted(list(pair) for pair in state.reached),
        "horizon": state.horizon,
        "retained": {
            name: [[d.rule, d.field, d.value, d.message] for d in sorted(diagnostics)]
            for name, diagnostics in state.retained.items()
        },
        "next_serial": state.next_serial,
    }


def _restore(state: ContactState, data: dict[str, Any]) -> None:
    state.reached = {(scoring, threshold) for scoring, threshold in data["reached"]}
    state.horizon = data["horizon"]
    state.retained = {
        name: {
            Diagnostic(name, rule, field, value, message) for rule, field, value, message in items
        }
        for name, items in data["retained"].items()
    }
    state.next_serial = data["next_serial"]


def _history_data(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "contact_id": entry.contact_id,
        "scoring": entry.scoring,
        "at": entry.at,
        "score_before": entry.score_before,
        "score_after": entry.score_after,
        "cause": entry.cause,
        "activity_id": entry.activity_id,
        "activity_type": entry.activity_type,
        "rule": entry.rule,
        "fields": list(entry.fields),
        "source_id": entry.source_id,
    }


def _history_fields(data: dict[str, Any]) -> dict[str, Any]:
    data["fields"] = tuple(data["fields"])
    return data
