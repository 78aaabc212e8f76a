"""Read contacts and activities from pandas and polars DataFrames, one row at a time.

Neither library is imported: a DataFrame is recognised by the module its type comes
from, so leadscore works without them installed. Rows are numbered from 1 in errors and
generated ids, because a DataFrame has no header row.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from leadscore.errors import DataError
from leadscore.loaders.mapping import (
    ActivityColumns,
    ColumnMapping,
    ColumnSelection,
    ContactColumns,
    choose_options,
)
from leadscore.loaders.records import ActivityBuilder, ContactBuilder, collect
from leadscore.loaders.report import LoadReport
from leadscore.loaders.sources import Record, Source
from leadscore.loaders.values import decimal_to_number
from leadscore.model import Activity, Contact

__all__ = ["activities_from_dataframe", "contacts_from_dataframe"]

_PLAIN_TYPES: Final = frozenset({str, int, float, bool, type(None), dt.datetime, dt.date})


def contacts_from_dataframe(
    df: Any,
    *,
    id_column: str | None = "id",
    columns: ColumnSelection | None = None,
    types: Mapping[str, str] | None = None,
    skip_bad_rows: bool = False,
    placeholders: Iterable[str] = ("Select",),
    report: LoadReport | None = None,
    list_separator: str = ";",
    infer_types: bool = True,
    mapping: ContactColumns | ColumnMapping | None = None,
) -> Iterator[Contact]:
    """Read contacts from a pandas or polars DataFrame, with None, NaN, NA and NaT as missing.

    Takes the same column options as `read_contacts`. Example::

        frame = pandas.read_csv("bank.csv", sep=";")
        contacts = list(contacts_from_dataframe(frame, id_column=None))
    """
    keywords = ContactColumns(
        id_column=id_column,
        columns=columns,
        types=types,
        placeholders=placeholders,
        list_separator=list_separator,
        infer_types=infer_types,
    )
    options = choose_options(
        mapping.contacts if isinstance(mapping, ColumnMapping) else mapping, keywords
    )
    source = _dataframe_source(df)
    build = ContactBuilder(options, source)
    return collect(source, build, skip_bad_rows=skip_bad_rows, report=report, kind="contacts")


def activities_from_dataframe(
    df: Any,
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
    skip_bad_rows: bool = False,
    placeholders: Iterable[str] = ("Select",),
    report: LoadReport | None = None,
    list_separator: str = ";",
    infer_types: bool = True,
    mapping: ActivityColumns | ColumnMapping | None = None,
) -> Iterator[Activity]:
    """Read activities from a pandas or polars DataFrame, with None, NaN, NA and NaT as missing.

    Takes the same column options as `read_activities`. Example::

        events = list(activities_from_dataframe(frame, contact_column="user_id",
                                                type_column="event_type", time_column="event_time"))
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
    )
    options = choose_options(
        mapping.activities if isinstance(mapping, ColumnMapping) else mapping, keywords
    )
    source = _dataframe_source(df)
    build = ActivityBuilder(options, source)
    return collect(source, build, skip_bad_rows=skip_bad_rows, report=report, kind="activities")


def _dataframe_source(df: Any) -> Source:
    kind = type(df)
    library = kind.__module__.partition(".")[0]
    if library == "polars" and kind.__name__ == "LazyFrame":
        raise TypeError("expected a polars DataFrame, got a LazyFrame; call .collect() on it first")
    if library not in ("pandas", "polars") or kind.__name__ != "DataFrame":
        raise TypeError(
            f"expected a pandas or polars DataFrame, got {kind.__module__}.{kind.__name__}"
        )

    name = f"{library} DataFrame"
    columns = tuple(str(column) for column in df.columns)
    _check_unique(columns, name)

    if library == "pandas":
        rows: Iterable[tuple[Any, ...]] = df.itertuples(index=False, name=None)
        plain: Callable[[Any], Any] = _plain_pandas_value
    else:
        rows = df.iter_rows()
        plain = _plain_polars_value

    return Source(name, columns, _records(rows, columns, plain), text_cells=False, header_row=None)


def _check_unique(columns: tuple[str, ...], name: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(
                f"duplicate column name {column!r}",
                file=name,
                field=column,
                hint="rename one of the columns, since a row could only keep one value",
            )
        seen.add(column)


def _records(
    rows: Iterable[tuple[Any, ...]], columns: tuple[str, ...], plain: Callable[[Any], Any]
) -> Iterator[Record]:
    for position, values in enumerate(rows, start=1):
        yield (
            position,
            {column: plain(value) for column, value in zip(columns, values, strict=True)},
        )


def _plain_pandas_value(value: Any) -> Any:
    """Return a pandas or NumPy scalar as the standard Python value, and NA or NaT as None."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value

    module = kind.__module__
    name = kind.__name__
    if module.startswith("numpy"):
        if name == "datetime64":
            # NumPy's default nanosecond unit turns into an int with item(), so cut to microseconds.
            return value.astype("datetime64[us]").item()
        return value.item() if hasattr(value, "item") else value
    if module.startswith("pandas"):
        if name in ("NAType", "NaTType"):
            return None
        if name == "Timestamp":
            return value.to_pydatetime()
        if name == "Timedelta":
            return value.to_pytimedelta()
    return _plain_polars_value(value)


def _plain_polars_value(value: Any) -> Any:
    """Return a Decimal as int or float; polars yields other values as standard Python ones."""
    if isinstance(value, decimal.Decimal):
        return decimal_to_number(value) if value.is_finite() else None
    return value
