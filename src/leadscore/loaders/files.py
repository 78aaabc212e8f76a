"""Read contacts and activities from CSV, TSV and JSON Lines files, one row at a time."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO

from leadscore.loaders.mapping import (
    ActivityColumns,
    ColumnMapping,
    ColumnSelection,
    ContactColumns,
    choose_options,
)
from leadscore.loaders.records import ActivityBuilder, ContactBuilder, collect
from leadscore.loaders.report import LoadReport
from leadscore.loaders.sources import FORMATS, Format, open_source
from leadscore.model import Activity, Contact

__all__ = ["read_activities", "read_contacts"]

PathOrStream = str | os.PathLike[str] | IO[str]


def read_contacts(
    path: PathOrStream,
    *,
    id_column: str | None = "id",
    columns: ColumnSelection | None = None,
    types: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    skip_bad_rows: bool = False,
    placeholders: Iterable[str] = ("Select",),
    report: LoadReport | None = None,
    list_separator: str = ";",
    infer_types: bool = True,
    format: Format | None = None,
    mapping: ContactColumns | ColumnMapping | None = None,
) -> Iterator[Contact]:
    """Read contacts from a CSV, TSV or JSON Lines file, yielding one contact per row.

    The column options can come as keywords or as ``mapping``, not both. The file is
    opened when iteration starts and closed when the iterator is exhausted or closed.
    Bad rows raise DataError unless ``skip_bad_rows`` is set. Example::

        for contact in read_contacts("Leads.csv", id_column="Prospect ID"):
            ...
    """
    keywords = ContactColumns(
        id_column=id_column,
        columns=columns,
        types=types,
        placeholders=placeholders,
        list_separator=list_separator,
        infer_types=infer_types,
        delimiter=delimiter,
        encoding=encoding,
    )
    options = choose_options(
        mapping.contacts if isinstance(mapping, ColumnMapping) else mapping, keywords
    )
    _check_format(format)
    return _read_contacts(path, options, format, skip_bad_rows, report)


def _read_contacts(
    path: PathOrStream,
    options: ContactColumns,
    format: Format | None,
    skip_bad_rows: bool,
    report: LoadReport | None,
) -> Iterator[Contact]:
    with open_source(
        path, format=format, delimiter=options.delimiter, encoding=options.encoding
    ) as source:
        build = ContactBuilder(options, source)
        yield from collect(
            source, build, skip_bad_rows=skip_bad_rows, report=report, kind="contacts"
        )


def read_activities(
    path: PathOrStream,
    *,
    contact_column: str = "contact_id",
    type_column: str = "type",
    time_column: str = "occurred_at",
    id_column: str | None = None,
    timezone: str | None = None,
    timezone_column: str | None = None,
    time_format: str | None = None,
    attributes: ColumnSelection | None = None,
    types: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    skip_bad_rows: bool = False,
    placeholders: Iterable[str] = ("Select",),
    report: LoadReport | None = None,
    list_separator: str = ";",
    infer_types: bool = True,
    format: Format | None = None,
    mapping: ActivityColumns | ColumnMapping | None = None,
) -> Iterator[Activity]:
    """Read activities from a CSV, TSV or JSON Lines file, yielding one activity per row.

    A timestamp without a zone gets the zone from ``timezone_column``, else ``timezone``,
    else the row raises DataError. Other columns become attributes. Example::

        for event in read_activities("2019-Oct.csv", contact_column="user_id",
                                     type_column="event_type", time_column="event_time"):
            ...
    """
    keywords = ActivityColumns(
        contact_column=contact_column,
        type_column=type_column,
        time_column=time_column,
        id_column=id_column,
        timezone=timezone,
        timezone_column=timezone_column,
        time_format=time_format,
        attributes=attributes,
        types=types,
        placeholders=placeholders,
        list_separator=list_separator,
        infer_types=infer_types,
        delimiter=delimiter,
        encoding=encoding,
    )
    options = choose_options(
        mapping.activities if isinstance(mapping, ColumnMapping) else mapping, keywords
    )
    _check_format(format)
    return _read_activities(path, options, format, skip_bad_rows, report)


def _read_activities(
    path: PathOrStream,
    options: ActivityColumns,
    format: Format | None,
    skip_bad_rows: bool,
    report: LoadReport | None,
) -> Iterator[Activity]:
    with open_source(
        path, format=format, delimiter=options.delimiter, encoding=options.encoding
    ) as source:
        build = ActivityBuilder(options, source)
        yield from collect(
            source, build, skip_bad_rows=skip_bad_rows, report=report, kind="activities"
        )


def _check_format(format: str | None) -> None:
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; the formats are {', '.join(FORMATS)}")
