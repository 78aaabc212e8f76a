"""Compile a checked scoring into Python functions, generated as source and compiled once.

For each scoring the compiler writes one module of plain Python: a function per
activity type that matches one activity against every ``on`` rule and aggregate of
that type, and one function that evaluates the ``when`` conditions. Scoring then costs
a dictionary lookup and one call per activity, instead of a walk over a syntax tree.

Safety: no rule text is ever pasted into the generated source. Field names, texts,
dates, regular expressions and sites for diagnostics are bound as globals of the
generated functions under generated names (``_k0``, ``_k1``, …), and only integers,
floats and generated identifiers appear in the code itself. A rule name that looks
like Python therefore stays data.

Debugging: the source is registered in `linecache` under a unique pseudo-filename,
so tracebacks and debuggers show the generated lines.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable
from typing import Any

import attrs

from leadscore import runtime
from leadscore.evaluation import site_for
from leadscore.language import syntax as ast
from leadscore.language.patterns import compile_glob, compile_regex
from leadscore.language.program import ProgramRule, ProgramScoring, Validity
from leadscore.model import EXACT_UNITS

__all__ = ["CompiledScoring", "compile_scoring"]

_serial = itertools.count(1)

# Classes for which Python's own operators already follow the language's rules.
_NUMBER_CLASSES = frozenset({int, float})


@attrs.frozen
class CompiledScoring:
    """The generated functions of one scoring, and the source they came from.

    ``matchers`` maps an activity type to ``match(activity, profile, ctx, awards,
    entries)``, which appends ``(activity, expires_at)`` to ``awards[rule]`` for each
    ``on`` rule that matches and ``(occurred_at, value, activity)`` to
    ``entries[aggregate]`` for each aggregate it feeds. ``profile_conditions(profile,
    contact_id, ctx, entries)`` returns one boolean per rule (False for ``on`` rules).
    """

    scoring: ProgramScoring
    matchers: dict[str, Callable[..., None]]
    profile_conditions: Callable[..., tuple[bool, ...]]
    aggregate_count: int
    filename: str
    source: str


def compile_scoring(scoring: ProgramScoring) -> CompiledScoring:
    """Generate, compile and register the functions for one scoring."""
    generator = _Generator(scoring)
    source = generator.module()
    filename = f"<leadscore scoring #{next(_serial)}>"
    code = compile(source, filename, "exec")

    # linecache keeps generated source readable in tracebacks; attrs does the same.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)

    namespace: dict[str, Any] = dict(generator.constants)
    exec(code, namespace)  # noqa: S102 - the source is generated, with all rule text bound as data
    matchers = {activity_type: namespace[name] for activity_type, name in generator.matcher_names.items()}
    return CompiledScoring(
        scoring=scoring,
        matchers=matchers,
        profile_conditions=namespace["profile_conditions"],
        aggregate_count=len(generator.aggregate_index),
        filename=filename,
        source=source,
    )


class _Generator:
    """Write the Python source for one scoring and collect the constants it refers to."""

    def __init__(self, scoring: ProgramScoring) -> None:
        self.scoring = scoring
        self.constants: dict[str, Any] = {
            "_runtime": runtime,
            "_NUM": _NUMBER_CLASSES,
            "_str": str,
            "_tz": scoring.timezone,
        }
        self._constant_ids: dict[tuple[type, Any], str] = {}
        self._temp = itertools.count()
        self.matcher_names: dict[str, str] = {}
        # Aggregates are numbered across the scoring, in rule order.
        self.aggregate_index: dict[int, int] = {}
        self.aggregate_rule: dict[int, ProgramRule] = {}
        for rule in scoring.rules:
            for aggregate in rule.aggregates:
                self.aggregate_index[id(aggregate)] = len(self.aggregate_index)
                self.aggregate_rule[id(aggregate)] = rule
        self.rule: ProgramRule | None = None

    # ---------------------------------------------------------------- constants

    def const(self, value: Any) -> str:
        """Bind ``value`` as a global of the generated code and return its generated name."""
        try:
            key: tuple[type, Any] = (type(value), value)
            hash(key)
        except TypeError:
            key = (type(value), id(value))
        name = self._constant_ids.get(key)
        if name is None:
            name = f"_k{len(self._constant_ids)}"
            self._constant_ids[key] = name
            self.constants[name] = value
        return name

    def temp(self) -> str:
        return f"_t{next(self._temp)}"

    def site(self, node: Any) -> str:
        assert self.rule is not None
        return self.const(site_for(self.rule.index, node))

    # ---------------------------------------------------------------- module layout

    def module(self) -> str:
        lines = [f"# Generated by leadscore for scoring #{self.scoring.index}; names are bound as globals."]
        lines += self._matchers()
        lines += self._profile_function()
        return "\n".join(lines) + "\n"

    def _matchers(self) -> list[str]:
        by_type: dict[str, list[tuple[str, Any]]] = {}
        for rule in self.scoring.rules:
            for activity_type in rule.activity_types:
                by_type.setdefault(activity_type, []).append(("rule", rule))
            for aggregate in rule.aggregates:
                by_type.setdefault(aggregate.activity_type, []).append(("aggregate", aggregate))

        lines: list[str] = []
        for number, (activity_type, targets) in enumerate(by_type.items()):
            name = f"match_{number}"
            self.matcher_names[activity_type] = name
            lines += ["", "", f"def {name}(a, p, ctx, awards, entries):", "    x = a.attributes"]
            for kind, target in targets:
                if kind == "rule":
                    lines += self._rule_match(target)
                else:
                    lines += self._aggregate_match(target)
        return lines

    def _rule_match(self, rule: ProgramRule) -> list[str]:
        self.rule = rule
        expires = self._expiry(rule.validity)
        append = f"awards[{rule.index}].append((a, {expires}))"
        if rule.where is None:
            return [f"    # rule {rule.index}", f"    {append}"]
        return [f"    # rule {rule.index}", f"    if {self.cond(rule.where)}:", f"        {append}"]

    def _expiry(self, validity: Validity) -> str:
        if validity.kind == "never":
            return "None"
        if validity.kind == "until":
            return self.const(validity.until)
        assert validity.duration is not None
        if validity.duration.unit in EXACT_UNITS:
            return f"a.occurred_at + {self.const(validity.duration.as_timedelta())}"
        return f"_runtime.expiry(a.occurred_at, {self.const(validity)}, _tz)"

    def _aggregate_match(self, aggregate: ast.Aggregate) -> list[str]:
        self.rule = self.aggregate_rule[id(aggregate)]
        index = self.aggregate_index[id(aggregate)]
        if aggregate.attribute:
            value = self._path("x", aggregate.attribute)
        else:
            value = "None"
        append = f"entries[{index}].append((a.occurred_at, {value}, a))"
        lines = [f"    # aggregate {index} of rule {self.rule.index}"]
        if aggregate.where is None:
            return [*lines, f"    {append}"]
        return [*lines, f"    if {self.cond(aggregate.where)}:", f"        {append}"]

    def _profile_function(self) -> list[str]:
        lines = ["", "", "def profile_conditions(p, cid, ctx, entries):", "    at = ctx.at"]
        # Each aggregate's value is computed once, before any condition short-circuits.
        for aggregate_id, index in self.aggregate_index.items():
            rule = self.aggregate_rule[aggregate_id]
            aggregate = next(a for a in rule.aggregates if id(a) == aggregate_id)
            self.rule = rule
            lines.append(f"    g{index} = {self._aggregate_value(aggregate, index)}")
        results = []
        for rule in self.scoring.rules:
            if rule.kind != "profile":
                results.append("False")
                continue
            self.rule = rule
            assert rule.condition is not None
            lines.append(f"    # rule {rule.index}")
            lines.append(f"    r{rule.index} = {self.cond(rule.condition)}")
            results.append(f"r{rule.index}")
        lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        return lines

    def _aggregate_value(self, aggregate: ast.Aggregate, index: int) -> str:
        if aggregate.within is None:
            lower = "None"
        elif aggregate.within.unit in EXACT_UNITS:
            lower = f"at - {self.const(aggregate.within.as_timedelta())}"
        else:
            lower = f"_runtime.window_start(at, {self.const(aggregate.within)}, _tz)"
        entries = f"entries[{index}]"
        function = aggregate.function
        if function in ("count", "exists", "first", "last"):
            return f"_runtime.aggregate_{function}({entries}, {lower}, at)"
        return f"_runtime.aggregate_numeric(ctx, {self.site(aggregate)}, {function!r}, {entries}, {lower}, at)"

    # ---------------------------------------------------------------- expressions

    def _path(self, root: str, path: tuple[str, ...]) -> str:
        if len(path) == 1:
            return f"{root}.get({self.const(path[0])})"
        return f"_runtime.field({root}, {self.const(path)})"

    def value(self, node: ast.Expr) -> str:
        """Return Python source that evaluates ``node`` to its data value."""
        if isinstance(node, ast.Literal_):
            return self._literal(node.value)
        if isinstance(node, ast.ListLiteral):
            if all(isinstance(item, ast.Literal_) for item in node.items):
                return self.const([item.value for item in node.items])  # type: ignore[union-attr]
            return "[" + ", ".join(self.value(item) for item in node.items) + "]"
        if isinstance(node, ast.Field):
            return self._field(node)
        if isinstance(node, ast.Aggregate):
            return f"g{self.aggregate_index[id(node)]}"
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Unary):
            if node.op == "not":
                return f"(not {self.cond(node.operand)})"
            return f"_runtime.negate(ctx, {self.site(node)}, {self.value(node.operand)})"
        if isinstance(node, ast.Binary):
            assert node.op in ("+", "-", "*", "/", "%")
            return (
                f"_runtime.arithmetic(ctx, {self.site(node)}, {node.op!r}, "
                f"{self.value(node.left)}, {self.value(node.right)})"
            )
        return self.cond(node)

    def _literal(self, value: Any) -> str:
        # Only numbers and the three singletons are written into the source; their
        # repr is digits, a sign, a dot or a keyword, so it cannot carry rule text.
        if value is None or value is True or value is False:
            return repr(value)
        if value.__class__ is int or value.__class__ is float:
            return repr(value)
        return self.const(value)

    def _field(self, node: ast.Field) -> str:
        if node.root == "contact":
            if node.path == ("id",):
                return "cid"
            return self._path("p", node.path)
        if len(node.path) == 1 and node.path[0] in ("type", "occurred_at", "id"):
            return f"a.{node.path[0]}"
        return self._path("x", node.path)

    def _call(self, node: ast.Call) -> str:
        if node.name == "now":
            return "ctx.at"
        arguments = [self.value(argument) for argument in node.args]
        if node.name == "filled":
            return f"_runtime.filled({', '.join(arguments)})"
        function = {
            "lower": "lower",
            "upper": "upper",
            "len": "length",
            "domain": "domain",
            "days_since": "days_since",
        }[node.name]
        return f"_runtime.{function}(ctx, {self.site(node)}, {arguments[0]})"

    def cond(self, node: ast.Expr) -> str:
        """Return Python source that evaluates ``node`` to a bool, following the language's rules."""
        if isinstance(node, ast.BoolOp):
            return "(" + f" {node.op} ".join(self.cond(operand) for operand in node.operands) + ")"
        if isinstance(node, ast.Unary) and node.op == "not":
            return f"(not {self.cond(node.operand)})"
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Matches):
            return self._matches(node)
        if isinstance(node, ast.Glob):
            return self._glob(node)
        if isinstance(node, ast.Literal_) and node.kind == "boolean":
            return repr(node.value)
        if isinstance(node, ast.Aggregate) and node.function == "exists":
            return self.value(node)
        t = self.temp()
        return f"(({t} := {self.value(node)}) is True or ({t} is not False and _runtime.truth(ctx, {self.site(node)}, {t})))"

    def _compare(self, node: ast.Compare) -> str:
        op = node.op
        left = self.value(node.left)
        if op == "is empty":
            return f"_runtime.is_empty({left})"
        if op == "is not empty":
            return f"(not _runtime.is_empty({left}))"
        assert node.right is not None
        site = self.site(node)
        right_node = node.right
        t = self.temp()

        # Fast paths: a literal on the right and data of the expected class on the left.
        # They skip the helper only when the helper would return the same answer.
        if isinstance(right_node, ast.Literal_) and right_node.kind == "text":
            k = self.const(right_node.value)
            fast = {
                "==": f"{t} == {k}",
                "!=": f"{t} != {k}",
                "<": f"{t} < {k}",
                "<=": f"{t} <= {k}",
                ">": f"{t} > {k}",
                ">=": f"{t} >= {k}",
                "starts with": f"{t}.startswith({k})",
                "ends with": f"{t}.endswith({k})",
            }.get(op)
            if fast is not None:
                return f"({fast} if ({t} := {left}).__class__ is _str else {self._slow(op, site, t, k)})"
        if isinstance(right_node, ast.Literal_) and right_node.kind == "number" and op in ("==", "<", "<=", ">", ">="):
            k = self._literal(right_node.value)
            return f"({t} {op} {k} if ({t} := {left}).__class__ in _NUM else {self._slow(op, site, t, k)})"
        if isinstance(right_node, ast.Literal_) and right_node.kind == "number" and op == "!=":
            # A float could be NaN, which counts as missing, so only int takes the fast path.
            k = self._literal(right_node.value)
            return f"({t} != {k} if ({t} := {left}).__class__ is int else {self._slow(op, site, t, k)})"
        if (
            op in ("in", "not in")
            and isinstance(right_node, ast.ListLiteral)
            and right_node.items
            and all(isinstance(i, ast.Literal_) and i.kind == "text" for i in right_node.items)
        ):
            members = self.const(frozenset(i.value for i in right_node.items))  # type: ignore[union-attr]
            listed = self.value(right_node)
            test = f"{t} in {members}" if op == "in" else f"{t} not in {members}"
            return f"({test} if ({t} := {left}).__class__ is _str else {self._slow(op, site, t, listed)})"

        right = self.value(right_node)
        return self._slow(op, site, left, right)

    def _slow(self, op: str, site: str, left: str, right: str) -> str:
        helper = {
            "==": "equal",
            "!=": "not_equal",
            "in": "member",
            "not in": "not_member",
            "contains": "contains",
            "starts with": "starts_with",
            "ends with": "ends_with",
        }.get(op)
        if helper is None:
            assert op in ("<", "<=", ">", ">=")
            return f"_runtime.order(ctx, {site}, {op!r}, {left}, {right})"
        return f"_runtime.{helper}(ctx, {site}, {left}, {right})"

    def _matches(self, node: ast.Matches) -> str:
        regex = self.const(compile_regex(node.pattern, node.flags))
        t = self.temp()
        left = self.value(node.left)
        slow = f"_runtime.matches(ctx, {self.site(node)}, {t}, {regex})"
        return f"({regex}.search({t}) is not None if ({t} := {left}).__class__ is _str else {slow})"

    def _glob(self, node: ast.Glob) -> str:
        plan = compile_glob(node.pattern)
        matcher = self.const(plan.matcher())
        t = self.temp()
        left = self.value(node.left)
        slow = f"_runtime.glob(ctx, {self.site(node)}, {t}, {matcher})"
        if plan.kind in ("equal", "contains", "prefix", "suffix"):
            k = self.const(plan.parts[0])
            fast = {
                "equal": f"{t} == {k}",
                "contains": f"{k} in {t}",
                "prefix": f"{t}.startswith({k})",
                "suffix": f"{t}.endswith({k})",
            }[plan.kind]
        else:
            fast = f"{matcher}({t})"
        return f"({fast} if ({t} := {left}).__class__ is _str else {slow})"
