"""Engine.score_many: bulk scoring gives the same cards as one call per contact."""

from __future__ import annotations

import datetime as dt

import pytest

import leadscore
from leadscore import Activity, Contact

UTC = dt.UTC
AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)

RULES = """
scoring "S" {
    threshold "Warm" at 15
    rule "Country" { when contact.country == "CZ" award 10 }
    rule "Pricing" { on page_visit where activity.url glob "*/pricing*" award 5 each max 10 }
}
"""


def visit(contact_id: str, url: object, days_ago: int) -> Activity:
    return Activity(contact_id, "page_visit", AT - dt.timedelta(days=days_ago), {"url": url})


@pytest.fixture(params=["compiled", "reference"])
def engine(request: pytest.FixtureRequest) -> leadscore.Engine:
    return leadscore.compile(RULES, evaluator=request.param)


def test_score_many_equals_score(engine: leadscore.Engine) -> None:
    items = [
        Contact("a", {"country": "CZ"}),
        (Contact("b", {"country": "DE"}), [visit("b", "https://x.com/pricing", 1)]),
        (
            Contact("c", {"country": "CZ"}),
            [visit("c", "https://x.com/pricing", d) for d in (1, 2, 3)],
        ),
    ]
    bulk = list(engine.score_many(items, at=AT))
    one_by_one = [
        engine.score(item, (), AT) if isinstance(item, Contact) else engine.score(*item, at=AT)
        for item in items
    ]
    assert bulk == one_by_one


def test_score_many_totals(engine: leadscore.Engine) -> None:
    items = [
        Contact("a", {"country": "CZ"}),
        (
            Contact("c", {"country": "CZ"}),
            [visit("c", "https://x.com/pricing", d) for d in (1, 2, 3)],
        ),
    ]
    totals = [scores["S"].total for scores in engine.score_many(items, at=AT)]
    # 10 for the country; then 10 + three visits of 5 capped at 10.
    assert totals == [10, 20]


def test_score_many_keeps_diagnostics_apart(engine: leadscore.Engine) -> None:
    # The middle contact's visit has a number where a URL belongs; only its card may
    # carry the diagnostic, although the bulk run reuses one context for all three.
    items = [
        Contact("a"),
        (Contact("b"), [visit("b", 5, 1)]),
        Contact("c"),
    ]
    cards = [scores["S"] for scores in engine.score_many(items, at=AT)]
    assert [len(card.diagnostics) for card in cards] == [0, 1, 0]


def test_score_many_reads_breakdown_late(engine: leadscore.Engine) -> None:
    # Breakdowns are built on first access; reading them after the whole run must
    # still show each contact's own awards.
    items = [
        (Contact("b"), [visit("b", "https://x.com/pricing", 1)]),
        (Contact("c"), [visit("c", "https://x.com/pricing", d) for d in (1, 2)]),
    ]
    cards = [scores["S"] for scores in engine.score_many(items, at=AT)]
    assert [len(card.rule("Pricing").awards) for card in cards] == [1, 2]


def test_score_many_resolves_now_once() -> None:
    engine = leadscore.compile(RULES)
    cards = [s["S"] for s in engine.score_many([Contact("a"), Contact("b")])]
    assert cards[0].at == cards[1].at
