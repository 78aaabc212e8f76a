"""Rule files and a brute-force model of the tracker, for the tracking tests.

`Oracle` keeps every accepted activity and recomputes scores with `Engine.score`. It
finds crossings over time by scoring every contact at every whole hour, and one
microsecond after it, which is where all changes fall when activity times, profile
instants and rule durations are whole hours. It shares no code with the tracker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import leadscore
from leadscore import Activity, Contact, Engine
from leadscore.tracking import (
    GradeChanged,
    PersonaChanged,
    ThresholdDropped,
    ThresholdReached,
    TrackerEvent,
)

UTC = dt.UTC
BASE = dt.datetime(2026, 3, 1, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
MICROSECOND = dt.timedelta(microseconds=1)

# Activity rules with caps, exact and calendar expiry, a fixed expiry date and
# negative points; profile rules on fields, aggregates with windows, days_since and now().
RULES_SALES = """
scoring "Sales" {
    threshold "Warm" at 5
    threshold "MQL" at 15
    threshold "SQL" at 30
    expire after 3 days
    rule "Visit" { on page_visit award 3 each max 12 }
    rule "Pricing" {
        on page_visit where activity.url glob "*pricing*" award 5 each max 10 expire after 1 days
    }
    rule "Download" { on download award 10 expire after 1 months }
    rule "Unsubscribe" { on unsubscribe award -15 expire never }
    rule "Czech" { when contact.country == "CZ" award 8 }
}
scoring "Product" {
    threshold "Interested" at 3
    threshold "Hot" at 12
    rule "Busy" { when count(page_visit within 2 days) >= 3 award 10 }
    rule "Recent download" { when exists(download within 36 hours) award 6 }
    rule "New signup" { when days_since(contact.signed_up) < 3 award 4 }
    rule "Trial" { when contact.trial_end > now() - 2 days award 2 }
    rule "Quiet" { when contact.last_call < now() - 1 days award 3 }
    rule "Spender" { when sum(purchase.amount within 5 days) >= 100 award 7 }
    rule "Webinar" { on webinar award 5 expire on 2026-03-05 }
}
"""

# A second file: a time zone with a DST change inside the test window, calendar
# months, floor and ceiling, 'once', negative capped rules and days_since of an aggregate.
RULES_PRAGUE = """
scoring "Lead" {
    timezone "Europe/Prague"
    floor 0
    ceiling 30
    threshold "Known" at 1
    threshold "Engaged" at 8
    threshold "Ready" at 20
    rule "Visit" { on page_visit award 2 each max 8 expire after 1 months }
    rule "Download" { on download award 9 once expire after 2 weeks }
    rule "Purchase" { on purchase where activity.amount >= 50 award 12 expire after 6 days }
    rule "Unsubscribe" { on unsubscribe award -5 each max 10 expire after 4 days }
    rule "Czech" { when contact.country in ["CZ", "SK"] award 3 }
    rule "Recent buyer" { when days_since(last(purchase)) <= 1 award 5 }
    rule "Visits" { when count(page_visit within 30 hours) >= 2 award 4 }
}
"""

# A third file: groups that cap the sums of activity and profile rules, negative points
# in a group, and a floor.
RULES_GROUPS = """
scoring "Engagement" {
    threshold "Warm" at 6
    threshold "Hot" at 14
    floor -5
    group "Web" max 10 {
        rule "Visit" { on page_visit award 3 each max 9 expire after 1 days }
        rule "Pricing" {
            on page_visit where activity.url glob "*pricing*" award 4 expire after 2 days
        }
        rule "Czech" { when contact.country == "CZ" award 2 }
    }
    group "Risk" max 8 {
        rule "Unsubscribe" { on unsubscribe award -6 expire after 3 days }
        rule "Quiet" { when contact.last_call < now() - 1 days award -4 }
    }
    rule "Download" { on download award 5 expire after 1 days }
    rule "Busy" { when count(page_visit within 1 days) >= 2 award 3 }
}
"""

# A fourth file: decay on a scoring and on rules, decay with expiry and caps, a group
# of decaying rules, personas (one with decay) and a grade over two scorings. Decay
# periods are whole hours, so every value change falls on the hour grid.
RULES_DECAY = """
scoring "Fit" {
    threshold "Good" at 10
    rule "Czech" { when contact.country == "CZ" award 12 }
    rule "New signup" { when days_since(contact.signed_up) < 3 award 6 }
}
scoring "Engagement" {
    threshold "Warm" at 8
    threshold "Hot" at 20
    decay 50% every 6 hours
    rule "Visit" { on page_visit award 5 each max 15 }
    rule "Pricing" {
        on page_visit where activity.url glob "*pricing*" award 9 expire after 20 hours
    }
    group "Content" max 12 {
        rule "Download" { on download award 8 each decay 25% every 5 hours }
        rule "Webinar" { on webinar award 7 expire after 2 days }
    }
    rule "Unsubscribe" { on unsubscribe award -10 decay 20% every 1 days expire after 3 days }
}
persona "Researcher" threshold 10 {
    rule "Downloads" { on download award 4 each decay 50% every 12 hours }
}
persona "Buyer" threshold 20 {
    rule "Pricing" { on page_visit where activity.url glob "*pricing*" award 8 each expire after 1 days }
    rule "Purchase" { on purchase award 10 }
}
grade "Lead grade" {
    fit "Fit" { "A" at 12, "B" at 6, "C" at 0 }
    engagement "Engagement" { "1" at 20, "2" at 8, "3" at 0 }
}
"""

RULE_FILES = {
    "sales": RULES_SALES,
    "prague": RULES_PRAGUE,
    "groups": RULES_GROUPS,
    "decay": RULES_DECAY,
}


def hour(offset: int) -> dt.datetime:
    """Return the instant ``offset`` hours after the test base instant."""
    return BASE + offset * HOUR


def event_key(event: TrackerEvent) -> tuple[Any, ...]:
    """Return what identifies an event, without its score card."""
    if isinstance(event, PersonaChanged):
        return ("persona", event.contact_id, "", "", event.before, event.after, event.at)
    if isinstance(event, GradeChanged):
        return ("grade", event.contact_id, event.grade, "", event.before, event.after, event.at)
    kind = "reached" if isinstance(event, ThresholdReached) else "dropped"
    return (
        kind,
        event.contact_id,
        event.scoring,
        event.threshold.name,
        event.score_before,
        event.score_after,
        event.at,
    )


class _OracleContact:
    def __init__(self, contact_id: str, clock: dt.datetime) -> None:
        self.contact_id = contact_id
        self.clock = clock
        self.profile: dict[str, Any] = {}
        self.activities: list[Activity] = []
        self.ids: set[str] = set()
        self.reached: set[tuple[str, str]] = set()
        self.totals: dict[str, int] = {}
        self.persona: str | None = None
        self.grades: dict[str, str | None] = {}


class Oracle:
    """The tracker's documented semantics, computed by rescoring everything with the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.contacts: dict[str, _OracleContact] = {}
        self.aliases: dict[str, str] = {}
        self.clock: dt.datetime | None = None

    def score(self, contact: _OracleContact, at: dt.datetime) -> leadscore.Scores:
        return self.engine.score(
            Contact(contact.contact_id, contact.profile), contact.activities, at
        )

    def scores(self, contact_id: str, at: dt.datetime) -> leadscore.Scores:
        return self.score(self.contacts[contact_id], at)

    def _compare(self, contact: _OracleContact, at: dt.datetime) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        scores = self.score(contact, at)
        for name, card in scores.items():
            before = contact.totals.get(name, 0)
            rising, falling = [], []
            for threshold in self.engine.thresholds(name):
                pair = (name, threshold.name)
                now_reached = card.total >= threshold.points
                if now_reached and pair not in contact.reached:
                    contact.reached.add(pair)
                    rising.append(
                        (
                            "reached",
                            contact.contact_id,
                            name,
                            threshold.name,
                            before,
                            card.total,
                            at,
                        )
                    )
                elif not now_reached and pair in contact.reached:
                    contact.reached.discard(pair)
                    falling.append(
                        (
                            "dropped",
                            contact.contact_id,
                            name,
                            threshold.name,
                            before,
                            card.total,
                            at,
                        )
                    )
            found += rising + falling[::-1]
            contact.totals[name] = card.total
        if scores.personas and scores.persona != contact.persona:
            found.append(
                ("persona", contact.contact_id, "", "", contact.persona, scores.persona, at)
            )
            contact.persona = scores.persona
        for grade, label in scores.grades.items():
            before = contact.grades.get(grade)
            if label != before:
                found.append(("grade", contact.contact_id, grade, "", before, label, at))
                contact.grades[grade] = label
        return found

    def _settle(self, contact: _OracleContact, to: dt.datetime) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        instant = _next_grid(contact.clock)
        while instant <= to:
            found += self._compare(contact, instant)
            instant = _next_grid(instant)
        contact.clock = max(contact.clock, to)
        return found

    def _contact(self, contact_id: str, start: dt.datetime) -> tuple[_OracleContact, bool]:
        contact = self.contacts.get(contact_id)
        if contact is not None:
            return contact, False
        clock = start if self.clock is None else max(self.clock, start)
        contact = self.contacts[contact_id] = _OracleContact(contact_id, clock)
        return contact, True

    def record(self, activity: Activity) -> list[tuple[Any, ...]]:
        contact_id = self.aliases.get(activity.contact_id, activity.contact_id)
        moved = Activity(
            contact_id, activity.type, activity.occurred_at, activity.attributes, activity.id
        )
        contact, new = self._contact(contact_id, activity.occurred_at)
        found: list[tuple[Any, ...]] = []
        if new:
            found += self._compare(contact, contact.clock)
        elif moved.id is not None and moved.id in contact.ids:
            return []
        else:
            found += self._settle(contact, moved.occurred_at)
        contact.activities.append(moved)
        if moved.id is not None:
            contact.ids.add(moved.id)
        return found + self._compare(contact, contact.clock)

    def update_profile(
        self, contact_id: str, changes: dict[str, Any], at: dt.datetime
    ) -> list[tuple[Any, ...]]:
        contact_id = self.aliases.get(contact_id, contact_id)
        contact, new = self._contact(contact_id, at)
        found: list[tuple[Any, ...]] = []
        if not new:
            found += self._settle(contact, at)
        for field, value in changes.items():
            if value is None:
                contact.profile.pop(field, None)
            else:
                contact.profile[field] = value
        return found + self._compare(contact, contact.clock)

    def merge(self, source_id: str, into_id: str) -> list[tuple[Any, ...]]:
        into_id = self.aliases.get(into_id, into_id)
        source = self.contacts.pop(source_id, None)
        for alias, target in list(self.aliases.items()):
            if target == source_id:
                self.aliases[alias] = into_id
        self.aliases[source_id] = into_id
        if source is None:
            return []
        into = self.contacts.get(into_id)
        found: list[tuple[Any, ...]] = []
        if into is None:
            into = self.contacts[into_id] = _OracleContact(into_id, source.clock)
        else:
            found += self._settle(into, max(into.clock, source.clock))
        into.profile = {**source.profile, **into.profile}
        for activity in source.activities:
            if activity.id is not None and activity.id in into.ids:
                continue
            into.activities.append(
                Activity(
                    into_id, activity.type, activity.occurred_at, activity.attributes, activity.id
                )
            )
        into.ids |= source.ids
        return found + self._compare(into, into.clock)

    def advance(self, to: dt.datetime) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        for contact in self.contacts.values():
            found += self._settle(contact, to)
        if self.clock is None or to > self.clock:
            self.clock = to
        return found


def _next_grid(instant: dt.datetime) -> dt.datetime:
    """Return the next instant after ``instant`` that is a whole hour or a microsecond after one."""
    floor = instant.replace(minute=0, second=0, microsecond=0)
    if instant == floor:
        return instant + MICROSECOND
    if instant == floor + MICROSECOND:
        return floor + HOUR
    return floor + HOUR


def keys(events: Iterable[TrackerEvent]) -> list[tuple[Any, ...]]:
    """Return the identifying tuples of events, in order."""
    return [event_key(event) for event in events]


def reached_or_dropped(event: object) -> bool:
    """Return whether ``event`` is one of the two threshold event classes."""
    return isinstance(event, ThresholdReached | ThresholdDropped)
