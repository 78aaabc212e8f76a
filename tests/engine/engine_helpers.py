"""Helpers for hand-computed engine tests: build a scoring's text, score one contact, make activities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import leadscore
from leadscore import Activity, Contact, ScoreCard, Scores

from .strategies import quote

UTC = dt.UTC
AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
CONTACT = "c-1"
DAY = dt.timedelta(days=1)


def scoring(*rules: str, settings: str = "", name: str = "S") -> str:
    """Return a scoring named ``name`` with the given settings and rule texts."""
    return f"scoring {quote(name)} {{\n    {settings}\n    " + "\n    ".join(rules) + "\n}\n"


def score(
    text: str,
    evaluator: str,
    profile: Mapping[str, Any] | None = None,
    activities: Sequence[Activity] = (),
    at: dt.datetime = AT,
) -> Scores:
    """Compile ``text`` with ``evaluator`` and score contact ``c-1``."""
    engine = leadscore.compile(text, evaluator=evaluator)  # type: ignore[arg-type]
    return engine.score(Contact(CONTACT, profile or {}), activities, at)


def card(text: str, evaluator: str, **kwargs: Any) -> ScoreCard:
    """Return the card of scoring "S"."""
    return score(text, evaluator, **kwargs)["S"]


def activity(
    occurred_at: dt.datetime, activity_type: str = "page_visit", id: str | None = None
) -> Activity:
    """Return an activity of contact ``c-1``."""
    return Activity(CONTACT, activity_type, occurred_at, id=id)
