"""Score every contact of a contacts file and an activities file, with bounded memory.

Contacts stream: each is read, scored and handed on before the next is read, so the
contacts file can have any number of rows. Activities need grouping by contact, and
they go through a `leadscore.tracking.Tracker`, which keeps one state per contact
with activities and reports each threshold crossing as it happens. So memory grows
with the number of contacts that have activities, not with the number of activities
or contacts.

With both files the run reads them in four passes:

1. activities: collect the ids of contacts with activities at or before ``at``;
2. contacts: keep the profiles of those contacts;
3. activities: record each one in the tracker, which hands over every crossing;
4. contacts: yield each contact in file order, scored by the tracker when it has
   activities and by the engine otherwise.

A contact without activities is scored by the engine alone. It is handed over at
``at`` for each threshold its profile reaches. A contact with activities is handed
over when the tracker reports the crossing, at the instant of the crossing. With a
hand-over sink the tracker is that of a `leadscore.handover.HandOverPipeline` (see
`leadscore.cli.handovers`), so ``notify once`` and the hand-over keys work as in the
library.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager

import attrs

from leadscore.cli.handovers import RunHandOvers
from leadscore.engine import Engine
from leadscore.handover import Sink
from leadscore.loaders import (
    ActivityColumns,
    ContactColumns,
    LoadReport,
    read_activities,
    read_contacts,
)
from leadscore.model import Activity, Contact
from leadscore.scorecard import Scores
from leadscore.tracking import ThresholdReached, Tracker

__all__ = ["Progress", "ScoredContact", "ScoringRun"]

logger = logging.getLogger("leadscore.cli")

# A function that opens a progress display for one pass and yields its advance(n).
Progress = Callable[[str], AbstractContextManager[Callable[[int], None]]]

# Activities are recorded in batches of this size, one tracker transaction each.
_BATCH = 1_000
# The progress display is advanced once per this many rows.
_PROGRESS_STEP = 1_000


@attrs.frozen
class ScoredContact:
    """A contact as read from the file, with its score cards."""

    contact: Contact
    scores: Scores


def _no_progress(description: str) -> AbstractContextManager[Callable[[int], None]]:
    return contextlib.nullcontext(lambda n: None)


class ScoringRun:
    """One scoring of a contacts file and an activities file; iterate it for the scored contacts.

    ``contacts`` or ``activities`` may be None, but not both. Without contacts, every
    contact id in the activities file is a contact with an empty profile. ``at`` None
    means the latest activity's instant. ``hidden_fields`` are removed from each profile
    before scoring, so rules cannot read them; the yielded contact still has them.
    ``handover_sink`` receives every hand-over. The counters and load reports are
    complete once the iteration has ended.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        contacts: str | os.PathLike[str] | None,
        activities: str | os.PathLike[str] | None,
        contact_options: ContactColumns,
        activity_options: ActivityColumns,
        at: dt.datetime | None,
        skip_bad_rows: bool = False,
        hidden_fields: Iterable[str] = (),
        handover_sink: Sink | None = None,
        progress: Progress | None = None,
    ) -> None:
        if contacts is None and activities is None:
            raise ValueError("a scoring run needs a contacts file, an activities file or both")
        self.engine = engine
        self.contacts = contacts
        self.activities = activities
        self.contact_options = contact_options
        self.activity_options = activity_options
        self.at = at
        self.skip_bad_rows = skip_bad_rows
        self.hidden_fields = frozenset(hidden_fields)
        self._handovers = None if handover_sink is None else RunHandOvers(engine, handover_sink)
        self.progress = progress or _no_progress

        self.contacts_report = LoadReport()
        self.activities_report = LoadReport()
        self.contacts_scored = 0
        self.activities_recorded = 0
        self.activities_after_at = 0
        self.activities_of_unknown_contacts = 0
        self.handovers = 0
        self.crossings_skipped = 0

    # ---------------------------------------------------------------- reading

    def _read_contacts(self, report: LoadReport | None) -> Iterator[Contact]:
        assert self.contacts is not None
        return read_contacts(
            self.contacts,
            mapping=self.contact_options,
            skip_bad_rows=self.skip_bad_rows,
            report=report,
        )

    def _read_activities(self, report: LoadReport | None) -> Iterator[Activity]:
        assert self.activities is not None
        return read_activities(
            self.activities,
            mapping=self.activity_options,
            skip_bad_rows=self.skip_bad_rows,
            report=report,
        )

    def _scoring_contact(self, contact: Contact) -> Contact:
        """Return the contact without the hidden fields."""
        if not self.hidden_fields or self.hidden_fields.isdisjoint(contact.profile):
            return contact
        profile = {k: v for k, v in contact.profile.items() if k not in self.hidden_fields}
        return Contact(contact.id, profile)

    # ---------------------------------------------------------------- scoring

    def __iter__(self) -> Iterator[ScoredContact]:
        if self.activities is None:
            return self._contacts_only()
        if self.contacts is None:
            return self._activities_only()
        return self._contacts_and_activities()

    def _new_tracker(self) -> Tracker:
        """Return a tracker, the hand-over pipeline's when there is a sink."""
        if self._handovers is None:
            return Tracker(self.engine, history_limit=0)
        return self._handovers.new_tracker()

    def _close(self, tracker: Tracker) -> None:
        if self._handovers is not None:
            self._handovers.close()
        else:
            tracker.close()

    def _contacts_only(self) -> Iterator[ScoredContact]:
        at = self.at if self.at is not None else dt.datetime.now(dt.UTC)
        self.at = at
        with self.progress("scoring contacts") as advance:
            for contact in self._read_contacts(self.contacts_report):
                scores = self._score_without_activities(contact, at)
                self.contacts_scored += 1
                if self.contacts_scored % _PROGRESS_STEP == 0:
                    advance(_PROGRESS_STEP)
                yield ScoredContact(contact, scores)

    def _activities_only(self) -> Iterator[ScoredContact]:
        tracker = self._new_tracker()
        try:
            registered: set[str] = set()
            latest = self._record(
                tracker, self._read_activities(self.activities_report), None, registered
            )
            self._finish_recording(tracker, latest)
            assert self.at is not None
            with self.progress("scoring contacts") as advance:
                for contact_id in tracker.contact_ids():
                    scores = tracker.scores(contact_id, self.at)
                    self.contacts_scored += 1
                    if self.contacts_scored % _PROGRESS_STEP == 0:
                        advance(_PROGRESS_STEP)
                    yield ScoredContact(Contact(contact_id), scores)
        finally:
            self._close(tracker)

    def _contacts_and_activities(self) -> Iterator[ScoredContact]:
        active = self._active_contact_ids()
        profiles: dict[str, Contact] = {}
        with self.progress("reading profiles") as advance:
            for count, contact in enumerate(self._read_contacts(None), start=1):
                if contact.id in active:
                    profiles[contact.id] = self._scoring_contact(contact)
                if count % _PROGRESS_STEP == 0:
                    advance(_PROGRESS_STEP)
        del active

        tracker = self._new_tracker()
        try:
            registered: set[str] = set()
            latest = self._record(tracker, self._read_activities(None), profiles, registered)
            self._finish_recording(tracker, latest)
            at = self.at
            assert at is not None
            del profiles

            with self.progress("scoring contacts") as advance:
                for contact in self._read_contacts(self.contacts_report):
                    if contact.id in registered:
                        scores = tracker.scores(contact.id, at)
                    else:
                        scores = self._score_without_activities(contact, at)
                    self.contacts_scored += 1
                    if self.contacts_scored % _PROGRESS_STEP == 0:
                        advance(_PROGRESS_STEP)
                    yield ScoredContact(contact, scores)
        finally:
            self._close(tracker)

    def _active_contact_ids(self) -> set[str]:
        """Read the activities once for the ids of contacts with activities at or before ``at``."""
        active: set[str] = set()
        latest: dt.datetime | None = None
        with self.progress("reading activities") as advance:
            for count, activity in enumerate(
                self._read_activities(self.activities_report), start=1
            ):
                if self.at is None or activity.occurred_at <= self.at:
                    active.add(activity.contact_id)
                if latest is None or activity.occurred_at > latest:
                    latest = activity.occurred_at
                if count % _PROGRESS_STEP == 0:
                    advance(_PROGRESS_STEP)
        if self.at is None:
            self.at = latest if latest is not None else dt.datetime.now(dt.UTC)
        return active

    def _score_without_activities(self, contact: Contact, at: dt.datetime) -> Scores:
        scoring_contact = self._scoring_contact(contact)
        scores = self.engine.score(scoring_contact, (), at=at)
        handovers = self._handovers
        if handovers is not None:
            queued = False
            for card in scores.values():
                for threshold in card.thresholds_reached:
                    handovers.add(scoring_contact, card, threshold)
                    queued = True
            if queued:
                self.handovers += handovers.deliver_pending()
        return scores

    # ---------------------------------------------------------------- the tracker

    def _record(
        self,
        tracker: Tracker,
        activities: Iterator[Activity],
        profiles: dict[str, Contact] | None,
        registered: set[str],
    ) -> dt.datetime | None:
        """Record the activities at or before ``at`` and return the latest instant recorded.

        With ``profiles``, a contact is registered with its profile at its first
        activity, and the activities of contacts not in ``profiles`` are counted and
        left out.
        """
        batch: list[Activity] = []
        latest: dt.datetime | None = None
        with self.progress("recording activities") as advance:
            for activity in activities:
                if self.at is not None and activity.occurred_at > self.at:
                    self.activities_after_at += 1
                    continue
                contact_id = activity.contact_id
                if contact_id not in registered:
                    if profiles is not None:
                        contact = profiles.get(contact_id)
                        if contact is None:
                            self.activities_of_unknown_contacts += 1
                            continue
                        # Only this contact's state changes, so the pending batch may wait.
                        self._handle(
                            tracker.update_profile(
                                contact_id, contact.profile, at=activity.occurred_at
                            ),
                        )
                    registered.add(contact_id)

                batch.append(activity)
                if latest is None or activity.occurred_at > latest:
                    latest = activity.occurred_at
                if len(batch) >= _BATCH:
                    self._handle(tracker.record_many(batch))
                    self.activities_recorded += len(batch)
                    advance(len(batch))
                    batch.clear()
            if batch:
                self._handle(tracker.record_many(batch))
                self.activities_recorded += len(batch)
                advance(len(batch))
        return latest

    def _finish_recording(self, tracker: Tracker, latest: dt.datetime | None) -> None:
        """Move the tracker to ``at``, so that expiries up to then take effect."""
        if self.at is None:
            self.at = latest if latest is not None else dt.datetime.now(dt.UTC)
        self._handle(tracker.advance(self.at))
        logger.info(
            "recorded %d activities of %d contacts up to %s",
            self.activities_recorded,
            len(tracker.contact_ids()),
            self.at.isoformat(),
        )

    def _handle(self, events: Sequence[object]) -> None:
        """Deliver the hand-overs that the pipeline queued for the events of a tracker call."""
        handovers = self._handovers
        if handovers is None:
            return
        crossings = sum(isinstance(event, ThresholdReached) for event in events)
        if crossings:
            delivered = handovers.deliver_pending()
            self.handovers += delivered
            # The pipeline queues every crossing except the repeats that notify once skips.
            self.crossings_skipped += crossings - delivered
