"""Cell conversion: inference from CSV text, forced types and activity timestamps."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadscore.loaders.values import ConversionError, convert, is_missing, parse_instant

UTC = dt.UTC
PLACEHOLDERS = frozenset({"Select"})


def infer(text: str) -> object:
    return convert(text, None, text_cells=True, infer_types=True, list_separator=";")


def force(value: object, field_type: str) -> object:
    return convert(value, field_type, text_cells=True, infer_types=True, list_separator=";")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("-1", -1),
        ("0", 0),
        ("999999999999999", 999_999_999_999_999),
        ("20191001", 20191001),  # a number, not the basic ISO form of a date
        ("35.79", 35.79),
        ("-3.5", -3.5),
        ("0.5", 0.5),
        ("1.5e3", 1500.0),
        ("true", True),
        ("FALSE", False),
        ("True", True),
        ("2024-03-31", dt.date(2024, 3, 31)),
        ("2024-03-31 14:05", dt.datetime(2024, 3, 31, 14, 5)),
        ("2024-03-31T14:05:06.5", dt.datetime(2024, 3, 31, 14, 5, 6, 500000)),
        ("2019-10-01 00:00:00 UTC", dt.datetime(2019, 10, 1, tzinfo=UTC)),
        ("2024-03-31T14:05:00Z", dt.datetime(2024, 3, 31, 14, 5, tzinfo=UTC)),
        ("2024-04-02T09:15:00+02:00", dt.datetime(2024, 4, 2, 7, 15, tzinfo=UTC)),
        ("2024-04-02T09:15:00-0130", dt.datetime(2024, 4, 2, 10, 45, tzinfo=UTC)),
    ],
)
def test_infer_converts_typed_text(text: str, expected: object) -> None:
    value = infer(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "01234",  # zip code with a leading zero
        "0601123456",  # phone number
        "+420601123456",  # phone number with country code
        "2053013555631882655",  # 19-digit category id
        "1234567890123456",  # 16 digits: more than a float64 stores exactly
        "Yes",
        "No",
        "NO",  # Norway's country code
        "y",
        "1,5",
        "1,234",
        ".5",
        "5.",
        "1e5",
        "nan",
        "inf",
        "02.Medium",
        "2019-02-30",  # shaped like a date but not one
        "2024-3-31",
        "10/01/2019",
        "2024-03-31T25:00",
        "-",
        "Select",
    ],
)
def test_infer_keeps_ambiguous_text(text: str) -> None:
    assert infer(text) == text


def test_infer_strips_whitespace() -> None:
    assert infer("  12 ") == 12
    assert infer(" Prague ") == "Prague"


def test_infer_disabled_keeps_text() -> None:
    assert convert("42", None, text_cells=True, infer_types=False, list_separator=";") == "42"


def test_typed_source_infers_only_dates() -> None:
    def typed(value: object) -> object:
        return convert(value, None, text_cells=False, infer_types=True, list_separator=";")

    assert typed("42") == "42"
    assert typed("true") == "true"
    assert typed("2024-03-31") == dt.date(2024, 3, 31)
    assert typed("2024-03-31T10:00:00Z") == dt.datetime(2024, 3, 31, 10, tzinfo=UTC)
    assert typed(7) == 7
    assert typed({"url": "/x"}) == {"url": "/x"}


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_infer_integers_exact(number: int) -> None:
    assert infer(str(number)) == number


@given(st.integers(min_value=10**15, max_value=10**30))
def test_infer_long_digits_stay_text(number: int) -> None:
    assert infer(str(number)) == str(number)


@given(st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_infer_leading_zero_stays_text(digits: str) -> None:
    text = "0" + digits
    assert infer(text) == text


@pytest.mark.parametrize(
    ("value", "field_type", "expected"),
    [
        ("01234", "text", "01234"),
        (1234, "text", "1234"),
        (1234.0, "text", "1234"),
        (True, "text", "true"),
        (dt.date(2024, 1, 2), "text", "2024-01-02"),
        ("007", "number", 7),
        ("+5", "number", 5),
        ("1e3", "number", 1000.0),
        (".5", "number", 0.5),
        (2.5, "number", 2.5),
        (decimal.Decimal("1.10"), "number", 1.1),
        (decimal.Decimal("12.00"), "number", 12),
        ("2053013555631882655", "integer", 2053013555631882655),
        ("5.0", "integer", 5),
        ("-12", "integer", -12),
        (5.0, "integer", 5),
        (decimal.Decimal("3"), "integer", 3),
        ("Yes", "boolean", True),
        ("no", "boolean", False),
        ("Y", "boolean", True),
        ("0", "boolean", False),
        ("TRUE", "boolean", True),
        (1, "boolean", True),
        (False, "boolean", False),
        ("2024-03-31", "date", dt.date(2024, 3, 31)),
        (dt.datetime(2024, 3, 31), "date", dt.date(2024, 3, 31)),
        ("2024-03-31", "datetime", dt.datetime(2024, 3, 31)),
        ("2024-03-31 10:00 UTC", "datetime", dt.datetime(2024, 3, 31, 10, tzinfo=UTC)),
        (dt.date(2024, 3, 31), "datetime", dt.datetime(2024, 3, 31)),
        ("webinars; pricing;;", "list", ["webinars", "pricing"]),
        (["a", 1], "list", ["a", 1]),
        (("a",), "list", ["a"]),
    ],
)
def test_forced_types_convert(value: object, field_type: str, expected: object) -> None:
    converted = force(value, field_type)
    assert converted == expected
    assert type(converted) is type(expected)


def test_list_separator_is_configurable() -> None:
    converted = convert("a|b | c", "list", text_cells=True, infer_types=True, list_separator="|")
    assert converted == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("value", "field_type", "reason"),
    [
        ("abc", "number", "invalid number"),
        ("1,5", "number", "invalid number"),
        ("nan", "number", "invalid number"),
        (True, "number", "invalid number"),
        ("5.5", "integer", "invalid integer"),
        ("12a", "integer", "invalid integer"),
        (5.5, "integer", "invalid integer"),
        (True, "integer", "invalid integer"),
        ("maybe", "boolean", "invalid boolean"),
        (2, "boolean", "invalid boolean"),
        ("31/03/2024", "date", "invalid date"),
        ("2024-02-30", "date", "invalid date"),
        ("2024-03-31T10:00", "date", "invalid date"),
        (dt.datetime(2024, 3, 31, 10), "date", "invalid date"),
        ("yesterday", "datetime", "invalid datetime"),
        (5, "datetime", "invalid datetime"),
        (5, "list", "invalid list"),
        (["a"], "text", "invalid text"),
    ],
)
def test_forced_types_reject_bad_values(value: object, field_type: str, reason: str) -> None:
    with pytest.raises(ConversionError) as caught:
        force(value, field_type)
    assert caught.value.reason == reason
    assert repr(value)[:20] in caught.value.message


def test_error_message_cuts_long_values() -> None:
    with pytest.raises(ConversionError) as caught:
        force("x" * 500, "integer")
    assert len(caught.value.message) < 120
    assert "…" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        (float("nan"), True),
        ("", True),
        ("   ", True),
        ("Select", True),
        (" Select ", True),
        ("select", False),
        ("Selected", False),
        (0, False),
        (0.0, False),
        (False, False),
        ([], False),
    ],
)
def test_is_missing(value: object, expected: bool) -> None:
    assert is_missing(value, PLACEHOLDERS) is expected


@pytest.mark.parametrize(
    ("value", "time_format", "expected"),
    [
        ("2019-10-01 00:00:00 UTC", None, dt.datetime(2019, 10, 1, tzinfo=UTC)),
        ("2019-10-01 00:00:00UTC", None, dt.datetime(2019, 10, 1, tzinfo=UTC)),
        ("2024-05-01T10:30:00+02:00", None, dt.datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00", None, dt.datetime(2024, 5, 1, 10, 30)),
        ("2024-05-01", None, dt.datetime(2024, 5, 1)),
        (dt.date(2024, 5, 1), None, dt.datetime(2024, 5, 1)),
        ("1700000000", "unix", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1700000000.5, "unix", dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        ("1700000000000", "unix_ms", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("01/05/2024 10:30", "%d/%m/%Y %H:%M", dt.datetime(2024, 5, 1, 10, 30)),
        ("01/05/2024 10:30 +0100", "%d/%m/%Y %H:%M %z", dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_instant(value: object, time_format: str | None, expected: dt.datetime) -> None:
    instant = parse_instant(value, time_format)
    assert instant == expected
    assert instant.tzinfo == expected.tzinfo


@pytest.mark.parametrize(
    ("value", "time_format"),
    [
        ("10/01/2019 13:00", None),
        ("20191001T000000", None),
        ("2019-10-01 25:00", None),
        (1700000000, None),
        ("soon", "unix"),
        (10**20, "unix"),
        ("2024-05-01", "%d/%m/%Y"),
    ],
)
def test_parse_instant_rejects(value: object, time_format: str | None) -> None:
    with pytest.raises(ConversionError) as caught:
        parse_instant(value, time_format)
    assert caught.value.reason == "invalid timestamp"
    assert caught.value.hint


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2019-13-01 00:00:04 UTC", "month must be in 1..12"),
        ("2019-02-30T10:00Z", "day is out of range for month"),
        ("2019-10-01T25:00Z", "hour must be in 0..23"),
    ],
)
def test_parse_instant_names_the_part_out_of_range(value: str, problem: str) -> None:
    with pytest.raises(ConversionError) as caught:
        parse_instant(value, None)
    assert str(caught.value).startswith(f"invalid timestamp {value!r}: {problem}")


def test_convert_date_names_the_part_out_of_range() -> None:
    with pytest.raises(ConversionError, match=r"month must be in 1\.\.12"):
        convert("2024-13-01", "date", text_cells=True, infer_types=True, list_separator=";")
