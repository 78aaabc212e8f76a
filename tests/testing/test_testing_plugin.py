"""The pytest plugin, run in a separate pytest session through pytester."""

from __future__ import annotations

import pytest
from testing_helpers import HEAD_OF_MARKETING_TEST, PRODUCT_A

# Imported before pytester snapshots sys.modules, so each inner session reuses the
# package. The plugin module itself is left to the inner session, whose assertion
# rewriting must import it.
import leadscore.testing  # noqa: F401

pytest_plugins = ["pytester"]

# "-p no:leadscore" blocks the plugin's entry point once the package registers it, so the
# module is loaded once, by name, whether the entry point is installed or not.
# hypothesis's plugin is left out because it would import hypothesis in every session.
PLUGIN = (
    "-p",
    "no:leadscore",
    "-p",
    "leadscore.testing.pytest_plugin",
    "-p",
    "no:hypothesispytest",
)

FAILING_TEST = """
test "Two pricing visits" {
    at 2026-06-30T12:00Z
    contact "c-2" { country: "CZ", job_title: "CTO" }
    activity page_visit 3 days ago "v1" { url: "https://example.com/pricing" }
    activity page_visit 45 days ago "v0" { url: "https://example.com/pricing" }
    expect "Product A" total 40
}
"""


def test_plugin_collection_off_by_default(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy=PRODUCT_A + HEAD_OF_MARKETING_TEST)
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_plugin_collects_blocks_with_flag(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy=PRODUCT_A + HEAD_OF_MARKETING_TEST + FAILING_TEST)
    result = pytester.runpytest(*PLUGIN, "--leadscore-collect", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "policy.lead::Head of marketing from CZ, one pricing visit PASSED*",
            "policy.lead::Two pricing visits FAILED*",
        ]
    )


def test_plugin_failure_shows_diff(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy=PRODUCT_A + FAILING_TEST)
    result = pytester.runpytest(*PLUGIN, "--leadscore-collect")
    result.stdout.fnmatch_lines(
        [
            '*test "Two pricing visits"*',
            'test "Two pricing visits" failed; the expectations that do not hold:',
            '  policy.lead:*: expect "Product A" total 40  (actual: 35)',
            "*total: expected 40, actual 35",
            '*no award: page_visit "v0" (line *) at *, expired *',
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_plugin_ini_collects_with_rules(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nleadscore_collect = true\nleadscore_rules = rules/policy.lead\n")
    pytester.mkdir("rules")
    (pytester.path / "rules" / "policy.lead").write_text(PRODUCT_A, "utf-8")
    pytester.makefile(".lead", policy_tests=HEAD_OF_MARKETING_TEST)
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)


def test_plugin_syntax_error_is_collection_error(pytester: pytest.Pytester) -> None:
    broken = HEAD_OF_MARKETING_TEST.replace("level none", "level none none")
    pytester.makefile(".lead", policy=PRODUCT_A + broken)
    result = pytester.runpytest(*PLUGIN, "--leadscore-collect")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # Line 6 of the block, after the 24 lines of PRODUCT_A; the second 'none' is at column 35.
    line = PRODUCT_A.count("\n") + 6
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting policy.lead*",
            f"policy.lead:{line}:35: error: unexpected name 'none'*",
            '        expect "Product A" level none none',
            "    " + " " * 34 + "^^^^",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_plugin_check_error_is_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".lead", policy=PRODUCT_A + HEAD_OF_MARKETING_TEST.replace("level none", 'level "HOT"')
    )
    result = pytester.runpytest(*PLUGIN, "--leadscore-collect")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ['policy.lead:*:30: error: scoring "Product A" has no threshold "HOT"']
    )


ENGINE_TEST = """
import datetime as dt

from leadscore.testing import activity, assert_scores, contact, days_ago

AT = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


def test_with_configured_engine(leadscore_engine):
    assert_scores(
        leadscore_engine,
        contact(country="CZ", job_title="CEO"),
        [activity("page_visit", days_ago(1), url="https://example.com/pricing")],
        at=AT,
        expected={"Product A": 35},
    )


def test_with_loaded_engine(load_engine):
    engine = load_engine("policy.lead")
    assert engine.scorings == ("Product A",)
"""


def test_plugin_engine_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy=PRODUCT_A)
    pytester.makepyfile(test_policy=ENGINE_TEST)
    result = pytester.runpytest(*PLUGIN, "--leadscore-rules", "policy.lead")
    result.assert_outcomes(passed=2)


def test_plugin_engine_fixture_needs_rules(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_policy="def test_engine(leadscore_engine):\n    pass\n")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the leadscore_engine fixture needs rule files*"])


def test_plugin_load_engine_reports_rule_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy=PRODUCT_A.replace("award 20", "award 20 20"))
    pytester.makepyfile(
        test_policy="def test_engine(load_engine):\n    load_engine('policy.lead')\n"
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["policy.lead:8:18: error: unexpected number 20*"])


def test_plugin_missing_rule_file_reported(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lead", policy_tests=HEAD_OF_MARKETING_TEST)
    result = pytester.runpytest(*PLUGIN, "--leadscore-collect", "--leadscore-rules", "missing.lead")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*missing.lead: No such file or directory"])
    assert "Traceback" not in result.stdout.str()
