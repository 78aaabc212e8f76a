"""Build contacts and activities from the records of a source, and skip or raise on bad rows."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NamedTuple, TypeVar

from leadscore.errors import DataError
from leadscore.loaders.mapping import ActivityColumns, ContactColumns
from leadscore.loaders.report import LoadReport
from leadscore.loaders.sources import RowProblem, Source, bad_row
from leadscore.loaders.values import (
    ConversionError,
    FieldType,
    convert,
    is_missing,
    parse_instant,
    show,
)
from leadscore.model import Activity, Contact

__all__ = ["ActivityBuilder", "ContactBuilder", "collect"]

logger = logging.getLogger("leadscore.loaders")

T = TypeVar("T")

_LISTED_COLUMNS: Final = 20


class _Field(NamedTuple):
    column: str
    name: str
    field_type: FieldType | None


class _FieldReader:
    """Profile or attribute fields of one record: selection, renaming and conversion."""

    def __init__(
        self,
        options: ContactColumns | ActivityColumns,
        selection: Mapping[str, str] | None,
        excluded: frozenset[str],
        source: Source,
    ) -> None:
        self._options = options
        self._excluded = excluded
        self._source = source
        self._placeholders = frozenset(options.placeholders)

        # With a header, the fields are fixed once. JSON Lines records are read key by key.
        self._fields: tuple[_Field, ...] | None = None
        if selection is not None:
            self._fields = tuple(
                _Field(column, name, options.types.get(column))
                for column, name in selection.items()
            )
        elif source.columns is not None:
            self._fields = tuple(
                _Field(column, column, options.types.get(column))
                for column in source.columns
                if column not in excluded
            )

    def read(self, row: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the present fields of one record, converted. A bad value raises RowProblem."""
        fields: dict[str, Any] = {}
        if self._fields is None:
            for column, raw in values.items():
                if column not in self._excluded:
                    self._add(fields, row, column, column, self._options.types.get(column), raw)
        else:
            for column, name, field_type in self._fields:
                self._add(fields, row, column, name, field_type, values.get(column))
        return fields

    def _add(
        self,
        fields: dict[str, Any],
        row: int,
        column: str,
        name: str,
        field_type: FieldType | None,
        raw: Any,
    ) -> None:
        if is_missing(raw, self._placeholders):
            return  # a missing field is left out of the profile, not stored as None
        try:
            fields[name] = convert(
                raw,
                field_type,
                text_cells=self._source.text_cells,
                infer_types=self._options.infer_types,
                list_separator=self._options.list_separator,
            )
        except ConversionError as error:
            raise bad_row(
                error.message,
                reason=f"{error.reason} in field {column!r}",
                file=self._source.name,
                row=row,
                field=column,
                hint=error.hint
                or f"fix the value or the type of {column!r} in types; "
                "skip_bad_rows=True skips such rows",
            ) from None


def _require_columns(
    source: Source, needed: Mapping[str, str], option_names: Mapping[str, str]
) -> None:
    """Raise DataError when a configured column is not in the header or DataFrame."""
    if source.columns is None:
        return
    present = set(source.columns)
    place = "header" if source.header_row is not None else "DataFrame"
    for column, role in needed.items():
        if column in present:
            continue
        listed = ", ".join(repr(name) for name in source.columns[:_LISTED_COLUMNS])
        if len(source.columns) > _LISTED_COLUMNS:
            listed += f" and {len(source.columns) - _LISTED_COLUMNS} more"
        raise DataError(
            f"the {role} column {column!r} is not in the {place}",
            file=source.name,
            row=source.header_row,
            field=column,
            hint=f"the columns are {listed}; set {option_names.get(role, role)} to one of them",
        )


def _text_id(
    raw: Any, placeholders: frozenset[str], *, source: Source, row: int, column: str, what: str
) -> str:
    """Return an id or activity type as text, writing integers in decimal."""
    if is_missing(raw, placeholders):
        raise bad_row(
            f"missing {what}",
            reason=f"missing {what} in field {column!r}",
            file=source.name,
            row=row,
            field=column,
            hint=f"fill in the {what}, or pass skip_bad_rows=True to skip such rows",
        )
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    # pandas stores an integer column with gaps as floats, so 123.0 is id "123".
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, decimal.Decimal) and raw == raw.to_integral():
        return str(int(raw))
    raise bad_row(
        f"invalid {what} {show(raw)}: expected text or a whole number",
        reason=f"invalid {what} in field {column!r}",
        file=source.name,
        row=row,
        field=column,
    )


class ContactBuilder:
    """Converter from records to contacts. Creating one checks the header against the options."""

    def __init__(self, options: ContactColumns, source: Source) -> None:
        self._options = options
        self._source = source
        self._placeholders = frozenset(options.placeholders)

        needed: dict[str, str] = {}
        if options.id_column is not None:
            needed[options.id_column] = "id"
        for column in options.columns or {}:
            needed.setdefault(column, "profile")
        for column in options.types:
            needed.setdefault(column, "typed")
        _require_columns(
            source, needed, {"id": "id_column", "profile": "columns", "typed": "types"}
        )

        excluded = frozenset() if options.id_column is None else frozenset({options.id_column})
        self._fields = _FieldReader(options, options.columns, excluded, source)

    def __call__(self, row: int, values: Mapping[str, Any]) -> Contact:
        id_column = self._options.id_column
        if id_column is None:
            contact_id = str(row)  # without an id column, the row number serves as the id
        else:
            contact_id = _text_id(
                values.get(id_column),
                self._placeholders,
                source=self._source,
                row=row,
                column=id_column,
                what="contact id",
            )
        return Contact(contact_id, self._fields.read(row, values))


class ActivityBuilder:
    """Converter from records to activities. Creating one checks the header against the options."""

    def __init__(self, options: ActivityColumns, source: Source) -> None:
        self._options = options
        self._source = source
        self._placeholders = frozenset(options.placeholders)
        self._default_zone = (
            None if options.timezone is None else zoneinfo.ZoneInfo(options.timezone)
        )
        # Only valid zones are cached, so the cache cannot grow past the zone database.
        self._zones: dict[str, zoneinfo.ZoneInfo] = {}

        roles = {
            options.contact_column: "contact",
            options.type_column: "type",
            options.time_column: "time",
        }
        if options.id_column is not None:
            roles[options.id_column] = "id"
        if options.timezone_column is not None:
            roles[options.timezone_column] = "timezone"
        needed = dict(roles)
        for column in options.attributes or {}:
            needed.setdefault(column, "attribute")
        for column in options.types:
            needed.setdefault(column, "typed")
        option_names = {
            "contact": "contact_column",
            "type": "type_column",
            "time": "time_column",
            "id": "id_column",
            "timezone": "timezone_column",
            "attribute": "attributes",
            "typed": "types",
        }
        _require_columns(source, needed, option_names)

        self._fields = _FieldReader(options, options.attributes, frozenset(roles), source)

    def __call__(self, row: int, values: Mapping[str, Any]) -> Activity:
        options = self._options
        contact_id = _text_id(
            values.get(options.contact_column),
            self._placeholders,
            source=self._source,
            row=row,
            column=options.contact_column,
            what="contact id",
        )
        activity_type = _text_id(
            values.get(options.type_column),
            self._placeholders,
            source=self._source,
            row=row,
            column=options.type_column,
            what="activity type",
        )
        occurred_at = self._instant(row, values)

        activity_id = None
        if options.id_column is not None:
            raw_id = values.get(options.id_column)
            if not is_missing(raw_id, self._placeholders):
                activity_id = _text_id(
                    raw_id,
                    self._placeholders,
                    source=self._source,
                    row=row,
                    column=options.id_column,
                    what="activity id",
                )

        return Activity(
            contact_id, activity_type, occurred_at, self._fields.read(row, values), activity_id
        )

    def _instant(self, row: int, values: Mapping[str, Any]) -> dt.datetime:
        column = self._options.time_column
        raw = values.get(column)
        if is_missing(raw, self._placeholders):
            raise bad_row(
                "missing timestamp",
                reason=f"missing timestamp in field {column!r}",
                file=self._source.name,
                row=row,
                field=column,
                hint="fill in the time, or pass skip_bad_rows=True to skip such rows",
            )

        try:
            instant = parse_instant(raw, self._options.time_format)
        except ConversionError as error:
            raise bad_row(
                error.message,
                reason=f"{error.reason} in field {column!r}",
                file=self._source.name,
                row=row,
                field=column,
                hint=error.hint,
            ) from None
        if instant.tzinfo is not None:
            return instant  # an offset in the value wins over timezone and timezone_column

        zone = self._row_zone(row, values) or self._default_zone
        if zone is None:
            raise bad_row(
                f"timestamp {show(raw)} has no time zone",
                reason=f"timestamp without time zone in field {column!r}",
                file=self._source.name,
                row=row,
                field=column,
                hint="pass timezone= with the zone the export was written in, such as "
                "timezone='Europe/Prague', or timezone_column= naming a column of zone names",
            )
        # NOTE: a wall time that a daylight-saving change skips or repeats gets the
        # offset in force before the change (fold=0), with no warning.
        return instant.replace(tzinfo=zone)

    def _row_zone(self, row: int, values: Mapping[str, Any]) -> zoneinfo.ZoneInfo | None:
        column = self._options.timezone_column
        if column is None:
            return None
        raw = values.get(column)
        if is_missing(raw, self._placeholders):
            return None

        name = str(raw).strip()
        zone = self._zones.get(name)
        if zone is not None:
            return zone

        try:
            zone = zoneinfo.ZoneInfo(name)
        # A directory name such as 'Europe' raises OSError, and a malformed key ValueError.
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise bad_row(
                f"unknown time zone {show(name)}",
                reason=f"unknown time zone in field {column!r}",
                file=self._source.name,
                row=row,
                field=column,
                hint="use IANA names such as 'Europe/Prague' or 'UTC'",
            ) from None
        self._zones[name] = zone
        return zone


def collect(
    source: Source,
    build: Callable[[int, Mapping[str, Any]], T],
    *,
    skip_bad_rows: bool,
    report: LoadReport | None,
    kind: str,
) -> Iterator[T]:
    """Yield one built item per good record. A bad row raises its DataError unless skipped."""
    logger.debug("reading %s from %s", kind, source.name)
    read = 0
    skipped = 0
    # Reasons are counted here too, so the closing log line works without a report.
    reasons: dict[str, int] = {}

    for row, values in source.records:
        read += 1
        if report is not None:
            report.rows_read += 1
        try:
            if isinstance(values, RowProblem):
                raise values
            item = build(row, values)
        except RowProblem as problem:
            if not skip_bad_rows:
                raise problem.error from None
            skipped += 1
            reasons[problem.reason] = reasons.get(problem.reason, 0) + 1
            if report is not None:
                report.add_skip(problem.error, problem.reason)
            logger.debug("skipped row %d of %s: %s", row, source.name, problem.reason)
            continue
        yield item

    logger.info("read %d %s from %s, skipped %d rows", read - skipped, kind, source.name, skipped)
    if skipped:
        details = "; ".join(f"{reason} ({count})" for reason, count in sorted(reasons.items()))
        logger.warning("skipped %d of %d rows in %s: %s", skipped, read, source.name, details)
