"""Helpers for the language front-end tests: wrap a rule body, catch an error, score a contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

import leadscore
from leadscore import Activity, Contact, Engine, RuleError

AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)

# A rule body wrapped by `in_rule` starts at column 26 of line 1.
PREFIX = 'scoring "A" { rule "R" { '
BODY_COLUMN = len(PREFIX) + 1


def in_rule(body: str) -> str:
    """One scoring "A" with one rule "R" whose clauses are ``body``, all on one line."""
    return f"{PREFIX}{body} }} }}"


def config_rule(body: str, *, scoring: str = "A", rule: str = "R") -> dict[str, Any]:
    """A config mapping with one scoring holding one rule written as ``body``."""
    return {"scorings": {scoring: {"rules": {rule: body}}}}


def rule_error(text: str, *, source: str = "<string>") -> RuleError:
    """Compile ``text`` and return the RuleError it must raise."""
    with pytest.raises(RuleError) as caught:
        leadscore.compile(text, source=source)
    return caught.value


def config_error(config: Mapping[str, Any]) -> RuleError:
    """Build an engine from ``config`` and return the RuleError it must raise."""
    with pytest.raises(RuleError) as caught:
        Engine.from_config(config)
    return caught.value


def total(
    engine: Engine,
    profile: Mapping[str, Any] | None = None,
    activities: Iterable[tuple[str, dt.timedelta, Mapping[str, Any]]] = (),
    *,
    scoring: str = "A",
    at: dt.datetime = AT,
) -> int:
    """Score contact "c" with ``profile`` and activities given as (type, age, attributes)."""
    events = [
        Activity("c", kind, at - age, attributes, id=f"e{number}")
        for number, (kind, age, attributes) in enumerate(activities)
    ]
    card = engine.score(Contact("c", dict(profile or {})), events, at=at)[scoring]
    return card.total
