"""Tracker behaviour on small hand-made cases: events, clock, merges, rule changes, hooks."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import leadscore
from leadscore import Activity
from leadscore.errors import DataError
from leadscore.tracking import (
    MemoryStore,
    PrunedHistoryError,
    RulesChangedError,
    SQLiteStore,
    ThresholdDropped,
    ThresholdReached,
    Tracker,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

THREE_THRESHOLDS = """
scoring "S" {
    threshold "Low" at 1
    threshold "Mid" at 20
    threshold "High" at 30
    rule "Deal" { on deal award 35 expire after 2 days }
    rule "Visit" { on visit award 5 each }
}
"""


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def make() -> MemoryStore | SQLiteStore:
        if request.param == "memory":
            return MemoryStore()
        return SQLiteStore(tmp_path / "tracker.db")

    return make


def visit(contact_id: str, at: dt.datetime, activity_id: str | None = None) -> Activity:
    return Activity(contact_id, "visit", at, {}, activity_id)


def test_first_activity_reaches_threshold(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    events = tracker.record(visit("c1", T0, "v1"))
    assert len(events) == 1
    assert isinstance(events[0], ThresholdReached)
    assert events[0].threshold.name == "Low"
    assert (events[0].score_before, events[0].score_after) == (0, 5)
    assert events[0].at == T0


def test_three_thresholds_in_ascending_order(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    events = tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    assert [event.threshold.name for event in events] == ["Low", "Mid", "High"]
    assert all(isinstance(event, ThresholdReached) for event in events)
    assert tracker.scores("c1")["S"].level == "High"


def test_expiry_drops_in_descending_order_at_its_instant(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    events = tracker.advance(T0 + 10 * DAY)
    assert [event.threshold.name for event in events] == ["High", "Mid", "Low"]
    assert all(isinstance(event, ThresholdDropped) for event in events)
    assert {event.at for event in events} == {T0 + 2 * DAY}
    assert {event.cause for event in events} == {"expiry"}


def test_duplicate_id_counts_once(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("c1", T0, "v1"))
    assert tracker.record(visit("c1", T0 + HOUR, "v1")) == []
    assert tracker.scores("c1")["S"].total == 5


def test_duplicate_id_after_restart(tmp_path: Path) -> None:
    engine = leadscore.compile(THREE_THRESHOLDS)
    first = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    first.record(visit("c1", T0, "v1"))
    first.close()
    second = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    assert second.record(visit("c1", T0, "v1")) == []
    assert second.scores("c1")["S"].total == 5


def test_merge_adds_disjoint_activities(make_store: Any) -> None:
    rules = 'scoring "S" { threshold "Hot" at 120 rule "Visit" { on visit award 10 each } }'
    tracker = Tracker(leadscore.compile(rules), make_store())
    for number in range(5):
        tracker.record(visit("anon", T0 + number * HOUR, f"a{number}"))
    for number in range(10):
        tracker.record(visit("known", T0 + number * HOUR, f"k{number}"))
    assert tracker.scores("anon")["S"].total == 50
    assert tracker.scores("known")["S"].total == 100
    events = tracker.merge("anon", "known")
    assert tracker.scores("known")["S"].total == 150
    assert [(event.threshold.name, event.cause) for event in events] == [("Hot", "merge")]
    assert "anon" not in tracker.contact_ids()


def test_merge_redirects_later_activities(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("anon", T0, "a1"))
    tracker.update_profile("known", {"country": "CZ"}, T0)
    tracker.merge("anon", "known")
    tracker.record(visit("anon", T0 + HOUR, "a2"))
    assert tracker.scores("known")["S"].total == 10
    assert tracker.scores("anon")["S"].total == 10
    assert tracker.profile("known") == {"country": "CZ"}


def test_merge_profile_target_wins(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.update_profile("anon", {"country": "DE", "city": "Brno"}, T0)
    tracker.update_profile("known", {"country": "CZ"}, T0)
    tracker.merge("anon", "known")
    assert tracker.profile("known") == {"country": "CZ", "city": "Brno"}


def test_merge_twice_rejected(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("anon", T0, "a1"))
    tracker.merge("anon", "known")
    with pytest.raises(ValueError, match="already merged"):
        tracker.merge("anon", "other")


def test_profile_none_removes_field(make_store: Any) -> None:
    rules = 'scoring "S" { threshold "CZ" at 5 rule "CZ" { when contact.country == "CZ" award 5 } }'
    tracker = Tracker(leadscore.compile(rules), make_store())
    reached = tracker.update_profile("c1", {"country": "CZ", "size": 10}, T0)
    dropped = tracker.update_profile("c1", {"country": None})
    assert [type(event) for event in reached] == [ThresholdReached]
    assert [type(event) for event in dropped] == [ThresholdDropped]
    assert tracker.profile("c1") == {"size": 10}


def test_late_activity_event_at_clock(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("c1", T0 + 5 * HOUR, "v1"))
    events = tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    assert {event.at for event in events} == {T0 + 5 * HOUR}
    assert {event.cause for event in events} == {"late_activity"}


def test_late_activity_already_expired_changes_past_only(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store(), keep_history=True)
    tracker.record(visit("c1", T0 + 3 * DAY, "v1"))
    assert tracker.record(Activity("c1", "deal", T0, {}, "d1")) == []
    assert tracker.scores("c1", T0 + HOUR)["S"].total == 35
    assert tracker.scores("c1")["S"].total == 5


def test_scores_before_horizon_raise(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    tracker.advance(T0 + 3 * DAY)
    with pytest.raises(PrunedHistoryError):
        tracker.scores("c1", T0 + HOUR)
    assert tracker.scores("c1", T0 + 2 * DAY)["S"].total == 0


def test_keep_history_scores_past(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store(), keep_history=True)
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    tracker.advance(T0 + 3 * DAY)
    assert tracker.scores("c1", T0 + HOUR)["S"].total == 35


def test_advance_window_closes_at_exact_instant(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "Busy" at 1 '
        'rule "Busy" { when count(visit within 6 hours) >= 2 award 1 } }'
    )
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.record(visit("c1", T0, "v1"))
    assert len(tracker.record(visit("c1", T0 + HOUR, "v2"))) == 1
    events = tracker.advance(T0 + DAY)
    assert [event.at for event in events] == [T0 + 6 * HOUR]
    assert [event.cause for event in events] == ["time"]


def test_advance_days_since_changes_at_day_boundary(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "New" at 1 '
        'rule "New" { when days_since(contact.signed_up) < 2 award 1 } }'
    )
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.update_profile("c1", {"signed_up": T0}, T0)
    events = tracker.advance(T0 + 5 * DAY)
    assert [(type(event), event.at) for event in events] == [(ThresholdDropped, T0 + 2 * DAY)]


def test_advance_now_comparison_strict(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "Due" at 1 '
        'rule "Due" { when contact.call < now() - 1 days award 1 } }'
    )
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.update_profile("c1", {"call": T0}, T0)
    events = tracker.advance(T0 + 5 * DAY)
    assert [event.at for event in events] == [T0 + DAY + dt.timedelta(microseconds=1)]


def test_advance_twice_no_repeat(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    assert len(tracker.advance(T0 + 3 * DAY)) == 3
    assert tracker.advance(T0 + 4 * DAY) == []
    assert tracker.now == T0 + 4 * DAY


def test_replace_engine_only_new_crossings(make_store: Any) -> None:
    old = 'scoring "S" { threshold "MQL" at 10 rule "Visit" { on visit award 5 each } }'
    new = 'scoring "S" { threshold "MQL" at 10 rule "Visit" { on visit award 10 each } }'
    tracker = Tracker(leadscore.compile(old), make_store())
    tracker.record(visit("above", T0, "a1"))
    tracker.record(visit("above", T0, "a2"))
    tracker.record(visit("below", T0, "b1"))
    events = tracker.replace_engine(leadscore.compile(new))
    assert [(event.contact_id, event.cause) for event in events] == [("below", "rules")]
    assert tracker.scores("above")["S"].total == 20


def test_replace_engine_drops_below(make_store: Any) -> None:
    old = 'scoring "S" { threshold "MQL" at 10 rule "Visit" { on visit award 10 each } }'
    new = 'scoring "S" { threshold "MQL" at 10 rule "Visit" { on visit award 1 each } }'
    tracker = Tracker(leadscore.compile(old), make_store())
    tracker.record(visit("c1", T0, "a1"))
    events = tracker.replace_engine(leadscore.compile(new))
    assert [type(event) for event in events] == [ThresholdDropped]


def test_replace_engine_survives_restart(tmp_path: Path) -> None:
    old = leadscore.compile(
        'scoring "S" { threshold "MQL" at 10 rule "V" { on visit award 5 each } }'
    )
    new = leadscore.compile(
        'scoring "S" { threshold "MQL" at 10 rule "V" { on visit award 10 each } }'
    )
    tracker = Tracker(old, SQLiteStore(tmp_path / "t.db"))
    tracker.record(visit("c1", T0, "a1"))
    assert len(tracker.replace_engine(new)) == 1
    tracker.close()
    with pytest.raises(RulesChangedError, match="other rules"):
        Tracker(old, SQLiteStore(tmp_path / "t.db"))
    reopened = Tracker(new, SQLiteStore(tmp_path / "t.db"))
    assert reopened.record(visit("c1", T0 + HOUR, "a2")) == []
    assert reopened.scores("c1")["S"].total == 20


def test_hook_runs_inside_transaction(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def log_events(transaction: Any, events: Any) -> None:
        connection = transaction.connection
        connection.execute("CREATE TABLE IF NOT EXISTS log (contact TEXT, threshold TEXT)")
        connection.executemany(
            "INSERT INTO log VALUES (?, ?)",
            [(event.contact_id, event.threshold.name) for event in events],
        )
        seen.extend((event.contact_id, event.threshold.name) for event in events)

    tracker = Tracker(
        leadscore.compile(THREE_THRESHOLDS), SQLiteStore(tmp_path / "t.db"), on_events=log_events
    )
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    tracker.close()
    with sqlite3.connect(tmp_path / "t.db") as connection:
        rows = connection.execute("SELECT contact, threshold FROM log").fetchall()
    assert rows == [("c1", "Low"), ("c1", "Mid"), ("c1", "High")]
    assert seen == rows


def test_hook_error_rolls_back(tmp_path: Path) -> None:
    def fail(transaction: Any, events: Any) -> None:
        raise RuntimeError("outbox unavailable")

    engine = leadscore.compile(THREE_THRESHOLDS)
    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"), on_events=fail)
    tracker.record(Activity("c0", "note", T0))
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    assert "c1" not in tracker.contact_ids()
    retry = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    assert len(retry.record(Activity("c1", "deal", T0, {}, "d1"))) == 3


def test_hook_memory_connection(make_store: Any) -> None:
    counts: list[int] = []

    def count(transaction: Any, events: Any) -> None:
        counts.append(transaction.connection.execute("SELECT ?", (len(events),)).fetchone()[0])

    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store(), on_events=count)
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    assert counts == [3]


def test_history_causes(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    tracker.record(visit("c1", T0 + HOUR, "v1"))
    tracker.advance(T0 + 3 * DAY)
    history = tracker.history("c1")
    assert [entry.cause for entry in history] == ["activity", "activity", "expiry"]
    assert [entry.score_after for entry in history] == [35, 40, 5]
    assert history[2].rule == "Deal"
    assert history[2].activity_id == "d1"


def test_naive_activity_rejected(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    with pytest.raises(DataError, match="naive"):
        tracker.record(visit("c1", dt.datetime(2026, 5, 4, 10, 0)))


def test_unknown_contact_scores(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    with pytest.raises(KeyError, match="no contact"):
        tracker.scores("nobody")


def test_scores_equal_engine_with_diagnostics(make_store: Any) -> None:
    rules = (
        'scoring "S" { rule "Big" { on buy where activity.amount > 10 '
        "award 5 expire after 1 days } }"
    )
    engine = leadscore.compile(rules)
    tracker = Tracker(engine, make_store())
    activities = [
        Activity("c1", "buy", T0, {"amount": "lots"}, "b1"),
        Activity("c1", "buy", T0 + HOUR, {"amount": 20}, "b2"),
    ]
    tracker.record_many(activities)
    tracker.advance(T0 + 5 * DAY)
    expected = engine.score(leadscore.Contact("c1"), activities, T0 + 5 * DAY)
    assert tracker.scores("c1") == expected
    assert len(expected["S"].diagnostics) == 1


def test_event_card_unchanged_by_later_activity(make_store: Any) -> None:
    engine = leadscore.compile(THREE_THRESHOLDS)
    tracker = Tracker(engine, make_store())
    deal = Activity("c1", "deal", T0, {}, "d1")
    events = tracker.record(deal)
    tracker.record(visit("c1", T0 + HOUR, "v1"))
    tracker.advance(T0 + 10 * DAY)
    # The card of the first event is built only now, after the deal expired and was pruned.
    card = events[0].card
    assert card.at == T0
    assert card.total == 35
    assert card == engine.score(leadscore.Contact("c1"), [deal], T0)["S"]


def test_event_card_after_profile_change(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "Czech" at 10 '
        'rule "Czech" { when contact.country == "CZ" award 10 } }'
    )
    tracker = Tracker(leadscore.compile(rules), make_store())
    reached = tracker.update_profile("c1", {"country": "CZ"}, T0)
    dropped = tracker.update_profile("c1", {"country": "DE"})
    assert [type(event) for event in reached + dropped] == [ThresholdReached, ThresholdDropped]
    # Both cards are built only now, each from the profile of its own event.
    assert reached[0].card.total == 10
    assert reached[0].card.breakdown[0].met
    assert dropped[0].card.total == 0
    assert not dropped[0].card.breakdown[0].met


def test_event_card_before_profile_change(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "Warm" at 6 '
        'rule "Visit" { on visit where contact.country == "CZ" award 3 each } }'
    )
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.update_profile("c1", {"country": "CZ"}, T0)
    tracker.record(visit("c1", T0, "v1"))
    events = tracker.record(visit("c1", T0 + HOUR, "v2"))
    assert [event.threshold.name for event in events] == ["Warm"]
    tracker.update_profile("c1", {"country": "DE"})
    # The card describes the contact when the threshold was reached, Czech and at 6 points.
    assert events[0].card.total == 6
    assert [rule.points for rule in events[0].card.breakdown] == [6]


@pytest.mark.parametrize("limit", [0, 2, None])
def test_history_limit_keeps_latest(make_store: Any, limit: int | None) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store(), history_limit=limit)
    for number in range(5):
        tracker.record(visit("c1", T0 + number * HOUR, f"v{number}"))
    found = [entry.score_after for entry in tracker.history("c1")]
    expected = [5, 10, 15, 20, 25]
    assert found == (expected if limit is None else expected[len(expected) - limit :])


def test_history_entries_of_each_cause(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.update_profile("c1", {"country": "CZ"}, T0)
    tracker.record(Activity("c1", "deal", T0, {}, "d1"))
    tracker.advance(T0 + 3 * DAY)
    tracker.update_profile("anon", {}, T0 + 3 * DAY)
    tracker.record(visit("anon", T0 + 3 * DAY, "a1"))
    tracker.merge("anon", "c1")
    history = tracker.history("c1")
    assert [entry.cause for entry in history] == ["activity", "expiry", "merge"]
    assert (history[1].activity_id, history[1].activity_type, history[1].rule) == (
        "d1",
        "deal",
        "Deal",
    )
    assert history[2].source_id == "anon"
    assert history[2].fields == ()


def test_record_many_counts_repeated_id_once(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("c1", T0, "v1"))
    tracker.record_many(
        [
            visit("c1", T0 + HOUR, "v2"),
            visit("c1", T0 + 2 * HOUR, "v2"),
            visit("c1", T0 + 3 * HOUR, "v1"),
            visit("c2", T0, "v1"),
        ]
    )
    assert tracker.scores("c1")["S"].total == 10
    assert tracker.scores("c2")["S"].total == 5


def test_record_many_follows_merge(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(THREE_THRESHOLDS), make_store())
    tracker.record(visit("anon", T0, "a1"))
    tracker.merge("anon", "known")
    tracker.record_many([visit("anon", T0 + HOUR, "a2"), visit("anon", T0 + HOUR, "a1")])
    assert tracker.scores("known")["S"].total == 10
    assert tracker.contact_ids() == ["known"]


def test_history_reads_rows_stored_as_mappings(tmp_path: Path) -> None:
    engine = leadscore.compile(THREE_THRESHOLDS)
    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    tracker.record(visit("c1", T0, "v1"))
    tracker.close()
    with sqlite3.connect(tmp_path / "t.db") as connection:
        connection.execute(
            "INSERT INTO tracker_history (contact_id, seq, entry) VALUES (?, ?, ?)",
            (
                "c1",
                0,
                '{"contact_id":"c1","scoring":"S","at":{"$datetime":"2026-05-04T09:00:00+00:00"},'
                '"score_before":0,"score_after":3,"cause":"profile","activity_id":null,'
                '"activity_type":null,"rule":null,"fields":["country"],"source_id":null}',
            ),
        )
    reopened = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    history = reopened.history("c1")
    assert [(entry.cause, entry.score_after) for entry in history] == [
        ("profile", 3),
        ("activity", 5),
    ]
    assert history[0].fields == ("country",)
    assert history[0].at == T0 - HOUR
    reopened.close()


def test_memory_schedule_earlier_due_many_times() -> None:
    rules = (
        'scoring "S" { threshold "Two" at 2 '
        'rule "Long" { on long award 1 expire after 10 days } '
        'rule "Short" { on short award 1 each max 1 expire after 1 hours } }'
    )
    store = MemoryStore()
    tracker = Tracker(leadscore.compile(rules), store)
    for number in range(40):
        contact_id = f"c{number}"
        tracker.record(Activity(contact_id, "long", T0 + 10 * HOUR, {}, "l"))
        # Each late activity expires earlier than the one before, so each moves the
        # contact's next change earlier and adds an entry to the store's schedule.
        for step in range(1, 6):
            late = T0 + 10 * HOUR - step * 10 * dt.timedelta(minutes=1)
            tracker.record(Activity(contact_id, "short", late, {}, f"s{step}"))
    assert len(store.due) <= 2 * store.live + 64
    events = tracker.advance(T0 + 12 * HOUR)
    assert len(events) == 40
    assert {(type(event), event.at) for event in events} == {
        (ThresholdDropped, T0 + 10 * HOUR + 50 * dt.timedelta(minutes=1))
    }
    assert tracker.advance(T0 + 20 * DAY) == []
    last = tracker.history("c39")[-1]
    assert (last.cause, last.activity_id, last.at) == ("expiry", "l", T0 + 10 * HOUR + 10 * DAY)
    assert tracker.scores("c39")["S"].total == 0


def test_group_caps_events_and_cards(make_store: Any) -> None:
    rules = (
        'scoring "S" { threshold "T" at 31 '
        'group "Web" max 30 { rule "A" { on x award 25 } rule "B" { on x award 5 each max 15 } } }'
    )
    engine = leadscore.compile(rules)
    tracker = Tracker(engine, make_store())
    activities = [Activity("c1", "x", T0, {}, f"x{number}") for number in range(3)]
    events = [event for activity in activities for event in tracker.record(activity)]
    # The group caps 25 + 25 + 25 + 5 + 5 + 5 at 30, so threshold T at 31 is never reached.
    assert events == []
    assert tracker.scores("c1") == engine.score(leadscore.Contact("c1"), activities, T0)
    assert [entry.score_after for entry in tracker.history("c1")] == [30]
