"""HandOverRoutes: lookup order, the mapping and TOML forms, and checks against an engine."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

import leadscore
from leadscore.errors import ConfigError
from leadscore.handover import HandOverRoutes

ENGINE = leadscore.compile(
    """
    scoring "Product A" {
        threshold "MQL" at 30
        threshold "SQL" at 60
        rule "Visit" { on page_visit award 10 each }
    }
    scoring "Product B" {
        threshold "MQL" at 20
        threshold "Hot" at 50
        rule "Webinar" { on webinar award 20 each }
    }
    """
)
SINKS = ("crm", "email", "webhook", "chat")


def test_exact_route() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["crm", "email"], "SQL": ["webhook"]}})

    assert routes.sinks_for("Product A", "MQL") == ("crm", "email")
    assert routes.sinks_for("Product A", "SQL") == ("webhook",)


def test_unrouted_pair_is_empty() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["crm"]}})

    assert routes.sinks_for("Product A", "SQL") == ()
    assert routes.sinks_for("Product B", "MQL") == ()


def test_most_specific_route_wins() -> None:
    routes = HandOverRoutes(
        {
            "Product A": {"MQL": ["crm"], "*": ["email"]},
            "*": {"MQL": ["webhook"], "*": ["chat"]},
        }
    )

    assert routes.sinks_for("Product A", "MQL") == ("crm",)
    assert routes.sinks_for("Product A", "SQL") == ("email",)
    assert routes.sinks_for("Product B", "MQL") == ("webhook",)
    assert routes.sinks_for("Product B", "Hot") == ("chat",)


def test_empty_list_silences_wildcard() -> None:
    routes = HandOverRoutes({"*": {"*": ["email"]}, "Product B": {"Hot": []}})

    assert routes.sinks_for("Product B", "Hot") == ()
    assert routes.sinks_for("Product B", "MQL") == ("email",)


def test_repeated_sink_kept_once() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["crm", "email", "crm"]}})

    assert routes.sinks_for("Product A", "MQL") == ("crm", "email")


def test_toml_form() -> None:
    config = tomllib.loads(
        """
        [handover.routes."Product A"]
        MQL = ["crm", "email"]
        SQL = ["webhook"]

        [handover.routes."*"]
        "*" = ["chat"]
        """
    )

    routes = HandOverRoutes(config["handover"]["routes"])
    routes.check(ENGINE, SINKS)

    assert routes.sinks_for("Product A", "SQL") == ("webhook",)
    assert routes.sinks_for("Product B", "Hot") == ("chat",)


def test_to_dict_round_trip() -> None:
    data = {"Product A": {"MQL": ["crm", "email"]}, "*": {"*": []}}

    routes = HandOverRoutes(data)

    assert routes.to_dict() == data
    assert HandOverRoutes(routes.to_dict()) == routes


def test_with_route_adds_entry() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["crm"]}})

    changed = routes.with_route("Product A", "SQL", ["webhook"])

    assert changed.sinks_for("Product A", "SQL") == ("webhook",)
    assert changed.sinks_for("Product A", "MQL") == ("crm",)
    assert routes.sinks_for("Product A", "SQL") == ()


def test_sink_names() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["crm"]}, "*": {"*": ["email"]}})

    assert routes.sink_names == {"crm", "email"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([["Product A"]], "routes: expected a table of scoring names"),
        ({"Product A": ["crm"]}, 'routes."Product A": expected a table of threshold names'),
        (
            {"Product A": {"MQL": "crm"}},
            "routes.\"Product A\".MQL: expected a list of sink names, got str; write ['crm']",
        ),
        ({"Product A": {"MQL": [""]}}, 'routes."Product A".MQL: sink names must be non-empty text'),
        ({"Product A": {"MQL": [7]}}, 'routes."Product A".MQL: sink names must be non-empty text'),
        ({"": {"MQL": ["crm"]}}, "routes: scoring names must be non-empty text"),
        (
            {"Product A": {"": ["crm"]}},
            'routes."Product A": threshold names must be non-empty text',
        ),
    ],
)
def test_malformed_routes_raise(data: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        HandOverRoutes(data)

    assert str(raised.value).startswith(message)


def test_check_unknown_scoring() -> None:
    routes = HandOverRoutes({"Webinars": {"MQL": ["crm"]}})

    with pytest.raises(ConfigError) as raised:
        routes.check(ENGINE, SINKS)

    assert str(raised.value) == (
        "routes.Webinars: the rules have no scoring named 'Webinars'; "
        "the names are 'Product A', 'Product B'"
    )


def test_check_unknown_threshold() -> None:
    routes = HandOverRoutes({"Product B": {"SQL": ["crm"]}})

    with pytest.raises(ConfigError) as raised:
        routes.check(ENGINE, SINKS)

    assert str(raised.value) == (
        "routes.\"Product B\".SQL: the scoring 'Product B' has no threshold named 'SQL'; "
        "did you mean 'MQL'?"
    )


def test_check_wildcard_threshold_in_no_scoring() -> None:
    routes = HandOverRoutes({"*": {"Warm": ["crm"]}})

    with pytest.raises(ConfigError) as raised:
        routes.check(ENGINE, SINKS)

    assert str(raised.value).startswith(
        "routes.\"*\".Warm: no scoring has a threshold named 'Warm'"
    )


def test_check_wildcard_threshold_in_one_scoring() -> None:
    routes = HandOverRoutes({"*": {"SQL": ["crm"]}})

    routes.check(ENGINE, SINKS)

    assert routes.sinks_for("Product B", "SQL") == ("crm",)


def test_check_unknown_sink() -> None:
    routes = HandOverRoutes({"Product A": {"MQL": ["emial"]}})

    with pytest.raises(ConfigError) as raised:
        routes.check(ENGINE, SINKS)

    assert str(raised.value) == (
        "routes.\"Product A\".MQL: no sink named 'emial' is configured; did you mean 'email'?"
    )


GRADED = leadscore.compile(
    """
    scoring "Fit" { rule "Big" { when contact.employees >= 500 award 60 } }
    scoring "Engagement" { rule "Visit" { on visit award 10 each } }
    grade "Lead grade" {
        fit "Fit" { "A" at 60, "B" at 30 }
        engagement "Engagement" { "1" at 50, "2" at 20 }
    }
    """
)


def test_grade_routes_by_label() -> None:
    routes = HandOverRoutes({"Lead grade": {"A1": ["crm"], "*": ["email"]}})
    routes.check(GRADED, SINKS)

    assert routes.grade_sinks_for("Lead grade", "A1") == ("crm",)
    assert routes.grade_sinks_for("Lead grade", "B2") == ("email",)
    assert routes.grade_sinks_for("Other grade", "A1") == ()


def test_grade_route_unknown_label() -> None:
    routes = HandOverRoutes({"Lead grade": {"A3": ["crm"]}})

    with pytest.raises(ConfigError, match="the grade 'Lead grade' never gives the label 'A3'"):
        routes.check(GRADED, SINKS)


def test_unknown_name_with_grades_in_the_rules() -> None:
    routes = HandOverRoutes({"Lead grad": {"A1": ["crm"]}})

    with pytest.raises(
        ConfigError, match="no scoring or grade named 'Lead grad'; did you mean 'Lead grade'"
    ):
        routes.check(GRADED, SINKS)


def test_wildcard_route_grade_label() -> None:
    routes = HandOverRoutes({"*": {"A1": ["crm"]}})

    with pytest.raises(ConfigError, match="'A1' is a label of the grade 'Lead grade', and grades"):
        routes.check(GRADED, SINKS)
