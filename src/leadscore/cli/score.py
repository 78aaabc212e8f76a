"""``leadscore score RULES --contacts FILE``: score every contact and write one row per contact."""

from __future__ import annotations

import argparse
import collections
import csv
import heapq
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from leadscore.cli.console import Console
from leadscore.cli.inputs import (
    InputError,
    add_data_arguments,
    add_rules_argument,
    check_data_arguments,
    column_options,
    command_line_hints,
    load_engine,
    parse_at,
    whole_number,
)
from leadscore.cli.output import open_output
from leadscore.cli.pipeline import Progress, ScoredContact, ScoringRun
from leadscore.engine import Engine
from leadscore.handover import FileSink, escape_csv_cell
from leadscore.scorecard import ScoreCard

__all__ = ["add_parser", "reasons", "run"]

logger = logging.getLogger("leadscore.cli")

FORMATS = ("table", "csv", "jsonl")
# Rows per printed table when the table format lists every contact, which bounds memory.
TABLE_PAGE = 1_000
# Rule contributions shown per contact in the table format.
TOP_REASONS = 3
# Diagnostic kinds listed in the closing summary.
LISTED_DIAGNOSTICS = 10


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare the score subcommand and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "score",
        help="score every contact of a file and write one row per contact",
        description="Score every contact in --contacts (and its activities in --activities) "
        "as of --at, and write one row per contact with each scoring's total and level. "
        "Contacts stream, so the file may have any number of rows. Activities go through "
        "the incremental tracker, so memory grows with the number of contacts that have "
        "activities. A summary of the run goes to stderr.",
        epilog="Example: leadscore score rules.lead --contacts bank.csv --row-ids --top 20",
    )
    add_rules_argument(parser)
    add_data_arguments(parser, contacts_required=False)

    output = parser.add_argument_group("output")
    output.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table: aligned text with the top reasons; csv: contact_id and each scoring's "
        "total and level; jsonl: one JSON object per contact with every rule's points "
        "(default: table)",
    )
    output.add_argument(
        "--output",
        metavar="FILE",
        help="write the rows to FILE instead of stdout; FILE is replaced only when the run "
        "succeeds",
    )
    output.add_argument(
        "--top",
        metavar="N",
        type=whole_number(1),
        help="keep only the N contacts with the highest totals, highest first; ties keep "
        "file order (default: every contact, in file order)",
    )
    output.add_argument(
        "--scoring",
        metavar="NAME",
        help="the scoring that --top ranks by and the table's reasons explain "
        "(default: the first scoring in RULES)",
    )
    output.add_argument(
        "--handover",
        metavar="FILE",
        help="append every hand-over (a contact reaching a threshold upward; under notify "
        "once only its first crossing) to FILE: JSON Lines for .jsonl, CSV for .csv",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Score the contacts, write the rows and return 0. Bad input raises InputError (exit 2)."""
    with command_line_hints():
        return _score(args, console)


def _score(args: argparse.Namespace, console: Console) -> int:
    check_data_arguments(args, contacts_required=False)

    engine = load_engine(args)
    if not engine.scorings:
        raise InputError(f"{args.rules} defines no scoring, so there is nothing to score")
    ranked = args.scoring or engine.scorings[0]
    if ranked not in engine.scorings:
        raise InputError(
            f"--scoring: no scoring named {ranked!r}; the scorings are "
            + ", ".join(repr(name) for name in engine.scorings)
        )
    contact_options, activity_options = column_options(args)
    at = parse_at(args.at, args.timezone)

    sink = None if args.handover is None else _file_sink(args.handover)

    # A progress display would garble rows printed to the same terminal while it runs.
    shows_rows_live = args.output is None and args.top is None
    progress: Progress | None = None if shows_rows_live else console.progress

    scoring_run = ScoringRun(
        engine,
        contacts=args.contacts,
        activities=args.activities,
        contact_options=contact_options,
        activity_options=activity_options,
        at=at,
        skip_bad_rows=args.skip_bad_rows,
        handover_sink=sink,
        progress=progress,
    )
    diagnostics: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    levels: dict[str, collections.Counter[str | None]] = {
        name: collections.Counter() for name in engine.scorings
    }

    def counted(rows: Iterable[ScoredContact]) -> Iterator[ScoredContact]:
        for row in rows:
            for name, card in row.scores.items():
                levels[name][card.level] += 1
                for diagnostic in card.diagnostics:
                    key = (
                        diagnostic.scoring,
                        diagnostic.rule,
                        diagnostic.field,
                        diagnostic.message,
                    )
                    diagnostics[key] += 1
            yield row

    rows: Iterable[ScoredContact] = counted(scoring_run)
    if args.top is not None:
        rows = top_contacts(rows, args.top, ranked)

    newline = "" if args.format == "csv" else None
    with open_output(args.output, console.stdout, newline=newline) as stream:
        if args.format == "csv":
            write_csv(stream, engine, rows)
        elif args.format == "jsonl":
            write_jsonl(stream, rows)
        else:
            out = console if args.output is None else Console(stdout=stream, stderr=console.stderr)
            write_table(out, engine, rows, ranked, scoring_run)

    _report(console, args, scoring_run, levels, diagnostics)
    return 0


def _file_sink(path: str) -> FileSink:
    if Path(path).suffix.lower() not in (".jsonl", ".ndjson", ".csv"):
        raise InputError(f"--handover: {path!r} needs a .jsonl or .csv suffix")
    if not Path(path).parent.is_dir():
        raise InputError(f"--handover: the folder {str(Path(path).parent)!r} does not exist")
    if Path(path).is_dir():
        raise InputError(f"--handover: {path!r} is a folder; give the path of a file")
    try:
        return FileSink(path)
    except ValueError as error:
        raise InputError(f"--handover: {error}") from None


# ---------------------------------------------------------------- ranking


def top_contacts(rows: Iterable[ScoredContact], count: int, scoring: str) -> list[ScoredContact]:
    """Return the ``count`` rows with the highest totals in ``scoring``, highest first.

    A heap of ``count`` rows is all that is kept, so memory does not grow with the
    input. Of equal totals the earlier row wins.
    """
    heap: list[tuple[int, int, ScoredContact]] = []
    for position, row in enumerate(rows):
        # The negated position makes an earlier row rank above a later one of equal total.
        entry = (row.scores[scoring].total, -position, row)
        if len(heap) < count:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    return [row for _, _, row in sorted(heap, key=lambda entry: entry[:2], reverse=True)]


def reasons(card: ScoreCard, limit: int | None = None) -> list[tuple[str, int]]:
    """Return the rules that moved the total, largest contribution first, as (rule, points)."""
    found = [(result.rule, result.points) for result in card.breakdown if result.points != 0]
    # sorted() is stable, so rules of equal weight keep their declaration order.
    found = sorted(found, key=lambda item: -abs(item[1]))
    return found if limit is None else found[:limit]


def _reasons_text(card: ScoreCard) -> str:
    return ", ".join(f"{rule} {points:+d}" for rule, points in reasons(card, TOP_REASONS))


# ---------------------------------------------------------------- formats


def csv_header(engine: Engine) -> list[str]:
    """Return the CSV columns: contact_id, then each scoring's total and level."""
    header = ["contact_id"]
    for name in engine.scorings:
        header += [f"{name} total", f"{name} level"]
    return header


def write_csv(stream: TextIO, engine: Engine, rows: Iterable[ScoredContact]) -> None:
    """Write one CSV row per contact, with cells that a spreadsheet cannot run as formulas."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([escape_csv_cell(name) for name in csv_header(engine)])
    for row in rows:
        cells: list[Any] = [escape_csv_cell(row.contact.id)]
        for card in row.scores.values():
            cells += [card.total, escape_csv_cell(card.level)]
        writer.writerow(cells)


def write_jsonl(stream: TextIO, rows: Iterable[ScoredContact]) -> None:
    """Write one JSON object per contact with each scoring's total, level and rule points."""
    for row in rows:
        scores = {
            name: {
                "total": card.total,
                "level": card.level,
                "reasons": [{"rule": rule, "points": points} for rule, points in reasons(card)],
            }
            for name, card in row.scores.items()
        }
        record = {"contact_id": row.contact.id, "at": _at_text(row), "scores": scores}
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def _at_text(row: ScoredContact) -> str | None:
    for card in row.scores.values():
        return card.at.isoformat()
    return None


def write_table(
    console: Console,
    engine: Engine,
    rows: Iterable[ScoredContact],
    ranked: str,
    scoring_run: ScoringRun,
) -> None:
    """Print the rows as tables of at most TABLE_PAGE rows, with the top reasons of ``ranked``."""
    columns = ["contact"]
    for name in engine.scorings:
        columns.append(name)
        if engine.thresholds(name):
            columns.append("level" if len(engine.scorings) == 1 else f"{name} level")
    columns.append("top reasons" if len(engine.scorings) == 1 else f"top reasons ({ranked})")

    page: list[Sequence[Any]] = []
    printed = False
    for row in rows:
        cells: list[Any] = [row.contact.id]
        for name, card in row.scores.items():
            cells.append(card.total)
            if engine.thresholds(name):
                cells.append(card.level or "-")
        cells.append(_reasons_text(row.scores[ranked]))
        page.append(cells)
        if len(page) == TABLE_PAGE:
            console.table(columns, page, title=None if printed else _title(scoring_run))
            printed = True
            page = []
    if page or not printed:
        console.table(columns, page, title=None if printed else _title(scoring_run))


def _title(scoring_run: ScoringRun) -> str:
    at = scoring_run.at
    return "Scores" if at is None else f"Scores as of {at.isoformat()}"


# ---------------------------------------------------------------- summary


def _report(
    console: Console,
    args: argparse.Namespace,
    scoring_run: ScoringRun,
    levels: dict[str, collections.Counter[str | None]],
    diagnostics: collections.Counter[tuple[str, str, str, str]],
) -> None:
    """Write what the run did to stderr: counts, levels, skipped rows, hand-overs, diagnostics."""
    at = scoring_run.at.isoformat() if scoring_run.at is not None else "now"
    scored = _counted(scoring_run.contacts_scored, "contact", "contacts")
    console.error(f"scored {scored} as of {at}")
    for name, counts in levels.items():
        parts = [f"{level} {count:,}" for level, count in counts.items() if level is not None]
        parts.append(f"no level {counts[None]:,}")
        console.error(f"  {name}: " + ", ".join(parts))

    if args.contacts is not None and (
        args.skip_bad_rows or scoring_run.contacts_report.rows_skipped
    ):
        console.error(f"{args.contacts}: {scoring_run.contacts_report.summary()}")
    if args.activities is not None:
        if args.skip_bad_rows or scoring_run.activities_report.rows_skipped:
            console.error(f"{args.activities}: {scoring_run.activities_report.summary()}")
        recorded = _counted(scoring_run.activities_recorded, "activity", "activities")
        console.error(f"recorded {recorded}")
        if scoring_run.activities_after_at:
            console.error(
                f"ignored {scoring_run.activities_after_at:,} activities after {at} (--at)"
            )
        if scoring_run.activities_of_unknown_contacts:
            console.error(
                f"ignored {scoring_run.activities_of_unknown_contacts:,} activities of "
                f"contacts that are not in {args.contacts}"
            )
    if args.handover is not None:
        written = _counted(scoring_run.handovers, "hand-over", "hand-overs")
        console.error(f"wrote {written} to {args.handover}")
        if scoring_run.crossings_skipped:
            skipped = _counted(scoring_run.crossings_skipped, "repeat crossing", "repeat crossings")
            console.error(f"skipped {skipped} (notify once)")

    if diagnostics:
        console.error(
            f"{sum(diagnostics.values()):,} values could not be used by a rule "
            "(leadscore explain --contact ID shows them for one contact):"
        )
        for (scoring, rule, field, message), count in diagnostics.most_common(LISTED_DIAGNOSTICS):
            console.error(f"  scoring {scoring!r}, rule {rule!r}: {field}: {message} ({count:,})")
        if len(diagnostics) > LISTED_DIAGNOSTICS:
            console.error(f"  and {len(diagnostics) - LISTED_DIAGNOSTICS} more kinds")
    logger.info(
        "score run finished: %d contacts, %d hand-overs",
        scoring_run.contacts_scored,
        scoring_run.handovers,
    )


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"
