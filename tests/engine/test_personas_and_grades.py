"""Hand-computed cases for personas (membership by ratio to a threshold) and grades (bands to a label).

Every expected value is worked out by hand. Each test runs against both the compiled
engine and the reference evaluator.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import leadscore
from leadscore.scorecard import GradeResult

from .engine_helpers import AT, activity, score


def _personas(thresholds: list[int]) -> str:
    """Return a scoring and one persona per threshold, scoring ``contact.p0``, ``contact.p1``, …"""
    text = 'scoring "Main" { rule "Any" { when true award 1 } }\n'
    for position, threshold in enumerate(thresholds):
        rules = " ".join(
            f'rule "{points}" {{ when contact.p{position} >= {points} award 1 }}'
            for points in range(1, 61)
        )
        text += f'persona "P{position}" threshold {threshold} {{ {rules} }}\n'
    return text


def _persona_scores(evaluator: str, totals: list[int]) -> leadscore.Scores:
    profile = {f"p{position}": total for position, total in enumerate(totals)}
    return score(_personas([10, 20, 50]), evaluator, profile=profile)


def test_persona_totals_follow_profile(evaluator: str) -> None:
    # Each persona's rules give one point per step up to the profile value.
    scores = _persona_scores(evaluator, [12, 30, 49])
    assert [card.total for card in scores.personas.values()] == [12, 30, 49]


def test_persona_highest_ratio_wins(evaluator: str) -> None:
    # Ratios 12/10 = 1.2, 30/20 = 1.5 and 49/50 = 0.98: the second is the highest at or above 1.
    scores = _persona_scores(evaluator, [12, 30, 49])
    assert scores.persona == "P1"
    assert [card.ratio for card in scores.personas.values()] == [
        Fraction(6, 5),
        Fraction(3, 2),
        Fraction(49, 50),
    ]


def test_persona_tie_goes_to_first_declared(evaluator: str) -> None:
    # Ratios 15/10 = 1.5 and 30/20 = 1.5 tie, and 49/50 is below 1: the first wins.
    scores = _persona_scores(evaluator, [15, 30, 49])
    assert scores.persona == "P0"


def test_persona_none_below_threshold(evaluator: str) -> None:
    # 9/10, 19/20 and 49/50 are all below 1.
    scores = _persona_scores(evaluator, [9, 19, 49])
    assert scores.persona is None


def test_persona_at_threshold_is_member(evaluator: str) -> None:
    # 10/10 = 1 is enough; 19/20 is not.
    scores = _persona_scores(evaluator, [10, 19, 0])
    assert scores.persona == "P0"


def test_persona_card_level_is_persona_name(evaluator: str) -> None:
    scores = _persona_scores(evaluator, [12, 19, 0])
    assert scores.personas["P0"].level == "P0"
    assert scores.personas["P1"].level is None
    assert scores.personas["P0"].kind == "persona"


def test_personas_stay_out_of_scorings(evaluator: str) -> None:
    scores = _persona_scores(evaluator, [12, 30, 49])
    assert list(scores) == ["Main"]
    assert scores.totals == {"Main": 1}
    assert list(scores.personas) == ["P0", "P1", "P2"]


def test_scoring_card_has_no_ratio(evaluator: str) -> None:
    scores = _persona_scores(evaluator, [12, 30, 49])
    assert scores["Main"].ratio is None


def test_persona_scores_activities(evaluator: str) -> None:
    # Two demos of 15 are 30, capped by the group at 25: ratio 25/20 = 1.25.
    text = """
scoring "Main" { rule "Any" { when true award 1 } }
persona "Buyer" threshold 20 {
    group "Intent" max 25 { rule "Demo" { on demo award 15 } }
}
"""
    demos = [activity(AT, "demo", id="d1"), activity(AT, "demo", id="d2")]
    scores = score(text, evaluator, activities=demos)
    assert scores.personas["Buyer"].total == 25
    assert scores.personas["Buyer"].ratio == Fraction(5, 4)
    assert scores.persona == "Buyer"


# ---------------------------------------------------------------- grades

GRADES = """
scoring "Fit" { rule "Fit points" { when contact.fit > 0 award 1 } }
scoring "Engagement" { rule "Engagement points" { when contact.engagement > 0 award 1 } }
grade "Lead grade" {
    fit "Fit" { "A" at 60, "B" at 30, "C" at 0 }
    engagement "Engagement" { "1" at 50, "2" at 20, "3" at 0 }
}
"""


def _graded(evaluator: str, fit: int, engagement: int) -> GradeResult:
    # Each scoring's total is the profile value: one rule per point, each awarding 1.
    text = GRADES.replace(
        'rule "Fit points" { when contact.fit > 0 award 1 }',
        " ".join(f'rule "F{n}" {{ when contact.fit >= {n} award 1 }}' for n in range(1, 81)),
    ).replace(
        'rule "Engagement points" { when contact.engagement > 0 award 1 }',
        " ".join(f'rule "E{n}" {{ when contact.engagement >= {n} award 1 }}' for n in range(1, 81)),
    )
    scores = score(text, evaluator, profile={"fit": fit, "engagement": engagement})
    return scores.grade("Lead grade")


@pytest.mark.parametrize(
    ("fit", "engagement", "label"),
    [
        # Exactly at the top bands.
        (60, 50, "A1"),
        # Just below them: the next bands down.
        (59, 49, "B2"),
        (30, 20, "B2"),
        (29, 19, "C3"),
        (0, 0, "C3"),
        (80, 0, "A3"),
        (0, 80, "C1"),
    ],
)
def test_grade_label_from_bands(evaluator: str, fit: int, engagement: int, label: str) -> None:
    result = _graded(evaluator, fit, engagement)
    assert result.label == label
    assert result.fit == label[0]
    assert result.engagement == label[1]


def test_grade_none_below_all_fit_bands(evaluator: str) -> None:
    # A negative fit total is below "C" at 0.
    text = GRADES.replace("award 1 }", "award -5 }", 1)
    scores = score(text, evaluator, profile={"fit": 1, "engagement": 1})
    assert scores.totals == {"Fit": -5, "Engagement": 1}
    assert scores.grades == {"Lead grade": None}
    assert scores.grade("Lead grade") == GradeResult("Lead grade", None, None, "3")


def test_grade_none_below_all_engagement_bands(evaluator: str) -> None:
    text = GRADES.replace("contact.engagement > 0 award 1", "contact.engagement > 0 award -1")
    scores = score(text, evaluator, profile={"fit": 1, "engagement": 1})
    assert scores.grade("Lead grade") == GradeResult("Lead grade", None, "C", None)


def test_grades_mapping_holds_labels(evaluator: str) -> None:
    scores = score(GRADES, evaluator, profile={"fit": 1, "engagement": 1})
    assert scores.grades == {"Lead grade": "C3"}


def test_unknown_grade_is_key_error(evaluator: str) -> None:
    scores = score(GRADES, evaluator)
    with pytest.raises(KeyError, match="no grade named 'Grade'; the grades are 'Lead grade'"):
        scores.grade("Grade")


def test_grade_labels_join_band_names(evaluator: str) -> None:
    text = """
scoring "Fit" { rule "R" { when true award 10 } }
grade "Tier" {
    engagement "Fit" { "-hot" at 10 "-cold" at 0 }
    fit "Fit" { "Enterprise" at 10 }
}
"""
    assert score(text, evaluator).grades == {"Tier": "Enterprise-hot"}
