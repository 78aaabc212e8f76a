"""Engine.totals and Engine.totals_many: the totals of Engine.score, without score cards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, settings

import leadscore
from leadscore import Activity, Contact, DataError

from . import strategies

UTC = dt.UTC
AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)

RULES = """
scoring "S" {
    threshold "Warm" at 15
    rule "Country" { when contact.country == "CZ" award 10 }
    rule "Pricing" { on page_visit where activity.url glob "*/pricing*" award 5 each max 10 }
    rule "Old" { when contact.age > 60 award 3 }
}
scoring "T" { rule "Visits" { on page_visit award 1 each decay 50% every 1 days } }
persona "P" threshold 5 { rule "Any" { on page_visit award 5 } }
"""


def visit(contact_id: str, url: object, days_ago: int) -> Activity:
    return Activity(contact_id, "page_visit", AT - dt.timedelta(days=days_ago), {"url": url})


@pytest.mark.parametrize("evaluator", ["compiled", "reference"])
def test_totals_many_hand_computed(evaluator: leadscore.engine.Evaluator) -> None:
    engine = leadscore.compile(RULES, evaluator=evaluator)
    items = [
        Contact("a", {"country": "CZ", "age": "unknown"}),
        (
            Contact("c", {"country": "CZ"}),
            [visit("c", "https://x.com/pricing", d) for d in (0, 1, 2)],
        ),
    ]
    # a: 10 for the country; the text age is not met. c: 10 + three visits capped at
    # 10; in T the visits are worth 1, 1 (round half to even of 0.5 is 0) and 0.
    assert list(engine.totals_many(items, at=AT)) == [{"S": 10, "T": 0}, {"S": 20, "T": 1}]
    assert engine.totals(*items[1], at=AT) == {"S": 20, "T": 1}


def test_totals_reject_another_contacts_activity() -> None:
    engine = leadscore.compile(RULES)
    with pytest.raises(DataError, match="belongs to contact 'b'"):
        engine.totals(Contact("a"), [visit("b", "https://x.com/", 1)], at=AT)


@given(case=strategies.cases(foreign_activities=True))
@settings(deadline=None)
def test_totals_equal_score(case: strategies.Case) -> None:
    engine = leadscore.compile(case.rules.text, default_timezone=case.default_timezone)
    assert _outcome(lambda: engine.totals(case.contact, case.activities, case.at)) == _outcome(
        lambda: engine.score(case.contact, case.activities, case.at).totals
    )


def _outcome(call: Callable[[], dict[str, int]]) -> dict[str, int] | str:
    """Return the totals, or the text of the DataError the call raised."""
    try:
        return call()
    except DataError as error:
        return f"DataError: {error}"
