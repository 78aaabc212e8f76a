"""``leadscore check RULES...``: report every error and warning in rule files."""

from __future__ import annotations

import argparse
from typing import Any

from leadscore.cli.console import Console
from leadscore.engine import load
from leadscore.errors import ConfigError, RuleError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare the check subcommand and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="check rule files and report every error and warning",
        description="Parse and check rule files (.lead, or .toml/.json/.yaml config). "
        "Prints each problem with file, line, column and a caret under it.",
    )
    parser.add_argument("rules", nargs="+", metavar="RULES", help="rule files to check")
    parser.add_argument("--strict", action="store_true", help="treat warnings as failures (exit 1)")
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Check each file and return 0 when all are clean, 1 when any has errors."""
    failed = False
    warned = False
    for path in args.rules:
        try:
            engine = load(path)
        except RuleError as error:
            console.error(str(error))
            failed = True
            continue
        except ConfigError as error:
            console.error(f"{path}: {error}")
            failed = True
            continue
        for warning in engine.warnings:
            console.error(str(warning))
            warned = True
        rules = sum(len(engine.rules(name)) for name in engine.scorings)
        counts = ", ".join(
            _counted(count, noun)
            for count, noun in (
                (len(engine.scorings), "scoring"),
                (rules, "rule"),
                (len(engine.warnings), "warning"),
            )
        )
        console.print(f"{path}: ok, {counts}")
    if failed or (warned and args.strict):
        return 1
    return 0


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
