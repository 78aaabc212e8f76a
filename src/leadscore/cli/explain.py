"""``leadscore explain RULES --contact ID``: one contact's score, rule by rule, and why."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

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
)
from leadscore.loaders import ContactColumns, LoadReport, read_activities, read_contacts
from leadscore.model import Activity, Contact, Threshold
from leadscore.scorecard import ScoreCard

__all__ = ["add_parser", "run"]

# Characters of an activity's attributes shown in the awards table.
ATTRIBUTES_WIDTH = 60


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare the explain subcommand and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "explain",
        help="show why one contact scored what it did",
        description="Score one contact as of --at and print each rule's points, whether "
        "its cap applied, the activities behind the points and when each award expires, "
        "followed by the values the rules could not use.",
        epilog="Example: leadscore explain rules.lead --contact 3980 --contacts bank.csv --row-ids",
    )
    add_rules_argument(parser)
    parser.add_argument(
        "--contact",
        metavar="ID",
        required=True,
        help="the contact's id (with --row-ids, its row number in the contacts file)",
    )
    add_data_arguments(parser, contacts_required=False)
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table: text for reading; json: each score card as JSON (default: table)",
    )
    output.add_argument(
        "--scoring",
        metavar="NAME",
        help="explain only this scoring (default: every scoring)",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print one contact's breakdown and return 0. A missing contact or input gives exit 2."""
    with command_line_hints():
        return _explain(args, console)


def _explain(args: argparse.Namespace, console: Console) -> int:
    check_data_arguments(args, contacts_required=False)
    engine = load_engine(args)
    scorings = engine.scorings
    if args.scoring is not None:
        if args.scoring not in scorings:
            raise InputError(
                f"--scoring: no scoring named {args.scoring!r}; the scorings are "
                + ", ".join(repr(name) for name in scorings)
            )
        scorings = (args.scoring,)
    contact_options, activity_options = column_options(args)
    at = parse_at(args.at, args.timezone)

    contact = Contact(args.contact)
    contacts_report = LoadReport()
    activities_report = LoadReport()
    if args.contacts is not None:
        contact = _find_contact(args, contact_options, contacts_report)

    activities: list[Activity] = []
    if args.activities is not None:
        latest: dt.datetime | None = None
        for activity in read_activities(
            args.activities,
            mapping=activity_options,
            skip_bad_rows=args.skip_bad_rows,
            report=activities_report,
        ):
            if latest is None or activity.occurred_at > latest:
                latest = activity.occurred_at
            if activity.contact_id == contact.id:
                activities.append(activity)
        if at is None:
            at = latest if latest is not None else dt.datetime.now(dt.UTC)
        if args.contacts is None and not activities:
            console.error(f"contact {args.contact!r} has no activities in {args.activities}")
            return 2
    assert at is not None
    if args.skip_bad_rows:
        if args.contacts is not None:
            console.error(f"{args.contacts}: {contacts_report.summary()} (up to the contact)")
        if args.activities is not None:
            console.error(f"{args.activities}: {activities_report.summary()}")

    scores = engine.score(contact, activities, at=at)
    counted = sum(1 for activity in activities if activity.occurred_at <= at)
    if args.format == "json":
        record = {
            "contact_id": contact.id,
            "at": at.isoformat(),
            "activities": counted,
            "scores": {name: scores[name].to_dict() for name in scorings},
        }
        console.print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0

    console.print(f"Contact {contact.id} as of {at.isoformat()}")
    if args.activities is not None:
        later = len(activities) - counted
        note = f", {later} later ones ignored" if later else ""
        console.print(f"{counted} activities at or before that instant{note}")
    for name in scorings:
        console.print()
        _print_card(console, scores[name], engine.thresholds(name))
    return 0


def _find_contact(args: argparse.Namespace, options: ContactColumns, report: LoadReport) -> Contact:
    """Return the first contact with the requested id, reading the file only as far as needed."""
    read = 0
    for contact in read_contacts(
        args.contacts, mapping=options, skip_bad_rows=args.skip_bad_rows, report=report
    ):
        read += 1
        if contact.id == args.contact:
            return contact
    hint = ""
    if options.id_column is not None:
        hint = (
            f"; ids come from the column {options.id_column!r}, "
            "or pass --row-ids to use row numbers"
        )
    raise InputError(
        f"contact {args.contact!r} is not in {args.contacts} ({read:,} contacts read){hint}"
    )


def _print_card(console: Console, card: ScoreCard, thresholds: tuple[Threshold, ...]) -> None:
    level = f"level {card.level}" if card.level is not None else "no level"
    console.print(f"{card.scoring}: {card.total} points, {level}")
    if thresholds:
        reached = set(card.thresholds_reached)
        console.print(
            "Thresholds: "
            + ", ".join(
                f"{t.name} at {t.points} ({'reached' if t in reached else 'not reached'})"
                for t in thresholds
            )
        )

    console.print()
    rows = []
    for result in card.breakdown:
        rows.append(
            [
                result.rule,
                "profile (when)" if result.kind == "profile" else "activity (on)",
                "yes" if result.met else "no",
                result.points,
                "yes" if result.capped else "",
                len(result.awards) if result.kind == "activity" else "",
            ]
        )
    console.table(["rule", "kind", "met", "points", "capped", "awards"], rows)

    awards = [(result.rule, award) for result in card.breakdown for award in result.awards]
    if awards:
        # Activities read from a file without an id column have none to show.
        with_ids = any(award.activity.id is not None for _, award in awards)
        columns = ["rule", "activity", "occurred at", "points", "expires at", "attributes"]
        if with_ids:
            columns.insert(2, "id")
        rows = []
        for rule, award in awards:
            row: list[Any] = [
                rule,
                award.activity.type,
                award.activity.occurred_at.isoformat(),
                award.points,
                award.expires_at.isoformat() if award.expires_at is not None else "never",
                _attributes_text(award.activity),
            ]
            if with_ids:
                row.insert(2, award.activity.id or "")
            rows.append(row)
        console.print()
        console.table(
            columns,
            rows,
            title="Awards behind the activity rules (valid at the instant, oldest first)",
        )

    if card.diagnostics:
        console.print()
        console.print("Values the rules could not use:")
        for diagnostic in card.diagnostics:
            console.print(
                f"  rule {diagnostic.rule!r}: {diagnostic.field} = {diagnostic.value}: "
                f"{diagnostic.message}"
            )


def _attributes_text(activity: Activity) -> str:
    text = ", ".join(f"{key}={value}" for key, value in activity.attributes.items())
    if len(text) > ATTRIBUTES_WIDTH:
        return text[: ATTRIBUTES_WIDTH - 1] + "…"
    return text
