"""Read a checked program for what its rules look at: fields, activity types and the constants they compare with.

The hypothesis strategies generate data from these hints, so that generated contacts
and activities land on both sides of every condition. Examples are the texts of an
``in [...]`` list, numbers next to a comparison's constant, URLs that match a glob, and
activities just inside and just outside an expiry. Failure reports use `fields_read`
to show the profile values a rule's condition read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs

from leadscore.language import syntax as ast
from leadscore.language.program import Program
from leadscore.model import Duration

__all__ = ["PolicyHints", "ValueHints", "fields_read", "iter_nodes", "policy_hints"]

# Functions whose result the hints describe in terms of their argument.
_WRAPPERS = frozenset({"lower", "upper", "len", "domain", "days_since"})
_NUMERIC_AGGREGATES = frozenset({"sum", "min", "max", "avg"})


@attrs.define
class ValueHints:
    """The constants and patterns the rules compare one field or attribute with.

    ``declared`` is the declared type, or None for an undeclared field. ``numeric``
    marks an attribute that ``sum``, ``min``, ``max`` or ``avg`` reads. ``ages`` are
    lengths of time before the scoring instant (from ``now() - 30 days`` or
    ``days_since``). ``members`` are values the field, a list or a text, should
    contain. ``children`` contains nested fields, such as ``city`` in ``contact.address.city``.
    """

    declared: str | None = None
    numeric: bool = False
    texts: set[str] = attrs.field(factory=set)
    case_insensitive: bool = False
    numbers: set[int | float] = attrs.field(factory=set)
    lengths: set[int] = attrs.field(factory=set)
    booleans: bool = False
    dates: set[dt.date] = attrs.field(factory=set)
    datetimes: set[dt.datetime] = attrs.field(factory=set)
    ages: set[Duration] = attrs.field(factory=set)
    regexes: set[tuple[str, str]] = attrs.field(factory=set)
    globs: set[str] = attrs.field(factory=set)
    prefixes: set[str] = attrs.field(factory=set)
    suffixes: set[str] = attrs.field(factory=set)
    members: set[Any] = attrs.field(factory=set)
    domains: set[str] = attrs.field(factory=set)
    empty: bool = False
    children: dict[str, ValueHints] = attrs.field(factory=dict)

    def child(self, path: tuple[str, ...]) -> ValueHints:
        """Return the hints of a nested field, creating them on first use."""
        node = self
        for key in path:
            node = node.children.setdefault(key, ValueHints())
        return node


@attrs.define
class PolicyHints:
    """Everything the rules of a program read, as hints for generating data.

    ``activity_types`` lists the types rules and declarations name, in the order they
    first appear. ``counts`` maps an activity type to the constants a ``count()`` of it
    is compared with. ``durations`` are the expiries and ``within`` windows, and
    ``instants`` the fixed ends of ``expire on`` expiries.
    """

    contact: ValueHints = attrs.field(factory=ValueHints)
    activity_types: list[str] = attrs.field(factory=list)
    attributes: dict[str, ValueHints] = attrs.field(factory=dict)
    counts: dict[str, set[int]] = attrs.field(factory=dict)
    durations: set[Duration] = attrs.field(factory=set)
    instants: set[dt.datetime] = attrs.field(factory=set)

    def add_type(self, activity_type: str) -> ValueHints:
        """Record an activity type and return the hints of its attributes."""
        if activity_type not in self.attributes:
            self.activity_types.append(activity_type)
            self.attributes[activity_type] = ValueHints()
        return self.attributes[activity_type]


def iter_nodes(expr: ast.Expr) -> Iterator[ast.Expr]:
    """Yield ``expr`` and every expression inside it, parents before children."""
    stack: list[ast.Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        children: list[ast.Expr | None] = []
        if isinstance(node, ast.ListLiteral):
            children.extend(node.items)
        elif isinstance(node, ast.Call):
            children.extend(node.args)
        elif isinstance(node, ast.Aggregate):
            children.append(node.where)
        elif isinstance(node, ast.Unary):
            children.append(node.operand)
        elif isinstance(node, ast.Binary):
            children.extend((node.left, node.right))
        elif isinstance(node, ast.BoolOp):
            children.extend(node.operands)
        elif isinstance(node, ast.Compare):
            children.extend((node.left, node.right))
        elif isinstance(node, ast.Matches | ast.Glob):
            children.append(node.left)
        stack.extend(reversed([child for child in children if child is not None]))


def fields_read(expr: ast.Expr | None) -> list[ast.Field]:
    """Return the profile fields a condition reads, once each, in the order they appear."""
    if expr is None:
        return []
    found: dict[tuple[str, ...], ast.Field] = {}
    for node in iter_nodes(expr):
        if isinstance(node, ast.Field) and node.root == "contact" and not node.builtin:
            found.setdefault(node.path, node)
    return list(found.values())


def policy_hints(program: Program) -> PolicyHints:
    """Collect the hints of every rule, declaration and setting in ``program``."""
    hints = PolicyHints()
    for name, type_name in (program.contact_fields or {}).items():
        hints.contact.child((name,)).declared = type_name
    for activity_type, attributes in (program.activity_attributes or {}).items():
        node = hints.add_type(activity_type)
        for name, type_name in attributes.items():
            node.child((name,)).declared = type_name

    walker = _Walker(hints)
    for scoring in program.scorings:
        for rule in scoring.rules:
            for activity_type in rule.activity_types:
                hints.add_type(activity_type)
            if rule.validity.duration is not None:
                hints.durations.add(rule.validity.duration)
            if rule.validity.until is not None:
                hints.instants.add(rule.validity.until)
            if rule.condition is not None:
                walker.condition(rule.condition, ())
            if rule.where is not None:
                walker.condition(rule.where, rule.activity_types)
    return hints


# A subject is the field whose values decide a comparison, and how the rule reads it:
# directly (None), through a function such as "lower", or in arithmetic ("arith").
_Subject = tuple[ValueHints, str | None]


class _Walker:
    def __init__(self, hints: PolicyHints) -> None:
        self.hints = hints

    def condition(self, expr: ast.Expr, scope: tuple[str, ...]) -> None:
        """Record the hints of a condition whose ``activity.`` fields belong to ``scope``."""
        self._truth_value(expr, scope)
        for node in self._nodes_in_scope(expr, scope):
            self._record(node[0], node[1])

    def _nodes_in_scope(
        self, expr: ast.Expr, scope: tuple[str, ...]
    ) -> Iterator[tuple[ast.Expr, tuple[str, ...]]]:
        # An aggregate's `where` reads the aggregated type's attributes, not the rule's.
        stack: list[tuple[ast.Expr, tuple[str, ...]]] = [(expr, scope)]
        while stack:
            node, node_scope = stack.pop()
            yield node, node_scope
            if isinstance(node, ast.Aggregate):
                self.hints.add_type(node.activity_type)
                if node.within is not None:
                    self.hints.durations.add(node.within)
                if node.where is not None:
                    stack.append((node.where, (node.activity_type,)))
                continue
            for child in _children(node):
                stack.append((child, node_scope))

    def _record(self, node: ast.Expr, scope: tuple[str, ...]) -> None:
        if isinstance(node, ast.Compare):
            self._compare(node, scope)
        elif isinstance(node, ast.Matches):
            for subject, _ in self._subjects(node.left, scope):
                subject.regexes.add((node.pattern, node.flags))
        elif isinstance(node, ast.Glob):
            for subject, _ in self._subjects(node.left, scope):
                subject.globs.add(node.pattern)
        elif isinstance(node, ast.BoolOp):
            for operand in node.operands:
                self._truth_value(operand, scope)
        elif isinstance(node, ast.Unary) and node.op == "not":
            self._truth_value(node.operand, scope)
        elif isinstance(node, ast.Call) and node.name == "filled":
            for argument in node.args:
                for subject, _ in self._subjects(argument, scope):
                    subject.empty = True
        elif isinstance(node, ast.Aggregate) and node.attribute:
            attribute = self.hints.add_type(node.activity_type).child(node.attribute)
            if node.function in _NUMERIC_AGGREGATES:
                attribute.numeric = True

    def _truth_value(self, expr: ast.Expr, scope: tuple[str, ...]) -> None:
        # A bare field used as a condition, as in `when contact.newsletter`.
        if isinstance(expr, ast.Field):
            for subject, _ in self._subjects(expr, scope):
                subject.booleans = True

    def _compare(self, node: ast.Compare, scope: tuple[str, ...]) -> None:
        if node.right is None:  # is empty, is not empty
            for subject, _ in self._subjects(node.left, scope):
                subject.empty = True
            return
        for subject, wrapper in self._subjects(node.left, scope):
            self._constants(subject, wrapper, node.op, node.right, field_on_left=True)
        for subject, wrapper in self._subjects(node.right, scope):
            self._constants(subject, wrapper, node.op, node.left, field_on_left=False)
        self._count(node.left, node.right)
        self._count(node.right, node.left)

    def _count(self, side: ast.Expr, other: ast.Expr) -> None:
        if isinstance(side, ast.Aggregate) and side.function == "count":
            for kind, value in _literals(other):
                if kind == "number" and isinstance(value, int | float):
                    self.hints.counts.setdefault(side.activity_type, set()).add(int(value))
        if isinstance(side, ast.Aggregate) and side.function in ("first", "last"):
            for kind, value in _literals(other):
                if kind == "age" and isinstance(value, Duration):
                    self.hints.durations.add(value)

    def _subjects(self, expr: ast.Expr, scope: tuple[str, ...]) -> list[_Subject]:
        if isinstance(expr, ast.Field):
            if expr.builtin:
                return []
            if expr.root == "contact":
                return [(self.hints.contact.child(expr.path), None)]
            return [(self.hints.add_type(t).child(expr.path), None) for t in scope]
        if isinstance(expr, ast.Call) and expr.name in _WRAPPERS and len(expr.args) == 1:
            return [(subject, expr.name) for subject, _ in self._subjects(expr.args[0], scope)]
        if isinstance(expr, ast.Binary):
            inner = self._subjects(expr.left, scope) + self._subjects(expr.right, scope)
            return [(subject, "arith") for subject, _ in inner]
        if isinstance(expr, ast.Unary) and expr.op == "-":
            return [(subject, "arith") for subject, _ in self._subjects(expr.operand, scope)]
        if isinstance(expr, ast.Aggregate) and expr.attribute:
            attribute = self.hints.add_type(expr.activity_type).child(expr.attribute)
            return [(attribute, "arith" if expr.function in ("sum", "avg") else None)]
        return []

    def _constants(
        self,
        subject: ValueHints,
        wrapper: str | None,
        op: str,
        other: ast.Expr,
        *,
        field_on_left: bool,
    ) -> None:
        for kind, value in _literals(other):
            if kind == "text" and isinstance(value, str):
                self._text(subject, wrapper, op, value, field_on_left=field_on_left)
            elif kind == "number" and isinstance(value, int | float):
                self._number(subject, wrapper, value)
            elif kind == "boolean":
                subject.booleans = True
            elif kind == "null":
                subject.empty = True
            elif kind == "date" and isinstance(value, dt.date):
                subject.dates.add(value)
            elif kind == "datetime" and isinstance(value, dt.datetime):
                subject.datetimes.add(value)
            elif kind == "age" and isinstance(value, Duration):
                subject.ages.add(value)

    @staticmethod
    def _text(
        subject: ValueHints, wrapper: str | None, op: str, value: str, *, field_on_left: bool
    ) -> None:
        if wrapper == "domain":
            subject.domains.add(value)
        elif op == "starts with" and field_on_left:
            subject.prefixes.add(value)
        elif op == "ends with" and field_on_left:
            subject.suffixes.add(value)
        elif (op == "contains" and field_on_left) or (op in ("in", "not in") and not field_on_left):
            subject.members.add(value)
        else:
            subject.texts.add(value)
        if wrapper in ("lower", "upper"):
            subject.case_insensitive = True

    @staticmethod
    def _number(subject: ValueHints, wrapper: str | None, value: int | float) -> None:
        if wrapper == "len":
            subject.lengths.add(max(int(value), 0))
        elif wrapper == "days_since":
            subject.ages.add(Duration(max(int(value), 0), "days"))
        else:
            subject.numbers.add(value)


def _children(node: ast.Expr) -> list[ast.Expr]:
    if isinstance(node, ast.ListLiteral):
        return list(node.items)
    if isinstance(node, ast.Call):
        return list(node.args)
    if isinstance(node, ast.Unary):
        return [node.operand]
    if isinstance(node, ast.Binary):
        return [node.left, node.right]
    if isinstance(node, ast.BoolOp):
        return list(node.operands)
    if isinstance(node, ast.Compare):
        return [node.left] if node.right is None else [node.left, node.right]
    if isinstance(node, ast.Matches | ast.Glob):
        return [node.left]
    return []


def _literals(expr: ast.Expr) -> list[tuple[str, object]]:
    """Return the constants an expression stands for, as (kind, value) pairs.

    ``now() - 30 days`` and ``now()`` become ages of 30 days and 0 days, because the
    instant they name depends on when the contact is scored.
    """
    if isinstance(expr, ast.Literal_):
        return [(expr.kind, expr.value)]
    if isinstance(expr, ast.ListLiteral):
        return [pair for item in expr.items for pair in _literals(item)]
    if isinstance(expr, ast.Unary) and expr.op == "-" and isinstance(expr.operand, ast.Literal_):
        value = expr.operand.value
        if expr.operand.kind == "number" and isinstance(value, int | float):
            return [("number", -value)]
    if isinstance(expr, ast.Call) and expr.name == "now":
        return [("age", Duration(0, "days"))]
    if (
        isinstance(expr, ast.Binary)
        and expr.op == "-"
        and isinstance(expr.left, ast.Call)
        and expr.left.name == "now"
        and isinstance(expr.right, ast.Literal_)
        and isinstance(expr.right.value, Duration)
    ):
        return [("age", expr.right.value)]
    return []
