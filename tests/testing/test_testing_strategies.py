"""Hypothesis strategies: what they generate for an engine, and a property that finds a planted bug."""

from __future__ import annotations

import datetime as dt
import fnmatch
import importlib
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from testing_helpers import AT, PRODUCT_A, UNSUBSCRIBE_BUGGY, UNSUBSCRIBE_FIXED

import leadscore
from leadscore import Activity, Duration
from leadscore.testing import Scenario, activities, contacts, profiles, scenarios, streams
from leadscore.testing.hints import policy_hints

PRODUCT = leadscore.compile(PRODUCT_A)
BETWEEN = (AT - dt.timedelta(days=120), AT)
# find() returns the first example found, unshrunk, because only its existence matters.
# Without stored examples every run searches afresh. These searches check what the
# strategies can generate, not how fast, so they get ten times the default budget.
# The planted-bug tests below use the default budget.
SEARCH = settings(database=None, phases=[Phase.generate], max_examples=1000)


# ---- the hints read from a policy


def test_hints_country_texts() -> None:
    hints = policy_hints(PRODUCT.program)
    assert hints.contact.children["country"].texts == {"CZ", "SK", "DE"}


def test_hints_job_title_pattern() -> None:
    hints = policy_hints(PRODUCT.program)
    patterns = hints.contact.children["job_title"].regexes
    assert patterns == {(r"\b(ceo|cto|vp|head|director)\b", "i")}


def test_hints_attribute_glob() -> None:
    hints = policy_hints(PRODUCT.program)
    assert hints.attributes["page_visit"].children["url"].globs == {"*/pricing*"}


def test_hints_activity_types() -> None:
    assert policy_hints(PRODUCT.program).activity_types == ["page_visit", "download"]


def test_hints_durations() -> None:
    durations = policy_hints(PRODUCT.program).durations
    assert durations == {Duration(30, "days"), Duration(90, "days")}


def test_hints_numbers_and_counts() -> None:
    engine = leadscore.compile(
        'scoring "S" {\n'
        '  rule "Big" { when contact.employees >= 500 and 10 < contact.age award 5 }\n'
        '  rule "Busy" { when count(visit within 7 days) >= 5 award 5 }\n'
        '  rule "Spend" { when sum(purchase.amount) > 100 award 5 }\n'
        "}"
    )
    hints = policy_hints(engine.program)
    assert hints.contact.children["employees"].numbers == {500}
    assert hints.contact.children["age"].numbers == {10}
    assert hints.counts == {"visit": {5}}
    assert hints.attributes["purchase"].children["amount"].numbers == {100}
    assert Duration(7, "days") in hints.durations


def test_hints_functions_and_nesting() -> None:
    engine = leadscore.compile(
        'scoring "S" {\n'
        '  rule "Domain" { when domain(contact.email) == "acme.com" award 5 }\n'
        '  rule "City" { when lower(contact.address.city) == "brno" award 5 }\n'
        '  rule "Recent" { when days_since(contact.last_login) < 14 award 5 }\n'
        '  rule "Tagged" { when contact.tags contains "vip" award 5 }\n'
        "}"
    )
    contact = policy_hints(engine.program).contact.children
    assert contact["email"].domains == {"acme.com"}
    assert contact["address"].children["city"].texts == {"brno"}
    assert contact["address"].children["city"].case_insensitive
    assert contact["last_login"].ages == {Duration(14, "days")}
    assert contact["tags"].members == {"vip"}


# ---- what the strategies generate


def test_profiles_hit_listed_country() -> None:
    profile = find(profiles(PRODUCT), lambda p: p.get("country") == "DE", settings=SEARCH)
    assert profile["country"] == "DE"


def test_profiles_hit_case_variant() -> None:
    profile = find(profiles(PRODUCT), lambda p: p.get("country") == "cz", settings=SEARCH)
    assert profile["country"] == "cz"


def test_profiles_hit_pattern() -> None:
    profile = find(
        profiles(PRODUCT),
        lambda p: isinstance(p.get("job_title"), str) and "director" in p["job_title"].lower(),
        settings=SEARCH,
    )
    assert "director" in profile["job_title"].lower()


def test_profiles_numbers_around_constant() -> None:
    engine = leadscore.compile(
        'scoring "S" { rule "Big" { when contact.employees >= 500 award 5 } }'
    )
    for value in (499, 500, 501):

        def has_value(profile: dict[str, Any], value: int = value) -> bool:
            return profile.get("employees") == value

        found = find(profiles(engine), has_value, settings=SEARCH)
        assert found["employees"] == value


@settings(max_examples=50)
@given(
    profiles(
        leadscore.compile(
            "declare contact { employees: number, country: text }\n"
            'scoring "S" { rule "CZ" { when contact.country == "CZ" award 5 } }'
        )
    )
)
def test_profiles_follow_declared_types(profile: dict[str, Any]) -> None:
    employees = profile["employees"]
    country = profile["country"]
    assert employees is None or isinstance(employees, int | float)
    assert country is None or isinstance(country, str)


@settings(max_examples=20)
@given(profiles(PRODUCT, fields={"country": st.just("XX")}))
def test_profiles_fields_override(profile: dict[str, Any]) -> None:
    assert profile["country"] == "XX"


def test_profiles_need_engine_or_fields() -> None:
    with pytest.raises(ValueError, match=r"profiles\(\) needs an engine, fields, or both"):
        profiles()


def test_activities_hit_glob() -> None:
    visit = find(
        activities(PRODUCT, between=BETWEEN, types=["page_visit"]),
        lambda a: fnmatch.fnmatchcase(str(a.attributes.get("url")), "*/pricing*"),
        settings=SEARCH,
    )
    assert "/pricing" in visit.attributes["url"]


def test_activities_hit_expiry_edge() -> None:
    edge = AT - dt.timedelta(days=30)
    visit = find(
        activities(PRODUCT, between=BETWEEN), lambda a: a.occurred_at == edge, settings=SEARCH
    )
    assert visit.occurred_at == edge


@settings(max_examples=50)
@given(activities(PRODUCT, between=BETWEEN, contact="c-9"))
def test_activities_within_between(activity: Activity) -> None:
    assert BETWEEN[0] <= activity.occurred_at <= BETWEEN[1]
    assert activity.contact_id == "c-9"
    assert activity.type in ("page_visit", "download")


@settings(max_examples=50)
@given(streams(PRODUCT, between=BETWEEN))
def test_streams_ordered_and_numbered(stream: list[Activity]) -> None:
    times = [activity.occurred_at for activity in stream]
    assert times == sorted(times)
    assert [activity.id for activity in stream] == [f"a{n}" for n in range(1, len(stream) + 1)]


def test_streams_reach_count_constant() -> None:
    engine = leadscore.compile('scoring "S" { rule "Busy" { when count(visit) >= 12 award 5 } }')
    stream = find(streams(engine, between=BETWEEN), lambda s: len(s) >= 12, settings=SEARCH)
    assert len(stream) >= 12


def test_streams_reject_naive_between() -> None:
    naive = (dt.datetime(2026, 1, 1), dt.datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="between needs two aware datetimes"):
        streams(PRODUCT, between=naive)


def test_streams_need_activity_types() -> None:
    engine = leadscore.compile('scoring "S" { rule "CZ" { when contact.country == "CZ" award 5 } }')
    with pytest.raises(ValueError, match="the rules read no activity type"):
        streams(engine, between=BETWEEN)


@settings(max_examples=30)
@given(scenarios(PRODUCT, at=AT))
def test_scenarios_share_contact(scenario: Scenario) -> None:
    assert scenario.at == AT
    assert all(a.contact_id == scenario.contact.id for a in scenario.activities)
    assert scenario.score(PRODUCT)["Product A"].contact_id == scenario.contact.id


@settings(max_examples=20)
@given(contacts(PRODUCT, id="c-3"))
def test_contacts_take_id(contact: leadscore.Contact) -> None:
    assert contact.id == "c-3"


def test_package_imports_without_hypothesis() -> None:
    code = (
        "import sys, leadscore.testing, leadscore.cli.test\n"
        "print('hypothesis' in sys.modules, 'pytest' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]


def test_lazy_strategy_attribute() -> None:
    import leadscore.testing as testing

    assert testing.streams is streams


def test_import_error_names_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import hypothesis` fail, as if it were missing.
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "leadscore.testing.strategies")
    with pytest.raises(ImportError, match=r"pip install 'leadscore\[test\]'"):
        importlib.import_module("leadscore.testing.strategies")


# ---- a property that finds the planted bug


def never_mql_when_unsubscribed(engine: leadscore.Engine) -> Any:
    """Return the property for ``engine``, run with hypothesis's default budget of examples."""

    @settings(database=None)
    @given(scenarios(engine, at=AT))
    def check(scenario: Scenario) -> None:
        if any(activity.type == "newsletter_unsubscribe" for activity in scenario.activities):
            assert scenario.score(engine)["Product A"].level != "MQL"

    return check


def test_property_finds_planted_bug() -> None:
    check = never_mql_when_unsubscribed(leadscore.compile(UNSUBSCRIBE_BUGGY))
    with pytest.raises(AssertionError):
        check()


def test_property_passes_fixed_policy() -> None:
    never_mql_when_unsubscribed(leadscore.compile(UNSUBSCRIBE_FIXED))()


def test_find_shows_buggy_contact() -> None:
    engine = leadscore.compile(UNSUBSCRIBE_BUGGY)

    def unsubscribed_at_mql(scenario: Scenario) -> bool:
        unsubscribed = any(a.type == "newsletter_unsubscribe" for a in scenario.activities)
        return unsubscribed and scenario.score(engine)["Product A"].level == "MQL"

    default_budget = settings(database=None, phases=[Phase.generate])
    example = find(scenarios(engine, at=AT), unsubscribed_at_mql, settings=default_budget)
    # Only "Banking enterprise" outweighs the penalty, so every such contact is in banking.
    assert example.contact.profile["industry"] == "banking"


def test_hints_bare_field_is_boolean() -> None:
    engine = leadscore.compile(
        'scoring "S" {\n'
        '  rule "Opted in" { when contact.newsletter award 5 }\n'
        '  rule "Not blocked" { when not contact.blocked and contact.active award 5 }\n'
        "}"
    )
    contact = policy_hints(engine.program).contact.children
    assert contact["newsletter"].booleans
    assert contact["blocked"].booleans
    assert contact["active"].booleans
