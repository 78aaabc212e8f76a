"""The syntax tree: what the rule text says, as frozen attrs nodes with source spans.

The parser builds these nodes and the checker reads them. Nodes record what was
written, including clauses that the checker will reject (two ``award`` clauses, say),
so that every error can point at the exact text. Meaning is resolved later, in
`leadscore.language.checker`.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Literal, TypeAlias

import attrs

from leadscore.model import Duration


@attrs.frozen
class Origin:
    """Where rule text came from: a file path, ``"<string>"`` or ``"config"``, and the text itself."""

    source: str
    text: str = attrs.field(repr=False)

    def line(self, number: int) -> str:
        """Return the 1-based line ``number`` of the text, or an empty string past the end.

        Lines end at ``\\n`` only, as the parser counts them; a form feed or U+2028 in a
        comment or text does not start a new line.
        """
        lines = self.text.split("\n")
        return lines[number - 1].rstrip("\r") if 0 < number <= len(lines) else ""


@attrs.frozen
class Span:
    """A 1-based line and column range in the source, plus character offsets."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int
    origin: Origin = attrs.field(eq=False, repr=False)


# ---------------------------------------------------------------- expressions

LiteralKind = Literal["number", "text", "boolean", "null", "date", "datetime", "duration"]


@attrs.frozen
class Literal_:
    """A constant: number, text, boolean, null, date, datetime or duration."""

    value: object
    kind: LiteralKind
    span: Span
    # Datetime literals written without a zone are kept so the checker can reject them by name.
    zone_missing: bool = False


@attrs.frozen
class ListLiteral:
    """A list of expressions in square brackets."""

    items: tuple[Expr, ...]
    span: Span


@attrs.frozen
class Field:
    """``contact.a.b`` or ``activity.x``: a path into the profile or the activity.

    ``builtin`` marks ``contact.id`` and ``activity.type``, ``.occurred_at`` and
    ``.id``, written with a dot: they read the contact or activity itself. The bracket
    form, ``contact["id"]``, always reads the profile or the attributes.
    """

    root: Literal["contact", "activity"]
    path: tuple[str, ...]
    span: Span
    builtin: bool = False

    @property
    def text(self) -> str:
        """The field as a user would write it, for messages."""
        from leadscore.language.parser import KEYWORDS

        parts: list[str] = [self.root]
        for position, key in enumerate(self.path):
            # A builtin name in brackets reads the data, so it must print with brackets too.
            reads_builtin_name = (
                position == 0 and not self.builtin and self.path in _BUILTIN_PATHS[self.root]
            )
            if key.isidentifier() and key not in KEYWORDS and not reads_builtin_name:
                parts.append(f".{key}")
            else:
                parts.append('["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]')
        return "".join(parts)


_BUILTIN_PATHS = {"contact": {("id",)}, "activity": {("type",), ("occurred_at",), ("id",)}}


@attrs.frozen
class Call:
    """A function call such as ``lower(contact.country)``."""

    name: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span


AggregateFunction = Literal["count", "sum", "min", "max", "avg", "first", "last", "exists"]


@attrs.frozen
class Aggregate:
    """``count(page_visit where … within 30 days)`` and its kin, over one activity type."""

    function: AggregateFunction
    activity_type: str
    attribute: tuple[str, ...]
    where: Expr | None
    within: Duration | None
    span: Span
    type_span: Span
    within_span: Span | None = None
    attribute_span: Span | None = None

    @property
    def attribute_text(self) -> str:
        """The aggregated attribute as written, for messages."""
        return "activity." + ".".join(self.attribute)


@attrs.frozen
class Unary:
    """``not x`` or ``-x``."""

    op: Literal["not", "-"]
    operand: Expr
    span: Span


@attrs.frozen
class Binary:
    """Arithmetic: ``+``, ``-``, ``*``, ``/`` or ``%``."""

    op: Literal["+", "-", "*", "/", "%"]
    left: Expr
    right: Expr
    span: Span
    op_span: Span


@attrs.frozen
class BoolOp:
    """``a and b and c`` or ``a or b``: operands are evaluated left to right and short-circuit."""

    op: Literal["and", "or"]
    operands: tuple[Expr, ...]
    span: Span


CompareOp = Literal[
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "contains",
    "starts with",
    "ends with",
    "is empty",
    "is not empty",
]


@attrs.frozen
class Compare:
    """A comparison; ``right`` is None for ``is empty`` and ``is not empty``."""

    op: CompareOp
    left: Expr
    right: Expr | None
    span: Span
    op_span: Span


@attrs.frozen
class Matches:
    """``x matches /pattern/flags`` (RE2 syntax, searched anywhere in the text)."""

    left: Expr
    pattern: str
    flags: str
    span: Span
    pattern_span: Span


@attrs.frozen
class Glob:
    """``x glob "*/pricing*"``: the whole text must match the shell-style pattern."""

    left: Expr
    pattern: str
    span: Span
    pattern_span: Span


Expr: TypeAlias = (
    Literal_
    | ListLiteral
    | Field
    | Call
    | Aggregate
    | Unary
    | Binary
    | BoolOp
    | Compare
    | Matches
    | Glob
)

# ---------------------------------------------------------------- clauses


@attrs.frozen
class When:
    """``when CONDITION``: a profile rule, true or false as of the scoring instant."""

    condition: Expr
    span: Span


@attrs.frozen
class On:
    """``on TYPE [or TYPE …] [where CONDITION]``: an activity rule."""

    activity_types: tuple[str, ...]
    type_spans: tuple[Span, ...]
    where: Expr | None
    span: Span


@attrs.frozen
class AwardClause:
    """``award N [each|once]``."""

    points: int
    mode: Literal["each", "once"] | None
    span: Span
    points_span: Span


@attrs.frozen
class MaxClause:
    """``max N``: the cap on a rule's contribution."""

    points: int
    span: Span
    points_span: Span


@attrs.frozen
class Expire:
    """``expire after D``, ``expire never`` or ``expire on DATE``."""

    kind: Literal["after", "never", "on"]
    duration: Duration | None
    date: dt.date | None
    span: Span
    value_span: Span


@attrs.frozen
class Decay:
    """``decay R% every PERIOD`` or ``decay none``.

    ``rate`` is the percentage as written, sign and fraction included, because the
    checker, not the parser, rejects a rate that is not a whole number from 1 to 100.
    """

    kind: Literal["every", "none"]
    rate: Fraction | None
    period: Duration | None
    span: Span
    rate_span: Span | None = None
    period_span: Span | None = None


Clause: TypeAlias = When | On | AwardClause | MaxClause | Expire | Decay


@attrs.frozen
class Rule:
    """``rule "NAME" { clauses }``, or a rule body taken from config."""

    name: str
    clauses: tuple[Clause, ...]
    span: Span
    name_span: Span


# ---------------------------------------------------------------- scorings


@attrs.frozen
class ThresholdDecl:
    """``threshold "NAME" at N``."""

    name: str
    points: int
    span: Span
    name_span: Span


@attrs.frozen
class Setting:
    """A scoring-wide setting: ``floor N``, ``ceiling N``, ``timezone "ZONE"`` or ``notify once``."""

    name: Literal["floor", "ceiling", "timezone", "notify"]
    value: object
    span: Span
    value_span: Span


@attrs.frozen
class Group:
    """``group "NAME" max N { rules }``: rules whose summed contribution is capped at ``N``.

    ``items`` may hold a nested group, which the checker rejects by name.
    """

    name: str
    cap: int
    items: tuple[Rule | Group, ...]
    span: Span
    name_span: Span
    cap_span: Span


ScoringItem: TypeAlias = ThresholdDecl | Expire | Decay | Setting | Rule | Group


@attrs.frozen
class Scoring:
    """``scoring "NAME" { … }``: thresholds, settings and rules scored together."""

    name: str
    items: tuple[ScoringItem, ...]
    span: Span
    name_span: Span


@attrs.frozen
class Persona:
    """``persona "NAME" threshold N { … }``: a scoring whose only output is membership."""

    name: str
    threshold: int
    items: tuple[ScoringItem, ...]
    span: Span
    name_span: Span
    threshold_span: Span


# ---------------------------------------------------------------- grades


@attrs.frozen
class Band:
    """``"A" at 60``: a band of a grade, reached by a total of at least ``points``."""

    name: str
    points: int
    span: Span
    name_span: Span


@attrs.frozen
class GradeAxis:
    """``fit "SCORING" { bands }`` or ``engagement "SCORING" { bands }`` inside a grade."""

    role: Literal["fit", "engagement"]
    scoring: str
    bands: tuple[Band, ...]
    span: Span
    scoring_span: Span


@attrs.frozen
class Grade:
    """``grade "NAME" { fit … engagement … }``: a label made of a fit band and an engagement band."""

    name: str
    axes: tuple[GradeAxis, ...]
    span: Span
    name_span: Span


# ---------------------------------------------------------------- declarations


@attrs.frozen
class FieldDecl:
    """``name: type`` inside a declaration."""

    name: str
    type_name: str
    span: Span
    type_span: Span


@attrs.frozen
class ContactDecl:
    """``declare contact { field: type, … }``: the profile fields rules may use."""

    fields: tuple[FieldDecl, ...]
    span: Span


@attrs.frozen
class ActivityDecl:
    """``declare activity TYPE { attribute: type, … }``: an activity type and its attributes."""

    activity_type: str
    fields: tuple[FieldDecl, ...]
    span: Span
    type_span: Span


# ---------------------------------------------------------------- test blocks


@attrs.frozen
class RecordField:
    """``name: value`` in a test block's contact or activity; ``value`` is plain data."""

    name: str
    value: object
    span: Span


@attrs.frozen
class TestAt:
    """``at INSTANT``: the instant a test block scores at (a date means its start in UTC)."""

    instant: dt.datetime | dt.date
    span: Span


@attrs.frozen
class TestContact:
    """``contact ["ID"] { field: value, … }``: the contact a test block scores."""

    contact_id: str | None
    fields: tuple[RecordField, ...]
    span: Span


@attrs.frozen
class TestActivity:
    """``activity TYPE (N UNIT ago | at INSTANT) ["ID"] [{ attribute: value, … }]``."""

    activity_type: str
    ago: Duration | None
    at: dt.datetime | dt.date | None
    activity_id: str | None
    attributes: tuple[RecordField, ...]
    span: Span


@attrs.frozen
class TestExpect:
    """``expect "SCORING" WHAT VALUE``, such as ``total 35``, ``level none`` or ``rule "R" 5``.

    ``what`` is the word after the scoring name as written (``total``, ``level``, …);
    for ``rule`` expectations, ``rule`` holds the rule name. ``value`` is an int, a
    text, or a bare word such as ``none``, kept as `Word`.
    """

    scoring: str
    what: str
    rule: str | None
    value: object
    span: Span
    what_span: Span
    value_span: Span


@attrs.frozen
class Word:
    """A bare word used as a value in a test expectation, such as ``none``."""

    text: str


@attrs.frozen
class TestExpectPersona:
    """``expect persona "NAME"`` or ``expect persona none``: the persona the contact belongs to.

    ``persona`` is the name as text, or a bare word such as ``none``, kept as `Word`.
    """

    persona: str | Word
    span: Span
    value_span: Span


@attrs.frozen
class TestExpectGrade:
    """``expect grade "GRADE" "LABEL"`` or ``expect grade "GRADE" none``: the label of a grade.

    ``label`` is the label as text, such as ``"A1"``, or a bare word such as ``none``,
    kept as `Word`.
    """

    grade: str
    label: str | Word
    span: Span
    grade_span: Span
    value_span: Span


TestItem: TypeAlias = (
    TestAt | TestContact | TestActivity | TestExpect | TestExpectPersona | TestExpectGrade
)


@attrs.frozen
class TestBlock:
    """``test "NAME" { … }``: a scenario and the scores it expects."""

    name: str
    items: tuple[TestItem, ...]
    span: Span
    name_span: Span


Item: TypeAlias = Scoring | Persona | Grade | ContactDecl | ActivityDecl | TestBlock


@attrs.frozen
class RuleFile:
    """A parsed file or config: its items in source order."""

    items: tuple[Item, ...]
