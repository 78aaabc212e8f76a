"""Test blocks: running them, their static checks, and rule and test files combined."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from testing_helpers import AT, HEAD_OF_MARKETING_TEST, PRODUCT_A, write

import leadscore
from leadscore import Problem
from leadscore.testing import check_test_blocks, load_rule_files, run_test_blocks

# Line numbers inside HEAD_OF_MARKETING_TEST once it follows PRODUCT_A in one file.
BLOCK = PRODUCT_A.count("\n") + 1
AT_LINE, CONTACT_LINE, ACTIVITY_LINE, TOTAL_LINE = BLOCK + 1, BLOCK + 2, BLOCK + 3, BLOCK + 4
RULE_LINE = BLOCK + 6


def compile_with_tests(tests: str) -> leadscore.Engine:
    return leadscore.compile(PRODUCT_A + tests, source="policy.lead")


def errors_of(tests: str) -> list[Problem]:
    engine = compile_with_tests(tests)
    return [p for p in check_test_blocks(engine) if p.severity == "error"]


def test_example_block_passes() -> None:
    [outcome] = run_test_blocks(compile_with_tests(HEAD_OF_MARKETING_TEST))
    assert outcome.passed


def test_example_block_scores() -> None:
    [outcome] = run_test_blocks(compile_with_tests(HEAD_OF_MARKETING_TEST))
    card = outcome.scores["Product A"]
    assert card.total == 20 + 10 + 5
    assert card.level is None


def test_failing_block_reports_lines() -> None:
    wrong = HEAD_OF_MARKETING_TEST.replace("total 35", "total 40")
    [outcome] = run_test_blocks(compile_with_tests(wrong))
    assert outcome.mismatch is not None
    line = f'policy.lead:{TOTAL_LINE}: expect "Product A" total 40  (actual: 35)'
    assert line in str(outcome.mismatch)


def test_failing_block_labels_activity_line() -> None:
    wrong = HEAD_OF_MARKETING_TEST.replace('rule "Pricing page" 5', 'rule "Pricing page" 10')
    [outcome] = run_test_blocks(compile_with_tests(wrong))
    occurred = (AT - dt.timedelta(days=3)).isoformat()
    assert f"award: page_visit (line {ACTIVITY_LINE}) at {occurred}" in str(outcome.mismatch)


def test_outcome_location() -> None:
    [outcome] = run_test_blocks(compile_with_tests(HEAD_OF_MARKETING_TEST))
    assert outcome.location == f"policy.lead:{BLOCK}"


# At 2026-07-01T00:00Z the CTO from SK has 20 + 10. The download of 1 April expired
# 90 days later, on 30 June. v1, one calendar month back (1 June), expires 30 days
# later, on 1 July at 00:00, which is the instant itself and so excluded. v2 (2 June)
# is valid until 2 July: 5 points. Total 35, below MQL at 40.
BLOCK_FEATURES = """
test "Ids, dates and calendar steps" {
    at 2026-07-01
    contact "c-42" { country: "SK", job_title: "CTO", employees: 50 }
    activity download at 2026-04-01 "d1" { file: "whitepaper.pdf" }
    activity page_visit 1 months ago "v1" { url: "https://example.com/pricing" }
    activity page_visit 29 days ago "v2" { url: "https://example.com/pricing" }
    expect "Product A" total 35
    expect "Product A" level none
    expect "Product A" rule "Whitepaper" 0
    expect "Product A" rule "Pricing page" 5
}
"""


def test_block_dates_and_calendar_steps() -> None:
    [outcome] = run_test_blocks(compile_with_tests(BLOCK_FEATURES))
    assert outcome.passed, str(outcome.mismatch)


def test_block_activity_instants() -> None:
    [outcome] = run_test_blocks(compile_with_tests(BLOCK_FEATURES))
    [award] = outcome.scores["Product A"].rule("Pricing page").awards
    assert award.activity.id == "v2"
    assert award.activity.occurred_at == dt.datetime(2026, 6, 2, tzinfo=dt.UTC)


def test_block_contact_id_used() -> None:
    [outcome] = run_test_blocks(
        compile_with_tests(HEAD_OF_MARKETING_TEST.replace("contact {", 'contact "c-42" {'))
    )
    assert outcome.scores["Product A"].contact_id == "c-42"


# ---- static checks


def test_check_unknown_scoring() -> None:
    [error] = errors_of(
        HEAD_OF_MARKETING_TEST.replace('expect "Product A" total', 'expect "Product B" total')
    )
    assert error.message == 'unknown scoring "Product B"'
    assert error.hint == 'did you mean "Product A"?'


def test_check_unknown_scoring_location() -> None:
    [error] = errors_of(
        HEAD_OF_MARKETING_TEST.replace('expect "Product A" total', 'expect "Product B" total')
    )
    assert error.location is not None
    assert (error.location.source, error.location.line, error.location.column) == (
        "policy.lead",
        TOTAL_LINE,
        12,
    )
    assert error.location.snippet().splitlines()[1].strip() == "^" * len('"Product B"')


def test_check_unknown_rule() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace('rule "Pricing page"', 'rule "Pricing"'))
    assert error.message == 'scoring "Product A" has no rule "Pricing"'
    assert error.location is not None
    assert error.location.line == RULE_LINE


def test_check_unknown_level() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace("level none", 'level "HOT"'))
    assert error.message == 'scoring "Product A" has no threshold "HOT"'
    assert error.hint == 'the thresholds are "MQL", "SQL"'


def test_check_level_word() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace("level none", "level MQL"))
    assert error.message == "'level' needs a threshold name in quotes, or none for no level"


def test_check_total_text() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace("total 35", 'total "35"'))
    assert error.message == "'total' needs a whole number of points"


def test_check_missing_at() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace("    at 2026-06-30T12:00Z\n", ""))
    assert error.message == (
        "test \"Head of marketing from CZ, one pricing visit\" has no 'at' line, "
        "so it has no scoring instant"
    )
    assert error.location is not None
    assert error.location.line == BLOCK


def test_check_two_contacts() -> None:
    two = HEAD_OF_MARKETING_TEST.replace(
        "    activity", '    contact "c-2" { country: "DE" }\n    activity'
    )
    [error] = errors_of(two)
    assert error.message.endswith("has more than one contact; a test scores one contact")
    assert error.location is not None
    assert error.location.line == ACTIVITY_LINE


def test_check_unknown_expectation_lists_known() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST.replace("total 35", "points 35"))
    assert error.message == (
        "unknown expectation 'points'; the expectations are total, level and rule"
    )


def test_check_no_expect() -> None:
    block = 'test "Nothing" {\n    at 2026-06-30T12:00Z\n}\n'
    [error] = errors_of(block)
    assert error.message == "test \"Nothing\" has no 'expect' line, so it cannot fail"


def test_check_repeated_expectation() -> None:
    repeated = HEAD_OF_MARKETING_TEST.replace(
        '    expect "Product A" level none\n',
        '    expect "Product A" level none\n    expect "Product A" total 36\n',
    )
    [error] = errors_of(repeated)
    assert error.message == f"this expectation repeats the one on line {TOTAL_LINE}"


def test_check_warns_unread_type() -> None:
    typo = HEAD_OF_MARKETING_TEST.replace("activity page_visit", 'activity "page-visit"')
    [warning] = check_test_blocks(compile_with_tests(typo))
    assert warning.severity == "warning"
    assert warning.hint == "did you mean 'page_visit'?"


def test_run_rejects_unchecked_blocks() -> None:
    engine = compile_with_tests(HEAD_OF_MARKETING_TEST.replace("level none", 'level "HOT"'))
    with pytest.raises(leadscore.RuleCheckError, match='has no threshold "HOT"'):
        run_test_blocks(engine)


def test_syntax_error_in_block_located() -> None:
    broken = HEAD_OF_MARKETING_TEST.replace("total 35", "total 35 36")
    with pytest.raises(leadscore.RuleSyntaxError) as caught:
        compile_with_tests(broken)
    # The extra number starts after '    expect "Product A" total 35 ', 32 characters.
    assert (caught.value.line, caught.value.column) == (TOTAL_LINE, 33)


# ---- rules and tests in separate files


def test_files_combine(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.lead", PRODUCT_A)
    tests = write(tmp_path / "rules-tests.lead", HEAD_OF_MARKETING_TEST)
    engine = load_rule_files([rules, tests])
    [outcome] = run_test_blocks(engine)
    assert outcome.passed
    assert outcome.location == f"{tests}:1"


def test_files_given_twice_read_once(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.lead", PRODUCT_A + HEAD_OF_MARKETING_TEST)
    engine = load_rule_files([rules, rules])
    assert len(engine.program.tests) == 1


def test_files_relative_names(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.lead", PRODUCT_A + HEAD_OF_MARKETING_TEST)
    engine = load_rule_files([rules], relative_to=tmp_path)
    assert engine.program.tests[0].span.origin.source == "rules.lead"


def test_files_repeated_scoring_named(tmp_path: Path) -> None:
    first = write(tmp_path / "a.lead", PRODUCT_A)
    second = write(tmp_path / "b.lead", "\n" + PRODUCT_A)
    with pytest.raises(leadscore.RuleCheckError) as caught:
        load_rule_files([first, second])
    [problem] = caught.value.problems
    assert (
        problem.message == f"duplicate scoring name 'Product A'; the first is in {first} on line 1"
    )
    assert problem.location is not None
    assert (problem.location.source, problem.location.line) == (str(second), 2)


def test_files_config_rules(tmp_path: Path) -> None:
    config = write(
        tmp_path / "rules.toml",
        '[scorings."Product A".rules]\n"CZ" = \'when contact.country == "CZ" award 10\'\n',
    )
    tests = write(
        tmp_path / "tests.lead",
        'test "CZ" {\n    at 2026-06-30\n    contact { country: "CZ" }\n'
        '    expect "Product A" total 10\n}\n',
    )
    [outcome] = run_test_blocks(load_rule_files([config, tests]))
    assert outcome.passed


def test_check_repeated_test_name() -> None:
    [error] = errors_of(HEAD_OF_MARKETING_TEST + HEAD_OF_MARKETING_TEST)
    assert error.message == (
        'test "Head of marketing from CZ, one pricing visit" is defined twice; '
        f"the first is on line {BLOCK}"
    )


def test_failing_block_shows_decayed_award() -> None:
    text = """\
scoring "E" {
    rule "Webinar" { on webinar award 40 decay 50% every 1 months }
}
test "Two months after a webinar" {
    at 2026-06-30T12:00Z
    activity webinar at 2026-04-30T12:00Z "w1"
    expect "E" total 40
}
"""
    [outcome] = run_test_blocks(leadscore.compile(text, source="decay.lead"))
    line = (
        'award: webinar "w1" (line 6) at 2026-04-30T12:00:00+00:00, 10 points '
        "(40, decayed 50% every 1 month, 2 periods), expires never"
    )
    assert line in str(outcome.mismatch)
