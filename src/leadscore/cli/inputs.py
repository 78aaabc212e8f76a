"""Options shared by score, explain and evaluate: the data files, their columns and the instant.

Column options start from the defaults of `leadscore.loaders`, or from a mapping file
given with ``--mapping``. Options on the command line override the mapping file, one
option at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import tomllib
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from leadscore.engine import Engine, load
from leadscore.errors import ConfigError, DataError, LeadscoreError
from leadscore.loaders import ActivityColumns, ColumnMapping, ContactColumns
from leadscore.loaders.values import ConversionError, parse_instant

__all__ = [
    "AT_LATEST",
    "InputError",
    "add_data_arguments",
    "add_rules_argument",
    "check_data_arguments",
    "column_options",
    "command_line_hints",
    "load_engine",
    "parse_at",
    "whole_number",
]

# The value of --at that means "the instant of the latest activity".
AT_LATEST = "latest"


class InputError(LeadscoreError):
    """An invalid option value or input file; the command line exits with code 2."""


def add_rules_argument(parser: argparse.ArgumentParser) -> None:
    """Declare the positional RULES argument."""
    parser.add_argument(
        "rules",
        metavar="RULES",
        help="rule file (.lead), or rules in a .toml, .json or .yaml config file",
    )


def add_data_arguments(parser: argparse.ArgumentParser, *, contacts_required: bool) -> None:
    """Declare the input files, the scoring instant and the column options."""
    data = parser.add_argument_group("input data")
    if contacts_required:
        contacts_help = "contacts file: CSV, TSV or JSON Lines, optionally .gz (required)"
    else:
        contacts_help = (
            "contacts file: CSV, TSV or JSON Lines, optionally .gz; without it, every "
            "contact id in --activities is a contact with an empty profile"
        )
    data.add_argument("--contacts", metavar="FILE", required=contacts_required, help=contacts_help)
    data.add_argument(
        "--activities",
        metavar="FILE",
        help="activities file (CSV, TSV or JSON Lines, optionally .gz); each row is one "
        "activity of one contact, in any order",
    )
    data.add_argument(
        "--at",
        metavar="INSTANT",
        default="now",
        help="score as of this instant: ISO 8601 such as 2026-06-30 or 2026-06-30T12:00:00Z, "
        "'now', or 'latest' for the latest activity's time; activities after it are "
        "ignored; a time without offset is in --timezone, else UTC (default: now)",
    )
    data.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip rows that cannot be read and report how many were skipped and why "
        "(default: stop at the first bad row, exit code 2)",
    )

    columns = parser.add_argument_group(
        "columns", "Options given here override the same options of the --mapping file."
    )
    columns.add_argument(
        "--mapping",
        metavar="FILE.toml",
        help="column mapping in TOML or JSON, with [contacts] and [activities] tables "
        "(or the same under [columns]); see docs/loading-data.md for the keys",
    )
    columns.add_argument(
        "--id-column",
        metavar="C",
        help="contacts column with the contact id (default: id)",
    )
    columns.add_argument(
        "--row-ids",
        action="store_true",
        help="use each contact's row number as its id, for files without an id column; "
        "the header is row 1, so the first contact is 2",
    )
    columns.add_argument(
        "--contact-column",
        metavar="C",
        help="activities column with the contact id (default: contact_id)",
    )
    columns.add_argument(
        "--type-column",
        metavar="C",
        help="activities column with the activity type (default: type)",
    )
    columns.add_argument(
        "--time-column",
        metavar="C",
        help="activities column with the activity time (default: occurred_at)",
    )
    columns.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone, such as Europe/Prague, of activity times and of an --at "
        "written without an offset (default: such times are rejected, and --at is in UTC)",
    )


def check_data_arguments(args: argparse.Namespace, *, contacts_required: bool) -> None:
    """Raise InputError when the data options cannot work together."""
    if not contacts_required and args.contacts is None and args.activities is None:
        raise InputError("pass --contacts FILE, --activities FILE or both")
    if args.at == AT_LATEST and args.activities is None:
        raise InputError("--at latest needs --activities")


def whole_number(minimum: int) -> Callable[[str], int]:
    """Return an argparse type that reads a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return parse


def load_engine(args: argparse.Namespace) -> Engine:
    """Load the rules of ``args.rules`` with ``args.timezone`` as the default time zone."""
    timezone = getattr(args, "timezone", None)
    if timezone is not None:
        _check_timezone(timezone)
    return load(args.rules, default_timezone=timezone)


def _check_timezone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            f"--timezone: unknown time zone {name!r}; use an IANA name such as "
            "'Europe/Prague' or 'UTC'"
        ) from None


def parse_at(text: str, timezone: str | None) -> dt.datetime | None:
    """Return the instant of an --at value in UTC, or None for 'latest'."""
    if text == "now":
        # Whole seconds, so that the instant in titles and summaries reads well.
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    if text == AT_LATEST:
        return None
    try:
        instant = parse_instant(text, None)
    except ConversionError:
        raise InputError(
            f"--at: invalid instant {text!r}; use ISO 8601 such as 2026-06-30 or "
            "2026-06-30T12:00:00Z, or 'now' or 'latest'"
        ) from None
    if instant.tzinfo is None:
        zone = dt.UTC if timezone is None else _check_timezone(timezone)
        instant = instant.replace(tzinfo=zone)
    return instant.astimezone(dt.UTC)


def column_options(args: argparse.Namespace) -> tuple[ContactColumns, ActivityColumns]:
    """Return the contact and activity column options of the mapping file and the command line."""
    mapping = ColumnMapping() if args.mapping is None else _read_mapping(Path(args.mapping))
    contacts = mapping.contacts
    activities = mapping.activities

    if args.row_ids and args.id_column is not None:
        raise InputError("pass --id-column or --row-ids, not both")
    if args.timezone is not None:
        _check_timezone(args.timezone)

    contact_changes: dict[str, Any] = {}
    if args.row_ids:
        contact_changes["id_column"] = None
    elif args.id_column is not None:
        contact_changes["id_column"] = args.id_column

    activity_changes: dict[str, Any] = {}
    for option, attribute in (
        ("contact_column", "contact_column"),
        ("type_column", "type_column"),
        ("time_column", "time_column"),
        ("timezone", "timezone"),
    ):
        value = getattr(args, option)
        if value is not None:
            activity_changes[attribute] = value

    try:
        contacts = attrs.evolve(contacts, **contact_changes)
        activities = attrs.evolve(activities, **activity_changes)
    except ConfigError as error:
        raise InputError(f"invalid column option: {error}") from None
    return contacts, activities


def _read_mapping(path: Path) -> ColumnMapping:
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(path.read_text("utf-8"))
        else:
            with path.open("rb") as stream:
                data = tomllib.load(stream)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: invalid mapping file: {error}") from None

    # A larger config file keeps the mapping under [columns], as docs/loading-data.md shows.
    if isinstance(data, Mapping) and "columns" in data:
        data = data["columns"]
    try:
        return ColumnMapping.from_dict(data)
    except ConfigError as error:
        raise InputError(f"{path}: {error}") from None


# Loader hints name keyword arguments. On the command line the same settings are
# options, or keys of the mapping file where no option exists.
_HINT_WORDS = (
    ("pass skip_bad_rows=True", "pass --skip-bad-rows"),
    ("skip_bad_rows=True", "--skip-bad-rows"),
    ("set id_column to one of them", "pass one of them as --id-column, or --row-ids"),
    ("set contact_column to one of them", "pass one of them as --contact-column"),
    ("set type_column to one of them", "pass one of them as --type-column"),
    ("set time_column to one of them", "pass one of them as --time-column"),
    ("set types to one of them", "fix types in the mapping file"),
    ("set columns to one of them", "fix columns in the mapping file"),
    ("set attributes to one of them", "fix attributes in the mapping file"),
    ("pass timezone= with", "pass --timezone with"),
    ("timezone='Europe/Prague'", "--timezone Europe/Prague"),
    ("timezone_column=", "timezone_column in the mapping file"),
    ("pass delimiter=','", "set delimiter = ',' in the mapping file"),
    (
        "pass the file's encoding, for example encoding='cp1252'",
        "set encoding in the mapping file, for example encoding = 'cp1252'",
    ),
    ("or pass format='csv', 'tsv' or 'jsonl'", "or rename the file"),
)


@contextlib.contextmanager
def command_line_hints() -> Iterator[None]:
    """Re-raise a DataError as an InputError whose hint names command-line options."""
    try:
        yield
    except DataError as error:
        hint = error.hint
        if hint is not None:
            for keyword, option in _HINT_WORDS:
                hint = hint.replace(keyword, option)
        message = DataError(
            error.reason, file=error.file, row=error.row, field=error.field, hint=hint
        )
        raise InputError(str(message)) from error
