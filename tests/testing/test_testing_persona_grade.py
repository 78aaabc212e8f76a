"""Expecting a persona or a grade label: in test blocks and in assert_scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from testing_helpers import CFO_TEST, PERSONAS_AND_GRADE

import leadscore
from leadscore import Problem
from leadscore.testing import (
    ScoreMismatch,
    activity,
    assert_scores,
    check_test_blocks,
    contact,
    days_ago,
    run_test_blocks,
)
from leadscore.testing.expectations import PersonaDifference

# Line numbers inside CFO_TEST once it follows PERSONAS_AND_GRADE in one file.
BLOCK = PERSONAS_AND_GRADE.count("\n") + 1
PERSONA_LINE, GRADE_LINE = BLOCK + 4, BLOCK + 5
# '    expect persona ' and '    expect grade ' are 19 and 17 characters long.
PERSONA_COLUMN, GRADE_COLUMN = 20, 18
LABEL_COLUMN = GRADE_COLUMN + len('"Lead grade" ')

NOBODY_TEST = """\
test "Nobody" {
    at 2026-06-30T12:00Z
    expect persona none
    expect grade "Lead grade" none
}
"""


def compile_with_tests(tests: str, rules: str = PERSONAS_AND_GRADE) -> leadscore.Engine:
    return leadscore.compile(rules + tests, source="policy.lead")


def errors_of(tests: str, rules: str = PERSONAS_AND_GRADE) -> list[Problem]:
    engine = compile_with_tests(tests, rules)
    return [p for p in check_test_blocks(engine) if p.severity == "error"]


def with_line(block: str, line: str) -> str:
    """Add ``line`` at the end of a test block, before its closing brace."""
    return block[: block.rindex("}")] + line + "}\n"


def mismatch_of(tests: str) -> str:
    [outcome] = run_test_blocks(compile_with_tests(tests))
    assert outcome.mismatch is not None
    return str(outcome.mismatch)


# ---- running


def test_persona_and_grade_pass() -> None:
    [outcome] = run_test_blocks(compile_with_tests(CFO_TEST))
    assert outcome.passed, str(outcome.mismatch)


def test_persona_and_grade_none_pass() -> None:
    [outcome] = run_test_blocks(compile_with_tests(NOBODY_TEST))
    assert outcome.passed, str(outcome.mismatch)
    assert outcome.scores.persona is None
    assert outcome.scores.grades == {"Lead grade": None}


def test_persona_none_fails_when_reached() -> None:
    wrong = CFO_TEST.replace('expect persona "Economic buyer"', "expect persona none")
    message = mismatch_of(wrong)
    assert f'policy.lead:{PERSONA_LINE}: expect persona none  (actual: "Economic buyer")' in message


def test_grade_none_fails_when_labelled() -> None:
    wrong = CFO_TEST.replace('"Lead grade" "A2"', '"Lead grade" none')
    message = mismatch_of(wrong)
    assert f'policy.lead:{GRADE_LINE}: expect grade "Lead grade" none  (actual: "A2")' in message


def test_persona_failure_names_expect_line() -> None:
    wrong = CFO_TEST.replace('"Economic buyer"', '"Technical evaluator"')
    line = (
        f'policy.lead:{PERSONA_LINE}: expect persona "Technical evaluator"  '
        '(actual: "Economic buyer")'
    )
    assert line in mismatch_of(wrong)


def test_persona_failure_report() -> None:
    wrong = CFO_TEST.replace('"Economic buyer"', '"Technical evaluator"')
    lines = mismatch_of(wrong).splitlines()
    start = lines.index('persona: expected "Technical evaluator", actual "Economic buyer"')
    assert lines[start + 1 : start + 7] == [
        '  persona "Economic buyer": total 20, threshold 20, ratio 1',
        '    rule "Finance title": 20 points, condition met',
        "      reads contact.job_title = 'CFO'",
        '  persona "Technical evaluator": total 0, threshold 20, ratio 0',
        '    rule "Engineering title": 0 points, condition not met',
        "      reads contact.job_title = 'CFO'",
    ]


def test_persona_failure_leaves_grade_out() -> None:
    wrong = CFO_TEST.replace('"Economic buyer"', '"Technical evaluator"')
    assert 'grade "Lead grade"' not in mismatch_of(wrong).split("\n\n", 1)[1]


def test_grade_failure_names_expect_line() -> None:
    wrong = CFO_TEST.replace('"Lead grade" "A2"', '"Lead grade" "B1"')
    line = f'policy.lead:{GRADE_LINE}: expect grade "Lead grade" "B1"  (actual: "A2")'
    assert line in mismatch_of(wrong)


def test_grade_failure_report() -> None:
    wrong = CFO_TEST.replace('"Lead grade" "A2"', '"Lead grade" "B1"')
    lines = mismatch_of(wrong).splitlines()
    start = lines.index('grade "Lead grade": expected "B1", actual "A2"')
    webinar = f"award: webinar_attended (line {BLOCK + 3}) at 2026-06-28T12:00:00+00:00"
    assert lines[start + 1 : start + 10] == [
        '  fit "Fit": total 70, band "A"; bands "A" at 60, "B" at 30',
        '    rule "Big company": 40 points, condition met',
        "      reads contact.employees = 800",
        '    rule "Decision maker": 30 points, condition met',
        "      reads contact.job_title = 'CFO'",
        '  engagement "Engagement": total 30, band "2"; bands "1" at 50, "2" at 20',
        '    rule "Webinar": 30 points from 1 valid award',
        f"      {webinar}, 30 points, expires never",
        '    rule "Pricing page": 0 points, no valid award',
    ]


def test_mismatch_carries_persona_and_grade() -> None:
    wrong = CFO_TEST.replace('"Economic buyer"', "none").replace('"A2"', '"B1"')
    [outcome] = run_test_blocks(compile_with_tests(wrong))
    mismatch = outcome.mismatch
    assert mismatch is not None
    assert mismatch.differences == ()
    assert mismatch.persona == PersonaDifference(None, "Economic buyer")
    [grade] = mismatch.grades
    assert (grade.grade, grade.expected) == ("Lead grade", "B1")
    assert (grade.actual.fit, grade.actual.engagement, grade.actual.label) == ("A", "2", "A2")


def test_persona_with_scoring_expectation() -> None:
    both = CFO_TEST.replace("    expect persona", '    expect "Fit" total 70\n    expect persona')
    [outcome] = run_test_blocks(compile_with_tests(both))
    assert outcome.passed, str(outcome.mismatch)


# ---- static checks


def test_check_unknown_persona() -> None:
    [error] = errors_of(CFO_TEST.replace('"Economic buyer"', '"Economic buyr"'))
    assert error.message == 'unknown persona "Economic buyr"'
    assert error.hint == 'did you mean "Economic buyer"?'


def test_check_unknown_persona_location() -> None:
    [error] = errors_of(CFO_TEST.replace('"Economic buyer"', '"Economic buyr"'))
    assert error.location is not None
    assert (error.location.source, error.location.line, error.location.column) == (
        "policy.lead",
        PERSONA_LINE,
        PERSONA_COLUMN,
    )
    assert error.location.snippet().splitlines()[1].strip() == "^" * len('"Economic buyr"')


def test_check_without_personas_or_grades() -> None:
    rules = 'scoring "Fit" { rule "R" { when true award 1 } }\n'
    [persona, grade] = errors_of(NOBODY_TEST.replace("persona none", 'persona "Buyer"'), rules)
    assert persona.message == 'unknown persona "Buyer"'
    assert persona.hint == "there are no personas"
    assert grade.message == 'unknown grade "Lead grade"'
    assert grade.hint == "there are no grades"


def test_check_persona_word() -> None:
    [error] = errors_of(CFO_TEST.replace('persona "Economic buyer"', "persona Economic"))
    assert error.message == "'persona' needs a persona name in quotes, or none for no persona"
    assert error.hint == 'write: expect persona "NAME" or expect persona none'


def test_check_unknown_grade() -> None:
    [error] = errors_of(CFO_TEST.replace('"Lead grade"', '"Lead grad"'))
    assert error.message == 'unknown grade "Lead grad"'
    assert error.hint == 'did you mean "Lead grade"?'
    assert error.location is not None
    assert (error.location.line, error.location.column) == (GRADE_LINE, GRADE_COLUMN)


def test_check_unknown_grade_label() -> None:
    [error] = errors_of(CFO_TEST.replace('"A2"', '"A3"'))
    assert error.message == 'grade "Lead grade" has no label "A3"'
    assert error.hint == 'the labels are "A1", "A2", "B1", "B2"'
    assert error.location is not None
    assert (error.location.line, error.location.column) == (GRADE_LINE, LABEL_COLUMN)
    assert error.location.snippet().splitlines()[1].strip() == "^^^^"


def test_check_grade_word() -> None:
    [error] = errors_of(CFO_TEST.replace('"A2"', "A2"))
    assert error.message == "'grade' needs a label in quotes, or none for no label"
    assert error.hint == 'write: expect grade "Lead grade" "A1" or none'


@pytest.mark.parametrize(
    "line",
    ["    expect persona none\n", '    expect grade "Lead grade" "B1"\n'],
    ids=["persona", "grade"],
)
def test_check_repeated_persona_or_grade(line: str) -> None:
    repeated = with_line(CFO_TEST, line)
    [error] = errors_of(repeated)
    first = PERSONA_LINE if "persona" in line else GRADE_LINE
    assert error.message == f"this expectation repeats the one on line {first}"


def test_two_grades_checked_apart() -> None:
    second_grade = PERSONAS_AND_GRADE + (
        'grade "Fit only" {\n    fit "Fit" { "A" at 60 }\n    engagement "Fit" { "+" at 0 }\n}\n'
    )
    both = with_line(CFO_TEST, '    expect grade "Fit only" "A+"\n')
    assert errors_of(both, second_grade) == []
    [outcome] = run_test_blocks(compile_with_tests(both, second_grade))
    assert outcome.passed, str(outcome.mismatch)


def test_check_persona_alone_is_an_expectation() -> None:
    alone = 'test "Only a persona" {\n    at 2026-06-30T12:00Z\n    expect persona none\n}\n'
    assert errors_of(alone) == []


# ---------------------------------------------------------------- assert_scores in Python


def _cfo_scenario() -> dict[str, Any]:
    at = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
    return {
        "contact": contact(employees=800, job_title="CFO"),
        "activities": [activity("webinar_attended", days_ago(2, at=at))],
        "at": at,
    }


def test_assert_scores_passes_on_persona_and_grade() -> None:
    engine = leadscore.compile(PERSONAS_AND_GRADE)
    scores = assert_scores(
        engine, **_cfo_scenario(), persona="Economic buyer", grades={"Lead grade": "A2"}
    )
    assert scores.persona == "Economic buyer"


def test_assert_scores_reports_persona_and_grade() -> None:
    engine = leadscore.compile(PERSONAS_AND_GRADE)
    with pytest.raises(ScoreMismatch) as raised:
        assert_scores(
            engine, **_cfo_scenario(), persona="Technical evaluator", grades={"Lead grade": "A1"}
        )
    mismatch = raised.value
    assert mismatch.persona == PersonaDifference("Technical evaluator", "Economic buyer")
    assert [(g.grade, g.expected, g.actual.label) for g in mismatch.grades] == [
        ("Lead grade", "A1", "A2")
    ]
    assert 'persona: expected "Technical evaluator", actual "Economic buyer"' in mismatch.message


def test_assert_scores_rejects_unknown_persona_and_grade() -> None:
    engine = leadscore.compile(PERSONAS_AND_GRADE)
    with pytest.raises(ValueError, match="no persona named 'Buyer'"):
        assert_scores(engine, **_cfo_scenario(), persona="Buyer")
    with pytest.raises(ValueError, match="no grade named 'Grade'"):
        assert_scores(engine, **_cfo_scenario(), grades={"Grade": "A1"})


def test_assert_scores_needs_something_to_check() -> None:
    engine = leadscore.compile(PERSONAS_AND_GRADE)
    with pytest.raises(TypeError, match="give expected=, persona= or grades="):
        assert_scores(engine, **_cfo_scenario())
