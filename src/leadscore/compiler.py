"""Compile a checked scoring into Python functions, generated as source and compiled once.

For each scoring or persona the compiler writes one module of plain Python: a function
per activity type that matches one activity against every ``on`` rule and aggregate of
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

import datetime as dt
import itertools
import linecache
import re
from collections.abc import Callable
from typing import Any

import attrs

from leadscore import runtime
from leadscore.evaluation import site_for
from leadscore.language import syntax as ast
from leadscore.language.patterns import compile_glob, compile_regex, searcher
from leadscore.language.program import ProgramRule, ProgramScoring, Validity
from leadscore.model import EXACT_UNITS
from leadscore.scorecard import CardSpec

__all__ = ["CompiledScoring", "compile_scoring"]

_serial = itertools.count(1)

# Classes for which Python's own operators already follow the language's rules.
_NUMBER_CLASSES = frozenset({int, float})

# The first and last instants `datetime` can represent.
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


@attrs.frozen
class CompiledScoring:
    """The generated functions of one scoring, and the source they came from.

    ``matchers`` maps an activity type to ``match(activity, profile, ctx, awards,
    entries)``, and ``match_all(activities, profile, ctx, awards, entries)`` does the
    same for a whole list in one call. Both append ``(activity, expires_at)`` to
    ``awards[rule]`` for each ``on`` rule that matches and ``(occurred_at, value,
    activity)`` to ``entries[aggregate]`` for each aggregate it feeds.
    ``profile_conditions(profile, contact_id, ctx, entries)`` returns one boolean per
    rule (False for ``on`` rules). ``evaluate(profile, contact_id, ctx, awards,
    entries)`` returns the total after caps, floor and ceiling, the level's name (or
    None) and the tuple ``profile_conditions`` would return; it skips awards after
    ``ctx.at`` and those expired by then. ``total`` takes the same arguments and
    returns the total alone, for callers that need no level or breakdown. Awards of a
    rule with decay are valued at ``ctx.at`` from a per-rule table of decayed values,
    and the rules of a group add to a sum that is capped before it joins the total.
    """

    scoring: ProgramScoring
    matchers: dict[str, Callable[..., None]]
    profile_conditions: Callable[..., tuple[bool, ...]]
    evaluate: Callable[..., tuple[int, str | None, tuple[bool, ...]]]
    total: Callable[..., int]
    aggregate_count: int
    filename: str
    source: str

    # A shared read-only state for a contact with no activities.
    empty_state: tuple[tuple[tuple[()], ...], tuple[tuple[()], ...]]
    match_all: Callable[..., None]
    # Each group's name and cap, for the score cards, computed once.
    group_caps: tuple[tuple[str, int], ...] = ()
    # Generated: returns fresh award and entry lists as one list display, which is
    # faster than a comprehension per contact.
    state_factory: Callable[[], tuple[list[list[Any]], list[list[Any]]]] = attrs.field(default=None)
    # What every card of this scoring shares; made once so cards stay cheap.
    card_spec: CardSpec = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.card_spec is None:
            spec = CardSpec(self.scoring.thresholds, self.group_caps, self.scoring.kind)
            object.__setattr__(self, "card_spec", spec)

    def new_state(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """Return empty award lists (one per rule) and entry lists (one per aggregate)."""
        return self.state_factory()


def compile_scoring(scoring: ProgramScoring) -> CompiledScoring:
    """Generate, compile and register the functions for one scoring."""
    generator = _Generator(scoring)
    source = generator.module()
    filename = f"<leadscore scoring #{next(_serial)}>"
    code = compile(source, filename, "exec")

    # linecache keeps generated source readable in tracebacks; attrs does the same.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)

    namespace: dict[str, Any] = dict(generator.constants)
    exec(code, namespace)
    matchers = {
        activity_type: namespace[name] for activity_type, name in generator.matcher_names.items()
    }
    return CompiledScoring(
        scoring=scoring,
        matchers=matchers,
        profile_conditions=namespace["profile_conditions"],
        evaluate=namespace["evaluate"],
        total=namespace["total"],
        aggregate_count=len(generator.aggregate_index),
        filename=filename,
        source=source,
        empty_state=(((),) * len(scoring.rules), ((),) * len(generator.aggregate_index)),
        match_all=namespace["match_all"],
        state_factory=namespace["new_state"],
        group_caps=tuple((group.name, group.cap) for group in scoring.groups),
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
        self._constant_ids: dict[tuple[type, Any, str], str] = {}
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
        # True while writing a matcher, whose parameters are an activity and the profile.
        self.in_matcher = False

    # ---------------------------------------------------------------- constants

    def const(self, value: Any) -> str:
        """Bind ``value`` as a global of the generated code and return its generated name."""
        try:
            # The repr distinguishes equal values that print differently, such as one
            # instant written with two UTC offsets, whose diagnostics must differ.
            key: tuple[type, Any, str] = (type(value), value, repr(value))
            hash(key)
        except TypeError:
            key = (type(value), id(value), "")
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
        lines = [
            f"# Generated by leadscore for scoring #{self.scoring.index}; names are bound as globals."
        ]
        lines += self._matchers()
        lines += self._profile_function("profile_conditions", "p, cid, ctx, entries", totals=False)
        lines += self._profile_function("evaluate", "p, cid, ctx, awards, entries", totals=True)
        lines += self._profile_function(
            "total", "p, cid, ctx, awards, entries", totals=True, conditions=False
        )
        lines += self._state_factory()
        return "\n".join(lines) + "\n"

    def _state_factory(self) -> list[str]:
        # `when` rules never receive awards, so they share one empty tuple.
        award_lists = ", ".join(
            "[]" if rule.kind == "activity" else "()" for rule in self.scoring.rules
        )
        entry_lists = ", ".join("[]" for _ in self.aggregate_index)
        return [
            "",
            "",
            "def new_state():",
            f"    return [{award_lists}], [{entry_lists}]",
        ]

    def _matchers(self) -> list[str]:
        by_type: dict[str, list[tuple[str, Any]]] = {}
        for rule in self.scoring.rules:
            for activity_type in rule.activity_types:
                by_type.setdefault(activity_type, []).append(("rule", rule))
            for aggregate in rule.aggregates:
                by_type.setdefault(aggregate.activity_type, []).append(("aggregate", aggregate))

        lines: list[str] = []
        bodies: list[tuple[str, list[str]]] = []
        for number, (activity_type, targets) in enumerate(by_type.items()):
            name = f"match_{number}"
            self.matcher_names[activity_type] = name
            # `o` is the activity's instant, read once for every award and entry below.
            body = ["x = a.attributes", "xget = x.get", "o = a.occurred_at"]
            for kind, target in targets:
                if kind == "rule":
                    body += self._rule_match(target)
                else:
                    body += self._aggregate_match(target)
            bodies.append((activity_type, body))
            lines += ["", "", f"def {name}(a, p, ctx, awards, entries):", "    pget = p.get"]
            lines += ["    " + line for line in self._appenders(targets)]
            lines += ["    " + line for line in body]

        # One loop over a whole list, with the type dispatch inlined: scoring a
        # contact then costs no function call per activity.
        lines += ["", "", "def match_all(activities, p, ctx, awards, entries):", "    pget = p.get"]
        lines += [
            "    " + line for targets in by_type.values() for line in self._appenders(targets)
        ]
        if bodies:
            lines.append("    for a in activities:")
            lines.append("        t = a.type")
            for position, (activity_type, body) in enumerate(bodies):
                keyword = "if" if position == 0 else "elif"
                lines.append(f"        {keyword} t == {self.const(activity_type)}:")
                lines += ["            " + line for line in body]
        else:
            lines.append("    return None")
        return lines

    def _appenders(self, targets: list[tuple[str, Any]]) -> list[str]:
        """Bind the ``append`` of each list a matcher writes to, once per call."""
        lines = []
        for kind, target in targets:
            if kind == "rule":
                lines.append(f"add_award_{target.index} = awards[{target.index}].append")
            else:
                index = self.aggregate_index[id(target)]
                lines.append(f"add_entry_{index} = entries[{index}].append")
        return lines

    def _rule_match(self, rule: ProgramRule) -> list[str]:
        self.rule = rule
        self.in_matcher = True
        expires = self._expiry(rule.validity)
        append = f"add_award_{rule.index}((a, {expires}))"
        if rule.where is None:
            return [f"# rule {rule.index}", append]
        return [f"# rule {rule.index}", f"if {self.cond(rule.where)}:", f"    {append}"]

    def _expiry(self, validity: Validity) -> str:
        if validity.kind == "never":
            return "None"
        if validity.kind == "until":
            return self.const(validity.until)
        assert validity.duration is not None
        checked = f"_runtime.expiry(o, {self.const(validity)}, _tz)"
        if validity.duration.unit not in EXACT_UNITS:
            return checked
        length = validity.duration.as_timedelta()
        # Before `last_safe`, `o + length` cannot overflow, so only activities in the last
        # stretch of year 9999 pay for the checked call, which gives None for an expiry
        # past the end of datetime. The extra day covers a wall clock ahead of UTC.
        last_safe = runtime.shift_or_none(_LATEST, -(length + runtime.DAY))
        if last_safe is None:
            return checked
        return f"(o + {self.const(length)} if o < {self.const(last_safe)} else {checked})"

    def _aggregate_match(self, aggregate: ast.Aggregate) -> list[str]:
        self.rule = self.aggregate_rule[id(aggregate)]
        self.in_matcher = True
        index = self.aggregate_index[id(aggregate)]
        value = self._path("x", aggregate.attribute) if aggregate.attribute else "None"
        append = f"add_entry_{index}((o, {value}, a))"
        lines = [f"# aggregate {index} of rule {self.rule.index}"]
        if aggregate.where is None:
            return [*lines, append]
        return [*lines, f"if {self.cond(aggregate.where)}:", f"    {append}"]

    def _profile_function(
        self, name: str, parameters: str, *, totals: bool, conditions: bool = True
    ) -> list[str]:
        """Write a function of the ``when`` conditions: their tuple, the total, or both.

        Without ``conditions`` it returns the total alone and tests each condition
        in place, which saves a name and a tuple per rule when only the total is read.
        """
        self.in_matcher = False
        lines = ["", "", f"def {name}({parameters}):", "    at = ctx.at", "    pget = p.get"]
        if totals:
            # True when every award and entry occurred at or before `at` (Engine.score drops
            # later activities first), so counting can skip that test.
            lines.append("    prefiltered = ctx.prefiltered")
        # Each aggregate's value is computed once, before any condition short-circuits.
        for aggregate_id, index in self.aggregate_index.items():
            rule = self.aggregate_rule[aggregate_id]
            aggregate = next(a for a in rule.aggregates if id(a) == aggregate_id)
            self.rule = rule
            lines.append(f"    g{index} = {self._aggregate_value(aggregate, index)}")
        if totals:
            lines.append("    total = 0")
            lines += [f"    group_{group.index} = 0" for group in self.scoring.groups]
        results = []
        for rule in self.scoring.rules:
            self.rule = rule
            # A rule in a group adds to the group's sum, which is capped below.
            into = "total" if rule.group is None else f"group_{rule.group}"
            lines.append(f"    # rule {rule.index}")
            if rule.kind != "profile":
                results.append("False")
                if totals:
                    lines += self._activity_total(rule, into)
                continue
            assert rule.condition is not None
            if not conditions:
                lines.append(f"    if {self.cond(rule.condition)}:")
                lines.append(f"        {into} += {rule.points}")
                continue
            lines.append(f"    r{rule.index} = {self.cond(rule.condition)}")
            if totals:
                lines.append(f"    if r{rule.index}:")
                lines.append(f"        {into} += {rule.points}")
            results.append(f"r{rule.index}")
        met = f"({', '.join(results)}{',' if len(results) == 1 else ''})"
        if not totals:
            lines.append(f"    return {met}")
            return lines
        lines += self._group_totals()
        if self.scoring.floor is not None:
            lines += [
                f"    if total < {self.scoring.floor}:",
                f"        total = {self.scoring.floor}",
            ]
        if self.scoring.ceiling is not None:
            lines += [
                f"    if total > {self.scoring.ceiling}:",
                f"        total = {self.scoring.ceiling}",
            ]
        if not conditions:
            lines.append("    return total")
            return _without_unused(lines, ("at", "prefiltered"))
        # Thresholds are ascending, so the first one out of reach ends the search.
        lines.append("    level = None")
        for position, threshold in enumerate(self.scoring.thresholds):
            indent = "    " * (position + 1)
            lines.append(f"{indent}if total >= {threshold.points}:")
            lines.append(f"{indent}    level = {self.const(threshold.name)}")
        lines.append(f"    return total, level, {met}")
        return lines

    def _group_totals(self) -> list[str]:
        """Cap each group's sum at its cap, up or down, and add it to ``total``."""
        lines = []
        for group in self.scoring.groups:
            name = f"group_{group.index}"
            lines += [
                f"    # group {group.index}",
                f"    if {name} > {group.cap}:",
                f"        {name} = {group.cap}",
                f"    elif {name} < {-group.cap}:",
                f"        {name} = {-group.cap}",
                f"    total += {name}",
            ]
        return lines

    def _activity_total(self, rule: ProgramRule, into: str) -> list[str]:
        """Add up the valid awards of an ``on`` rule and add its capped points to ``into``."""
        index = rule.index
        # Only an `expire after` can give None, for an expiry past the end of datetime.
        unexpired = "(e is None or at < e)" if rule.validity.kind == "after" else "at < e"
        valid = (
            "a.occurred_at <= at"
            if rule.validity.kind == "never"
            else f"a.occurred_at <= at and {unexpired}"
        )
        if rule.decay is None and rule.validity.kind == "never":
            # Every award is worth the rule's points, so counting them is enough; when the
            # engine has already dropped activities after `at`, the list length is the count.
            lines = [
                "    if prefiltered:",
                f"        n = len(awards[{index}])",
                "    else:",
                "        n = 0",
                f"        for a, e in awards[{index}]:",
                "            if a.occurred_at <= at:",
                "                n += 1",
                f"    c = n * {rule.points}",
            ]
        elif rule.decay is None:
            lines = [
                "    n = 0",
                "    if prefiltered:",
                f"        for a, e in awards[{index}]:",
                f"            if {unexpired}:",
                "                n += 1",
                "    else:",
                f"        for a, e in awards[{index}]:",
                f"            if {valid}:",
                "                n += 1",
                f"    c = n * {rule.points}",
            ]
        else:
            lines = ["    c = 0", f"    for a, e in awards[{index}]:", f"        if {valid}:"]
            lines += ["            " + line for line in self._decayed_value(rule)]
        if rule.cap is not None and rule.points >= 0:
            lines += [f"    if c > {rule.cap}:", f"        c = {rule.cap}"]
        elif rule.cap is not None:
            lines += [f"    if c < {-rule.cap}:", f"        c = {-rule.cap}"]
        lines.append(f"    {into} += c")
        return lines

    def _decayed_value(self, rule: ProgramRule) -> list[str]:
        """Add the value of award ``a`` at ``at`` to ``c``, read from the rule's table of values."""
        assert rule.decay is not None
        table = runtime.DecayTable(rule.points, rule.decay.rate)
        period = rule.decay.period
        if period.unit in EXACT_UNITS:
            periods = f"(at - a.occurred_at) // {self.const(period.as_timedelta())}"
        else:
            periods = f"_runtime.calendar_periods(a.occurred_at, {self.const(period)}, _tz, at)"
        # Each rule binds a table of its own, because the cached values depend on its points.
        name = f"_decay_{rule.index}"
        self.constants[name] = table
        self.constants[f"{name}_values"] = table.values
        return [
            f"k = {periods}",
            f"if k < {table.zero_after}:",
            f"    v = {name}_values.get(k)",
            "    if v is None:",
            f"        v = {name}(k)",
            "    c += v",
        ]

    def _aggregate_value(self, aggregate: ast.Aggregate, index: int) -> str:
        entries = f"entries[{index}]"
        if aggregate.within is None:
            lower = "None"
        elif aggregate.within.unit in EXACT_UNITS:
            # For exact units, "at < occurred_at + within" is "occurred_at > at - within".
            length = aggregate.within.as_timedelta()
            checked = f"_runtime.window_start(at, {self.const(aggregate.within)}, _tz)"
            # From `first_safe` on, `at - length` cannot underflow. Before it, the checked
            # call gives None (no lower bound) when the bound would be before year 1.
            first_safe = runtime.shift_or_none(_EARLIEST, length + runtime.DAY)
            if first_safe is None:
                lower = checked
            else:
                lower = (
                    f"(at - {self.const(length)} if at >= {self.const(first_safe)} else {checked})"
                )
        else:
            entries = (
                f"_runtime.calendar_window({entries}, {self.const(aggregate.within)}, _tz, at)"
            )
            lower = "None"
        function = aggregate.function
        if function in ("count", "exists", "first", "last"):
            return f"_runtime.aggregate_{function}({entries}, {lower}, at, ctx.prefiltered)"
        return f"_runtime.aggregate_numeric(ctx, {self.site(aggregate)}, {function!r}, {entries}, {lower}, at)"

    # ---------------------------------------------------------------- expressions

    def _path(self, root: str, path: tuple[str, ...]) -> str:
        if len(path) == 1:
            # pget and xget are the bound .get of the profile and the attributes.
            return f"{root}get({self.const(path[0])})"
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
        # Only the dot forms (contact.id, activity.type, …) read the contact or activity
        # itself. The bracket forms, such as contact["id"], read the profile or attributes.
        if node.root == "contact":
            if node.builtin:
                # A matcher has no contact id parameter, but every activity it matches belongs
                # to the contact being scored, so the activity's contact_id is that id.
                return "a.contact_id" if self.in_matcher else "cid"
            return self._path("p", node.path)
        if node.builtin:
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
        # They skip the helper only when the helper would return the same result.
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
        if (
            isinstance(right_node, ast.Literal_)
            and right_node.kind == "number"
            and op in ("==", "<", "<=", ">", ">=")
        ):
            k = self._literal(right_node.value)
            c = self.temp()
            return f"({t} {op} {k} if ({c} := ({t} := {left}).__class__) is int or {c} is float else {self._slow(op, site, t, k)})"
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
        search = self.const(searcher(compile_regex(node.pattern, node.flags)))
        t = self.temp()
        left = self.value(node.left)
        slow = f"_runtime.matches(ctx, {self.site(node)}, {t}, {search})"
        return f"({search}({t}) if ({t} := {left}).__class__ is _str else {slow})"

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


def _without_unused(lines: list[str], names: tuple[str, ...]) -> list[str]:
    """Drop the ``name = ctx.name`` lines of a function whose body never reads ``name``.

    Rule text is never pasted into generated code, so a whole-word match of the name
    can only be a use of the local variable.
    """
    kept = lines
    for name in names:
        binding = f"    {name} = ctx.{name}"
        body = "\n".join(line for line in kept if line != binding)
        if re.search(rf"\b{name}\b", body) is None:
            kept = [line for line in kept if line != binding]
    return kept
