"""``leadscore test RULES...``: run the test blocks of rule files and report each failure."""

from __future__ import annotations

import argparse
from typing import Any

from leadscore.cli.console import Console
from leadscore.errors import RuleError
from leadscore.testing.blocks import check_test_blocks, run_test_blocks
from leadscore.testing.files import load_rule_files
from leadscore.testing.report import quote

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare the test subcommand and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "test",
        help="run the test blocks of rule files",
        description="Compile the given files together, as if they were one rule file, and run "
        "every test block in them. Rules and tests may sit in the same file or in separate "
        "ones; a scoring name may be used in only one file. Each failure is printed with the "
        "expected and actual scores and the rules and activities behind them.",
        epilog="Exit codes: 0 every test passed, 1 a test failed, 2 a file does not parse or "
        "check, or the files hold no test block. "
        "Example: leadscore test rules.lead rules-tests.lead",
    )
    parser.add_argument(
        "rules",
        nargs="+",
        metavar="RULES",
        help="rule files (.lead, or .toml/.json/.yaml config) and files of test blocks",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="TEXT",
        help="run only the test blocks whose name contains TEXT, ignoring case",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the test blocks; return 0 when all pass, 1 when any fails, 2 on a rule or test error."""
    try:
        engine = load_rule_files(args.rules)
    except RuleError as error:
        console.error(str(error))
        return 2

    for warning in engine.warnings:
        console.error(str(warning))
    problems = check_test_blocks(engine)
    for problem in problems:
        console.error(str(problem))
    if any(problem.severity == "error" for problem in problems):
        return 2

    blocks = list(engine.program.tests)
    if args.keyword is not None:
        blocks = [block for block in blocks if args.keyword.lower() in block.name.lower()]
    if not blocks:
        selection = f" whose name contains {args.keyword!r}" if args.keyword is not None else ""
        console.error(f"error: no test blocks{selection} in {', '.join(args.rules)}")
        return 2

    outcomes = run_test_blocks(engine, blocks)
    for outcome in outcomes:
        status = "PASSED" if outcome.passed else "FAILED"
        console.print(f"{status} {outcome.location} {quote(outcome.name)}")
    failures = [outcome for outcome in outcomes if outcome.mismatch is not None]
    for outcome in failures:
        console.print()
        console.print(f"{'=' * 20} {outcome.location} {quote(outcome.name)}")
        console.print(str(outcome.mismatch))
    console.print()
    console.print(f"{len(outcomes) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0
