"""Tools for testing scoring policies: builders, assertions, test blocks and hypothesis strategies.

Example::

    from leadscore.testing import activity, assert_scores, contact, days_ago

    assert_scores(
        engine,
        contact(country="CZ", job_title="Head of Marketing"),
        [activity("page_visit", days_ago(3), url="https://example.com/pricing")],
        at=datetime(2026, 6, 30, 12, tzinfo=UTC),
        expected={"Product A": {"total": 35, "level": None, "rules": {"Pricing page": 5}}},
    )

The hypothesis strategies (`profiles`, `contacts`, `activities`, `streams`,
`scenarios`) live in `leadscore.testing.strategies` and are loaded on first use,
because hypothesis is a test dependency, not a runtime one. The pytest plugin is
`leadscore.testing.pytest_plugin`.
"""

from typing import Any

from leadscore.testing.assertions import ScoreMismatch, assert_level, assert_scores
from leadscore.testing.blocks import (
    TestOutcome,
    check_test_blocks,
    run_test_block,
    run_test_blocks,
)
from leadscore.testing.builders import (
    DEFAULT_CONTACT_ID,
    RelativeActivity,
    RelativeInstant,
    activity,
    contact,
    days_ago,
    hours_ago,
    minutes_ago,
    resolve_activities,
    weeks_ago,
)
from leadscore.testing.expectations import (
    NOT_CHECKED,
    Expectation,
    RuleDifference,
    ScoringDifference,
)
from leadscore.testing.files import load_rule_files

_STRATEGIES = frozenset({"Scenario", "activities", "contacts", "profiles", "scenarios", "streams"})

__all__ = [
    "DEFAULT_CONTACT_ID",
    "NOT_CHECKED",
    "Expectation",
    "RelativeActivity",
    "RelativeInstant",
    "RuleDifference",
    "Scenario",
    "ScoreMismatch",
    "ScoringDifference",
    "TestOutcome",
    "activities",
    "activity",
    "assert_level",
    "assert_scores",
    "check_test_blocks",
    "contact",
    "contacts",
    "days_ago",
    "hours_ago",
    "load_rule_files",
    "minutes_ago",
    "profiles",
    "resolve_activities",
    "run_test_block",
    "run_test_blocks",
    "scenarios",
    "streams",
    "weeks_ago",
]


def __getattr__(name: str) -> Any:
    # The strategies import hypothesis, so they load only when one is asked for.
    if name in _STRATEGIES:
        from leadscore.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'leadscore.testing' has no attribute {name!r}")
