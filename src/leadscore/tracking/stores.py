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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Literal, Protocol, TypeVar

from leadscore.model import Activity
from leadscore.scorecard import Diagnostic
from leadscore.tracking import codec
from leadscore.tracking.events import HistoryEntry
from leadscore.tracking.state import ActivityKey, ContactState, Persisted, Scorer, history_rows

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

_Item = TypeVar("_Item")


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

    def known(self, state: ContactState, activity_id: str) -> bool:
        return activity_id in state.seen

    def save(self, state: ContactState) -> None:
        # The state object is the stored one, and its history is the contact's history.
        store = self.store
        store.states[state.contact_id] = state
        if state.due is not None:
            store.schedule(state, state.due)

    def delete(self, contact_id: str, into_id: str) -> None:
        store = self.store
        state = store.states.pop(contact_id, None)
        if state is not None and state.scheduled is not None:
            store.live -= 1

    def history_of(self, contact_id: str) -> list[HistoryEntry]:
        state = self.store.states.get(contact_id)
        if state is None:
            return []
        return [HistoryEntry(contact_id, *row) for row in history_rows(state.history)]

    def due_contacts(self, to: dt.datetime) -> list[str]:
        store = self.store
        heap = store.due
        found: list[str] = []
        while heap and heap[0][0] <= to:
            due, _, contact_id = heapq.heappop(heap)
            state = store.states.get(contact_id)
            if state is not None and state.scheduled == due:
                state.scheduled = None
                store.live -= 1
                found.append(contact_id)
        return found

    def contact_ids(self) -> list[str]:
        return list(self.store.states)


class MemoryStore:
    """Keep contact states in this process; the default store.

    Nothing survives the process. ``history_limit`` is how many history entries are
    kept per contact (None: all); the tracker sets it.
    """

    def __init__(self) -> None:
        self.states: dict[str, ContactState] = {}
        self.aliases: dict[str, str] = {}
        self.history_limit: int | None = 20
        self.clock: dt.datetime | None = None
        self.fingerprint: str | None = None
        # Contacts by an instant at or before the next one their score may change with
        # time alone. An entry is live while it matches its state's ``scheduled``.
        self.due: list[tuple[dt.datetime, int, str]] = []
        self.live = 0
        self.serial = itertools.count()
        self._connection: sqlite3.Connection | None = None

    def schedule(self, state: ContactState, due: dt.datetime) -> None:
        """Make sure `due_contacts` returns the contact once the clock reaches ``due``.

        A contact already scheduled earlier keeps that entry, so a due instant that
        moves later costs nothing here, and `Tracker.advance` settles the contact once
        early, which changes nothing and schedules it again. The heap is rebuilt
        without stale entries when they outnumber the live ones, so it stays within
        about twice the number of contacts and the cost per call stays constant on average.
        """
        scheduled = state.scheduled
        if scheduled is not None and scheduled <= due:
            return
        if scheduled is None:
            self.live += 1
        state.scheduled = due
        heap = self.due
        heapq.heappush(heap, (due, next(self.serial), state.contact_id))
        if len(heap) > 2 * self.live + 64:
            states = self.states
            self.due = [
                entry
                for entry in heap
                if (owner := states.get(entry[2])) is not None and owner.scheduled == entry[0]
            ]
            heapq.heapify(self.due)

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
    """A ``BEGIN IMMEDIATE`` transaction of `SQLiteStore` on its connection.

    `prefetch` reads, in a few queries, the aliases, versions and recorded ids that a
    batch of activities needs, so `resolve`, `load` and `known` need no query of their
    own for that batch.
    """

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__()
        self.store = store
        # Contact id -> the contact it resolves to, for the prefetched contacts.
        self._resolved: dict[str, str] = {}
        # Resolved contact id -> its stored version, or None when it is not stored.
        self._versions: dict[str, int | None] = {}
        # (contact id, activity key) pairs looked up in advance, and those found stored.
        self._checked: set[tuple[str, str]] = set()
        self._stored: set[tuple[str, str]] = set()

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

    def prefetch(self, activities: Sequence[Activity]) -> None:
        """Look up the aliases, versions and ids of a batch of activities in a few queries.

        Only `Tracker.record_many` calls it, and nothing in the batch adds aliases, so
        the results stay valid until the transaction ends.
        """
        connection = self.connection
        contact_ids = list({activity.contact_id for activity in activities})
        aliases: dict[str, str] = {}
        for chunk in _chunks(contact_ids, _MAX_PARAMETERS):
            aliases.update(
                connection.execute(
                    "SELECT source_id, into_id FROM tracker_aliases "
                    f"WHERE source_id IN ({_placeholders(len(chunk))})",
                    chunk,
                ).fetchall()
            )
        resolved = {contact_id: aliases.get(contact_id, contact_id) for contact_id in contact_ids}
        self._resolved.update(resolved)

        targets = list(set(resolved.values()))
        versions: dict[str, int | None] = dict.fromkeys(targets)
        for chunk in _chunks(targets, _MAX_PARAMETERS):
            versions.update(
                connection.execute(
                    "SELECT contact_id, version FROM tracker_contacts "
                    f"WHERE contact_id IN ({_placeholders(len(chunk))})",
                    chunk,
                ).fetchall()
            )
        self._versions.update(versions)

        pairs = list(
            {
                (resolved[activity.contact_id], _key_text(activity.id))
                for activity in activities
                if activity.id is not None
            }
        )
        for pair_chunk in _chunks(pairs, _MAX_PARAMETERS // 2):
            # A join with a VALUES list looks each pair up in the primary key, which an
            # IN over row values does not (SQLite 3.40 scans the table for it).
            rows = connection.execute(
                "SELECT stored.contact_id, stored.key FROM (VALUES "
                + ", ".join(["(?, ?)"] * len(pair_chunk))
                + ") AS wanted CROSS JOIN tracker_activities AS stored "
                "ON stored.contact_id = wanted.column1 AND stored.key = wanted.column2",
                [value for pair in pair_chunk for value in pair],
            ).fetchall()
            self._stored.update((contact_id, key) for contact_id, key in rows)
        self._checked.update(pairs)

    def resolve(self, contact_id: str) -> str:
        resolved = self._resolved.get(contact_id)
        if resolved is not None:
            return resolved
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
        self._resolved.clear()

    def load(self, contact_id: str, scorer: Scorer) -> ContactState | None:
        """Return the contact's state as committed, from the cache when no one changed it since."""
        store = self.store
        connection = self.connection
        cache = store.cache

        if contact_id in self._versions:
            version = self._versions[contact_id]
        else:
            row = connection.execute(
                "SELECT version FROM tracker_contacts WHERE contact_id = ?", (contact_id,)
            ).fetchone()
            version = None if row is None else row[0]
        if version is None:
            cache.pop(contact_id, None)
            return None

        cached = cache.get(contact_id)
        if (
            cached is not None
            and cached.persisted is not None
            and cached.persisted.version == version
        ):
            cache.move_to_end(contact_id)
            self.touched.add(contact_id)
            return cached
        version, clock, profile, encoded = connection.execute(
            "SELECT version, clock, profile, state FROM tracker_contacts WHERE contact_id = ?",
            (contact_id,),
        ).fetchone()
        state = ContactState(contact_id, codec.loads(profile), codec.from_micros(clock))
        assert state.persisted is not None
        state.persisted.version = version
        state.persisted.history_seq = None
        _restore(state, codec.loads(encoded))
        for key, text in connection.execute(
            "SELECT key, activity FROM tracker_activities "
            "WHERE contact_id = ? AND activity IS NOT NULL",
            (contact_id,),
        ):
            state.activities[_key_of(key)] = codec.activity_from_json(contact_id, text)
        scorer.rebuild(state)
        store.remember(state)
        self.touched.add(contact_id)
        return state

    def known(self, state: ContactState, activity_id: str) -> bool:
        if activity_id in state.seen:
            return True
        pair = (state.contact_id, _key_text(activity_id))
        if pair in self._checked:
            return pair in self._stored
        row = self.connection.execute(
            "SELECT 1 FROM tracker_activities WHERE contact_id = ? AND key = ?", pair
        ).fetchone()
        return row is not None

    def save(self, state: ContactState) -> None:
        self.save_many((state,))

    def save_many(self, states: Iterable[ContactState]) -> None:
        """Write the changes of several states, with one statement per kind of change."""
        activity_rows: list[tuple[str, str, int, str]] = []
        forgotten_ids: list[tuple[str, str]] = []
        forgotten_serials: list[tuple[str, str]] = []
        inserts: list[tuple[str, int, int, int | None, str, str]] = []
        updates: list[tuple[int, int, int | None, str, str]] = []
        history_rows: list[tuple[str, int, str]] = []
        trims: list[tuple[str, int]] = []
        for state in states:
            contact_id = state.contact_id
            persisted = state.persisted
            # The store saves only states made for it, which always carry this record.
            assert persisted is not None
            for key, activity in persisted.added:
                activity_rows.append(
                    (
                        contact_id,
                        _key_text(key),
                        codec.to_micros(activity.occurred_at),
                        codec.activity_to_json(activity),
                    )
                )
            for key in persisted.pruned:
                # An id stays, so a repeat of the activity is still recognised.
                forgotten = forgotten_ids if isinstance(key, str) else forgotten_serials
                forgotten.append((contact_id, _key_text(key)))
            persisted.added = []
            persisted.pruned = []
            # Ids are remembered by the database; the set only has to last one transaction.
            state.seen.clear()

            new = persisted.version == 0
            persisted.version += 1
            due = state.due
            due_micros = None if due is None else codec.to_micros(due)
            clock = codec.to_micros(state.clock)
            # The snapshot changes rarely; its parts are immutable and replaced on change.
            snapshot_key = (
                state.reached,
                state.labels,
                state.horizon,
                state.retained,
                state.next_serial,
            )
            if persisted.snapshot is None or persisted.snapshot[0] != snapshot_key:
                persisted.snapshot = (snapshot_key, _snapshot_json(state))
            encoded = persisted.snapshot[1]
            version = persisted.version
            if new or persisted.profile_changed:
                profile = codec.dumps(state.profile)
                inserts.append((contact_id, version, clock, due_micros, profile, encoded))
            else:
                updates.append((version, clock, due_micros, encoded, contact_id))
            persisted.profile_changed = False
            if state.history:
                self._history_rows(state, persisted, history_rows, trims)
            self.store.remember(state)
            self.touched.add(contact_id)

        connection = self.connection
        if activity_rows:
            connection.executemany(
                "INSERT OR REPLACE INTO tracker_activities "
                "(contact_id, key, occurred_at, activity) VALUES (?, ?, ?, ?)",
                activity_rows,
            )
        if forgotten_ids:
            connection.executemany(
                "UPDATE tracker_activities SET activity = NULL WHERE contact_id = ? AND key = ?",
                forgotten_ids,
            )
        if forgotten_serials:
            connection.executemany(
                "DELETE FROM tracker_activities WHERE contact_id = ? AND key = ?",
                forgotten_serials,
            )
        if inserts:
            connection.executemany(
                "INSERT INTO tracker_contacts "
                "(contact_id, version, clock, next_due, profile, state) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id) DO UPDATE SET "
                "version = excluded.version, clock = excluded.clock, next_due = excluded.next_due, "
                "profile = excluded.profile, state = excluded.state",
                inserts,
            )
        if updates:
            connection.executemany(
                "UPDATE tracker_contacts SET version = ?, clock = ?, next_due = ?, state = ? "
                "WHERE contact_id = ?",
                updates,
            )
        if history_rows:
            connection.executemany(
                "INSERT INTO tracker_history (contact_id, seq, entry) VALUES (?, ?, ?)",
                history_rows,
            )
        if trims:
            connection.executemany(
                "DELETE FROM tracker_history WHERE contact_id = ? AND seq <= ?", trims
            )

    def _history_rows(
        self,
        state: ContactState,
        persisted: Persisted,
        rows: list[tuple[str, int, str]],
        trims: list[tuple[str, int]],
    ) -> None:
        """Add the state's new history rows to ``rows``, and a trim to ``trims`` when due."""
        contact_id = state.contact_id
        last = persisted.history_seq
        if last is None:
            found = self.connection.execute(
                "SELECT MAX(seq) FROM tracker_history WHERE contact_id = ?", (contact_id,)
            ).fetchone()
            last = found[0] or 0
        start = last + 1
        entries = history_rows(state.history)
        for offset, row in enumerate(entries):
            rows.append((contact_id, start + offset, codec.history_to_json(row)))
        last += len(entries)
        persisted.history_seq = last
        state.history.clear()
        limit = self.store.history_limit
        # Trimming once per 64 entries keeps the cost per entry constant.
        if limit is not None and last // 64 != (start - 1) // 64:
            trims.append((contact_id, last - limit))

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
        self._versions.pop(contact_id, None)
        self._checked.clear()

    def history_of(self, contact_id: str) -> list[HistoryEntry]:
        # The table is trimmed only now and then, so it can hold more than the limit.
        limit = self.store.history_limit
        rows = self.connection.execute(
            "SELECT entry FROM (SELECT seq, entry FROM tracker_history WHERE contact_id = ? "
            "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (contact_id, -1 if limit is None else limit),
        ).fetchall()
        return [_history_entry(contact_id, text) for (text,) in rows]

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


# SQLite before 3.32 allows at most 999 parameters per statement.
_MAX_PARAMETERS: Final = 900


def _placeholders(count: int) -> str:
    return ", ".join(["?"] * count)


def _chunks(items: list[_Item], size: int) -> Iterator[list[_Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def _key_text(key: ActivityKey) -> str:
    """Return the text an activity key is stored as: ``i:`` and the id, or ``n:`` and the serial."""
    return "i:" + key if isinstance(key, str) else f"n:{key}"


def _key_of(text: str) -> ActivityKey:
    """Return the activity key that `_key_text` wrote as ``text``."""
    return text[2:] if text.startswith("i:") else int(text[2:])


def _snapshot_json(state: ContactState) -> str:
    """Return the state column's JSON text, as codec.dumps would write these fields."""
    horizon = state.horizon
    retained = {
        name: [[d.rule, d.field, d.value, d.message] for d in sorted(diagnostics)]
        for name, diagnostics in state.retained.items()
    }
    # Everything but the horizon and the retained mapping is plain JSON already.
    return codec.dumps_plain(
        {
            "reached": sorted(list(pair) for pair in state.reached),
            "labels": [list(label) for label in state.labels],
            "horizon": None if horizon is None else {"$datetime": horizon.isoformat()},
            "retained": codec.encode(retained) if retained else {},
            "next_serial": state.next_serial,
        }
    )


def _restore(state: ContactState, data: dict[str, Any]) -> None:
    state.reached = tuple((scoring, threshold) for scoring, threshold in data["reached"])
    # A state saved before personas and grades were tracked has no labels.
    state.labels = tuple((kind, name, value) for kind, name, value in data.get("labels", ()))
    state.horizon = data["horizon"]
    state.retained = {
        name: frozenset(
            Diagnostic(name, rule, field, value, message) for rule, field, value, message in items
        )
        for name, items in data["retained"].items()
    }
    state.next_serial = data["next_serial"]


def _history_entry(contact_id: str, text: str) -> HistoryEntry:
    if text.startswith("["):
        return HistoryEntry(contact_id, *codec.history_from_json(text))
    # An entry written before rows were stored as arrays: a mapping of the fields.
    data = codec.loads(text)
    data["fields"] = tuple(data["fields"])
    return HistoryEntry(**data)
