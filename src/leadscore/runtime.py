"""Value semantics shared by the compiled engine and the reference evaluator.

Every operator of the language is defined once here. The compiled engine inlines fast
paths for the common cases and calls these functions for everything else, and the
reference evaluator calls them always, so both agree by construction and the property
tests check that the fast paths do too.

The rules these functions implement:

- A missing value (None, or a float NaN from a data frame) makes every comparison
  false, ``!=`` included, and never raises. ``is empty`` tests for it.
- A value of the wrong type (text compared with a number) also makes the comparison
  false and records a diagnostic naming the rule, the expression and the value.
- Booleans are not numbers: ``true == 1`` is a type mismatch.
- A date compared with a datetime stands for the start of that date in the scoring's
  time zone. A naive datetime in the data takes the engine's default time zone, or is
  a type mismatch when there is none.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from email.utils import parseaddr
from fractions import Fraction
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import attrs
from dateutil.relativedelta import relativedelta

from leadscore.language.program import Validity
from leadscore.model import EXACT_UNITS, Duration

UTC: Final = dt.UTC
DAY: Final = dt.timedelta(days=1)

# ---------------------------------------------------------------- evaluation context


class EvalContext:
    """The instant and time zones of one evaluation, and where diagnostics are collected.

    ``diagnostics`` receives ``(rule index, expression text, value, message)`` tuples.
    A plain slotted class, because one is made per scoring per contact scored.
    """

    __slots__ = ("at", "default_timezone", "diagnostics", "prefiltered", "timezone")

    def __init__(
        self,
        at: dt.datetime,
        timezone: ZoneInfo,
        default_timezone: ZoneInfo | None,
        diagnostics: list[tuple[int, str, Any, str]] | None = None,
        *,
        prefiltered: bool = False,
    ) -> None:
        self.at = at
        self.timezone = timezone
        self.default_timezone = default_timezone
        self.diagnostics = [] if diagnostics is None else diagnostics
        # True when the caller has dropped every award and entry after `at`.
        self.prefiltered = prefiltered


@attrs.frozen
class Site:
    """A place in a rule where a value is used: the rule and the expression text for diagnostics.

    ``side`` says which operand a type mismatch is blamed on: 0 for the left, 1 for the
    right (chosen when the left is a literal and the right is not). ``other`` is the
    text of the other operand, named instead when that one is the cause, such as a
    date and time with no time zone.
    """

    rule: int
    text: str
    side: int = 0
    other: str = ""


def report(ctx: EvalContext, site: Site, value: Any, message: str) -> None:
    """Record a diagnostic for a value that a rule could not use."""
    ctx.diagnostics.append((site.rule, site.text, value, message))


# ---------------------------------------------------------------- value classes


def is_missing(value: Any) -> bool:
    """True for None and for NaN, which data frames use for missing cells.

    NaN counts as missing as a float, as a float subclass such as NumPy's float64, and
    as a Decimal, which would raise instead of comparing.
    """
    if value is None:
        return True
    cls = value.__class__
    if cls is float:
        return bool(value != value)
    if cls is str or cls is int or cls is bool:
        return False
    if isinstance(value, float):
        return bool(value != value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return False


def value_class(value: Any) -> str:
    """Return the language's name for the type of a data value."""
    cls = value.__class__
    if cls is str:
        return "text"
    if cls is bool:
        return "boolean"
    if cls is int or cls is float:
        return "number"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    # Decimal is not registered as numbers.Real, but databases hand it out for numeric columns.
    if isinstance(value, (numbers.Real, Decimal)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, Duration):
        return "duration"
    return type(value).__name__


_ARTICLES = {
    "text": "text",
    "boolean": "true or false",
    "number": "a number",
    "datetime": "a date and time",
    "date": "a date",
    "list": "a list",
    "mapping": "a mapping",
    "null": "null",
    "duration": "a duration",
}


def describe_class(name: str) -> str:
    """Return a value class with its article, for messages: ``a number``, ``text``."""
    return _ARTICLES.get(name, f"a {name}")


def _instant(ctx: EvalContext, value: Any) -> dt.datetime | None:
    """Return a date or datetime as an aware datetime, or None when it cannot be placed in time."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value
        if ctx.default_timezone is None:
            return None
        return value.replace(tzinfo=ctx.default_timezone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=ctx.timezone)
    return None


def _is_naive(value: Any) -> bool:
    return isinstance(value, dt.datetime) and value.tzinfo is None


def _mismatch(ctx: EvalContext, site: Site, left: Any, right: Any, what: str) -> bool:
    if is_missing(left) or is_missing(right):
        return False
    value, other = (right, left) if site.side else (left, right)
    if _is_naive(other) and not _is_naive(value):
        # The value with no time zone is the one to fix, whichever operand the site blames.
        value, other = other, value
        site = Site(site.rule, site.other or site.text, 1 - site.side, site.text)
    value_name = value_class(value)
    if value_name == "datetime" and value.tzinfo is None:
        report(
            ctx,
            site,
            value,
            "this date and time has no time zone; set the engine's default_timezone",
        )
        return False
    report(
        ctx,
        site,
        value,
        f"{describe_class(value_name)} cannot be {what} {describe_class(value_class(other))}, "
        "so the condition is false",
    )
    return False


# ---------------------------------------------------------------- comparisons


def _comparable(ctx: EvalContext, left: Any, right: Any) -> tuple[Any, Any] | None:
    """Return both operands in a form Python can compare, or None when their types never match."""
    left_class = value_class(left)
    right_class = value_class(right)
    if left_class == right_class and left_class in ("number", "text", "boolean", "list"):
        return left, right
    if left_class in ("date", "datetime") and right_class in ("date", "datetime"):
        if left_class == right_class == "date":
            return left, right
        left_instant = _instant(ctx, left)
        right_instant = _instant(ctx, right)
        if left_instant is None or right_instant is None:
            return None
        return left_instant, right_instant
    return None


def equal(ctx: EvalContext, site: Site, left: Any, right: Any) -> bool:
    """``left == right``."""
    if is_missing(left) or is_missing(right):
        return False
    pair = _comparable(ctx, left, right)
    if pair is None:
        return _mismatch(ctx, site, left, right, "compared with")
    if left.__class__ in (list, tuple):
        return list(pair[0]) == list(pair[1])
    return bool(pair[0] == pair[1])


def not_equal(ctx: EvalContext, site: Site, left: Any, right: Any) -> bool:
    """``left != right``; false, not true, when either side is missing."""
    if is_missing(left) or is_missing(right):
        return False
    pair = _comparable(ctx, left, right)
    if pair is None:
        return _mismatch(ctx, site, left, right, "compared with")
    if left.__class__ in (list, tuple):
        return list(pair[0]) != list(pair[1])
    return bool(pair[0] != pair[1])


def order(ctx: EvalContext, site: Site, op: str, left: Any, right: Any) -> bool:
    """``<``, ``<=``, ``>`` and ``>=`` on numbers, text, dates and datetimes."""
    if is_missing(left) or is_missing(right):
        return False
    pair = _comparable(ctx, left, right)
    if pair is None or value_class(left) in ("boolean", "list"):
        return _mismatch(ctx, site, left, right, "ordered against")
    a, b = pair
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _member(ctx: EvalContext, item: Any, collection: Any) -> bool | None:
    """Return whether ``item`` is in ``collection``, or None when the types never match."""
    if collection.__class__ is str or isinstance(collection, str):
        if value_class(item) != "text":
            return None
        return item in collection
    if not isinstance(collection, (list, tuple, set, frozenset)):
        return None
    item_class = value_class(item)
    matched_class = False
    for element in collection:
        if is_missing(element):
            continue
        pair = _comparable(ctx, item, element)
        if pair is None:
            continue
        matched_class = True
        if pair[0] == pair[1]:
            return True
    if not matched_class and collection and item_class not in ("null",):
        return None
    return False


def member(ctx: EvalContext, site: Site, item: Any, collection: Any) -> bool:
    """``item in collection``: membership in a list, or a substring of text."""
    if is_missing(item) or is_missing(collection):
        return False
    found = _member(ctx, item, collection)
    if found is None:
        return _mismatch(ctx, site, item, collection, "looked up in")
    return found


def not_member(ctx: EvalContext, site: Site, item: Any, collection: Any) -> bool:
    """``item not in collection``; false, not true, when either side is missing."""
    if is_missing(item) or is_missing(collection):
        return False
    found = _member(ctx, item, collection)
    if found is None:
        return _mismatch(ctx, site, item, collection, "looked up in")
    return not found


def contains(ctx: EvalContext, site: Site, collection: Any, item: Any) -> bool:
    """``collection contains item``: the mirror image of ``in``."""
    if is_missing(item) or is_missing(collection):
        return False
    found = _member(ctx, item, collection)
    if found is None:
        flipped = Site(site.rule, site.text, 1 - site.side, site.other)
        return _mismatch(ctx, flipped, item, collection, "looked up in")
    return found


def starts_with(ctx: EvalContext, site: Site, text: Any, prefix: Any) -> bool:
    """``text starts with prefix``."""
    if is_missing(text) or is_missing(prefix):
        return False
    if value_class(text) != "text" or value_class(prefix) != "text":
        return _mismatch(ctx, site, text, prefix, "tested against")
    return bool(text.startswith(prefix))


def ends_with(ctx: EvalContext, site: Site, text: Any, suffix: Any) -> bool:
    """``text ends with suffix``."""
    if is_missing(text) or is_missing(suffix):
        return False
    if value_class(text) != "text" or value_class(suffix) != "text":
        return _mismatch(ctx, site, text, suffix, "tested against")
    return bool(text.endswith(suffix))


def matches(ctx: EvalContext, site: Site, text: Any, search: Callable[[str], bool]) -> bool:
    """``text matches /regex/``: RE2 search anywhere in the text; ``search`` is a `searcher`."""
    if is_missing(text):
        return False
    if value_class(text) != "text":
        report(
            ctx,
            site,
            text,
            f"'matches' needs text, but this is {describe_class(value_class(text))}",
        )
        return False
    return search(text)


def glob(ctx: EvalContext, site: Site, text: Any, matcher: Callable[[str], bool]) -> bool:
    """``text glob "pattern"``: the whole text must match."""
    if is_missing(text):
        return False
    if value_class(text) != "text":
        report(
            ctx, site, text, f"'glob' needs text, but this is {describe_class(value_class(text))}"
        )
        return False
    return matcher(text)


def is_empty(value: Any) -> bool:
    """True for a missing value, blank text, and an empty list or mapping."""
    if is_missing(value):
        return True
    if value.__class__ is str or isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        return len(value) == 0
    return False


def truth(ctx: EvalContext, site: Site, value: Any) -> bool:
    """A value used as a condition: only ``true`` holds; text or numbers add a diagnostic."""
    if value is True:
        return True
    if value is False or is_missing(value):
        return False
    report(
        ctx,
        site,
        value,
        f"a condition must be true or false, but this is {describe_class(value_class(value))}",
    )
    return False


# ---------------------------------------------------------------- arithmetic and functions


def add_duration(instant: Any, duration: Duration, timezone: ZoneInfo, sign: int = 1) -> Any:
    """Move a date or datetime by a duration; months and years step the calendar in ``timezone``."""
    amount = duration.amount * sign
    if duration.unit in EXACT_UNITS:
        step = amount * EXACT_UNITS[duration.unit]
        if isinstance(instant, dt.datetime):
            return instant + step
        return instant + dt.timedelta(days=step.days)
    delta = (
        relativedelta(months=amount) if duration.unit == "months" else relativedelta(years=amount)
    )
    if isinstance(instant, dt.datetime) and instant.tzinfo is not None:
        # Step the wall clock in the scoring's zone, so 31 January + 1 month is the last day of February there.
        local = instant.astimezone(timezone)
        return (local + delta).astimezone(UTC)
    return instant + delta


def shift_or_none(instant: dt.datetime, delta: dt.timedelta) -> dt.datetime | None:
    """Return ``instant + delta``, or None when that is outside the range of `datetime`."""
    try:
        return instant + delta
    except OverflowError:
        return None


def add_duration_or_none(
    instant: dt.datetime, duration: Duration, timezone: ZoneInfo
) -> dt.datetime | None:
    """Move an instant forward by a duration, or return None when the result is past year 9999.

    ``datetime`` cannot represent a later instant, so callers read None as "never":
    an expiry that never comes, or a window with no end.
    """
    try:
        result: dt.datetime = add_duration(instant, duration, timezone)
    except (OverflowError, ValueError):
        # timedelta arithmetic raises OverflowError; relativedelta raises ValueError.
        return None
    return result


def arithmetic(ctx: EvalContext, site: Site, op: str, left: Any, right: Any) -> Any:
    """``+ - * / %`` on numbers, ``+`` on text, and a duration added to a date or time."""
    if is_missing(left) or is_missing(right):
        return None
    if right.__class__ is Duration or left.__class__ is Duration:
        duration, other = (right, left) if right.__class__ is Duration else (left, right)
        if value_class(other) in ("date", "datetime") and op in ("+", "-"):
            if other.__class__ is dt.datetime and other.tzinfo is None:
                placed = _instant(ctx, other)
                if placed is None:
                    _mismatch(ctx, site, left, right, "moved by")
                    return None
                other = placed
            try:
                return add_duration(other, duration, ctx.timezone, -1 if op == "-" else 1)
            except (OverflowError, ValueError) as error:
                # Such as the placeholder date 9999-12-31 moved past the last date Python has.
                _out_of_range(ctx, site, other, f"'{op}'", error)
                return None
        # The operands go in their written order, so the site blames the one it names.
        _mismatch(ctx, site, left, right, "moved by")
        return None
    left_class = value_class(left)
    right_class = value_class(right)
    if left_class == right_class == "number":
        # Ints too large for a float and Decimals beyond their context raise; such a
        # value becomes a diagnostic like any other value a rule cannot use.
        try:
            if isinstance(left, Decimal) != isinstance(right, Decimal):
                left, right = float(left), float(right)
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if right == 0:
                report(ctx, site, right, f"division by zero in '{op}', so the result is null")
                return None
            return left / right if op == "/" else left % right
        except ArithmeticError as error:
            value = right if site.side else left
            _out_of_range(ctx, site, value, f"'{op}'", error)
            return None
    if op == "+" and left_class == right_class == "text":
        return left + right
    _mismatch(ctx, site, left, right, "combined with")
    return None


def negate(ctx: EvalContext, site: Site, value: Any) -> Any:
    """Unary minus."""
    if is_missing(value):
        return None
    if value_class(value) != "number":
        report(ctx, site, value, f"cannot negate {describe_class(value_class(value))}")
        return None
    return -value


def _text_function(
    name: str, method: Callable[[str], str]
) -> Callable[[EvalContext, Site, Any], Any]:
    def apply(ctx: EvalContext, site: Site, value: Any) -> Any:
        if is_missing(value):
            return None
        if value_class(value) != "text":
            report(
                ctx,
                site,
                value,
                f"{name}() needs text, but this is {describe_class(value_class(value))}",
            )
            return None
        return method(value)

    return apply


lower = _text_function("lower", str.lower)
upper = _text_function("upper", str.upper)


def length(ctx: EvalContext, site: Site, value: Any) -> Any:
    """``len(x)`` of text or a list."""
    if is_missing(value):
        return None
    if value_class(value) not in ("text", "list"):
        report(
            ctx,
            site,
            value,
            f"len() needs text or a list, but this is {describe_class(value_class(value))}",
        )
        return None
    return len(value)


def _domain_of(text: str) -> str | None:
    text = text.strip()
    if "<" in text and text.endswith(">"):
        # "Jane Doe <jane@example.com>", the form mail headers and CRM exports use.
        text = parseaddr(text)[1]
    if "@" in text and "/" not in text:
        host = text.rsplit("@", 1)[1]
    else:
        try:
            host = urlsplit(text if "//" in text else "//" + text).hostname or ""
        except ValueError:
            return None
    host = host.strip().strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    return host or None


def domain(ctx: EvalContext, site: Site, value: Any) -> Any:
    """``domain(x)``: the host of a URL or the domain of an e-mail address, lowercased, without ``www.``."""
    if is_missing(value):
        return None
    if value_class(value) != "text":
        report(
            ctx,
            site,
            value,
            f"domain() needs text, but this is {describe_class(value_class(value))}",
        )
        return None
    return _domain_of(value)


def filled(*values: Any) -> int:
    """``filled(a, b, …)``: how many of the values are not empty."""
    return sum(1 for value in values if not is_empty(value))


def days_since(ctx: EvalContext, site: Site, value: Any) -> Any:
    """``days_since(x)``: whole 24-hour periods from ``x`` to the scoring instant."""
    if is_missing(value):
        return None
    instant = _instant(ctx, value)
    if instant is None:
        if value_class(value) == "datetime":
            report(
                ctx,
                site,
                value,
                "this date and time has no time zone; set the engine's default_timezone",
            )
        else:
            report(
                ctx,
                site,
                value,
                f"days_since() needs a date or time, but this is {describe_class(value_class(value))}",
            )
        return None
    return math.floor((ctx.at - instant) / DAY)


def field(mapping: Mapping[str, Any], path: Sequence[str]) -> Any:
    """Follow a path of keys through nested mappings; None where any step is missing."""
    value: Any = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# ---------------------------------------------------------------- expiry and windows


def expiry(occurred_at: dt.datetime, validity: Validity, timezone: ZoneInfo) -> dt.datetime | None:
    """Return the instant an award stops being valid, or None when it never does.

    An ``expire after`` that ends past year 9999, the end of ``datetime``, never comes,
    so it gives None as ``expire never`` does.
    """
    if validity.kind == "never":
        return None
    if validity.kind == "until":
        return validity.until
    assert validity.duration is not None
    return add_duration_or_none(occurred_at, validity.duration, timezone)


# ---------------------------------------------------------------- decay


def period_step(
    occurred_at: dt.datetime, period: Duration, periods: int, timezone: ZoneInfo
) -> dt.datetime | None:
    """Return ``occurred_at`` plus ``periods`` times ``period``, or None past the calendar's end.

    The periods are added as one step, as ``expire after`` adds its duration: 31
    January plus two months is 31 March, not 28 March.
    """
    return add_duration_or_none(
        occurred_at, Duration(period.amount * periods, period.unit), timezone
    )


# Any run of n calendar months has at least 28·n days, and a change of UTC offset moves
# a wall-clock step by less than a day, so a shorter age is less than n months.
_SHORTEST_MONTH = dt.timedelta(days=28)


def _shift_months(local: dt.datetime, months: int) -> dt.datetime | None:
    """Return ``local`` moved by ``months`` on its wall clock, in UTC, or None past year 9999.

    It gives the instant `add_duration` gives, without ``relativedelta``: the day is
    clamped to the end of a shorter month, and a wall-clock time that occurs twice or
    not at all is read with ``fold=0``, as ``relativedelta`` leaves it.
    """
    position = local.month - 1 + months
    year = local.year + position // 12
    if year > dt.MAXYEAR:
        return None
    month = position % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    try:
        return local.replace(year=year, month=month, day=day, fold=0).astimezone(UTC)
    except OverflowError:
        return None


def calendar_periods(
    occurred_at: dt.datetime, period: Duration, timezone: ZoneInfo, at: dt.datetime
) -> int:
    """Return the largest ``k`` with ``occurred_at + k·period <= at``, for months and years.

    This is the fast path of the compiled engine; the reference evaluator steps with
    `add_duration` one period at a time, and the property tests compare the two. The
    count of calendar months between the two wall-clock dates gives an estimate that
    is at most one period too high, because a clamped day or a later time of day
    moves the k-th step by less than a month. The loops correct it.
    """
    step = period.amount * (12 if period.unit == "years" else 1)
    if at - occurred_at < step * _SHORTEST_MONTH - DAY:
        return 0
    start = occurred_at.astimezone(timezone)
    end = at.astimezone(timezone)
    months = (end.year - start.year) * 12 + end.month - start.month
    periods = max(months // step, 0)
    while periods > 0:
        instant = _shift_months(start, periods * step)
        if instant is not None and instant <= at:
            break
        periods -= 1
    while True:
        instant = _shift_months(start, (periods + 1) * step)
        if instant is None or instant > at:
            return periods
        periods += 1


def decay_periods(
    occurred_at: dt.datetime, period: Duration, timezone: ZoneInfo, at: dt.datetime
) -> int:
    """Return the number of whole decay periods from ``occurred_at`` to ``at`` (0 if ``at`` is earlier)."""
    if at <= occurred_at:
        return 0
    if period.unit in EXACT_UNITS:
        return (at - occurred_at) // period.as_timedelta()
    return calendar_periods(occurred_at, period, timezone, at)


@functools.lru_cache(maxsize=1024)
def periods_to_zero(points: int, rate: int) -> int:
    """Return the fewest whole periods after which an award of ``points`` is worth 0.

    The value's size only shrinks with each period, and from a size of one half on it
    rounds to 0, so this is the smallest ``k`` with ``|points| * (1 - rate/100) ** k <=
    1/2``: a search over ``k`` with exact integers.
    """
    if points == 0:
        return 0
    kept = 100 - rate

    def is_zero(periods: int) -> bool:
        return bool(2 * abs(points) * kept**periods <= 100**periods)

    high = 1
    while not is_zero(high):
        high *= 2
    low = high // 2  # not zero, or 0
    while high - low > 1:
        middle = (low + high) // 2
        if is_zero(middle):
            high = middle
        else:
            low = middle
    return high


def decayed_points(points: int, rate: int, periods: int) -> int:
    """Return ``points * (1 - rate/100) ** periods``, computed exactly and rounded half to even."""
    if periods <= 0 or points == 0:
        return points
    if periods >= periods_to_zero(points, rate):
        return 0
    # round() of a Fraction rounds half to even: 2.5 becomes 2 and 3.5 becomes 4.
    return round(Fraction(points * (100 - rate) ** periods, 100**periods))


class DecayTable:
    """The decayed values of one rule's award by the number of whole periods, each computed once.

    ``values`` maps a number of periods to the value, and generated code reads it
    directly. ``zero_after`` is the number of periods from which the value is 0.
    Filling the dict from several threads is safe, because every thread stores the
    same value.
    """

    __slots__ = ("points", "rate", "values", "zero_after")

    def __init__(self, points: int, rate: int) -> None:
        self.points = points
        self.rate = rate
        self.zero_after = periods_to_zero(points, rate)
        self.values: dict[int, int] = {0: points}

    def __call__(self, periods: int) -> int:
        value = self.values.get(periods)
        if value is None:
            value = decayed_points(self.points, self.rate, periods)
            if periods < self.zero_after:
                self.values[periods] = value
        return value


def window_start(
    at: dt.datetime, within: Duration | None, timezone: ZoneInfo
) -> dt.datetime | None:
    """Return the exclusive lower bound of an exact-unit window, or None for no bound.

    Only exact units (minutes to weeks) have one: an entry is in the window while
    ``at < occurred_at + within``. For months and years use `calendar_window`, because
    stepping ``at`` back by a month is not the inverse of stepping forward (31 March
    minus a month is 28 February, and 28 February plus a month is 28 March). A bound
    before year 1, the start of ``datetime``, is no bound: every entry is in the window.
    """
    if within is None:
        return None
    if within.is_calendar:
        raise ValueError(f"a window of {within} has no fixed lower bound; use calendar_window")
    return shift_or_none(at, -within.as_timedelta())


def calendar_window(
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    within: Duration,
    timezone: ZoneInfo,
    at: dt.datetime,
) -> list[tuple[dt.datetime, Any, Any]]:
    """Return the entries in a months or years window: ``occurred_at <= at < occurred_at + within``.

    An entry whose window ends past year 9999 stays in the window for good.
    """
    in_window = []
    for entry in entries:
        if entry[0] <= at:
            end = add_duration_or_none(entry[0], within, timezone)
            if end is None or at < end:
                in_window.append(entry)
    return in_window


def _in_window(
    entries: Sequence[tuple[dt.datetime, Any, Any]], lower: dt.datetime | None, at: dt.datetime
) -> list[tuple[dt.datetime, Any, Any]]:
    if lower is None:
        return [entry for entry in entries if entry[0] <= at]
    return [entry for entry in entries if lower < entry[0] <= at]


def aggregate_count(
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    lower: dt.datetime | None,
    at: dt.datetime,
    prefiltered: bool = False,
) -> int:
    """``count(TYPE …)`` over entries of ``(occurred_at, value, activity)`` in the window ``(lower, at]``.

    ``prefiltered`` promises that no entry is after ``at``, which saves a test per entry.
    """
    if prefiltered and lower is None:
        return len(entries)
    count = 0
    if prefiltered:
        for entry in entries:
            if lower < entry[0]:  # type: ignore[operator]
                count += 1
    elif lower is None:
        for entry in entries:
            if entry[0] <= at:
                count += 1
    else:
        for entry in entries:
            if lower < entry[0] <= at:
                count += 1
    return count


def aggregate_exists(
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    lower: dt.datetime | None,
    at: dt.datetime,
    prefiltered: bool = False,
) -> bool:
    """``exists(TYPE …)``."""
    return aggregate_count(entries, lower, at, prefiltered) > 0


def aggregate_first(
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    lower: dt.datetime | None,
    at: dt.datetime,
    prefiltered: bool = False,
) -> dt.datetime | None:
    """``first(TYPE …)``: the earliest instant in the window, or None."""
    first = None
    for entry in entries:
        instant = entry[0]
        if (
            (prefiltered or instant <= at)
            and (lower is None or lower < instant)
            and (first is None or instant < first)
        ):
            first = instant
    return first


def aggregate_last(
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    lower: dt.datetime | None,
    at: dt.datetime,
    prefiltered: bool = False,
) -> dt.datetime | None:
    """``last(TYPE …)``: the latest instant in the window, or None."""
    last = None
    if prefiltered and lower is None:
        for entry in entries:
            instant = entry[0]
            if last is None or instant > last:
                last = instant
        return last
    for entry in entries:
        instant = entry[0]
        if (
            (prefiltered or instant <= at)
            and (lower is None or lower < instant)
            and (last is None or instant > last)
        ):
            last = instant
    return last


def aggregate_numeric(
    ctx: EvalContext,
    site: Site,
    function: str,
    entries: Sequence[tuple[dt.datetime, Any, Any]],
    lower: dt.datetime | None,
    at: dt.datetime,
) -> Any:
    """``sum``, ``min``, ``max`` or ``avg`` of the attribute values in the window."""
    return aggregate_values(
        ctx, site, function, [entry[1] for entry in _in_window(entries, lower, at)]
    )


def aggregate_values(ctx: EvalContext, site: Site, function: str, values: Sequence[Any]) -> Any:
    """Combine attribute values for ``sum``, ``min``, ``max`` and ``avg``; missing values are skipped."""
    numbers_found: list[Any] = []
    for value in values:
        if is_missing(value):
            continue
        if value_class(value) != "number":
            report(
                ctx,
                site,
                value,
                f"{function}() needs numbers, but this is {describe_class(value_class(value))}; it is skipped",
            )
            continue
        numbers_found.append(value)
    if function == "sum":
        return _total(ctx, site, function, numbers_found)
    if not numbers_found:
        return None
    if function in ("min", "max"):
        best = min(numbers_found) if function == "min" else max(numbers_found)
        # Equal numbers of different types, such as 1 and 1.0, would otherwise make the
        # result depend on the order of the activities, so the smallest repr wins a tie.
        ties = [value for value in numbers_found if value == best]
        return min(ties, key=repr) if len(ties) > 1 else best
    total = _total(ctx, site, function, numbers_found)
    if total is None:
        return None
    try:
        return total / len(numbers_found)
    except ArithmeticError as error:
        _out_of_range(ctx, site, total, f"{function}()", error)
        return None


def _total(ctx: EvalContext, site: Site, function: str, values: Sequence[Any]) -> Any:
    """Return the sum of ``values``, or None with a diagnostic when it is out of range."""
    try:
        return _sum(values)
    except ArithmeticError as error:
        _out_of_range(ctx, site, max(values, key=abs), f"{function}()", error)
        return None


def _out_of_range(ctx: EvalContext, site: Site, value: Any, what: str, error: Exception) -> None:
    name = type(error).__name__
    message = f"{what} is out of range for this value ({name}), so the result is null"
    report(ctx, site, value, message)


def _sum(values: Sequence[Any]) -> Any:
    if any(isinstance(value, Decimal) for value in values) and not all(
        isinstance(value, (Decimal, int)) for value in values
    ):
        values = [float(value) for value in values]
    # fsum keeps float sums independent of the order the activities arrive in.
    if any(isinstance(value, float) for value in values):
        return math.fsum(values)
    # Decimal addition rounds to the context's precision, so a fixed order keeps the
    # result independent of the order of the activities too.
    if any(isinstance(value, Decimal) for value in values):
        return sum(sorted(values))
    return sum(values)
