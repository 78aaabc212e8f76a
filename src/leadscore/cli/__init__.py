"""The ``leadscore`` command line: check, score, explain, evaluate and test rule files.

Each subcommand lives in its own module with two functions: ``add_parser(subparsers)``
declares its arguments, and ``run(args, console)`` does the work and returns the exit
code. Exit codes are the same for every subcommand:

    0  success
    1  a check or test failed (bad rules, failing test blocks)
    2  usage or input error (bad arguments, unreadable or invalid data)
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from leadscore import __version__
from leadscore.cli.console import Console
from leadscore.errors import LeadscoreError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# In the order `--help` lists them. A module that is not there yet is left out.
SUBCOMMANDS = ("check", "score", "explain", "evaluate", "test")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with code 2 and a hint to use --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n",
        )


class _SkippedRowsFilter(logging.Filter):
    """Drop the loaders' warning about skipped rows, which the subcommands report themselves.

    Each subcommand that reads data prints the skipped rows of every file once in its
    summary. The warning would repeat it, once per pass when a file is read twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and str(record.msg).startswith("skipped "))


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every available subcommand registered."""
    parser = _Parser(
        prog="leadscore",
        description="Score sales leads with rules written as text.",
        epilog="Exit codes: 0 success, 1 failing check or test, 2 usage or input error.",
    )
    parser.add_argument("--version", action="version", version=f"leadscore {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (repeat for debug output)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"leadscore.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"leadscore.cli.{name}":
                raise
            continue
        command = module.add_parser(subparsers)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    level = (
        logging.WARNING
        if args.verbose == 0
        else logging.INFO
        if args.verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    loaders_logger = logging.getLogger("leadscore.loaders")
    for existing in loaders_logger.filters:
        if isinstance(existing, _SkippedRowsFilter):
            loaders_logger.removeFilter(existing)
    if args.verbose == 0:
        loaders_logger.addFilter(_SkippedRowsFilter())

    console = Console()
    try:
        code: int = args.run(args, console)
    except LeadscoreError as error:
        console.error(str(error))
        return EXIT_USAGE
    except OSError as error:
        console.error(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    return code
