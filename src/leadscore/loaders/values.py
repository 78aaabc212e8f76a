"""Convert cell values to profile and attribute values, and timestamps to datetimes.

CSV cells are text, so every kind of value is inferred from the text. Typed sources
(JSON Lines, DataFrames) already carry numbers and booleans, so from their text only ISO
dates and datetimes are inferred, because neither JSON nor a CSV-read DataFrame has a
date type. Callers strip text and drop missing values before calling these functions.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, get_args

from leadscore.model import to_utc

__all__ = [
    "FIELD_TYPES",
    "TIME_FORMATS",
    "ConversionError",
    "FieldType",
    "convert",
    "decimal_to_number",
    "is_missing",
    "parse_instant",
    "show",
]

FieldType = Literal["text", "number", "integer", "boolean", "date", "datetime", "list"]
FIELD_TYPES: Final[tuple[str, ...]] = get_args(FieldType)

# Named time formats. Any other time format is a strptime pattern.
TIME_FORMATS: Final = ("unix", "unix_ms")

# Integers of up to 15 digits are exact in a float64, so inferring them as numbers is
# safe for any consumer. Longer digit strings are nearly always identifiers (order,
# category or card numbers) and stay text, and so do digits with a leading zero
# (phone numbers, zip codes). A leading "+" marks a phone number, so it is never inferred.
_INFERRED: Final = re.compile(
    r"""
    (?P<integer>-?(?:0|[1-9][0-9]{0,14}))
    |(?P<decimal>-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][+-]?[0-9]+)?)
    |(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})
    |(?P<datetime>[0-9]{4}-[0-9]{2}-[0-9]{2}[T\ ][0-9]{2}:[0-9]{2}
        (?::[0-9]{2}(?:[.,][0-9]+)?)?
        (?:Z|[+-][0-9]{2}(?::?[0-9]{2})?|\ ?UTC)?)
    """,
    re.VERBOSE,
)

# Only the extended ISO 8601 forms are accepted. datetime.fromisoformat also takes the
# basic form, which would read an 8-digit number such as 20191001 as a date.
_ISO_INSTANT: Final = re.compile(
    r"""
    [0-9]{4}-[0-9]{2}-[0-9]{2}
    (?:[T\ ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?
        (?:Z|[+-][0-9]{2}(?::?[0-9]{2})?|\ ?UTC)?)?
    """,
    re.VERBOSE,
)
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_INTEGRAL_DECIMAL: Final = re.compile(r"([+-]?[0-9]+)\.0*")

# Inference takes only true and false. Yes and No stay text because they are often two
# options of a longer picklist ("Yes", "No", "Maybe"), and "NO" is Norway's country code.
_INFERRED_BOOLEANS: Final[Mapping[str, bool]] = {"true": True, "false": False}
_BOOLEAN_WORDS: Final[Mapping[str, bool]] = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}

_SHOWN_LENGTH: Final = 40


class ConversionError(ValueError):
    """A value that does not convert. ``message`` shows the value and ``reason`` does not."""

    def __init__(self, message: str, reason: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.hint = hint


def show(value: Any) -> str:
    """Return ``repr(value)`` cut to 40 characters, for error messages."""
    text = repr(value)
    if len(text) > _SHOWN_LENGTH:
        return text[: _SHOWN_LENGTH - 1] + "…"
    return text


def is_missing(value: Any, placeholders: frozenset[str]) -> bool:
    """Return True for None, NaN, empty or blank text and placeholder text such as ``Select``."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # only NaN differs from itself
    if isinstance(value, str):
        text = value.strip()
        return not text or text in placeholders
    return False


def convert(
    value: Any,
    field_type: FieldType | None,
    *,
    text_cells: bool,
    infer_types: bool,
    list_separator: str,
) -> Any:
    """Convert one present value to ``field_type``, or infer its kind when that is None.

    ``text_cells`` is True for CSV cells, whose every kind is inferred from text. Example::

        convert("42", None, text_cells=True, infer_types=True, list_separator=";")  # 42
    """
    if isinstance(value, str):
        value = value.strip()

    if field_type is not None:
        return _CONVERTERS[field_type](value, list_separator)

    if not infer_types or not isinstance(value, str):
        return value
    if text_cells:
        return _infer_from_text(value)
    return _infer_date_or_datetime(value)


def _infer_from_text(text: str) -> Any:
    match = _INFERRED.fullmatch(text)
    if match is None:
        return _INFERRED_BOOLEANS.get(text.lower(), text) if len(text) <= 5 else text

    kind = match.lastgroup
    if kind == "integer":
        return int(text)
    if kind == "decimal":
        return float(text)
    try:
        if kind == "date":
            return dt.date.fromisoformat(text)
        return _parse_iso_datetime(text)
    except ValueError:
        return text  # shaped like a date but not one, such as 2019-02-30


def _infer_date_or_datetime(text: str) -> Any:
    if _ISO_INSTANT.fullmatch(text) is None:
        return text
    try:
        if len(text) == len("2019-10-01"):
            return dt.date.fromisoformat(text)
        return _parse_iso_datetime(text)
    except ValueError:
        return text


def _parse_iso_datetime(text: str) -> dt.datetime:
    # Some exports, such as the REES46 e-commerce events, end times with a literal " UTC".
    if text.endswith("UTC"):
        text = text[:-3].rstrip() + "+00:00"
    return to_utc(dt.datetime.fromisoformat(text))


def _to_text(value: Any, list_separator: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # pandas stores an integer column with gaps as floats
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise _wrong_kind(value, "text")


def _to_number(value: Any, list_separator: str) -> int | float:
    if isinstance(value, bool):
        raise _wrong_kind(value, "number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return decimal_to_number(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return int(value) if _INTEGER.fullmatch(value) else float(value)
    raise _invalid(value, "number", "expected digits with an optional '.' and exponent")


def decimal_to_number(value: decimal.Decimal) -> int | float:
    """Return a finite Decimal as an int when it is whole, else as the nearest float.

    Rules compare numbers as int or float, and Decimal is not a ``numbers.Real``.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _to_integer(value: Any, list_separator: str) -> int:
    if isinstance(value, bool):
        raise _wrong_kind(value, "integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral():
        return int(value)
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return int(value)
        # Tools that write integers with gaps as floats export 5 as "5.0".
        integral = _INTEGRAL_DECIMAL.fullmatch(value)
        if integral is not None:
            return int(integral.group(1))
    raise _invalid(value, "integer", "expected whole digits such as 42 or -7")


def _to_boolean(value: Any, list_separator: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = _BOOLEAN_WORDS.get(value.lower())
        if word is not None:
            return word
    raise _invalid(value, "boolean", "expected true/false, yes/no, y/n, t/f or 1/0")


def _to_date(value: Any, list_separator: str) -> dt.date:
    if isinstance(value, dt.datetime):
        # A DataFrame keeps dates as midnight datetimes, so those are taken as dates.
        if value.tzinfo is None and value.time() == dt.time():
            return value.date()
        raise _invalid(value, "date", "the value has a time of day; use the type datetime")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as error:
            # The layout is right, so a part of the date is out of range, and the error names it.
            raise _invalid(value, "date", str(error)) from None
    raise _invalid(value, "date", "expected an ISO 8601 date such as 2024-03-31")


def _to_datetime(value: Any, list_separator: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return to_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str) and _ISO_INSTANT.fullmatch(value):
        try:
            return _parse_iso_datetime(value)
        except ValueError as error:
            raise _invalid(value, "datetime", str(error)) from None
    if isinstance(value, str):
        raise _invalid(value, "datetime", "expected ISO 8601 such as 2024-03-31T14:05:00+02:00")
    raise _wrong_kind(value, "datetime")


def _to_list(value: Any, list_separator: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        items = (item.strip() for item in value.split(list_separator))
        return [item for item in items if item]
    raise _wrong_kind(value, "list")


_CONVERTERS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    "text": _to_text,
    "number": _to_number,
    "integer": _to_integer,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
    "list": _to_list,
}


def parse_instant(value: Any, time_format: str | None) -> dt.datetime:
    """Parse an activity timestamp, which stays naive when the value has no zone.

    ``time_format`` is None for ISO 8601, ``"unix"`` or ``"unix_ms"`` for seconds or
    milliseconds since 1970-01-01 UTC, or a strptime pattern. Example::

        parse_instant("2019-10-01 00:00:00 UTC", None)  # 2019-10-01 00:00 UTC
    """
    if isinstance(value, str):
        value = value.strip()
    if isinstance(value, dt.datetime):
        return to_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())

    if time_format in TIME_FORMATS:
        return _parse_unix_time(value, time_format)
    if not isinstance(value, str):
        raise ConversionError(
            f"invalid timestamp {show(value)}: expected text or a datetime",
            reason="invalid timestamp",
            hint="for seconds or milliseconds since 1970, set time_format to 'unix' or 'unix_ms'",
        )
    if time_format is None:
        return _parse_iso_instant(value)

    try:
        return to_utc(dt.datetime.strptime(value, time_format))
    except ValueError:
        raise ConversionError(
            f"invalid timestamp {show(value)}: it does not match time_format {time_format!r}",
            reason="invalid timestamp",
            hint="fix the value or time_format (a strptime pattern such as '%d/%m/%Y %H:%M')",
        ) from None


def _parse_iso_instant(text: str) -> dt.datetime:
    if _ISO_INSTANT.fullmatch(text) is not None:
        try:
            return _parse_iso_datetime(text)
        except ValueError as error:
            # The layout is ISO 8601, so a part is out of range, such as month 13.
            raise ConversionError(
                f"invalid timestamp {show(text)}: {error}",
                reason="invalid timestamp",
                hint="fix the value; the layout is right but the date or time does not exist",
            ) from None
    raise ConversionError(
        f"invalid timestamp {show(text)}: expected ISO 8601 such as 2024-03-31T14:05:00+02:00",
        reason="invalid timestamp",
        hint="for another layout, set time_format to a strptime pattern such as '%d/%m/%Y %H:%M'",
    )


def _parse_unix_time(value: Any, time_format: str) -> dt.datetime:
    number: float | int | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        number = int(value) if _INTEGER.fullmatch(value) else float(value)

    if number is not None:
        seconds = number / 1000 if time_format == "unix_ms" else number
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            pass  # out of the range a datetime can hold
    unit = "milliseconds" if time_format == "unix_ms" else "seconds"
    raise ConversionError(
        f"invalid timestamp {show(value)}: expected {unit} since 1970-01-01 UTC",
        reason="invalid timestamp",
        hint=f"fix the value or time_format (now {time_format!r})",
    )


def _invalid(value: Any, field_type: str, expected: str) -> ConversionError:
    return ConversionError(
        f"invalid {field_type} {show(value)}: {expected}",
        reason=f"invalid {field_type}",
    )


def _wrong_kind(value: Any, field_type: str) -> ConversionError:
    return ConversionError(
        f"cannot convert {type(value).__name__} {show(value)} to {field_type}",
        reason=f"invalid {field_type}",
    )
