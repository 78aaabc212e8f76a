"""``leadscore test``, run through the installed console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testing_helpers import (
    CFO_TEST,
    HEAD_OF_MARKETING_TEST,
    PERSONAS_AND_GRADE,
    PRODUCT_A,
    write,
)

# The console script that `pip install` puts next to the interpreter.
SCRIPT = Path(sys.executable).with_name("leadscore")

FAILING_TEST = """
test "Two pricing visits" {
    at 2026-06-30T12:00Z
    contact "c-2" { country: "CZ", job_title: "CTO" }
    activity page_visit 3 days ago "v1" { url: "https://example.com/pricing" }
    activity page_visit 45 days ago "v0" { url: "https://example.com/pricing" }
    expect "Product A" total 40
    expect "Product A" level "MQL"
}
"""


def leadscore_test(*arguments: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "test", *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_cli_passing_exit_zero(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A + HEAD_OF_MARKETING_TEST)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_cli_lists_each_test(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A)
    write(tmp_path / "product-a-tests.lead", HEAD_OF_MARKETING_TEST)
    result = leadscore_test("product-a.lead", "product-a-tests.lead", cwd=tmp_path)
    expected = 'PASSED product-a-tests.lead:1 "Head of marketing from CZ, one pricing visit"'
    assert result.stdout.splitlines()[0] == expected


def test_cli_failure_exit_one(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A + HEAD_OF_MARKETING_TEST + FAILING_TEST)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"


def test_cli_failure_prints_diff(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A + FAILING_TEST)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    # CTO 20 + CZ 10 + the visit of 3 days ago; the one of 45 days ago expired after 30.
    assert "total: expected 40, actual 35" in result.stdout
    assert 'level: expected "MQL", actual none' in result.stdout
    v0_line = PRODUCT_A.count("\n") + 6
    assert f'no award: page_visit "v0" (line {v0_line})' in result.stdout


def test_cli_failure_names_expect_line(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A + FAILING_TEST)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    # FAILING_TEST starts with a blank line; its total is the block's fifth line.
    total_line = PRODUCT_A.count("\n") + 7
    assert f'product-a.lead:{total_line}: expect "Product A" total 40' in result.stdout


def test_cli_syntax_error_exit_two(tmp_path: Path) -> None:
    broken = HEAD_OF_MARKETING_TEST.replace("level none", "level none none")
    write(tmp_path / "tests.lead", broken)
    write(tmp_path / "product-a.lead", PRODUCT_A)
    result = leadscore_test("product-a.lead", "tests.lead", cwd=tmp_path)
    assert result.returncode == 2
    # Line 6 of the test file; the second 'none' starts after '    expect "Product A" level none '.
    lines = result.stderr.splitlines()
    assert lines[0].startswith("tests.lead:6:35: error: unexpected name 'none'")
    assert lines[1] == '        expect "Product A" level none none'
    assert lines[2] == "    " + " " * 34 + "^^^^"


def test_cli_check_error_exit_two(tmp_path: Path) -> None:
    unknown = HEAD_OF_MARKETING_TEST.replace('rule "Pricing page"', 'rule "Pricing"')
    write(tmp_path / "product-a.lead", PRODUCT_A + unknown)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    assert result.returncode == 2
    rule_line = PRODUCT_A.count("\n") + 7  # the block's seventh line
    expected = f'product-a.lead:{rule_line}:29: error: scoring "Product A" has no rule "Pricing"'
    assert result.stderr.splitlines()[0] == expected
    assert result.stdout == ""


def test_cli_rule_error_exit_two(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A.replace("award 20", "award 20 20"))
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    assert result.returncode == 2
    # The second number of '        award 20 20', on line 8 of the rules.
    assert result.stderr.startswith("product-a.lead:8:18: error: unexpected number 20")


def test_cli_no_tests_exit_two(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A)
    result = leadscore_test("product-a.lead", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: no test blocks in product-a.lead\n"


def test_cli_keyword_selects(tmp_path: Path) -> None:
    write(tmp_path / "product-a.lead", PRODUCT_A + HEAD_OF_MARKETING_TEST + FAILING_TEST)
    result = leadscore_test("product-a.lead", "-k", "head of", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_cli_missing_file_exit_two(tmp_path: Path) -> None:
    result = leadscore_test("missing.lead", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.lead" in result.stderr


def test_cli_persona_and_grade_pass(tmp_path: Path) -> None:
    write(tmp_path / "grades.lead", PERSONAS_AND_GRADE + CFO_TEST)
    result = leadscore_test("grades.lead", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_cli_persona_and_grade_failure_diff(tmp_path: Path) -> None:
    wrong = CFO_TEST.replace('"Economic buyer"', "none").replace('"A2"', '"B1"')
    write(tmp_path / "grades.lead", PERSONAS_AND_GRADE + wrong)
    result = leadscore_test("grades.lead", cwd=tmp_path)
    assert result.returncode == 1
    persona_line = PERSONAS_AND_GRADE.count("\n") + 5  # the block's fifth line
    assert f'grades.lead:{persona_line}: expect persona none  (actual: "Economic buyer")' in (
        result.stdout
    )
    assert 'persona: expected none, actual "Economic buyer"' in result.stdout
    assert 'grade "Lead grade": expected "B1", actual "A2"' in result.stdout


def test_cli_unknown_persona_exit_two(tmp_path: Path) -> None:
    unknown = CFO_TEST.replace('"Economic buyer"', '"Economic buyr"')
    write(tmp_path / "grades.lead", PERSONAS_AND_GRADE + unknown)
    result = leadscore_test("grades.lead", cwd=tmp_path)
    assert result.returncode == 2
    persona_line = PERSONAS_AND_GRADE.count("\n") + 5
    lines = result.stderr.splitlines()
    assert lines[0] == f'grades.lead:{persona_line}:20: error: unknown persona "Economic buyr"'
    assert lines[1] == '        expect persona "Economic buyr"'
    assert lines[2] == "    " + " " * 19 + "^" * len('"Economic buyr"')
    assert lines[3] == '    hint: did you mean "Economic buyer"?'
