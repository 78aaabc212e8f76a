"""Engine.from_config and leadscore.load of TOML and JSON: the shapes, and the errors for others."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from language_helpers import AT, config_error, config_rule, total

import leadscore
from leadscore import Activity, ConfigError, Contact, Engine, LeadscoreError, RuleSyntaxError
from leadscore.model import Duration, Threshold

# ---------------------------------------------------------------- the documented shapes


def test_thresholds_as_a_table() -> None:
    engine = Engine.from_config(
        {
            "scorings": {
                "A": {
                    "thresholds": {"MQL": 10, "SQL": 20},
                    "rules": {"VIP": "when contact.vip award 15"},
                }
            }
        }
    )
    assert engine.thresholds("A") == (Threshold("MQL", 10), Threshold("SQL", 20))
    card = engine.score(Contact("c", {"vip": True}), at=AT)["A"]
    assert (card.total, card.level) == (15, "MQL")


def test_thresholds_as_a_list() -> None:
    engine = Engine.from_config(
        {
            "scorings": {
                "A": {
                    "thresholds": [{"name": "MQL", "at": 10}, {"name": "SQL", "at": 20}],
                    "rules": {"VIP": "when contact.vip award 25"},
                }
            }
        }
    )
    assert engine.thresholds("A") == (Threshold("MQL", 10), Threshold("SQL", 20))
    card = engine.score(Contact("c", {"vip": True}), at=AT)["A"]
    assert (card.total, card.level) == (25, "SQL")


@pytest.mark.parametrize(
    ("expire", "kept"),
    [
        pytest.param("after 90 days", [True, True, False], id="after"),
        pytest.param("after 2 months", [True, False, False], id="after-calendar-months"),
        pytest.param("never", [True, True, True], id="never"),
        pytest.param("on 2026-06-01", [False, False, False], id="on-a-date-already-past"),
        pytest.param("on 2027-01-01", [True, True, True], id="on-a-date-to-come"),
    ],
)
def test_expire_strings(expire: str, kept: list[bool]) -> None:
    engine = Engine.from_config(
        {"scorings": {"A": {"expire": expire, "rules": {"Visit": "on page_visit award 1"}}}}
    )
    for age_days, expected in zip((10, 80, 200), kept, strict=True):
        points = total(engine, activities=[("page_visit", dt.timedelta(days=age_days), {})])
        assert points == (1 if expected else 0), (expire, age_days)


def test_a_rule_expiry_overrides_the_scoring_expiry() -> None:
    engine = Engine.from_config(
        {
            "scorings": {
                "A": {
                    "expire": "after 90 days",
                    "rules": {"Visit": "on page_visit award 1 expire after 7 days"},
                }
            }
        }
    )
    rule = engine.program.scorings[0].rules[0]
    assert rule.validity.duration == Duration(7, "days")


def test_floor_ceiling_timezone_and_notify() -> None:
    engine = Engine.from_config(
        {
            "scorings": {
                "A": {
                    "floor": -5,
                    "ceiling": 12,
                    "timezone": "Europe/Prague",
                    "notify": "once",
                    "rules": {
                        "Visit": "on page_visit award 5 each",
                        "Spam": "on complaint award -20 each",
                    },
                },
                "B": {"notify": "each crossing", "rules": {"Visit": "on page_visit award 1"}},
            }
        }
    )
    a, b = engine.program.scorings
    assert (a.floor, a.ceiling, str(a.timezone), a.notify_once) == (-5, 12, "Europe/Prague", True)
    assert (b.floor, b.ceiling, str(b.timezone), b.notify_once) == (None, None, "UTC", False)
    visits = [("page_visit", dt.timedelta(hours=hours), {}) for hours in range(1, 5)]
    assert total(engine, activities=visits) == 12
    assert total(engine, activities=[("complaint", dt.timedelta(hours=1), {})]) == -5


def test_declarations_from_config() -> None:
    config = {
        "contact": {"age": "number", "first name": "text"},
        "activities": {"page_visit": {"url": "text"}, "form submit": {"form": "text"}},
        "scorings": {
            "A": {
                "rules": {
                    "Adult": 'when contact.age >= 18 and contact["first name"] != "" award 1',
                    "Pricing": 'on page_visit where activity.url glob "*/pricing" award 2',
                    "Form": 'on "form submit" where activity.form == "demo" award 3',
                }
            }
        },
    }
    engine = Engine.from_config(config)
    assert engine.program.contact_fields == {"age": "number", "first name": "text"}
    assert engine.program.activity_attributes == {
        "page_visit": {"url": "text"},
        "form submit": {"form": "text"},
    }
    activities = [
        ("page_visit", dt.timedelta(days=1), {"url": "https://x.example/pricing"}),
        ("form submit", dt.timedelta(days=1), {"form": "demo"}),
    ]
    assert total(engine, {"age": 30, "first name": "Ann"}, activities) == 6


def test_declarations_from_config_are_checked() -> None:
    config = {
        "contact": {"age": "number"},
        "activities": {"page_visit": {"url": "text"}},
        "scorings": {
            "A": {"rules": {"R": "when contact.agee > 1 award 1", "S": "on pageview award 1"}}
        },
    }
    error = config_error(config)
    assert [(p.location.rule, p.message, p.hint) for p in error.problems if p.location] == [
        ("R", "unknown contact field 'agee'", "did you mean 'age'?"),
        ("S", "unknown activity type 'pageview'", "did you mean 'page_visit'?"),
    ]


def test_a_config_rule_may_span_several_lines() -> None:
    engine = Engine.from_config(
        config_rule('when contact.country == "CZ"\n  and contact.vip\n  award 7')
    )
    assert total(engine, {"country": "CZ", "vip": True}) == 7


def test_an_empty_config_defines_no_scoring() -> None:
    engine = Engine.from_config({"scorings": {}})
    assert engine.scorings == ()
    assert [w.message for w in engine.warnings] == [
        "the rules define no scoring, so nothing is scored"
    ]


def test_scorings_and_rules_keep_their_order() -> None:
    engine = Engine.from_config(
        {
            "scorings": {
                "Z": {"rules": {"b": "when true award 1", "a": "when true award 2"}},
                "A": {"rules": {"y": "when true award 3"}},
            }
        }
    )
    assert engine.scorings == ("Z", "A")
    assert engine.rules("Z") == ("b", "a")


# ---------------------------------------------------------------- wrong shapes


def _config_problem(config: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        Engine.from_config(config)
    return caught.value


RULES = {"R": "on x award 1"}

SHAPES = [
    pytest.param([], (), "expected a table of names to values, got list", id="top-level-list"),
    pytest.param({}, (), "missing the 'scorings' table", id="missing-scorings"),
    pytest.param(
        {"scorings": {}, "scoring": {}},
        (),
        "unknown key 'scoring'; did you mean 'scorings'?",
        id="unknown-top-level-key-did-you-mean",
    ),
    pytest.param(
        {"scorings": {}, "version": 2},
        (),
        "unknown key 'version'; the keys are scorings, personas, grades, contact, activities",
        id="unknown-top-level-key",
    ),
    pytest.param(
        {"scorings": ["A"]},
        ("scorings",),
        "expected a table of names to values, got list",
        id="scorings-as-a-list",
    ),
    pytest.param(
        {"scorings": {"A": "on x award 1"}},
        ("scorings", "A"),
        "expected a table of names to values, got str",
        id="scoring-as-text",
    ),
    pytest.param(
        {"scorings": {"A": {"threshold": {"MQL": 1}, "rules": RULES}}},
        ("scorings", "A"),
        "unknown key 'threshold'; did you mean 'thresholds'?",
        id="unknown-scoring-key-did-you-mean",
    ),
    pytest.param(
        {"scorings": {"A": {"expires": "never", "rules": RULES}}},
        ("scorings", "A"),
        "unknown key 'expires'; did you mean 'expire'?",
        id="unknown-scoring-key-expires",
    ),
    pytest.param(
        {"scorings": {"A": {"colour": "red", "rules": RULES}}},
        ("scorings", "A"),
        "unknown key 'colour'; the keys are thresholds, expire, decay, floor, ceiling, "
        "timezone, notify, rules, groups",
        id="unknown-scoring-key",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": 100, "rules": RULES}}},
        ("scorings", "A", "thresholds"),
        "expected a table such as { MQL = 100 } or a list of {name, at}",
        id="thresholds-as-a-number",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": {"MQL": "100"}, "rules": RULES}}},
        ("scorings", "A", "thresholds", "MQL"),
        "expected a whole number of points, got '100'",
        id="threshold-points-as-text",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": {"MQL": 99.5}, "rules": RULES}}},
        ("scorings", "A", "thresholds", "MQL"),
        "expected a whole number of points, got 99.5",
        id="threshold-points-with-decimals",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": {"MQL": True}, "rules": RULES}}},
        ("scorings", "A", "thresholds", "MQL"),
        "expected a whole number of points, got True",
        id="threshold-points-as-a-boolean",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": [{"name": "MQL", "points": 10}], "rules": RULES}}},
        ("scorings", "A", "thresholds", "0"),
        "unknown key 'points'; the keys are name, at",
        id="threshold-entry-unknown-key",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": [{"name": "MQL", "att": 10}], "rules": RULES}}},
        ("scorings", "A", "thresholds", "0"),
        "unknown key 'att'; did you mean 'at'?",
        id="threshold-entry-unknown-key-did-you-mean",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": [{"at": 1}, {"name": "MQL"}], "rules": RULES}}},
        ("scorings", "A", "thresholds", "0"),
        "a threshold needs 'name' and 'at'",
        id="threshold-entry-without-name",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": [{"name": 1, "at": 1}], "rules": RULES}}},
        ("scorings", "A", "thresholds", "0", "name"),
        "expected the name as text, got 1",
        id="threshold-entry-name-not-text",
    ),
    pytest.param(
        {"scorings": {"A": {"thresholds": ["MQL"], "rules": RULES}}},
        ("scorings", "A", "thresholds", "0"),
        "expected a table of names to values, got str",
        id="threshold-entry-as-text",
    ),
    pytest.param(
        {"scorings": {"A": {"expire": 90, "rules": RULES}}},
        ("scorings", "A", "expire"),
        'expected text such as "after 90 days", "never" or "on 2027-01-01"',
        id="expire-as-a-number",
    ),
    pytest.param(
        {"scorings": {"A": {"floor": 1.5, "rules": RULES}}},
        ("scorings", "A", "floor"),
        "expected a whole number of points, got 1.5",
        id="floor-with-decimals",
    ),
    pytest.param(
        {"scorings": {"A": {"ceiling": "100", "rules": RULES}}},
        ("scorings", "A", "ceiling"),
        "expected a whole number of points, got '100'",
        id="ceiling-as-text",
    ),
    pytest.param(
        {"scorings": {"A": {"timezone": 1, "rules": RULES}}},
        ("scorings", "A", "timezone"),
        'expected a time zone name such as "Europe/Prague"',
        id="timezone-as-a-number",
    ),
    pytest.param(
        {"scorings": {"A": {"notify": True, "rules": RULES}}},
        ("scorings", "A", "notify"),
        'expected "once" or "each crossing"',
        id="notify-as-a-boolean",
    ),
    pytest.param(
        {"scorings": {"A": {"rules": ["on x award 1"]}}},
        ("scorings", "A", "rules"),
        "expected a table of names to values, got list",
        id="rules-as-a-list",
    ),
    pytest.param(
        {"scorings": {"A": {"rules": {"R": {"on": "x", "award": 1}}}}},
        ("scorings", "A", "rules", "R"),
        "expected the rule as text, such as 'on download award 10'",
        id="rule-as-a-table",
    ),
    pytest.param(
        {"scorings": {}, "contact": ["age"]},
        ("contact",),
        "expected a table of names to values, got list",
        id="contact-as-a-list",
    ),
    pytest.param(
        {"scorings": {}, "contact": {"age": 1}},
        ("contact", "age"),
        'expected a type name such as "text", got 1',
        id="contact-field-type-as-a-number",
    ),
    pytest.param(
        {"scorings": {}, "activities": {"page_visit": ["url"]}},
        ("activities", "page_visit"),
        "expected a table of names to values, got list",
        id="activity-attributes-as-a-list",
    ),
    pytest.param(
        {"scorings": {}, "activities": {"page_visit": {"url": None}}},
        ("activities", "page_visit", "url"),
        'expected a type name such as "text", got None',
        id="activity-attribute-type-missing",
    ),
    # ---- decay, groups, personas and grades
    pytest.param(
        {"scorings": {"A": {"decay": 25, "rules": RULES}}},
        ("scorings", "A", "decay"),
        'expected text such as "25% every 30 days" or "none"',
        id="decay-not-text",
    ),
    pytest.param(
        {"scorings": {"A": {"groups": {"G": {"rules": RULES}}}}},
        ("scorings", "A", "groups", "G"),
        "a group needs a 'max', such as max = 30",
        id="group-without-max",
    ),
    pytest.param(
        {"scorings": {"A": {"groups": {"G": {"max": "30", "rules": RULES}}}}},
        ("scorings", "A", "groups", "G", "max"),
        "expected a whole number of points, got '30'",
        id="group-max-as-text",
    ),
    pytest.param(
        {"scorings": {"A": {"groups": {"G": {"cap": 30, "rules": RULES}}}}},
        ("scorings", "A", "groups", "G"),
        "unknown key 'cap'; the keys are max, rules",
        id="group-unknown-key",
    ),
    pytest.param(
        {"scorings": {"A": {"groups": {"G": {"max": 30, "rules": "on x award 1"}}}}},
        ("scorings", "A", "groups", "G", "rules"),
        "expected a table of names to values, got str",
        id="group-rules-not-a-table",
    ),
    pytest.param(
        {"scorings": {"A": {"groups": ["G"]}}},
        ("scorings", "A", "groups"),
        "expected a table of names to values, got list",
        id="groups-as-a-list",
    ),
    pytest.param(
        {"scorings": {}, "personas": {"P": {"rules": RULES}}},
        ("personas", "P"),
        "a persona needs a 'threshold', such as threshold = 20",
        id="persona-without-threshold",
    ),
    pytest.param(
        {"scorings": {}, "personas": {"P": {"thresholds": {"P": 20}, "rules": RULES}}},
        ("personas", "P"),
        "unknown key 'thresholds'; did you mean 'threshold'?",
        id="persona-with-thresholds",
    ),
    pytest.param(
        {"scorings": {}, "personas": {"P": {"threshold": 2.5, "rules": RULES}}},
        ("personas", "P", "threshold"),
        "expected a whole number of points, got 2.5",
        id="persona-threshold-not-whole",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": "A"}}},
        ("grades", "G", "fit"),
        "expected a table of names to values, got str",
        id="grade-axis-as-text",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": {"scoring": 5}}}},
        ("grades", "G", "fit", "scoring"),
        "expected the name of a scoring as text, got 5",
        id="grade-scoring-not-text",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": {"scoring": "A", "bands": 5}}}},
        ("grades", "G", "fit", "bands"),
        "expected a table such as { A = 100 } or a list of {name, at}",
        id="grade-bands-not-a-table",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": {"scoring": "A", "bands": [{"name": "A"}]}}}},
        ("grades", "G", "fit", "bands", "0"),
        "a band needs 'name' and 'at'",
        id="grade-band-without-at",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": {"scoring": "A", "bands": {"A": "high"}}}}},
        ("grades", "G", "fit", "bands", "A"),
        "expected a whole number of points, got 'high'",
        id="grade-band-points-as-text",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fit": {"scoring": "A", "band": {"A": 1}}}}},
        ("grades", "G", "fit"),
        "unknown key 'band'; did you mean 'bands'?",
        id="grade-axis-unknown-key",
    ),
    pytest.param(
        {"scorings": {}, "grades": {"G": {"fits": {}}}},
        ("grades", "G"),
        "unknown key 'fits'; did you mean 'fit'?",
        id="grade-unknown-key",
    ),
]


@pytest.mark.parametrize(("config", "path", "message"), SHAPES)
def test_wrong_shapes_name_the_key_path(config: Any, path: tuple[str, ...], message: str) -> None:
    error = _config_problem(config)
    assert error.path == path
    assert str(error) == f"{'.'.join(path) or 'config'}: {message}"
    assert isinstance(error, LeadscoreError)
    assert isinstance(error, ValueError)


def test_config_values_that_parse_but_fail_checks_name_the_scoring() -> None:
    error = config_error({"scorings": {"A": {"timezone": "Mars/Olympus", "rules": RULES}}})
    assert (error.scoring, error.rule, error.message) == (
        "A",
        None,
        "unknown time zone 'Mars/Olympus'",
    )
    assert str(error) == (
        "config, scorings.A.timezone: error: unknown time zone 'Mars/Olympus'\n"
        "    timezone = Mars/Olympus\n"
        "    ^^^^^^^^^^^^^^^^^^^^^^^\n"
        '    hint: use an IANA zone name such as "Europe/Prague" or "UTC"'
    )


def test_thresholds_out_of_order_in_config() -> None:
    error = config_error(
        {"scorings": {"A": {"thresholds": {"SQL": 20, "MQL": 10}, "rules": RULES}}}
    )
    assert error.message == "thresholds are out of order: 'MQL' at 10 comes after 'SQL' at 20"
    assert error.location is not None
    assert error.location.source_line == "thresholds.MQL = 10"


# ---------------------------------------------------------------- rule strings


def test_syntax_error_in_a_rule_string_names_scoring_rule_and_column() -> None:
    config = {
        "scorings": {
            "Product A": {
                "rules": {
                    "Good": "on page_visit award 1",
                    "Pricing page": 'on page_visit where activity.url glob "*/pricing*" && award 5',
                }
            }
        }
    }
    error = config_error(config)
    assert isinstance(error, RuleSyntaxError)
    assert (error.scoring, error.rule) == ("Product A", "Pricing page")
    assert (error.line, error.column) == (1, 52)
    assert error.message == "'&' is not an operator"
    assert str(error).splitlines()[0] == (
        'config, scorings."Product A".rules."Pricing page", column 52: '
        "error: '&' is not an operator"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('award 5 } rule "x" { when true award 1000', id="close-and-open-a-rule"),
        pytest.param('award 5 } rule "x" { when true award 1000 }', id="close-and-open-balanced"),
        pytest.param(
            'award 5 } }\nscoring "B" { rule "x" { when true award 1 } }', id="new-scoring"
        ),
        pytest.param(
            'when true award 5 }\n  rule "x" {\n    when true\n    award 1000', id="multi-line"
        ),
        pytest.param(
            'when true award 5 } rule "x" { when true award 1000 } rule "y" {', id="two-rules"
        ),
    ],
)
def test_a_rule_string_cannot_close_its_rule_and_open_another(body: str) -> None:
    error = config_error(config_rule(body))
    assert isinstance(error, RuleSyntaxError)
    assert error.problems[0].hint == "a rule from config holds only its clauses, without braces"
    assert (error.scoring, error.rule) == ("A", "R")


def test_a_rule_string_cannot_declare_fields() -> None:
    error = config_error(config_rule("declare contact { a: text } when true award 1"))
    assert isinstance(error, RuleSyntaxError)
    assert error.message.startswith("unexpected keyword 'declare'")


def test_an_empty_rule_string_names_what_is_missing() -> None:
    error = config_error(config_rule(""))
    assert [p.message for p in error.problems] == [
        "rule 'R' has no 'when' or 'on' clause",
        "rule 'R' has no 'award' clause",
    ]
    assert (error.line, error.column) == (1, 1)


# ---------------------------------------------------------------- files on disk

RULE_FILE = r"""
declare contact { country: text, employees: number, job_title: text }
declare activity page_visit { url: text }
declare activity download { file: text }

scoring "Product A" {
    threshold "MQL" at 20
    threshold "SQL" at 40
    expire after 90 days
    floor 0
    ceiling 60
    timezone "Europe/Prague"
    notify once
    rule "Target country" { when contact.country in ["CZ", "SK"] award 10 }
    rule "Decision maker" { when contact.job_title matches /\b(ceo|cto)\b/i award 20 }
    rule "Pricing page" {
        on page_visit where activity.url glob "*/pricing*"
        award 5 each
        max 15
        expire after 30 days
    }
    rule "Whitepaper" { on download where activity.file ends with ".pdf" award 10 once }
    rule "Small company" { when contact.employees < 10 award -5 }
}

scoring "Product B" {
    threshold "Warm" at 5
    rule "Any visit" { on page_visit or download award 1 each max 8 }
}
"""

CONFIG: dict[str, Any] = {
    "contact": {"country": "text", "employees": "number", "job_title": "text"},
    "activities": {"page_visit": {"url": "text"}, "download": {"file": "text"}},
    "scorings": {
        "Product A": {
            "thresholds": {"MQL": 20, "SQL": 40},
            "expire": "after 90 days",
            "floor": 0,
            "ceiling": 60,
            "timezone": "Europe/Prague",
            "notify": "once",
            "rules": {
                "Target country": 'when contact.country in ["CZ", "SK"] award 10',
                "Decision maker": r"when contact.job_title matches /\b(ceo|cto)\b/i award 20",
                "Pricing page": (
                    'on page_visit where activity.url glob "*/pricing*" award 5 each max 15 '
                    "expire after 30 days"
                ),
                "Whitepaper": 'on download where activity.file ends with ".pdf" award 10 once',
                "Small company": "when contact.employees < 10 award -5",
            },
        },
        "Product B": {
            "thresholds": [{"name": "Warm", "at": 5}],
            "rules": {"Any visit": "on page_visit or download award 1 each max 8"},
        },
    },
}

TOML = r"""
[contact]
country = "text"
employees = "number"
job_title = "text"

[activities.page_visit]
url = "text"

[activities.download]
file = "text"

[scorings."Product A"]
thresholds = { MQL = 20, SQL = 40 }
expire = "after 90 days"
floor = 0
ceiling = 60
timezone = "Europe/Prague"
notify = "once"

[scorings."Product A".rules]
"Target country" = 'when contact.country in ["CZ", "SK"] award 10'
"Decision maker" = 'when contact.job_title matches /\b(ceo|cto)\b/i award 20'
"Pricing page" = '''on page_visit where activity.url glob "*/pricing*"
                    award 5 each max 15 expire after 30 days'''
"Whitepaper" = 'on download where activity.file ends with ".pdf" award 10 once'
"Small company" = "when contact.employees < 10 award -5"

[scorings."Product B"]
thresholds = [{ name = "Warm", at = 5 }]

[scorings."Product B".rules]
"Any visit" = "on page_visit or download award 1 each max 8"
"""


def _contacts() -> list[tuple[Contact, list[Activity]]]:
    def visit(contact: str, days: float, url: str, number: int) -> Activity:
        return Activity(
            contact, "page_visit", AT - dt.timedelta(days=days), {"url": url}, id=f"v{number}"
        )

    def download(contact: str, days: float, file: str, number: int) -> Activity:
        return Activity(
            contact, "download", AT - dt.timedelta(days=days), {"file": file}, id=f"d{number}"
        )

    return [
        (Contact("empty", {}), []),
        (
            Contact("ceo", {"country": "CZ", "employees": 500, "job_title": "CEO and founder"}),
            [visit("ceo", day, "https://x.example/pricing", day) for day in (1, 2, 3, 4, 40)],
        ),
        (
            Contact("small", {"country": "DE", "employees": 3, "job_title": "intern"}),
            [download("small", 5, "guide.pdf", 1), download("small", 6, "guide.pdf", 2)],
        ),
        (
            Contact("busy", {"country": "SK", "employees": 50, "job_title": "Head of IT"}),
            [visit("busy", day / 2, f"https://x.example/page{day}", day) for day in range(20)]
            + [download("busy", 100, "old.pdf", 1)],
        ),
    ]


def _cards(engine: Engine) -> list[tuple[Any, ...]]:
    cards = []
    for contact, activities in _contacts():
        for name, card in engine.score(contact, activities, at=AT).items():
            breakdown = tuple((result.rule, result.points, result.met) for result in card.breakdown)
            cards.append((contact.id, name, card.total, card.level, breakdown))
    return cards


@pytest.fixture(scope="module")
def expected_cards() -> list[tuple[Any, ...]]:
    return _cards(leadscore.compile(RULE_FILE))


def test_the_expected_cards_are_not_trivial(expected_cards: list[tuple[Any, ...]]) -> None:
    totals = {(contact, scoring): points for contact, scoring, points, _, _ in expected_cards}
    assert totals == {
        ("empty", "Product A"): 0,
        ("empty", "Product B"): 0,
        ("ceo", "Product A"): 45,
        ("ceo", "Product B"): 5,
        ("small", "Product A"): 5,
        ("small", "Product B"): 2,
        ("busy", "Product A"): 10,
        ("busy", "Product B"): 8,
    }


def test_config_mapping_scores_like_the_rule_file(expected_cards: list[tuple[Any, ...]]) -> None:
    assert _cards(Engine.from_config(CONFIG)) == expected_cards


def test_load_toml_scores_like_the_rule_file(
    tmp_path: Path, expected_cards: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(TOML, encoding="utf-8")
    assert _cards(leadscore.load(path)) == expected_cards


def test_load_json_scores_like_the_rule_file(
    tmp_path: Path, expected_cards: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(CONFIG, indent=2), encoding="utf-8")
    assert _cards(leadscore.load(path)) == expected_cards


def test_load_yaml_scores_like_the_rule_file(
    tmp_path: Path, expected_cards: list[tuple[Any, ...]]
) -> None:
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False), encoding="utf-8")
    assert _cards(leadscore.load(path)) == expected_cards


def test_load_rule_file_scores_like_compile(
    tmp_path: Path, expected_cards: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "rules.lead"
    path.write_text(RULE_FILE, encoding="utf-8")
    assert _cards(leadscore.load(path)) == expected_cards


def test_load_toml_with_an_error_names_scoring_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[scorings.A.rules]\n"Bad" = "when contact.a = 1 award 1"\n', encoding="utf-8")
    with pytest.raises(RuleSyntaxError) as caught:
        leadscore.load(path)
    assert (caught.value.scoring, caught.value.rule, caught.value.column) == ("A", "Bad", 16)


def test_load_json_with_a_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"scorings": {"A": {"rules": {"R": 5}}}}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    assert caught.value.path == ("scorings", "A", "rules", "R")


# ---------------------------------------------------------------- decay, groups, personas and grades

FEATURES_FILE = """
scoring "Fit" {
    rule "Big company" { when contact.employees >= 500 award 60 }
    rule "Mid company" { when contact.employees >= 50 award 30 }
}
scoring "Engagement" {
    decay 50% every 30 days
    rule "Webinar" { on webinar award 40 }
    rule "Demo" { on demo award 30 decay none }
    group "Web" max 30 {
        rule "Pricing" { on pricing award 25 decay 25% every 1 month }
        rule "Blog" { on blog award 10 each }
    }
}
persona "Buyer" threshold 20 {
    rule "Demo" { on demo award 20 }
}
persona "Researcher" threshold 30 {
    group "Reading" max 40 { rule "Blog" { on blog award 15 } }
}
grade "Lead grade" {
    fit "Fit" { "A" at 60, "B" at 30, "C" at 0 }
    engagement "Engagement" { "1" at 50, "2" at 20, "3" at 0 }
}
"""

FEATURES_CONFIG: dict[str, Any] = {
    "scorings": {
        "Fit": {
            "rules": {
                "Big company": "when contact.employees >= 500 award 60",
                "Mid company": "when contact.employees >= 50 award 30",
            }
        },
        "Engagement": {
            "decay": "50% every 30 days",
            "rules": {"Webinar": "on webinar award 40", "Demo": "on demo award 30 decay none"},
            "groups": {
                "Web": {
                    "max": 30,
                    "rules": {
                        "Pricing": "on pricing award 25 decay 25% every 1 month",
                        "Blog": "on blog award 10 each",
                    },
                }
            },
        },
    },
    "personas": {
        "Buyer": {"threshold": 20, "rules": {"Demo": "on demo award 20"}},
        "Researcher": {
            "threshold": 30,
            "groups": {"Reading": {"max": 40, "rules": {"Blog": "on blog award 15"}}},
        },
    },
    "grades": {
        "Lead grade": {
            "fit": {"scoring": "Fit", "bands": {"A": 60, "B": 30, "C": 0}},
            "engagement": {
                "scoring": "Engagement",
                "bands": [{"name": "1", "at": 50}, {"name": "2", "at": 20}, {"name": "3", "at": 0}],
            },
        }
    },
}

FEATURES_TOML = """
[scorings.Fit.rules]
"Big company" = "when contact.employees >= 500 award 60"
"Mid company" = "when contact.employees >= 50 award 30"

[scorings.Engagement]
decay = "50% every 30 days"

[scorings.Engagement.rules]
Webinar = "on webinar award 40"
Demo = "on demo award 30 decay none"

[scorings.Engagement.groups.Web]
max = 30
rules = { Pricing = "on pricing award 25 decay 25% every 1 month", Blog = "on blog award 10 each" }

[personas.Buyer]
threshold = 20
rules = { Demo = "on demo award 20" }

[personas.Researcher]
threshold = 30
groups = { Reading = { max = 40, rules = { Blog = "on blog award 15" } } }

[grades."Lead grade"]
fit = { scoring = "Fit", bands = { A = 60, B = 30, C = 0 } }
engagement = { scoring = "Engagement", bands = { "1" = 50, "2" = 20, "3" = 0 } }
"""


def _feature_scores(engine: Engine) -> list[leadscore.Scores]:
    def event(kind: str, days: int, number: int) -> Activity:
        return Activity("c", kind, AT - dt.timedelta(days=days), id=f"{kind}-{number}")

    contacts = [
        (Contact("c", {}), []),
        (
            Contact("c", {"employees": 800}),
            [event("webinar", 31, 1), event("demo", 100, 1), event("pricing", 0, 1)],
        ),
        (
            Contact("c", {"employees": 60}),
            [event("blog", day, day) for day in range(4)] + [event("pricing", 40, 1)],
        ),
    ]
    return [engine.score(contact, activities, at=AT) for contact, activities in contacts]


def test_features_file_scores_by_hand() -> None:
    empty, big, reader = _feature_scores(leadscore.compile(FEATURES_FILE))
    # No activities: fit 0 ("C") and engagement 0 ("3"); no persona reaches its threshold.
    assert empty.grades == {"Lead grade": "C3"}
    assert empty.persona is None
    # Webinar 31 days old: 40 halved to 20. Demo: 30, no decay. Pricing today: 25, in the
    # group under its cap. 20 + 30 + 25 = 75 ("1"); fit 60 + 30 = 90 ("A").
    assert big.totals == {"Fit": 90, "Engagement": 75}
    assert big.grades == {"Lead grade": "A1"}
    # Buyer: 20/20 = 1; Researcher: 0.
    assert big.persona == "Buyer"
    # Four blogs at 10 and a pricing visit 40 days old, one month of 25%: 18.75 rounds to
    # 19. The group's 59 is capped at 30; fit is 30 ("B"), engagement 30 ("2").
    assert reader.totals == {"Fit": 30, "Engagement": 30}
    assert reader.grades == {"Lead grade": "B2"}
    # Researcher: four blogs at 15 = 60, capped at 40: 40/30 beats Buyer's 0.
    assert reader.persona == "Researcher"


def test_features_config_scores_like_the_file() -> None:
    expected = _feature_scores(leadscore.compile(FEATURES_FILE))
    assert _feature_scores(Engine.from_config(FEATURES_CONFIG)) == expected


def test_features_toml_scores_like_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(FEATURES_TOML, encoding="utf-8")
    expected = _feature_scores(leadscore.compile(FEATURES_FILE))
    assert _feature_scores(leadscore.load(path)) == expected


def test_config_group_max_zero_names_the_group() -> None:
    config = {"scorings": {"A": {"groups": {"G": {"max": 0, "rules": RULES}}}}}
    error = config_error(config)
    assert error.message == "the 'max' of group 'G' must be a positive number of points"
    assert error.scoring == "A"
    assert error.location is not None
    assert error.location.source_line == "groups.G.max = 0"


def test_config_decay_syntax_error_names_the_scoring() -> None:
    error = config_error({"scorings": {"A": {"decay": "50 every 30 days", "rules": RULES}}})
    assert isinstance(error, RuleSyntaxError)
    assert error.scoring == "A"
    assert error.message == "unexpected name 'every'; expected '%'"
    assert error.column == 4


def test_config_decay_rate_out_of_range() -> None:
    error = config_error({"scorings": {"A": {"decay": "0% every 30 days", "rules": RULES}}})
    assert error.message == "a decay rate must be more than 0% and at most 100%, not 0%"
    assert error.scoring == "A"


def test_config_grade_unknown_scoring() -> None:
    config = {
        "scorings": {"Fit": {"rules": RULES}},
        "grades": {
            "G": {
                "fit": {"scoring": "Fitt", "bands": {"A": 1}},
                "engagement": {"scoring": "Fit", "bands": {"1": 1}},
            }
        },
    }
    error = config_error(config)
    assert error.message == "unknown scoring 'Fitt' in grade 'G'"
    assert error.problems[0].hint == "did you mean 'Fit'?"
    assert error.location is not None
    assert error.location.source_line == "grades.G.fit.scoring = Fitt"


def test_config_grade_missing_engagement() -> None:
    config = {
        "scorings": {"Fit": {"rules": RULES}},
        "grades": {"G": {"fit": {"scoring": "Fit", "bands": {"A": 1}}}},
    }
    error = config_error(config)
    assert error.message == "grade 'G' has no 'engagement' scoring"


def test_config_persona_threshold_not_positive() -> None:
    error = config_error({"scorings": {}, "personas": {"P": {"threshold": 0, "rules": RULES}}})
    assert error.message == "the threshold of persona 'P' must be a positive number of points"
    assert error.scoring == "P"
