"""Hypothesis strategies for random rule files with matching contacts and activities.

Rule files are written from the grammar, and every expression carries the static type
that the checker infers for it, so every generated file must compile. A file that
fails to compile is a bug in this module or in the checker: the tests let the
RuleError propagate instead of filtering the example away.

Profile fields and activity attributes are never declared, so the checker types them
as ``any`` and a value of the wrong type reaches scoring, where it becomes a
diagnostic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from leadscore import Activity, Contact

UTC = dt.UTC
AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
CONTACT_ID = "c-1"
OTHER_CONTACT_ID = "c-2"

# Dict equality compares NaN values by identity, so all generated data shares one NaN
# object and an activity built twice from it still equals itself.
NAN = math.nan
DECIMAL_NAN = Decimal("NaN")

ZONES = (
    "UTC",
    "Europe/Prague",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)

# Activity types that rules name, each in the form a rule writes it. "web-visit" needs quotes.
RULE_ACTIVITY_TYPES = {
    "page_visit": "page_visit",
    "download": "download",
    "email_open": "email_open",
    "web-visit": '"web-visit"',
}
# Activity types in the data, including one that no rule reads.
DATA_ACTIVITY_TYPES = (*RULE_ACTIVITY_TYPES, "webinar")

# Profile paths and how a rule writes each one. "max" is a keyword, so it needs brackets.
CONTACT_PATHS = {
    ("country",): "contact.country",
    ("title",): "contact.title",
    ("employees",): "contact.employees",
    ("revenue",): "contact.revenue",
    ("signed_up",): "contact.signed_up",
    ("last_login",): "contact.last_login",
    ("tags",): "contact.tags",
    ("newsletter",): "contact.newsletter",
    ("email",): "contact.email",
    ("website",): "contact.website",
    ("address", "city"): "contact.address.city",
    ("address", "zip code"): 'contact.address["zip code"]',
    ("max",): 'contact["max"]',
    ("job title",): 'contact["job title"]',
    # In brackets, "id" is a profile field, unlike contact.id.
    ("id",): 'contact["id"]',
}
ATTRIBUTE_PATHS = {
    ("url",): "activity.url",
    ("file",): "activity.file",
    ("amount",): "activity.amount",
    ("seconds",): "activity.seconds",
    ("meta", "source"): "activity.meta.source",
    ("max",): 'activity["max"]',
    ("type",): 'activity["type"]',
    ("id",): 'activity["id"]',
}
NUMERIC_ATTRIBUTES = (".amount", ".seconds", '["amount"]', ".meta.source")

TEXTS = (
    "CZ",
    "SK",
    "DE",
    "cz",
    "CEO",
    "Head of Sales",
    "vp marketing",
    "https://www.Example.com:8080/pricing?plan=pro",
    "http://user:secret@example.com/pricing/enterprise",
    "example.com/docs",
    "john@Example.COM",
    "mailto:jane@www.example.org",
    "lead-scoring-whitepaper.pdf",
    "file-1.pdf",
    "",
    "   ",
    "pricing",
    "Ünïcode ✓",
    'quote " and \\ backslash',
)
NUMBERS: tuple[int | float, ...] = (0, 1, 2, 5, 10, 60, 100, 2.5, -3, 0.1)
REGEXES = (
    r"\b(ceo|cto|vp|head|director)\b",
    r"^https?:\/\/",
    "pricing",
    r"[0-9]+",
    r"\.pdf$",
    "cz|sk",
    "é|Ü",
    "^$",
    r"a\/b",
)
STRING_PATTERNS = ("pricing", "^C", "x*")
GLOBS = (
    "*/pricing*",
    "*.pdf",
    "https://*",
    "*example*",
    "CZ",
    "*",
    "",
    "file-?.pdf",
    "[a-c]*",
    "[!x]*",
    "*[0-9]",
    "http*pricing",
)
EXACT_UNITS = ("minutes", "hours", "days", "weeks")
CALENDAR_UNITS = ("months", "years")
DATE_UNITS = ("days", "weeks", "months", "years")

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[Any]], Any]


def one_in(draw: Draw, n: int) -> bool:
    """Return True with a chance of about one in ``n``.

    Hypothesis draws small integers far more often than others, so a test such as
    ``integers(0, 9) == 0`` comes out true much more often than one time in ten.
    """
    return bool(draw(st.sampled_from(range(n))) == n - 1)


# ---------------------------------------------------------------- what a generated file contains


@dataclasses.dataclass(frozen=True)
class GeneratedRule:
    """A generated rule: ``cap`` is the maximum it may add or take away (``max`` or ``once``).

    ``decays`` is true when the rule's awards lose value with age, from its own ``decay``
    clause or its scoring's. ``group`` is the name of the group it sits in, or None.
    """

    name: str
    kind: str
    points: int
    cap: int | None
    decays: bool = False
    group: str | None = None


@dataclasses.dataclass(frozen=True)
class GeneratedScoring:
    """A generated scoring's or persona's settings, thresholds in ascending order, rules and groups.

    A persona's ``thresholds`` hold its one threshold, named after it.
    """

    name: str
    thresholds: tuple[tuple[str, int], ...]
    floor: int | None
    ceiling: int | None
    timezone: str | None
    rules: tuple[GeneratedRule, ...]
    groups: tuple[tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class GeneratedGrade:
    """A generated grade: the two scorings it names and their bands, highest first."""

    name: str
    fit: str
    fit_bands: tuple[tuple[str, int], ...]
    engagement: str
    engagement_bands: tuple[tuple[str, int], ...]


@dataclasses.dataclass(frozen=True)
class RuleFile:
    """Generated rule text and what was put into it."""

    text: str
    scorings: tuple[GeneratedScoring, ...]
    personas: tuple[GeneratedScoring, ...] = ()
    grades: tuple[GeneratedGrade, ...] = ()


@dataclasses.dataclass(frozen=True)
class Case:
    """A rule file with one contact, its activities, an instant and a default time zone."""

    rules: RuleFile
    contact: Contact
    activities: tuple[Activity, ...]
    at: dt.datetime
    default_timezone: str | None


# ---------------------------------------------------------------- literals


def quote(text: str) -> str:
    """Write ``text`` as a string literal of the rule language."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'


def duration_text(amount: int, unit: str) -> str:
    """Write a duration, in the singular form when the amount is one."""
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def datetime_text(instant: dt.datetime) -> str:
    """Write an aware datetime as a literal, with ``Z`` for UTC and seconds only where needed."""
    text = instant.strftime("%Y-%m-%dT%H:%M")
    if instant.second or instant.microsecond:
        text += f":{instant.second:02d}"
    if instant.microsecond:
        text += f".{instant.microsecond:06d}".rstrip("0")
    offset = instant.utcoffset()
    assert offset is not None
    if offset == dt.timedelta(0):
        return text + "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _instant_on(day: dt.date, seconds: int, microseconds: int, offset_minutes: int) -> dt.datetime:
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    midnight = dt.datetime.combine(day, dt.time(0), zone)
    return midnight + dt.timedelta(seconds=seconds, microseconds=microseconds)


dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2028, 12, 31))
literal_instants = st.builds(
    _instant_on,
    dates,
    st.integers(0, 86399),
    st.sampled_from([0, 0, 500000, 120]),
    st.sampled_from([0, 60, 120, 330, 765, -300, -240, -600]),
)


# ---------------------------------------------------------------- expressions


@dataclasses.dataclass(frozen=True)
class Piece:
    """Rule text of one expression and the static type the checker infers for it."""

    text: str
    type: str
    # The literal's kind when the expression is a bare literal, as the checker types it.
    literal: str | None = None


def _compatible(left: str, right: str) -> bool:
    if "any" in (left, right):
        return True
    if {left, right} <= {"date", "datetime"}:
        return True
    return left == right


class ExpressionWriter:
    """Write random expressions of a requested static type for one place in a rule.

    ``scope`` is ``when``, ``where`` (an ``on`` rule) or ``aggregate`` (an aggregate's
    ``where``). A requested type of ``any`` means exactly the static type ``any``, and
    ``value`` means any type at all.
    """

    def __init__(
        self,
        draw: Draw,
        scope: str,
        *,
        instant_functions: bool,
        aggregates: bool,
    ) -> None:
        self.draw = draw
        self.scope = scope
        self.instant_functions = instant_functions and scope == "when"
        self.aggregates = aggregates and scope == "when"

    # ---- drawing helpers

    def pick(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))  # type: ignore[no-any-return]

    def flip(self) -> bool:
        return bool(self.draw(st.booleans()))

    def integer(self, low: int, high: int) -> int:
        return int(self.draw(st.integers(low, high)))

    def one_in(self, n: int) -> bool:
        return one_in(self.draw, n)

    # ---- entry point

    def expr(self, target: str, depth: int) -> Piece:
        """Return an expression whose static type is ``target`` or ``any``."""
        if target == "value":
            target = self.pick(["number", "text", "boolean", "date", "datetime", "list", "any"])
        makers = self._leaves(target)
        if depth > 0:
            makers += self._compounds(target)
        maker = self.pick(makers)
        return maker(depth - 1)

    def _leaves(self, target: str) -> list[Callable[[int], Piece]]:
        leaves: dict[str, list[Callable[[int], Piece]]] = {
            "number": [self.number_literal, self.field],
            "text": [self.text_literal, self.field, self.contact_id],
            "boolean": [self.boolean_literal, self.field],
            "date": [self.date_literal, self.field],
            "datetime": [self.datetime_literal, self.field],
            "list": [self.literal_list, self.field],
            "any": [self.field],
        }
        makers = list(leaves[target])
        if self.scope != "when" and target == "text":
            makers.append(self.activity_text)
        if self.scope != "when" and target == "datetime":
            makers.append(lambda depth: Piece("activity.occurred_at", "datetime"))
        if self.instant_functions and target == "datetime":
            makers.append(self.now)
        return makers

    def _compounds(self, target: str) -> list[Callable[[int], Piece]]:
        compounds: dict[str, list[Callable[[int], Piece]]] = {
            "number": [self.negation, self.arithmetic, self.length, self.filled],
            "text": [self.text_function, self.concatenation],
            "boolean": [
                self.equality,
                self.ordering,
                self.membership,
                self.containment,
                self.affix,
                self.regex_match,
                self.glob_match,
                self.emptiness,
                self.logical_not,
                self.logical_op,
            ],
            "date": [self.shifted_date],
            "datetime": [self.shifted_datetime],
            "list": [self.expression_list],
            "any": [self.any_arithmetic],
        }
        makers = list(compounds[target])
        if self.instant_functions and target == "number":
            makers.append(self.days_since)
        if self.aggregates:
            makers += {
                "number": [self.count, self.numeric_aggregate],
                "boolean": [self.exists],
                "datetime": [self.first_or_last],
            }.get(target, [])
        return makers

    # ---- leaves

    def number_literal(self, depth: int) -> Piece:
        kind = self.pick(["pool", "pool", "integer", "decimal", "huge"])
        if kind == "pool":
            value = self.pick(NUMBERS)
            if value < 0:
                # A negative number is unary minus applied to a literal, not a literal.
                return Piece(f"-{-value}", "number")
            return Piece(repr(value), "number", "number")
        if kind == "integer":
            return Piece(str(self.integer(0, 10**7)), "number", "number")
        if kind == "decimal":
            return Piece(f"{self.integer(0, 999)}.{self.integer(0, 999):03d}", "number", "number")
        # The parser accepts numbers of at most 50 digits.
        if self.flip():
            return Piece("9" * 50, "number", "number")
        return Piece("9" * 49 + ".5", "number", "number")

    def text_literal(self, depth: int) -> Piece:
        text = self.pick(TEXTS) if self.flip() else self.draw(st.text(max_size=6))
        return Piece(quote(text), "text", "text")

    def boolean_literal(self, depth: int) -> Piece:
        return Piece(self.pick(["true", "false"]), "boolean", "boolean")

    def date_literal(self, depth: int) -> Piece:
        day: dt.date = self.draw(dates)
        return Piece(day.isoformat(), "date", "date")

    def datetime_literal(self, depth: int) -> Piece:
        return Piece(datetime_text(self.draw(literal_instants)), "datetime", "datetime")

    def null_literal(self, depth: int) -> Piece:
        return Piece("null", "null", "null")

    def literal_items(self) -> list[Piece]:
        """Return zero to four literals of mixed kinds, text most often."""
        makers = [
            self.text_literal,
            self.text_literal,
            self.number_literal,
            self.boolean_literal,
            self.date_literal,
            self.datetime_literal,
            self.null_literal,
        ]
        return [self.pick(makers)(0) for _ in range(self.integer(0, 4))]

    def literal_list(self, depth: int) -> Piece:
        return self._list(self.literal_items())

    def expression_list(self, depth: int) -> Piece:
        return self._list([self.expr("value", depth) for _ in range(self.integer(0, 3))])

    def _list(self, items: Sequence[Piece]) -> Piece:
        trailing = "," if items and self.flip() else ""
        return Piece("[" + ", ".join(item.text for item in items) + trailing + "]", "list")

    def field(self, depth: int) -> Piece:
        if self.scope != "when" and self.flip():
            return Piece(self.pick(list(ATTRIBUTE_PATHS.values())), "any")
        return Piece(self.pick(list(CONTACT_PATHS.values())), "any")

    def contact_id(self, depth: int) -> Piece:
        return Piece("contact.id", "text")

    def activity_text(self, depth: int) -> Piece:
        return Piece(self.pick(["activity.type", "activity.id"]), "text")

    def now(self, depth: int) -> Piece:
        return Piece("now()", "datetime")

    # ---- numbers and text

    def negation(self, depth: int) -> Piece:
        operand = self.expr("number", depth)
        return Piece(f"-({operand.text})", "number" if operand.type == "number" else "any")

    def arithmetic(self, depth: int) -> Piece:
        op = self.pick(["+", "-", "*", "/", "%"])
        left = self.expr("number", depth)
        right = self.expr("number", depth)
        if "any" in (left.type, right.type):
            result = "number" if op in ("*", "/", "%") else "any"
        else:
            result = "number"
        return Piece(f"({left.text} {op} {right.text})", result)

    def any_arithmetic(self, depth: int) -> Piece:
        field = self.field(depth)
        other = self.expr(self.pick(["number", "text", "any"]), depth)
        if self.flip():
            return Piece(f"({field.text} {self.pick(['+', '-'])} {other.text})", "any")
        return Piece(f"({other.text} + {field.text})", "any")

    def length(self, depth: int) -> Piece:
        argument = self.pick(["text", "list", "any", "null"])
        inner = self.null_literal(depth) if argument == "null" else self.expr(argument, depth)
        return Piece(f"len({inner.text})", "number")

    def filled(self, depth: int) -> Piece:
        arguments = [
            self.null_literal(depth) if self.one_in(6) else self.expr("value", depth)
            for _ in range(self.integer(1, 4))
        ]
        return Piece("filled(" + ", ".join(a.text for a in arguments) + ")", "number")

    def days_since(self, depth: int) -> Piece:
        argument = self.expr(self.pick(["date", "datetime", "any"]), depth)
        return Piece(f"days_since({argument.text})", "number")

    def text_function(self, depth: int) -> Piece:
        name = self.pick(["lower", "upper", "domain"])
        if self.one_in(7):
            return Piece(f"{name}(null)", "text")
        return Piece(f"{name}({self.expr('text', depth).text})", "text")

    def concatenation(self, depth: int) -> Piece:
        left = self.expr("text", depth)
        right = self.expr("text", depth)
        result = "text" if left.type == right.type == "text" else "any"
        return Piece(f"({left.text} + {right.text})", result)

    # ---- dates and times

    def _duration(self, units: Sequence[str]) -> str:
        return duration_text(self.integer(0, 40), self.pick(units))

    def shifted_date(self, depth: int) -> Piece:
        base = self.expr("date", depth)
        units = DATE_UNITS if base.type == "date" else (*EXACT_UNITS, *CALENDAR_UNITS)
        return self._shifted(base, units)

    def shifted_datetime(self, depth: int) -> Piece:
        return self._shifted(self.expr("datetime", depth), (*EXACT_UNITS, *CALENDAR_UNITS))

    def _shifted(self, base: Piece, units: Sequence[str]) -> Piece:
        duration = self._duration(units)
        form = self.pick(["plus", "minus", "duration first"])
        if form == "plus":
            return Piece(f"({base.text} + {duration})", base.type)
        if form == "minus":
            return Piece(f"({base.text} - {duration})", base.type)
        return Piece(f"({duration} + {base.text})", base.type)

    # ---- conditions

    def _condition(self, text: str) -> Piece:
        # Comparisons do not chain, so a condition used as an operand needs parentheses.
        return Piece(f"({text})", "boolean")

    def equality(self, depth: int) -> Piece:
        kind = self.pick(["number", "text", "boolean", "date", "datetime", "list", "any"])
        left = self.expr(kind, depth)
        if kind in ("date", "datetime"):
            kind = self.pick(["date", "datetime"])
        right = self.expr(kind, depth)
        return self._condition(f"{left.text} {self.pick(['==', '!='])} {right.text}")

    def ordering(self, depth: int) -> Piece:
        kind = self.pick(["number", "text", "date", "datetime", "any"])
        left = self.expr(kind, depth)
        if kind in ("date", "datetime"):
            kind = self.pick(["date", "datetime"])
        right = self.expr(kind, depth)
        op = self.pick(["<", "<=", ">", ">="])
        return self._condition(f"{left.text} {op} {right.text}")

    def membership(self, depth: int) -> Piece:
        op = self.pick(["in", "not in"])
        shape = self.pick(["text list", "literal list", "expression list", "text", "field"])
        if shape == "text":
            left = self.expr("text", depth)
            right = self.expr("text", depth)
            return self._condition(f"{left.text} {op} {right.text}")
        if shape == "field":
            left = self.expr("value", depth)
            return self._condition(f"{left.text} {op} {self.field(depth).text}")
        if shape == "text list":
            left = self.expr("text", depth)
            size = self.integer(1, 4)
            items = [Piece(quote(self.pick(TEXTS)), "text", "text") for _ in range(size)]
            return self._condition(f"{left.text} {op} {self._list(items).text}")
        left = self.expr("value", depth)
        if shape == "literal list":
            items = self.literal_items()
        else:
            items = [self.expr("value", depth) for _ in range(self.integer(0, 3))]
        literal_only = all(item.literal is not None for item in items)
        holds_left = any(_compatible(left.type, str(item.literal)) for item in items)
        if literal_only and items and left.type != "any" and not holds_left:
            # The checker rejects a list of literals that can never contain the left value.
            items.append(self._literal_of(left.type))
        return self._condition(f"{left.text} {op} {self._list(items).text}")

    def _literal_of(self, static_type: str) -> Piece:
        if static_type == "list":
            # No literal is a list, so a nested list makes the items no longer all literals.
            return self._list([self.number_literal(0)])
        makers = {
            "text": self.text_literal,
            "boolean": self.boolean_literal,
            "date": self.date_literal,
            "datetime": self.datetime_literal,
        }
        if static_type == "number":
            return Piece(str(self.integer(0, 100)), "number", "number")
        return makers[static_type](0)

    def containment(self, depth: int) -> Piece:
        left = self.expr(self.pick(["list", "text", "any"]), depth)
        right = self.expr("text" if left.type == "text" else "value", depth)
        return self._condition(f"{left.text} contains {right.text}")

    def affix(self, depth: int) -> Piece:
        left = self.expr("text", depth)
        right = self.expr("text", depth)
        return self._condition(
            f"{left.text} {self.pick(['starts with', 'ends with'])} {right.text}"
        )

    def regex_match(self, depth: int) -> Piece:
        left = self.expr("text", depth)
        if self.one_in(5):
            pattern = quote(self.pick(STRING_PATTERNS))
        else:
            pattern = f"/{self.pick(REGEXES)}/{self.pick(['', 'i', 'm', 's', 'is'])}"
        return self._condition(f"{left.text} matches {pattern}")

    def glob_match(self, depth: int) -> Piece:
        left = self.expr("text", depth)
        return self._condition(f"{left.text} glob {quote(self.pick(GLOBS))}")

    def emptiness(self, depth: int) -> Piece:
        operand = self.null_literal(depth) if self.one_in(9) else self.expr("value", depth)
        return self._condition(f"{operand.text} is {self.pick(['empty', 'not empty'])}")

    def logical_not(self, depth: int) -> Piece:
        return self._condition(f"not ({self.expr('boolean', depth).text})")

    def logical_op(self, depth: int) -> Piece:
        operands = [self.expr("boolean", depth) for _ in range(self.integer(2, 3))]
        joined = f" {self.pick(['and', 'or'])} ".join(f"({o.text})" for o in operands)
        return self._condition(f"({joined})")

    # ---- aggregates

    def _aggregate(self, function: str, attribute: str, depth: int) -> str:
        parts = [self.pick(list(RULE_ACTIVITY_TYPES.values())) + attribute]
        if self.flip():
            writer = ExpressionWriter(
                self.draw, "aggregate", instant_functions=False, aggregates=False
            )
            parts.append(f"where {writer.expr('boolean', depth).text}")
        if self.flip():
            units = (*EXACT_UNITS, *CALENDAR_UNITS)
            parts.append(f"within {duration_text(self.integer(1, 40), self.pick(units))}")
        return f"{function}({' '.join(parts)})"

    def count(self, depth: int) -> Piece:
        return Piece(self._aggregate("count", "", depth), "number")

    def exists(self, depth: int) -> Piece:
        return Piece(self._aggregate("exists", "", depth), "boolean")

    def first_or_last(self, depth: int) -> Piece:
        return Piece(self._aggregate(self.pick(["first", "last"]), "", depth), "datetime")

    def numeric_aggregate(self, depth: int) -> Piece:
        function = self.pick(["sum", "min", "max", "avg"])
        return Piece(self._aggregate(function, self.pick(NUMERIC_ATTRIBUTES), depth), "number")


# ---------------------------------------------------------------- rules and scorings


def _name(draw: Draw, prefix: str, used_names: set[str]) -> str:
    suffix = draw(st.text(alphabet='ab é"\\#{}', max_size=4))
    name = f"{prefix} {len(used_names)}{suffix}"
    used_names.add(name)
    return name


def _expire_clause(draw: Draw) -> str:
    kind = draw(st.sampled_from(["exact", "calendar", "never", "on"]))
    if kind == "exact":
        amount = draw(st.integers(1, 100))
        return f"expire after {duration_text(amount, draw(st.sampled_from(EXACT_UNITS)))}"
    if kind == "calendar":
        amount = draw(st.integers(1, 14))
        return f"expire after {duration_text(amount, draw(st.sampled_from(CALENDAR_UNITS)))}"
    if kind == "never":
        return "expire never"
    day = draw(st.dates(min_value=dt.date(2025, 6, 1), max_value=dt.date(2027, 6, 1)))
    return f"expire on {day.isoformat()}"


def _decay_clause(draw: Draw) -> str:
    """Return a ``decay`` clause: ``none`` or a rate and a period, exact or calendar."""
    if one_in(draw, 5):
        return "decay none"
    rate = draw(st.sampled_from([1, 10, 25, 50, 99, 100]) | st.integers(1, 100))
    if draw(st.booleans()):
        amount = draw(st.integers(1, 60))
        period = duration_text(amount, draw(st.sampled_from(EXACT_UNITS)))
    else:
        period = duration_text(draw(st.integers(1, 14)), draw(st.sampled_from(CALENDAR_UNITS)))
    return f"decay {rate}% every {period}"


def _rule(
    draw: Draw,
    name: str,
    *,
    instant_functions: bool,
    aggregates: bool,
    positive_awards: bool,
    max_depth: int,
    scoring_decays: bool = False,
) -> tuple[str, GeneratedRule]:
    depth = draw(st.integers(0, max_depth))
    if draw(st.booleans()):
        writer = ExpressionWriter(
            draw, "when", instant_functions=instant_functions, aggregates=aggregates
        )
        points = draw(st.integers(-50, 50))
        clauses = [f"when {writer.expr('boolean', depth).text}", f"award {points}"]
        generated = GeneratedRule(name, "profile", points, None)
    else:
        types = draw(
            st.lists(
                st.sampled_from(list(RULE_ACTIVITY_TYPES.values())),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        on = "on " + " or ".join(types)
        if draw(st.booleans()):
            writer = ExpressionWriter(draw, "where", instant_functions=False, aggregates=False)
            on += f" where {writer.expr('boolean', depth).text}"
        points = draw(st.integers(1, 50) if positive_awards else st.integers(-50, 50))
        mode = draw(st.sampled_from(["", " each", " once"]))
        clauses = [on, f"award {points}{mode}"]
        cap = abs(points) if mode == " once" else None
        if mode != " once" and draw(st.booleans()):
            cap = draw(st.integers(1, 100))
            clauses.append(f"max {cap}")
        if draw(st.booleans()):
            clauses.append(_expire_clause(draw))
        decays = scoring_decays
        if one_in(draw, 3):
            decay = _decay_clause(draw)
            clauses.append(decay)
            decays = decay != "decay none"
        generated = GeneratedRule(name, "activity", points, cap, decays)
    clauses = draw(st.permutations(clauses))
    separator = draw(st.sampled_from([" ", "\n        "]))
    body = separator.join(clauses)
    return f"rule {quote(name)} {{{separator}{body}{separator}}}", generated


def _scoring(
    draw: Draw,
    name: str,
    *,
    instant_functions: bool,
    aggregates: bool,
    positive_awards: bool,
    max_rules: int,
    max_depth: int,
    persona_threshold: int | None = None,
) -> tuple[str, GeneratedScoring]:
    """Draw a scoring, or a persona when ``persona_threshold`` is given."""
    persona = persona_threshold is not None
    if persona:
        assert persona_threshold is not None
        thresholds: tuple[tuple[str, int], ...] = ((name, persona_threshold),)
    else:
        threshold_points = sorted(draw(st.sets(st.integers(-50, 200), max_size=3)))
        threshold_names = [f"Level {i}" for i in range(len(threshold_points))]
        thresholds = tuple(zip(threshold_names, threshold_points, strict=True))

    floor = draw(st.none() | st.integers(-60, 20))
    ceiling = draw(st.none() | st.integers(-10, 150))
    if floor is not None and ceiling is not None and ceiling <= floor:
        ceiling = floor + 1 + draw(st.integers(0, 80))
    timezone = draw(st.none() | st.sampled_from(ZONES))

    settings = []
    if floor is not None:
        settings.append(f"floor {floor}")
    if ceiling is not None:
        settings.append(f"ceiling {ceiling}")
    if timezone is not None:
        settings.append(f"timezone {quote(timezone)}")
    if draw(st.booleans()):
        settings.append(_expire_clause(draw))
    # Personas hand nothing over, so only scorings may set notify once.
    if not persona and draw(st.booleans()):
        settings.append("notify once")
    scoring_decays = False
    if one_in(draw, 3):
        decay = _decay_clause(draw)
        settings.append(decay)
        scoring_decays = decay != "decay none"

    rule_names: set[str] = set()
    rules = []
    rule_texts = []
    for _ in range(draw(st.integers(1, max_rules))):
        text, generated_rule = _rule(
            draw,
            _name(draw, "Rule", rule_names),
            instant_functions=instant_functions,
            aggregates=aggregates,
            positive_awards=positive_awards,
            max_depth=max_depth,
            scoring_decays=scoring_decays,
        )
        rules.append(generated_rule)
        rule_texts.append(text)

    # Some rules go into groups. A group is one item that contains its rules' texts.
    group_of: dict[int, int] = {}
    groups: list[tuple[str, int]] = []
    for _ in range(draw(st.integers(0, 2))):
        members = draw(st.sets(st.integers(0, len(rule_texts) - 1), max_size=3)) - set(group_of)
        if not members:
            continue
        for member in members:
            group_of[member] = len(groups)
        groups.append((f"Group {len(groups)}", draw(st.integers(1, 60))))
    units: list[tuple[str, Any]] = [("setting", text) for text in settings]
    units += [("rule", i) for i in range(len(rule_texts)) if i not in group_of]
    units += [("group", position) for position in range(len(groups))]

    # Settings, rules and groups go in any order, but thresholds keep their ascending order.
    items: list[str] = []
    rule_order: list[int] = []
    group_order: list[int] = []
    for kind, value in draw(st.permutations(units)):
        if kind == "setting":
            items.append(value)
        elif kind == "rule":
            items.append(rule_texts[value])
            rule_order.append(value)
        else:
            members = sorted(i for i, group in group_of.items() if group == value)
            group_name, cap = groups[value]
            inner = " ".join(rule_texts[i] for i in members)
            items.append(f"group {quote(group_name)} max {cap} {{ {inner} }}")
            rule_order += members
            group_order.append(value)
    if not persona:
        threshold_texts = [f"threshold {quote(n)} at {p}" for n, p in thresholds]
        for text in reversed(threshold_texts):
            items.insert(draw(st.integers(0, len(items))), text)
        items = _thresholds_ascending(items, threshold_texts)
    body = "\n    ".join(items)
    # The checker numbers rules in the order they appear, and so does the description.
    rules_in_order = tuple(
        dataclasses.replace(rules[i], group=groups[group_of[i]][0] if i in group_of else None)
        for i in rule_order
    )
    groups_in_order = tuple(groups[position] for position in group_order)
    generated = GeneratedScoring(
        name, thresholds, floor, ceiling, timezone, rules_in_order, groups_in_order
    )
    if persona:
        head = f"persona {quote(name)} threshold {persona_threshold}"
    else:
        head = f"scoring {quote(name)}"
    return f"{head} {{\n    {body}\n}}", generated


def _thresholds_ascending(items: list[str], threshold_texts: list[str]) -> list[str]:
    # Random insertion can reorder thresholds, so they go back in ascending order in place.
    positions = [i for i, item in enumerate(items) if item in threshold_texts]
    result = list(items)
    for position, text in zip(positions, threshold_texts, strict=True):
        result[position] = text
    return result


def _bands(draw: Draw, names: str) -> tuple[tuple[str, int], ...]:
    """Draw one to three bands, highest first, named by the first characters of ``names``."""
    points = sorted(draw(st.sets(st.integers(-50, 200), min_size=1, max_size=3)), reverse=True)
    return tuple(zip(names, points, strict=False))


def _grade(
    draw: Draw, name: str, scorings: Sequence[GeneratedScoring]
) -> tuple[str, GeneratedGrade]:
    fit = draw(st.sampled_from([scoring.name for scoring in scorings]))
    engagement = draw(st.sampled_from([scoring.name for scoring in scorings]))
    grade = GeneratedGrade(name, fit, _bands(draw, "ABC"), engagement, _bands(draw, "123"))
    separator = draw(st.sampled_from([", ", " "]))

    def axis(role: str, scoring: str, bands: tuple[tuple[str, int], ...]) -> str:
        listed = separator.join(f"{quote(band)} at {points}" for band, points in bands)
        return f"{role} {quote(scoring)} {{ {listed} }}"

    axes = [
        axis("fit", grade.fit, grade.fit_bands),
        axis("engagement", grade.engagement, grade.engagement_bands),
    ]
    return f"grade {quote(name)} {{ {' '.join(draw(st.permutations(axes)))} }}", grade


@st.composite
def rule_files(
    draw: Draw,
    *,
    instant_functions: bool = True,
    aggregates: bool = True,
    positive_awards: bool = False,
    max_scorings: int = 3,
    max_rules: int = 5,
    max_depth: int = 3,
    max_personas: int = 2,
    max_grades: int = 2,
) -> RuleFile:
    """Draw rule text with scorings, personas and grades, and a description of what it contains.

    ``instant_functions=False`` leaves out now() and days_since(), ``aggregates=False``
    leaves out aggregates, and ``positive_awards=True`` gives every ``on`` rule positive
    points. Files always have at least one scoring.
    """
    used_names: set[str] = set()
    texts = []
    scorings = []
    options = {
        "instant_functions": instant_functions,
        "aggregates": aggregates,
        "positive_awards": positive_awards,
        "max_depth": max_depth,
    }
    for _ in range(draw(st.integers(1, max_scorings))):
        text, scoring = _scoring(
            draw, _name(draw, "Scoring", used_names), max_rules=max_rules, **options
        )
        texts.append(text)
        scorings.append(scoring)
    personas = []
    for _ in range(draw(st.integers(0, max_personas))):
        text, persona = _scoring(
            draw,
            _name(draw, "Persona", used_names),
            max_rules=min(max_rules, 3),
            persona_threshold=draw(st.integers(1, 60)),
            **options,
        )
        texts.append(text)
        personas.append(persona)
    grades = []
    for _ in range(draw(st.integers(0, max_grades))):
        text, grade = _grade(draw, _name(draw, "Grade", used_names), scorings)
        texts.append(text)
        grades.append(grade)
    # Items go in any order, so a grade may come before the scorings it names. The
    # description lists each kind in the order of the text, as the engine does.
    described: list[Any] = [*scorings, *personas, *grades]
    order = draw(st.permutations(range(len(texts))))
    in_order = [described[i] for i in order]
    comment = draw(st.sampled_from(["", "# generated rules\n"]))
    return RuleFile(
        comment + "\n\n".join(texts[i] for i in order) + "\n",
        tuple(item for item in in_order if item in scorings),
        tuple(item for item in in_order if item in personas),
        tuple(item for item in in_order if item in grades),
    )


# ---------------------------------------------------------------- data


def _zoned(instant: dt.datetime, zone: str) -> dt.datetime:
    return instant.astimezone(ZoneInfo(zone))


naive_datetimes = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2028, 12, 31)
)
aware_datetimes = st.builds(
    lambda naive, zone: naive.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)),
    naive_datetimes,
    st.sampled_from(ZONES),
)
floats = (
    st.floats(allow_nan=False, allow_infinity=True)
    | st.just(NAN)
    | st.sampled_from([0.5, 2.5, -0.0])
)
# Databases return Decimal for numeric columns, and a Decimal NaN counts as missing.
decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=3) | st.just(DECIMAL_NAN)
# Values at the edges of what Python represents: CRMs store 9999-12-31 for "no end date".
extremes = st.sampled_from(
    [10**400, -(10**400), Decimal("9E+999999"), dt.date(9999, 12, 31), dt.date(1, 1, 1)]
)
scalars: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(TEXTS),
    st.text(max_size=5),
    st.sampled_from(NUMBERS),
    st.integers(-(10**6), 10**6),
    floats,
    decimals,
    extremes,
    st.booleans(),
    dates,
    naive_datetimes,
    aware_datetimes,
    st.none(),
)
data_values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.sampled_from(["city", "zip code", "source"]), scalars, max_size=3),
)


@st.composite
def profiles(draw: Draw) -> dict[str, Any]:
    """Draw a profile: any of the fields rules read, with values of every type, some missing."""
    profile: dict[str, Any] = {}
    for path in CONTACT_PATHS:
        if one_in(draw, 4):
            continue
        if len(path) == 1:
            profile[path[0]] = draw(data_values)
        else:
            nested = profile.setdefault(path[0], {})
            if isinstance(nested, dict):
                nested[path[1]] = draw(data_values)
    return profile


contacts = st.builds(lambda profile: Contact(CONTACT_ID, profile), profiles())


# Offsets from the scoring instant, in seconds, that sit on window and expiry edges.
EDGE_OFFSETS = (
    0,
    -1,
    1,
    -3600,
    -86400,
    -7 * 86400,
    -30 * 86400,
    -30 * 86400 - 1,
    -30 * 86400 + 1,
    -60 * 86400,
    -90 * 86400,
    -365 * 86400,
)


@st.composite
def attribute_maps(draw: Draw) -> dict[str, Any]:
    """Draw activity attributes: the names rules read, with values of every type."""
    attributes: dict[str, Any] = {}
    for name in ("url", "file", "amount", "seconds", "max", "type", "id"):
        if not one_in(draw, 3):
            attributes[name] = draw(data_values)
    if draw(st.booleans()):
        attributes["meta"] = draw(data_values)
    return attributes


@st.composite
def activity_lists(
    draw: Draw,
    *,
    at: dt.datetime = AT,
    naive_times: bool = False,
    max_size: int = 8,
) -> list[Activity]:
    """Draw activities of the contact around ``at``: shared ids, equal times, some after ``at``.

    With ``naive_times``, some ``occurred_at`` values have no time zone.
    """
    instants = [
        at + dt.timedelta(seconds=s)
        for s in draw(st.lists(st.sampled_from(EDGE_OFFSETS), max_size=3))
    ]
    result = []
    for _ in range(draw(st.integers(0, max_size))):
        if instants and draw(st.booleans()):
            occurred_at = draw(st.sampled_from(instants))
        else:
            seconds = draw(st.sampled_from(EDGE_OFFSETS) | st.integers(-400 * 86400, 10 * 86400))
            occurred_at = at + dt.timedelta(seconds=seconds)
        if naive_times and one_in(draw, 5):
            occurred_at = occurred_at.replace(tzinfo=None)
        elif one_in(draw, 5):
            occurred_at = _zoned(occurred_at, draw(st.sampled_from(ZONES)))
        result.append(
            Activity(
                CONTACT_ID,
                draw(st.sampled_from(DATA_ACTIVITY_TYPES)),
                occurred_at,
                draw(attribute_maps()),
                id=draw(st.sampled_from([None, None, "e1", "e2", "e3", "e4"])),
            )
        )
    return result


@st.composite
def cases(
    draw: Draw,
    *,
    rules: st.SearchStrategy[RuleFile] | None = None,
    naive_times: bool = True,
    foreign_activities: bool = False,
) -> Case:
    """Draw a rule file, a contact, activities, an instant and maybe a default time zone."""
    rule_file = draw(rules if rules is not None else rule_files())
    at = AT + dt.timedelta(seconds=draw(st.sampled_from([0, 0, 1, -1, 86400, 30 * 86400])))
    if draw(st.booleans()):
        at = _zoned(at, draw(st.sampled_from(ZONES)))
    naive_times = naive_times and one_in(draw, 5)
    activities = draw(activity_lists(at=at, naive_times=naive_times))
    if foreign_activities and one_in(draw, 10):
        activities.append(Activity(OTHER_CONTACT_ID, "page_visit", at, {}))
    default_timezone = draw(st.none() | st.sampled_from(ZONES))
    return Case(rule_file, draw(contacts), tuple(activities), at, default_timezone)
