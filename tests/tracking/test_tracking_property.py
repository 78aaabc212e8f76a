"""Random streams: the tracker's scores and events equal a full recomputation with the engine.

The rule files cover expiry, windows, time-dependent conditions, groups, decay,
personas and grades. The streams interleave on-time and late activities, repeated activity ids, profile
updates, merges of anonymous visitors, clock moves and (for SQLite) restarts. After
every step the events of that step must equal the `Oracle`'s: the crossings of the
recomputed score. Changes caused by time cross at their own instant, and changes caused
by data, late data included, at the contact's clock.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracking_helpers import BASE, RULE_FILES, Oracle, hour, keys

import leadscore
from leadscore import Activity
from leadscore.tracking import (
    GradeChanged,
    PersonaChanged,
    PrunedHistoryError,
    SQLiteStore,
    Tracker,
)

CONTACTS = ["c1", "c2", "anon1", "anon2"]
KNOWN = ["c1", "c2"]
ANONYMOUS = ["anon1", "anon2"]

_attributes = {
    "page_visit": st.sampled_from(
        [{"url": "https://x.test/pricing"}, {"url": "https://x.test/blog"}]
    ),
    "download": st.just({}),
    "unsubscribe": st.just({}),
    "purchase": st.sampled_from(
        [{"amount": 20}, {"amount": 60}, {"amount": 120.5}, {"amount": "n/a"}]
    ),
    "webinar": st.just({}),
}

# Most activities go to one contact and are page visits, so caps, windows and
# thresholds are reached often enough for expiries to cross them again.
_types = st.sampled_from(["page_visit", "page_visit", "page_visit", *sorted(_attributes)])
_record = st.tuples(
    st.just("record"),
    st.sampled_from(["c1", "c1", *CONTACTS]),
    _types.flatmap(lambda kind: st.tuples(st.just(kind), _attributes[kind])),
    st.integers(-40, 10),
    st.booleans(),
)
_profile_values = st.fixed_dictionaries(
    {},
    optional={
        "country": st.sampled_from(["CZ", "DE", "SK", None]),
        "signed_up": st.one_of(
            st.none(), st.integers(-3, 8).map(lambda d: (BASE + dt.timedelta(days=d)).date())
        ),
        "trial_end": st.one_of(st.none(), st.integers(-24, 200).map(hour)),
        "last_call": st.one_of(st.none(), st.integers(-24, 200).map(hour)),
    },
)
_operation = st.one_of(
    _record,
    _record,
    _record,
    st.tuples(st.just("duplicate"), st.integers(0, 10_000)),
    st.tuples(st.just("profile"), st.sampled_from(CONTACTS), _profile_values),
    st.tuples(st.just("merge"), st.sampled_from(ANONYMOUS), st.sampled_from(KNOWN)),
    st.tuples(st.just("advance"), st.integers(1, 48)),
    st.tuples(st.just("restart")),
)


def _ordered(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Events of different contacts at one instant may come in any order; each
    # contact's own events keep theirs, because the sort is stable.
    return sorted(found, key=lambda key: (key[6], key[1]))


class _Run:
    def __init__(self, rules: str, store_kind: str, keep_history: bool, folder: Path) -> None:
        self.engine = leadscore.compile(rules)
        self.store_kind = store_kind
        self.keep_history = keep_history
        self.path = folder / "tracker.db"
        self.tracker = self._open()
        self.oracle = Oracle(self.engine)
        self.recorded: list[Activity] = []
        self.stream_hour = 0
        self.serial = 0

    def _open(self) -> Tracker:
        store = (
            SQLiteStore(self.path, synchronous="NORMAL") if self.store_kind == "sqlite" else None
        )
        return Tracker(self.engine, store, keep_history=self.keep_history)

    def step(self, operation: tuple[Any, ...]) -> None:
        kind = operation[0]
        if kind == "record":
            _, contact_id, (activity_type, attributes), step, with_id = operation
            if step >= 0:
                self.stream_hour += step
                occurred = self.stream_hour
            else:
                occurred = max(0, self.stream_hour + step)
            self.serial += 1
            activity = Activity(
                contact_id,
                activity_type,
                hour(occurred),
                attributes,
                f"a{self.serial}" if with_id else None,
            )
            self.recorded.append(activity)
            self._check(self.tracker.record(activity), self.oracle.record(activity))
        elif kind == "duplicate":
            with_ids = [activity for activity in self.recorded if activity.id is not None]
            if with_ids:
                activity = with_ids[operation[1] % len(with_ids)]
                self._check(self.tracker.record(activity), self.oracle.record(activity))
        elif kind == "profile":
            _, contact_id, changes = operation
            at = hour(self.stream_hour)
            self._check(
                self.tracker.update_profile(contact_id, changes, at),
                self.oracle.update_profile(contact_id, changes, at),
            )
        elif kind == "merge":
            _, source_id, into_id = operation
            if source_id in self.oracle.aliases:
                with pytest.raises(ValueError, match="already merged"):
                    self.tracker.merge(source_id, into_id)
            else:
                self._check(
                    self.tracker.merge(source_id, into_id), self.oracle.merge(source_id, into_id)
                )
        elif kind == "advance":
            self.stream_hour += operation[1]
            to = hour(self.stream_hour)
            self._check(self.tracker.advance(to), self.oracle.advance(to))
        elif self.store_kind == "sqlite":
            self.tracker.close()
            self.tracker = self._open()
        self._check_scores()

    def _check(self, events: list[Any], expected: list[tuple[Any, ...]]) -> None:
        assert _ordered(keys(events)) == _ordered(expected)
        for event in events:
            if isinstance(event, PersonaChanged | GradeChanged):
                continue
            assert event.card.total == event.score_after
            assert event.card.at == event.at

    def _check_scores(self) -> None:
        for contact_id, contact in self.oracle.contacts.items():
            clock = contact.clock
            assert self.tracker.clock(contact_id) == clock
            assert self.tracker.scores(contact_id) == self.oracle.scores(contact_id, clock)
            for back in (1, 7, 30, 80):
                at = clock - dt.timedelta(hours=back)
                try:
                    found = self.tracker.scores(contact_id, at)
                except PrunedHistoryError:
                    assert not self.keep_history
                    continue
                assert found == self.oracle.scores(contact_id, at)


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
@pytest.mark.parametrize("rules_name", sorted(RULE_FILES))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations=st.lists(_operation, min_size=1, max_size=40), keep_history=st.booleans())
def test_tracker_matches_recomputation(
    store_kind: str, rules_name: str, operations: list[tuple[Any, ...]], keep_history: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = _Run(RULE_FILES[rules_name], store_kind, keep_history, Path(folder))
        try:
            for operation in operations:
                run.step(operation)
        finally:
            run.tracker.close()
