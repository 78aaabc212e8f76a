"""Properties of the front end on arbitrary input: an Engine or a LeadscoreError, nothing else.

Random text rarely gets past the first token, so a second strategy mutates valid rule
files (deletes, inserts, duplicates and swaps tokens, drops in characters of the
language's alphabet) to reach deep parser and checker states. Every RuleError must
point inside the text: 1 <= line <= number of lines, 1 <= column <= length of that
line + 1. Lines end at ``\\n`` only, as the parser counts them.

The default example budget keeps CI fast; the ``slow`` test runs many more examples.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from language_helpers import config_rule

import leadscore
from leadscore import Engine, LeadscoreError, RuleError
from leadscore.language.parser import KEYWORDS

VALID_FILES = [
    r"""declare contact {
    country: text, employees: number, "contact": text, tags: list, meta: any,
    signed_up_at: datetime, birthday: date, vip: boolean
}
declare activity page_visit { url: text, seconds: number }
declare activity "form submit" { form: text }

# Scores fit and interest for product A.
scoring "Product A" {
    threshold "MQL" at 100
    threshold "SQL" at 150
    expire after 90 days
    floor -10
    ceiling 200
    timezone "Europe/Prague"
    notify once

    rule "Decision maker" {
        when contact.country matches /\b(ceo|cto)\b/i and not contact.vip
        award 20
    }
    rule "Pricing page" {
        on page_visit where activity.url glob "*/pricing*" and activity.seconds > 3
        award 5 each
        max 25
        expire after 30 days
    }
    rule "Form" { on "form submit" or page_visit award 10 once }
    rule "Big" {
        when contact.employees >= 50 + 2 * 3 - 1 / 2 % 5 or contact["contact"] in ["a", 'b']
        award 15
    }
    rule "Recent" {
        when count(page_visit where activity.url starts with "https" within 30 days) > 3
        award 10
    }
    rule "Engaged" { when sum(page_visit.seconds within 2 weeks) >= 100.5 award 5 }
    rule "New" {
        when contact.signed_up_at > now() - 30 days and days_since(contact.birthday) > -1
        award 3
    }
    rule "Tags" {
        when contact.tags contains "x" and len(contact.tags) != 0 and contact.meta.a is not empty
        award 1
    }
    rule "Empty" {
        when contact.country is empty or lower(upper(contact.country)) ends with "z"
        award -5
    }
    rule "Exists" { when exists(page_visit) and first(page_visit) < last(page_visit) award 2 }
    rule "Dates" {
        when contact.signed_up_at < 2026-01-31T09:00Z and contact.birthday >= 2000-01-01
        award 2
    }
    rule "Domain" {
        when domain(contact.country) not in ["x.com"] and filled(contact.country, contact.vip) >= 1
        award 1
    }
    rule "Never" { on page_visit award 1 expire never }
    rule "Until" { on page_visit award 1 expire on 2027-01-01 max 3 }
}
""",
    """# Profile rules only, with text escapes and a comment at the end.
scoring "B" {
  rule "x" {
    when contact.a == true and contact.b != false and contact.c == 1.5 and -contact.d < 3
    award 5
  }
  rule "y" {
    on download where activity.size > 10 and contact.score > 1
    award 2 each expire after 12 hours
  }
  rule "z" {
    when contact.name == "Ann \\"A\\" O'Neil\\t\\u00e9" or contact.x glob "[a-z]?*[!0]"
    award 1
  }
}
scoring "C" {
  threshold "T" at 1
  rule "w" { when avg(visit.n within 1 year) > 0 or max(visit.n) < min(visit.n) award 1 }
}
# end
""",
    """# Decay, groups, personas and grades.
scoring "Fit" { rule "Big" { when contact.employees >= 500 award 60 } }
scoring "Engagement" {
    decay 25% every 30 days
    rule "Visit" { on page_visit award 10 max 40 decay 50% every 1 month }
    group "Web" max 30 {
        rule "Pricing" { on page_visit where activity.url glob "*/pricing*" award 25 decay none }
        rule "Blog" { on blog_visit award 5 each }
    }
}
persona "Buyer" threshold 20 {
    group "Signals" max 25 { rule "Title" { when contact.title matches /cfo/i award 20 } }
}
grade "Lead grade" {
    fit "Fit" { "A" at 60, "B" at 30, "C" at 0 }
    engagement "Engagement" { "1" at 50 "2" at 20 "3" at 0 }
}
""",
]

_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/(?:[^/\\\n]|\\.)+/[a-z]*|#[^\n]*'
    r"|\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?|\d+(?:\.\d+)?|\w+|\s+|.",
    re.DOTALL,
)
# Characters of the language, and a few that look like them or break lines.
ALPHABET = [
    *"{}[]()\"'/\\=!<>+-*%.,:#_aZ09 \t\n\r",
    "@", "&", "|", ";", "?", "`", "$", "\f", "\v", "\x00", "\u00a0", "\u2028", "é", "😀",
    "\udc80",  # half of a surrogate pair: a Python str can hold one
]  # fmt: skip
WORDS = [
    *sorted(KEYWORDS),
    "AND", "Or", "days", "dayz", "hours", "x", "contact.a", "activity.url", "lower(", "now()",
    "1", "-1", "1.5", "0", "99999999999999999999", "2026-02-30", "2026-01-01T09:00", "2026-01-01",
    '"x"', "'y'", '"\\q"', '"\\ud800"', '"\udc80"', "/\udc80/", '"unclosed', "/a/i", "/(?=x)/",
    "/x", "[", "]", "==", "=", "&&", "!", "<", "in", "not in", '"[a"', '"*"', "\n", "\t",
    "every", "none", "fit", "engagement", "%", "50%", "12.5%", "-5%", "every 0 days",
]  # fmt: skip


@st.composite
def mutated_rule_files(draw: st.DrawFn) -> str:
    """A valid rule file with one to six random edits to its tokens."""
    tokens = _TOKEN.findall(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, max(len(tokens) - 1, 0)))
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "char", "swap"]))
        if edit == "delete" and tokens:
            del tokens[where]
        elif edit == "insert":
            tokens.insert(where, draw(st.sampled_from(WORDS)) + draw(st.sampled_from(["", " "])))
        elif edit == "duplicate" and tokens:
            tokens.insert(where, tokens[draw(st.integers(0, len(tokens) - 1))])
        elif edit == "replace" and tokens:
            tokens[where] = draw(st.sampled_from(WORDS))
        elif edit == "char":
            tokens.insert(where, draw(st.sampled_from(ALPHABET)))
        elif edit == "swap" and len(tokens) > 1:
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[where], tokens[other] = tokens[other], tokens[where]
    return "".join(tokens)


LANGUAGE_TEXT = st.lists(st.sampled_from(ALPHABET + WORDS), max_size=80).map("".join)


def assert_inside(text: str, error: RuleError) -> None:
    """Every problem of ``error`` points at a line of ``text`` and at most one past its end."""
    lines = text.split("\n")
    for problem in error.problems:
        location = problem.location
        assert location is not None, problem
        assert 1 <= location.line <= len(lines), (problem, len(lines))
        assert 1 <= location.column <= len(lines[location.line - 1]) + 1, problem
        assert location.source_line == lines[location.line - 1].rstrip("\r")
        assert str(problem)  # rendering never fails


def engine_or_rule_error(text: str) -> Engine | None:
    """Compile ``text``: an Engine, or a RuleError that points inside it. Anything else fails."""
    try:
        engine = leadscore.compile(text)
    except RuleError as error:
        failure = error
    else:
        assert isinstance(engine, Engine)
        return engine
    assert_inside(text, failure)
    return None


def config_engine_or_error(body: str) -> None:
    """Build an engine from one rule string in config: an Engine or a LeadscoreError."""
    try:
        Engine.from_config(config_rule(body))
    except RuleError as error:
        failure = error
    else:
        return
    assert_inside(body, failure)
    assert (failure.scoring, failure.rule) == ("A", "R")


def test_the_seed_files_compile() -> None:
    for text in VALID_FILES:
        engine = leadscore.compile(text)
        assert engine.scorings


@settings(deadline=None)
@given(st.text())
def test_any_text_gives_an_engine_or_a_leadscore_error(text: str) -> None:
    engine_or_rule_error(text)


@settings(deadline=None)
@given(LANGUAGE_TEXT)
def test_text_made_of_the_language_gives_an_engine_or_a_leadscore_error(text: str) -> None:
    engine_or_rule_error(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_rule_files())
def test_mutated_rule_files_give_an_engine_or_a_leadscore_error(text: str) -> None:
    engine_or_rule_error(text)


@settings(deadline=None)
@given(st.text() | LANGUAGE_TEXT)
def test_any_config_rule_string_gives_an_engine_or_a_leadscore_error(body: str) -> None:
    config_engine_or_error(body)


@settings(deadline=None)
@given(st.one_of(st.text(), LANGUAGE_TEXT))
def test_any_config_expiry_gives_an_engine_or_a_leadscore_error(expire: str) -> None:
    config = {"scorings": {"A": {"expire": expire, "rules": {"R": "on x award 1"}}}}
    try:
        Engine.from_config(config)
    except RuleError as error:
        failure = error
    else:
        return
    assert_inside(expire, failure)


@settings(deadline=None)
@given(st.one_of(st.text(), LANGUAGE_TEXT))
def test_any_config_decay_gives_an_engine_or_a_leadscore_error(decay: str) -> None:
    config = {"scorings": {"A": {"decay": decay, "rules": {"R": "on x award 1"}}}}
    try:
        Engine.from_config(config)
    except RuleError as error:
        failure = error
    else:
        return
    assert_inside(decay, failure)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


CONFIG_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20), _containers
)


@settings(deadline=None)
@given(CONFIG_VALUES)
def test_any_config_value_gives_an_engine_or_a_leadscore_error(value: Any) -> None:
    for config in (value, {"scorings": value}, {"scorings": {"A": value}}):
        with contextlib.suppress(LeadscoreError):
            Engine.from_config(config)


@settings(deadline=None)
@given(CONFIG_VALUES)
def test_any_feature_config_gives_an_engine_or_a_leadscore_error(value: Any) -> None:
    shapes = (
        {"scorings": {"A": {"groups": value}}},
        {"scorings": {"A": {"groups": {"G": value}}}},
        {"scorings": {}, "personas": value},
        {"scorings": {}, "personas": {"P": value}},
        {"scorings": {"A": {}}, "grades": value},
        {"scorings": {"A": {}}, "grades": {"G": value}},
        {"scorings": {"A": {}}, "grades": {"G": {"fit": value, "engagement": value}}},
    )
    for config in shapes:
        with contextlib.suppress(LeadscoreError):
            Engine.from_config(config)


@pytest.mark.slow
@settings(
    deadline=None,
    max_examples=25_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(st.text(), LANGUAGE_TEXT, mutated_rule_files(), mutated_rule_files()))
def test_many_more_texts_give_an_engine_or_a_leadscore_error(text: str) -> None:
    engine_or_rule_error(text)


@pytest.mark.slow
@settings(deadline=None, max_examples=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), LANGUAGE_TEXT, mutated_rule_files()))
def test_many_more_config_rule_strings_give_an_engine_or_a_leadscore_error(body: str) -> None:
    config_engine_or_error(body)
