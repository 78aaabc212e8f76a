"""Hand-computed cases for groups: the sum of a group's rules is capped at its ``max``, up or down.

A rule's own cap applies first, then the group's cap, then the scoring's floor and
ceiling. Every expected value is worked out by hand. Each test runs against both the
compiled engine and the reference evaluator.
"""

from __future__ import annotations

import pytest

from leadscore.scorecard import GroupResult

from .engine_helpers import AT, DAY, activity, card, scoring

WEB = (
    'group "Web" max 30 { rule "Pricing" { on pricing award 25 } rule "Blog" { on blog award 25 } }'
)


def test_group_caps_the_sum_of_its_rules(evaluator: str) -> None:
    # 25 + 25 = 50, capped at 30.
    result = card(
        scoring(WEB), evaluator, activities=[activity(AT, "pricing"), activity(AT, "blog")]
    )
    assert result.total == 30
    assert result.groups == (GroupResult("Web", 30, True, ("Pricing", "Blog")),)


def test_group_below_cap_adds_everything(evaluator: str) -> None:
    result = card(scoring(WEB), evaluator, activities=[activity(AT, "pricing")])
    assert result.total == 25
    assert result.groups == (GroupResult("Web", 25, False, ("Pricing", "Blog")),)


def test_group_breakdown_keeps_rule_points(evaluator: str) -> None:
    # The breakdown shows each rule before the group's cap, and names its group.
    result = card(
        scoring(WEB), evaluator, activities=[activity(AT, "pricing"), activity(AT, "blog")]
    )
    assert result.rule("Pricing").points == 25
    assert result.rule("Pricing").group == "Web"
    assert result.rule("Blog").group == "Web"


def test_group_caps_negative_sum(evaluator: str) -> None:
    # -8 + -8 = -16, capped at -10, as 'max' caps a rule with negative points.
    text = scoring(
        'group "Bounces" max 10 {'
        ' rule "Hard" { on hard_bounce award -8 }'
        ' rule "Soft" { on soft_bounce award -8 }'
        " }"
    )
    events = [activity(AT, "hard_bounce"), activity(AT, "soft_bounce")]
    result = card(text, evaluator, activities=events)
    assert result.total == -10
    assert result.groups[0].capped


def test_group_mixed_signs_add_before_cap(evaluator: str) -> None:
    # 25 - 10 = 15, within the cap of 20.
    text = scoring(
        'group "Mixed" max 20 {'
        ' rule "Up" { on pricing award 25 }'
        ' rule "Down" { on bounce award -10 }'
        " }"
    )
    events = [activity(AT, "pricing"), activity(AT, "bounce")]
    result = card(text, evaluator, activities=events)
    assert result.total == 15
    assert not result.groups[0].capped


def test_rule_cap_before_group_cap(evaluator: str) -> None:
    # Three awards of 10 capped at 15 by the rule; 15 + 20 = 35, capped at 30 by the group.
    text = scoring(
        'group "Web" max 30 {'
        ' rule "Visit" { on page_visit award 10 max 15 }'
        ' rule "Demo" { on demo award 20 }'
        " }"
    )
    events = [activity(AT, id=f"v{n}") for n in range(3)] + [activity(AT, "demo")]
    result = card(text, evaluator, activities=events)
    assert result.rule("Visit").points == 15
    assert result.total == 30


def test_group_cap_before_ceiling(evaluator: str) -> None:
    # The group gives 30, the profile rule 20: 50, then the ceiling of 45.
    text = scoring(
        WEB, 'rule "Country" { when contact.country == "CZ" award 20 }', settings="ceiling 45"
    )
    events = [activity(AT, "pricing"), activity(AT, "blog")]
    result = card(text, evaluator, profile={"country": "CZ"}, activities=events)
    assert result.total == 45


def test_group_cap_before_floor(evaluator: str) -> None:
    # -50 is capped at -10 by the group, which is below the floor of -5.
    text = scoring(
        'group "Churn" max 10 { rule "Unsubscribed" { on unsubscribe award -50 } }',
        settings="floor -5",
    )
    result = card(text, evaluator, activities=[activity(AT, "unsubscribe")])
    assert result.groups[0].points == -10
    assert result.total == -5


def test_profile_rules_in_group(evaluator: str) -> None:
    # 20 + 15 = 35, capped at 25; the ungrouped rule adds 5 more.
    text = scoring(
        'group "Firmographics" max 25 {'
        ' rule "Big" { when contact.employees >= 500 award 20 }'
        ' rule "Target country" { when contact.country == "CZ" award 15 }'
        " }",
        'rule "Phone" { when contact.phone is not empty award 5 }',
    )
    profile = {"employees": 800, "country": "CZ", "phone": "+420"}
    result = card(text, evaluator, profile=profile)
    assert result.total == 30
    assert result.rule("Phone").group is None


def test_group_cap_counts_decayed_points(evaluator: str) -> None:
    # Each rule's award is a day old and halved: 15 + 15 = 30, under the cap of 40.
    text = scoring(
        'group "Web" max 40 {'
        ' rule "Pricing" { on pricing award 30 }'
        ' rule "Blog" { on blog award 30 }'
        " }",
        settings="decay 50% every 1 day",
    )
    events = [activity(AT - DAY, "pricing"), activity(AT - DAY, "blog")]
    result = card(text, evaluator, activities=events)
    assert result.total == 30
    assert not result.groups[0].capped


def test_two_groups_each_capped(evaluator: str) -> None:
    text = scoring(
        'group "A" max 10 { rule "A1" { on a award 8 } rule "A2" { on a award 8 } }',
        'group "B" max 5 { rule "B1" { on b award -9 } }',
    )
    events = [activity(AT, "a"), activity(AT, "b")]
    result = card(text, evaluator, activities=events)
    # 16 capped at 10, and -9 capped at -5.
    assert [group.points for group in result.groups] == [10, -5]
    assert result.total == 5


def test_rules_keep_source_order_across_groups(evaluator: str) -> None:
    text = scoring(
        'rule "First" { on a award 1 }',
        'group "G" max 10 { rule "Second" { on a award 1 } }',
        'rule "Third" { on a award 1 }',
    )
    result = card(text, evaluator, activities=[activity(AT, "a")])
    assert [rule.rule for rule in result.breakdown] == ["First", "Second", "Third"]
    assert [rule.group for rule in result.breakdown] == [None, "G", None]


def test_group_in_to_dict(evaluator: str) -> None:
    result = card(
        scoring(WEB), evaluator, activities=[activity(AT, "pricing"), activity(AT, "blog")]
    )
    data = result.to_dict()
    assert data["groups"] == [
        {"name": "Web", "points": 30, "capped": True, "rules": ["Pricing", "Blog"]}
    ]
    assert data["breakdown"][0]["group"] == "Web"


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_group_total_never_exceeds_cap(evaluator: str, count: int) -> None:
    # Each award of 25 counts; the group never gives more than 30.
    events = [activity(AT, "pricing", id=f"p{n}") for n in range(count)]
    result = card(scoring(WEB), evaluator, activities=events)
    assert result.total == min(25 * count, 30)
