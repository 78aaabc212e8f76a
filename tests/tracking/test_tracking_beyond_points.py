"""The Tracker with decay, groups, personas and grades, on hand-computed cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import leadscore
from leadscore import Activity
from leadscore.tracking import (
    GradeChanged,
    MemoryStore,
    PersonaChanged,
    SQLiteStore,
    ThresholdDropped,
    ThresholdReached,
    Tracker,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)

DECAY = """
scoring "S" {
    threshold "Hot" at 30
    rule "Demo" { on demo award 40 decay 50% every 30 days }
}
"""

PERSONAS = """
scoring "S" { rule "Any" { on a award 1 } }
persona "First" threshold 10 { rule "A" { on a award 1 each } }
persona "Second" threshold 20 { rule "B" { on b award 1 each } }
persona "Third" threshold 50 { rule "C" { on c award 1 each } }
"""

GRADES = """
scoring "Fit" {
    rule "Big" { when contact.employees >= 500 award 60 }
    rule "Mid" { when contact.employees >= 50 and contact.employees < 500 award 30 }
}
scoring "Engagement" {
    rule "Visit" { on visit award 10 each expire after 7 days }
}
grade "Lead grade" {
    fit "Fit" { "A" at 60, "B" at 30, "C" at 0 }
    engagement "Engagement" { "1" at 50, "2" at 20, "3" at 0 }
}
"""


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def make() -> MemoryStore | SQLiteStore:
        if request.param == "memory":
            return MemoryStore()
        return SQLiteStore(tmp_path / "tracker.db")

    return make


def activity(kind: str, at: dt.datetime, number: int, contact_id: str = "c1") -> Activity:
    return Activity(contact_id, kind, at, {}, f"{kind}-{number}")


# ---------------------------------------------------------------- decay


def test_decay_halves_at_exact_instants(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(DECAY), make_store())
    reached = tracker.record(activity("demo", T0, 1))
    assert [(type(e), e.score_after) for e in reached] == [(ThresholdReached, 40)]

    assert tracker.advance(T0 + 29 * DAY) == []
    assert tracker.scores("c1")["S"].total == 40

    dropped = tracker.advance(T0 + 61 * DAY)
    assert len(dropped) == 1
    assert isinstance(dropped[0], ThresholdDropped)
    assert (dropped[0].at, dropped[0].score_before, dropped[0].score_after) == (
        T0 + 30 * DAY,
        40,
        20,
    )
    assert dropped[0].cause == "decay"
    assert dropped[0].card.total == 20
    assert tracker.scores("c1")["S"].total == 10
    changes = [(e.at, e.score_after, e.cause, e.rule) for e in tracker.history("c1")]
    assert changes[-2:] == [
        (T0 + 30 * DAY, 20, "decay", "Demo"),
        (T0 + 60 * DAY, 10, "decay", "Demo"),
    ]


def test_decay_survives_a_restart_without_repeating_events(tmp_path: Path) -> None:
    engine = leadscore.compile(DECAY)
    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    tracker.record(activity("demo", T0, 1))
    tracker.close()

    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    events = tracker.advance(T0 + 45 * DAY)
    assert [(type(e), e.at) for e in events] == [(ThresholdDropped, T0 + 30 * DAY)]
    tracker.close()

    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    assert tracker.advance(T0 + 46 * DAY) == []
    assert tracker.scores("c1")["S"].total == 20
    tracker.close()


def test_decayed_award_expires_with_its_value_at_expiry(make_store: Any) -> None:
    rules = """
    scoring "S" {
        rule "Demo" { on demo award 40 decay 50% every 10 days expire after 25 days }
    }
    """
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.record(activity("demo", T0, 1))
    tracker.advance(T0 + 30 * DAY)
    history = [(e.at - T0, e.score_after, e.cause) for e in tracker.history("c1")]
    assert history == [
        (dt.timedelta(0), 40, "activity"),
        (10 * DAY, 20, "decay"),
        (20 * DAY, 10, "decay"),
        (25 * DAY, 0, "expiry"),
    ]


def test_late_activity_adds_its_decayed_value(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(DECAY), make_store())
    tracker.record(activity("demo", T0 + 70 * DAY, 1))
    tracker.record(activity("demo", T0 + 5 * DAY, 2))
    # The first is new (40), the second is 65 days old: two halvings, 10.
    assert tracker.scores("c1")["S"].total == 50
    engine_total = (
        leadscore.compile(DECAY)
        .score(
            leadscore.Contact("c1"),
            [activity("demo", T0 + 70 * DAY, 1), activity("demo", T0 + 5 * DAY, 2)],
            at=T0 + 70 * DAY,
        )["S"]
        .total
    )
    assert engine_total == 50


def test_decay_before_rule_cap(make_store: Any) -> None:
    rules = """
    scoring "S" {
        threshold "Hot" at 60
        rule "Demo" { on demo award 40 each max 60 decay 50% every 30 days }
    }
    """
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.record(activity("demo", T0, 1))
    tracker.record(activity("demo", T0 + 15 * DAY, 2))
    assert tracker.scores("c1")["S"].total == 60  # 80 capped
    events = tracker.advance(T0 + 31 * DAY)
    # At 30 days the first is worth 20: 20 + 40 = 60, still capped at 60.
    assert events == []
    events = tracker.advance(T0 + 46 * DAY)
    # At 45 days both have halved once: 20 + 20 = 40.
    assert [(e.at, e.score_after) for e in events] == [(T0 + 45 * DAY, 40)]


# ---------------------------------------------------------------- groups


def test_group_caps_two_rules(make_store: Any) -> None:
    rules = """
    scoring "S" {
        threshold "Hot" at 30
        group "Content" max 30 {
            rule "Guide" { on guide award 25 }
            rule "Video" { on video award 25 }
        }
    }
    """
    tracker = Tracker(leadscore.compile(rules), make_store())
    tracker.record(activity("guide", T0, 1))
    events = tracker.record(activity("video", T0, 2))
    assert [(e.score_before, e.score_after) for e in events] == [(25, 30)]
    card = tracker.scores("c1")["S"]
    assert card.total == 30
    assert [(g.name, g.points, g.capped) for g in card.groups] == [("Content", 30, True)]


# ---------------------------------------------------------------- personas


def _record_counts(tracker: Tracker, counts: dict[str, int]) -> list[Any]:
    events: list[Any] = []
    for kind, count in counts.items():
        events += tracker.record_many(activity(kind, T0, n) for n in range(count))
    return events


def test_persona_with_the_highest_ratio(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(PERSONAS), make_store())
    events = _record_counts(tracker, {"a": 12, "b": 30, "c": 49})
    changes = [(e.before, e.after) for e in events if isinstance(e, PersonaChanged)]
    # "First" reaches 1.0 at its tenth activity and ends at 1.2; "Second" passes that
    # at its 25th (1.25). "Third" ends at 0.98.
    assert changes == [(None, "First"), ("First", "Second")]
    scores = tracker.scores("c1")
    assert scores.persona == "Second"
    assert scores.personas["Third"].total == 49


def test_persona_ties_go_to_the_first_declared(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(PERSONAS), make_store())
    events = _record_counts(tracker, {"a": 15, "b": 30, "c": 49})
    changes = [(e.before, e.after) for e in events if isinstance(e, PersonaChanged)]
    # "Second" ties "First" at 1.5 and never passes it.
    assert changes == [(None, "First")]
    assert tracker.scores("c1").persona == "First"


def test_persona_is_lost_when_its_points_expire(make_store: Any) -> None:
    rules = """
    scoring "S" { rule "Any" { on a award 1 } }
    persona "Buyer" threshold 10 { rule "A" { on a award 10 expire after 2 days } }
    """
    tracker = Tracker(leadscore.compile(rules), make_store())
    assert [e.after for e in tracker.record(activity("a", T0, 1))] == ["Buyer"]
    events = tracker.advance(T0 + 3 * DAY)
    assert events == [PersonaChanged("c1", "Buyer", None, T0 + 2 * DAY, "expiry")]


# ---------------------------------------------------------------- grades


def test_grade_changes_are_events(make_store: Any) -> None:
    tracker = Tracker(leadscore.compile(GRADES), make_store())
    created = tracker.update_profile("c1", {"employees": 800}, at=T0)
    assert created == [GradeChanged("c1", "Lead grade", None, "A3", T0, "profile")]

    events = tracker.record_many(activity("visit", T0 + dt.timedelta(hours=n), n) for n in range(2))
    assert [(e.before, e.after) for e in events] == [("A3", "A2")]
    assert tracker.scores("c1").grades == {"Lead grade": "A2"}

    events = tracker.advance(T0 + 8 * DAY)
    assert [(e.before, e.after, e.cause) for e in events] == [("A2", "A3", "expiry")]


def test_grade_labels_are_not_repeated_after_a_restart(tmp_path: Path) -> None:
    engine = leadscore.compile(GRADES)
    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    tracker.update_profile("c1", {"employees": 80}, at=T0)
    tracker.close()
    tracker = Tracker(engine, SQLiteStore(tmp_path / "t.db"))
    assert tracker.update_profile("c1", {"employees": 90}) == []
    events = tracker.update_profile("c1", {"employees": 900})
    assert [(e.before, e.after) for e in events] == [("B3", "A3")]
    tracker.close()


def test_replacing_rules_reports_only_new_labels(make_store: Any) -> None:
    without_grade = GRADES.split('grade "Lead grade"')[0]
    tracker = Tracker(leadscore.compile(without_grade), make_store())
    assert tracker.update_profile("c1", {"employees": 800}, at=T0) == []

    events = tracker.replace_engine(leadscore.compile(GRADES))
    assert events == [GradeChanged("c1", "Lead grade", None, "A3", T0, "rules")]
    assert tracker.replace_engine(leadscore.compile(GRADES)) == []
    # Rules without the grade forget its label without an event.
    assert tracker.replace_engine(leadscore.compile(without_grade)) == []


# ---------------------------------------------------------------- the end of the calendar


def test_activity_near_the_end_of_the_calendar(make_store: Any) -> None:
    rules = """
    scoring "S" {
        threshold "Hot" at 5
        rule "Visit" { on visit award 5 each expire after 7 days }
        rule "Busy" { when count(visit within 30 days) >= 2 award 3 }
    }
    """
    engine = leadscore.compile(rules)
    late = dt.datetime(9999, 12, 30, tzinfo=UTC)
    tracker = Tracker(engine, make_store())
    events = tracker.record(activity("visit", late, 1))
    events += tracker.record(activity("visit", late + dt.timedelta(hours=1), 2))
    assert [(type(e), e.score_after) for e in events] == [(ThresholdReached, 5)]
    # The awards' expiry would fall after year 9999, so they never expire.
    expected = engine.score(
        leadscore.Contact("c1"),
        [activity("visit", late, 1), activity("visit", late + dt.timedelta(hours=1), 2)],
        at=late + dt.timedelta(hours=1),
    )
    assert tracker.scores("c1") == expected
    assert expected["S"].total == 13
