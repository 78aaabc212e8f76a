"""HandOverPipeline: which crossings become hand-overs, with what content, and never twice."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from handover_helpers import START, FakeClock, pipeline_rules, visits

import leadscore
from leadscore import Activity
from leadscore.errors import ConfigError
from leadscore.handover import CallbackSink, HandOver, HandOverPipeline, MemoryOutbox, SQLiteOutbox
from leadscore.tracking import MemoryStore, SQLiteStore, ThresholdEvent, ThresholdReached

ENGINE = leadscore.compile(pipeline_rules())
ONCE_ENGINE = leadscore.compile(pipeline_rules("notify once"))
PROFILE = {"name": "Ann Example", "email": "ann@example.com", "title": "Engineer"}
ROUTES = {"Product A": {"MQL": ["crm", "email"], "SQL": ["webhook"]}}


class Received:
    """Sinks that keep what they receive, as (sink name, hand-over) pairs."""

    def __init__(self) -> None:
        self.items: list[tuple[str, HandOver]] = []

    def sinks(self, *names: str) -> dict[str, CallbackSink]:
        return {name: CallbackSink(self._keeper(name), name=name) for name in names}

    def _keeper(self, name: str) -> Callable[[HandOver], None]:
        return lambda handover: self.items.append((name, handover))

    def by(self, sink: str) -> list[HandOver]:
        return [handover for name, handover in self.items if name == sink]


@pytest.fixture
def received() -> Received:
    return Received()


def make_pipeline(
    received: Received,
    store: MemoryStore | SQLiteStore | None = None,
    *,
    engine: leadscore.Engine = ENGINE,
    routes: Any = ROUTES,
    **options: Any,
) -> HandOverPipeline:
    return HandOverPipeline(
        engine,
        store,
        routes=routes,
        sinks=received.sinks("crm", "email", "webhook"),
        clock=options.pop("clock", FakeClock()),
        **options,
    )


def reach_mql(
    pipeline: HandOverPipeline, contact_id: str = "c-1", start: dt.datetime = START
) -> None:
    """Give the contact a profile and three visits: 30 points, MQL at the third visit."""
    pipeline.tracker.update_profile(contact_id, PROFILE, start)
    pipeline.tracker.record_many(visits(contact_id, start, 3, f"{contact_id}-{start:%d}"))


def climb_back(pipeline: HandOverPipeline, contact_id: str = "c-1") -> list[ThresholdEvent]:
    """Let the first visits expire (drop below MQL), then visit three times again."""
    events = pipeline.tracker.advance(START + dt.timedelta(days=8))
    events += pipeline.tracker.record_many(
        visits(contact_id, START + dt.timedelta(days=10), 3, f"{contact_id}-again")
    )
    return events


# --- content and routing ---------------------------------------------------------------


def test_handover_content(received: Received) -> None:
    pipeline = make_pipeline(received)
    reach_mql(pipeline)

    summary = pipeline.run_pending()

    assert summary.delivered == 2
    (handover,) = received.by("crm")
    crossed_at = START + dt.timedelta(hours=2)
    assert handover.key == HandOver.make_key("c-1", "Product A", "MQL", crossed_at)
    assert handover.contact_id == "c-1"
    assert handover.profile == PROFILE
    assert handover.scoring == "Product A"
    assert handover.threshold == leadscore.Threshold("MQL", 30)
    assert (handover.score, handover.level) == (30, "MQL")
    assert handover.at == crossed_at
    assert [(r.rule, r.points) for r in handover.breakdown] == [
        ("Job title", 0),
        ("Pricing page", 30),
        ("Demo request", 0),
    ]
    assert len(handover.breakdown[1].awards) == 3


def test_routes_choose_sinks(received: Received) -> None:
    pipeline = make_pipeline(received)
    pipeline.tracker.update_profile("c-1", {"title": "CTO"}, START)

    pipeline.tracker.record(Activity("c-1", "demo_request", START, id="d-1"))
    pipeline.tracker.record(Activity("c-1", "page_visit", START, id="v-1"))
    pipeline.run_pending()

    assert [h.threshold.name for h in received.by("crm")] == ["MQL"]
    assert [h.threshold.name for h in received.by("email")] == ["MQL"]
    assert [h.threshold.name for h in received.by("webhook")] == ["SQL"]


def test_unrouted_scoring_not_handed_over(received: Received) -> None:
    pipeline = make_pipeline(received)

    events = pipeline.tracker.record(Activity("c-1", "webinar", START, id="w-1"))
    pipeline.run_pending()

    assert [type(event) for event in events] == [ThresholdReached]
    assert pipeline.deliveries() == []
    assert received.items == []


def test_drop_hands_nothing_over(received: Received) -> None:
    pipeline = make_pipeline(received)
    reach_mql(pipeline)
    pipeline.run_pending()

    events = pipeline.tracker.advance(START + dt.timedelta(days=8))
    pipeline.run_pending()

    assert [event.threshold.name for event in events] == ["MQL"]
    assert len(received.by("crm")) == 1


def test_wildcard_routes(received: Received) -> None:
    pipeline = make_pipeline(received, routes={"*": {"*": ["crm"]}, "Product A": {"SQL": []}})

    pipeline.tracker.record(Activity("c-1", "webinar", START, id="w-1"))
    reach_mql(pipeline, "c-2")
    pipeline.run_pending()

    assert [(h.contact_id, h.scoring, h.threshold.name) for h in received.by("crm")] == [
        ("c-1", "Product B", "MQL"),
        ("c-2", "Product A", "MQL"),
    ]


def test_unknown_route_name_raises(received: Received) -> None:
    with pytest.raises(ConfigError) as raised:
        make_pipeline(received, routes={"Product A": {"Lead": ["crm"]}})

    assert str(raised.value).startswith(
        "routes.\"Product A\".Lead: the scoring 'Product A' has no threshold named 'Lead'"
    )


def test_unknown_sink_in_routes_raises(received: Received) -> None:
    with pytest.raises(ConfigError) as raised:
        make_pipeline(received, routes={"Product A": {"MQL": ["slack"]}})

    assert "no sink named 'slack' is configured" in str(raised.value)


def test_merge_hands_over_target(received: Received) -> None:
    pipeline = make_pipeline(received)
    pipeline.tracker.record_many(visits("visitor-9", START, 3, "anon"))
    pipeline.tracker.update_profile("c-1", PROFILE, START)
    pipeline.run_pending()
    received.items.clear()

    pipeline.tracker.merge("visitor-9", "c-1")
    pipeline.run_pending()

    (handover,) = received.by("crm")
    assert handover.contact_id == "c-1"
    assert handover.profile == PROFILE


def test_profile_is_snapshot(received: Received) -> None:
    pipeline = make_pipeline(received)
    reach_mql(pipeline)

    pipeline.tracker.update_profile("c-1", {"name": "Changed Later"})
    pipeline.run_pending()

    (handover,) = received.by("crm")
    assert handover.profile["name"] == "Ann Example"


def test_profile_change_causing_crossing(received: Received, tmp_path: Path) -> None:
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"))
    pipeline.tracker.update_profile("c-1", PROFILE, START)
    pipeline.tracker.record(Activity("c-1", "page_visit", START, id="v-1"))

    pipeline.tracker.update_profile("c-1", {"title": "CTO"})
    pipeline.run_pending()

    (handover,) = received.by("crm")
    assert handover.profile["title"] == "CTO"
    assert handover.score == 30
    pipeline.close()


# --- crossing again, notify once ---------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_climb_back_hands_over_again(received: Received, tmp_path: Path, store_kind: str) -> None:
    store = SQLiteStore(tmp_path / "scores.db") if store_kind == "sqlite" else MemoryStore()
    pipeline = make_pipeline(received, store)
    reach_mql(pipeline)

    climb_back(pipeline)
    pipeline.run_pending()

    handovers = received.by("crm")
    assert [h.at for h in handovers] == [
        START + dt.timedelta(hours=2),
        START + dt.timedelta(days=10, hours=2),
    ]
    assert handovers[0].key != handovers[1].key
    pipeline.close()


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_notify_once_hands_over_first(received: Received, tmp_path: Path, store_kind: str) -> None:
    store = SQLiteStore(tmp_path / "scores.db") if store_kind == "sqlite" else MemoryStore()
    pipeline = make_pipeline(received, store, engine=ONCE_ENGINE)
    reach_mql(pipeline)

    events = climb_back(pipeline)
    pipeline.run_pending()

    assert [type(event).__name__ for event in events] == ["ThresholdDropped", "ThresholdReached"]
    assert [h.at for h in received.by("crm")] == [START + dt.timedelta(hours=2)]
    pipeline.close()


def test_notify_once_survives_restart(received: Received, tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    first = make_pipeline(received, SQLiteStore(path), engine=ONCE_ENGINE)
    reach_mql(first)
    first.close()

    restarted = make_pipeline(received, SQLiteStore(path), engine=ONCE_ENGINE)
    climb_back(restarted)
    restarted.run_pending()

    assert [h.at for h in received.by("crm")] == [START + dt.timedelta(hours=2)]
    restarted.close()


def test_notify_once_is_per_threshold(received: Received) -> None:
    pipeline = make_pipeline(received, engine=ONCE_ENGINE)
    reach_mql(pipeline)
    reach_mql(pipeline, "c-2")

    pipeline.tracker.record(Activity("c-1", "demo_request", START + dt.timedelta(hours=3), id="d"))
    pipeline.run_pending()

    assert [(h.contact_id, h.threshold.name) for h in received.by("crm")] == [
        ("c-1", "MQL"),
        ("c-2", "MQL"),
    ]
    assert [(h.contact_id, h.threshold.name) for h in received.by("webhook")] == [("c-1", "SQL")]


def test_notify_once_knows_earlier_handovers(received: Received) -> None:
    pipeline = make_pipeline(received)
    reach_mql(pipeline)

    pipeline.replace_engine(ONCE_ENGINE)
    climb_back(pipeline)
    pipeline.run_pending()

    assert [h.at for h in received.by("crm")] == [START + dt.timedelta(hours=2)]


# --- never twice: replace_engine, restarts, repeated events ------------------------------


def test_replace_engine_sends_nothing_new(received: Received, tmp_path: Path) -> None:
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"))
    reach_mql(pipeline)
    pipeline.run_pending()
    extra_rule = pipeline_rules().replace(
        'rule "Job title"', 'rule "Blog" { on blog_visit award 1 each }\n    rule "Job title"'
    )

    events = pipeline.replace_engine(leadscore.compile(extra_rule))
    summary = pipeline.run_pending()

    assert events == []
    assert summary.attempted == 0
    assert len(received.by("crm")) == 1
    pipeline.close()


def test_same_crossing_again_is_not_resent(received: Received, tmp_path: Path) -> None:
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"))
    reach_mql(pipeline)
    pipeline.run_pending()
    stricter = leadscore.compile(pipeline_rules().replace('"MQL" at 30', '"MQL" at 35'))

    # The contact drops under the stricter rules and reaches MQL again under the old
    # ones, at the same instant: the same crossing, so the same key.
    dropped = pipeline.replace_engine(stricter)
    reached = pipeline.replace_engine(ENGINE)
    summary = pipeline.run_pending()

    assert [type(event).__name__ for event in dropped] == ["ThresholdDropped"]
    assert [type(event).__name__ for event in reached] == ["ThresholdReached"]
    assert summary.attempted == 0
    assert len(pipeline.deliveries()) == 2
    assert len(received.by("crm")) == 1
    pipeline.close()


def test_restart_sends_nothing_new(received: Received, tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    first = make_pipeline(received, SQLiteStore(path))
    reach_mql(first)
    first.run_pending()
    first.close()

    restarted = make_pipeline(received, SQLiteStore(path))
    replayed = restarted.tracker.record_many(visits("c-1", START, 3, "c-1-02"))
    summary = restarted.run_pending()

    assert replayed == []
    assert summary.attempted == 0
    assert len(received.by("crm")) == 1
    restarted.close()


def test_restart_delivers_pending(received: Received, tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    first = make_pipeline(received, SQLiteStore(path))
    reach_mql(first)
    first.close()

    restarted = make_pipeline(received, SQLiteStore(path))
    summary = restarted.run_pending()

    assert summary.delivered == 2
    assert [h.contact_id for h in received.by("crm")] == ["c-1"]
    restarted.close()


def test_replace_engine_checks_routes(received: Received) -> None:
    pipeline = make_pipeline(received)
    without_sql = leadscore.compile(pipeline_rules().replace('threshold "SQL" at 60', ""))

    with pytest.raises(ConfigError):
        pipeline.replace_engine(without_sql)

    assert pipeline.tracker.engine is ENGINE


# --- the transaction ---------------------------------------------------------------------


def test_outbox_lives_in_store_file(received: Received, tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    pipeline = make_pipeline(received, SQLiteStore(path))
    reach_mql(pipeline)

    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT sink, status FROM leadscore_handover_delivery ORDER BY sink"
        ).fetchall()

    assert isinstance(pipeline.outbox, SQLiteOutbox)
    assert rows == [("crm", "pending"), ("email", "pending")]
    pipeline.close()


def test_rollback_queues_nothing(received: Received, tmp_path: Path) -> None:
    failures = [RuntimeError("the hook after the pipeline failed")]

    def fail_once(transaction: Any, events: Sequence[ThresholdEvent]) -> None:
        if failures:
            raise failures.pop()

    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"), on_events=fail_once)
    pipeline.tracker.update_profile("c-1", PROFILE, START)

    with pytest.raises(RuntimeError):
        pipeline.tracker.record(Activity("c-1", "demo_request", START, id="d-1"))
    rolled_back = pipeline.run_pending()

    assert rolled_back.attempted == 0
    assert pipeline.deliveries() == []
    assert pipeline.tracker.scores("c-1")["Product A"].total == 0

    pipeline.tracker.record(Activity("c-1", "demo_request", START, id="d-1"))
    committed = pipeline.run_pending()

    assert committed.delivered == 2
    assert len(received.by("crm")) == 1
    pipeline.close()


def test_memory_store_keeps_failed_call(received: Received) -> None:
    # MemoryStore cannot undo a call: the crossing stays, and so does its hand-over.
    def fail(transaction: Any, events: Sequence[ThresholdEvent]) -> None:
        raise RuntimeError("the hook after the pipeline failed")

    pipeline = make_pipeline(received, MemoryStore(), on_events=fail)

    with pytest.raises(RuntimeError):
        pipeline.tracker.record(Activity("c-1", "demo_request", START, id="d-1"))
    pipeline.run_pending()

    assert isinstance(pipeline.outbox, MemoryOutbox)
    assert pipeline.tracker.scores("c-1")["Product A"].total == 30
    assert len(received.by("crm")) == 1


def test_user_hook_shares_transaction(received: Received, tmp_path: Path) -> None:
    path = tmp_path / "scores.db"

    def log_crossings(transaction: Any, events: Sequence[ThresholdEvent]) -> None:
        connection = transaction.connection
        connection.execute("CREATE TABLE IF NOT EXISTS crossings (contact TEXT, threshold TEXT)")
        connection.executemany(
            "INSERT INTO crossings VALUES (?, ?)",
            [(event.contact_id, event.threshold.name) for event in events],
        )

    pipeline = make_pipeline(received, SQLiteStore(path), on_events=log_crossings)
    reach_mql(pipeline)

    with sqlite3.connect(path) as connection:
        crossings = connection.execute("SELECT * FROM crossings").fetchall()
        handovers = connection.execute("SELECT contact_id FROM leadscore_handover").fetchall()

    assert crossings == [("c-1", "MQL")]
    assert handovers == [("c-1",)]
    pipeline.close()


# --- dead letters and housekeeping -------------------------------------------------------


def test_dead_letters_reachable(tmp_path: Path) -> None:
    accepted: list[HandOver] = []
    down = [True]

    def deliver(handover: HandOver) -> None:
        if down[0]:
            raise leadscore.DeliveryError("receiver rejected the hand-over", retryable=False)
        accepted.append(handover)

    clock = FakeClock()
    pipeline = HandOverPipeline(
        ENGINE,
        SQLiteStore(tmp_path / "scores.db"),
        routes={"Product A": {"MQL": ["crm"]}},
        sinks={"crm": CallbackSink(deliver)},
        clock=clock,
    )
    reach_mql(pipeline)
    pipeline.run_pending()

    (letter,) = pipeline.dead_letters()
    assert (letter.contact_id, letter.sink, letter.attempts) == ("c-1", "crm", 1)
    assert "receiver rejected" in (letter.last_error or "")

    down[0] = False
    assert pipeline.retry_dead_letter(letter.id)
    pipeline.run_pending()
    assert [h.contact_id for h in accepted] == ["c-1"]
    assert pipeline.dead_letters() == []

    reach_mql(pipeline, "c-2")
    down[0] = True
    pipeline.run_pending()
    clock.advance(60)
    assert pipeline.purge_dead_letters(dt.timedelta(seconds=30)) == 1
    assert pipeline.dead_letters() == []
    pipeline.close()


def test_retry_all_dead_letters(received: Received) -> None:
    failing = [True]

    def deliver(handover: HandOver) -> None:
        if failing[0]:
            raise leadscore.DeliveryError("receiver rejected the hand-over", retryable=False)
        received.items.append(("crm", handover))

    pipeline = HandOverPipeline(
        ENGINE,
        routes={"Product A": {"MQL": ["crm"]}},
        sinks={"crm": CallbackSink(deliver)},
        clock=FakeClock(),
    )
    reach_mql(pipeline, "c-1")
    reach_mql(pipeline, "c-2")
    pipeline.run_pending()

    failing[0] = False
    revived = pipeline.retry_all()
    pipeline.run_pending()

    assert revived == 2
    assert [h.contact_id for h in received.by("crm")] == ["c-1", "c-2"]


def test_purge_delivered(received: Received, tmp_path: Path) -> None:
    clock = FakeClock()
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"), clock=clock)
    reach_mql(pipeline)
    pipeline.run_pending()
    clock.advance(3600)

    purged = pipeline.purge_delivered(dt.timedelta(minutes=30))

    assert purged == 2
    assert pipeline.deliveries() == []
    pipeline.close()


def test_logs_name_key_and_contact_only(
    received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="leadscore.handover")
    pipeline = make_pipeline(received, engine=ONCE_ENGINE)
    reach_mql(pipeline)
    climb_back(pipeline)
    pipeline.run_pending()

    messages = [record.getMessage() for record in caplog.records]
    (handover,) = received.by("crm")
    assert any(handover.key in message and "c-1" in message for message in messages)
    assert any("skipped: notify once" in message for message in messages)
    assert not any("Ann" in message or "@" in message for message in messages)


def test_close_warns_about_lost_memory_deliveries(
    received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = make_pipeline(received)
    reach_mql(pipeline)

    pipeline.close()

    assert "2 pending deliveries in a MemoryOutbox; they are lost" in caplog.text


# --- limits --------------------------------------------------------------------------------


def test_unencodable_profile_stores_nothing(received: Received, tmp_path: Path) -> None:
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db"))
    pipeline.tracker.update_profile("c-1", {"fit": float("nan")}, START)

    with pytest.raises(ValueError, match=r"profile\.fit"):
        pipeline.tracker.record(Activity("c-1", "demo_request", START, id="d-1"))

    assert pipeline.tracker.scores("c-1")["Product A"].total == 0
    assert pipeline.deliveries() == []
    pipeline.close()


def test_profiles_from_events_small_cache(received: Received, tmp_path: Path) -> None:
    # Each event carries the contact's profile, so a store cache smaller than the batch
    # does not stop hand-overs from being built.
    pipeline = make_pipeline(received, SQLiteStore(tmp_path / "scores.db", cache_size=1))
    for contact_id, name in (("c-1", "Ann"), ("c-2", "Bob")):
        pipeline.tracker.update_profile(contact_id, {"name": name}, at=START)
    both = [Activity(c, "demo_request", START, id=f"d-{c}") for c in ("c-1", "c-2")]

    pipeline.tracker.record_many(both)

    handovers = [delivery.load_handover() for delivery in pipeline.deliveries()]
    profiles = {handover.contact_id: handover.profile["name"] for handover in handovers}
    assert profiles == {"c-1": "Ann", "c-2": "Bob"}
    pipeline.close()


GRADE_RULES = """
scoring "Fit" { rule "Big" { when contact.employees >= 500 award 60 } }
scoring "Engagement" { rule "Visit" { on page_visit award 10 each expire after 2 days } }
grade "Lead grade" {
    fit "Fit" { "A" at 60, "B" at 30, "C" at 0 }
    engagement "Engagement" { "1" at 30, "2" at 10, "3" at 0 }
}
"""


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_grade_route_each_change(received: Received, tmp_path: Path, store_kind: str) -> None:
    store = SQLiteStore(tmp_path / "scores.db") if store_kind == "sqlite" else MemoryStore()
    pipeline = make_pipeline(
        received,
        store,
        engine=leadscore.compile(GRADE_RULES),
        routes={"Lead grade": {"A1": ["crm"]}},
    )
    pipeline.tracker.update_profile("c-1", {"employees": 800, "name": "Ann"}, START)
    pipeline.tracker.record_many(visits("c-1", START, 3, "first"))
    # The visits expire two days later, and three new ones bring A1 back.
    later = START + dt.timedelta(days=3)
    pipeline.tracker.advance(later)
    pipeline.tracker.record_many(visits("c-1", later, 3, "second"))
    pipeline.run_pending()

    handovers = received.by("crm")
    assert [(h.scoring, h.level, h.threshold.name) for h in handovers] == [
        ("Lead grade", "A1", "A1"),
        ("Lead grade", "A1", "A1"),
    ]
    first, second = handovers
    assert first.key != second.key
    assert first.profile["name"] == "Ann"
    assert first.score == 30
    assert first.details["grade"]["fit"] == {"scoring": "Fit", "total": 60}
    assert {result.rule for result in first.breakdown} == {"Big", "Visit"}
    pipeline.close()
