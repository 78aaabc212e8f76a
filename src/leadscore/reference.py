"""The reference evaluator: the language's semantics as a plain tree walk.

It is slow and obvious on purpose. The compiled engine is tested against it on random
rules and data, so any fast path that changes a result shows up as a failing property
test. Use it through `leadscore.compile(text, evaluator="reference")` when debugging a
surprising score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from leadscore import runtime
from leadscore.evaluation import (
    activity_rule_result,
    assemble_card,
    diagnostics_for,
    grade_results,
    group_name,
    prepare_activities,
    profile_rule_result,
    resolve_instant,
    site_for,
)
from leadscore.language import syntax as ast
from leadscore.language.patterns import compile_glob, compile_regex, plain_search
from leadscore.language.program import Program, ProgramRule, ProgramScoring
from leadscore.model import Activity, Contact, Duration
from leadscore.runtime import EvalContext
from leadscore.scorecard import Award, RuleResult, Scores

__all__ = ["ReferenceEvaluator"]


class ReferenceEvaluator:
    """Score contacts by walking the checked syntax tree, with no compilation or caching."""

    def __init__(self, program: Program, default_timezone: ZoneInfo | None = None) -> None:
        self.program = program
        self.default_timezone = default_timezone

    def score(
        self, contact: Contact, activities: Iterable[Activity], at: dt.datetime | None = None
    ) -> Scores:
        """Score one contact in every scoring as of ``at``."""
        instant = resolve_instant(at, self.default_timezone)
        kept = prepare_activities(contact, activities, instant, self.default_timezone)
        cards = {
            scoring.name: self._score_one(scoring, contact, kept, instant)
            for scoring in self.program.scorings
        }
        personas = {
            persona.name: self._score_one(persona, contact, kept, instant)
            for persona in self.program.personas
        }
        totals = {name: card.total for name, card in cards.items()}
        return Scores(cards, personas, grade_results(self.program.grades, totals))

    def _score_one(
        self, scoring: ProgramScoring, contact: Contact, activities: list[Activity], at: dt.datetime
    ) -> Any:
        ctx = EvalContext(at, scoring.timezone, self.default_timezone)
        results: list[RuleResult] = []
        for rule in scoring.rules:
            walker = _Walker(ctx, rule, contact, activities, scoring.timezone)
            group = group_name(scoring, rule)
            if rule.kind == "profile":
                walker.compute_aggregates()
                assert rule.condition is not None
                met = walker.condition(rule.condition, None)
                results.append(profile_rule_result(rule, met, group))
                continue
            valid: list[Award] = []
            for activity in activities:
                if activity.type not in rule.activity_types:
                    continue
                if rule.where is not None and not walker.condition(rule.where, activity):
                    continue
                expires_at = runtime.expiry(activity.occurred_at, rule.validity, scoring.timezone)
                if activity.occurred_at <= at and (expires_at is None or at < expires_at):
                    points = _decayed(rule, activity.occurred_at, at, scoring.timezone)
                    valid.append(Award(activity, points, expires_at))
            results.append(activity_rule_result(rule, valid, group))
        return assemble_card(
            scoring, contact.id, at, results, diagnostics_for(scoring, ctx.diagnostics)
        )


def _decayed(
    rule: ProgramRule, occurred_at: dt.datetime, at: dt.datetime, timezone: ZoneInfo
) -> int:
    """Return an award's value at ``at``, counting whole periods one step at a time."""
    if rule.decay is None:
        return rule.points
    period = rule.decay.period
    if not period.is_calendar:
        periods = (at - occurred_at) // period.as_timedelta()
    else:
        periods = 0
        while True:
            step = Duration(period.amount * (periods + 1), period.unit)
            reached = runtime.add_duration_or_none(occurred_at, step, timezone)
            # None is past the end of the calendar, so after any instant.
            if reached is None or reached > at:
                break
            periods += 1
    return runtime.decayed_points(rule.points, rule.decay.rate, periods)


class _Walker:
    """Evaluate the expressions of one rule for one contact."""

    def __init__(
        self,
        ctx: EvalContext,
        rule: ProgramRule,
        contact: Contact,
        activities: list[Activity],
        timezone: ZoneInfo,
    ) -> None:
        self.ctx = ctx
        self.rule = rule
        self.contact = contact
        self.activities = activities
        self.timezone = timezone
        self.aggregate_values: dict[int, Any] = {}

    def site(self, node: Any) -> runtime.Site:
        return site_for(self.rule.index, node)

    # ---------------------------------------------------------------- aggregates

    def compute_aggregates(self) -> None:
        """Evaluate every aggregate of the rule up front.

        The compiled engine evaluates an aggregate's ``where`` for every activity as it
        arrives, even when the condition later short-circuits past the aggregate, so
        the reference does the same to report the same diagnostics.
        """
        for aggregate in self.rule.aggregates:
            self.aggregate_values[id(aggregate)] = self._aggregate(aggregate)

    def _aggregate(self, aggregate: ast.Aggregate) -> Any:
        matching: list[Activity] = []
        for activity in self.activities:
            if activity.type != aggregate.activity_type:
                continue
            if aggregate.where is not None and not self.condition(aggregate.where, activity):
                continue
            matching.append(activity)
        # An activity is in the window from when it occurs until `within` after that,
        # exclusive: the same instant at which `expire after` would end its award. A
        # window that would end past year 9999 never ends.
        in_window = []
        for activity in matching:
            if activity.occurred_at > self.ctx.at:
                continue
            if aggregate.within is not None:
                end = runtime.add_duration_or_none(
                    activity.occurred_at, aggregate.within, self.timezone
                )
                if end is not None and end <= self.ctx.at:
                    continue
            in_window.append(activity)
        function = aggregate.function
        if function == "count":
            return len(in_window)
        if function == "exists":
            return bool(in_window)
        if function == "first":
            return min((a.occurred_at for a in in_window), default=None)
        if function == "last":
            return max((a.occurred_at for a in in_window), default=None)
        values = [runtime.field(activity.attributes, aggregate.attribute) for activity in in_window]
        return runtime.aggregate_values(self.ctx, self.site(aggregate), function, values)

    # ---------------------------------------------------------------- expressions

    def condition(self, node: ast.Expr, activity: Activity | None) -> bool:
        """Evaluate ``node`` as a condition: true only for the boolean true."""
        value = self.value(node, activity)
        if value is True or value is False:
            return value
        return runtime.truth(self.ctx, self.site(node), value)

    def value(self, node: ast.Expr, activity: Activity | None) -> Any:
        """Evaluate ``node`` to a data value."""
        ctx = self.ctx
        if isinstance(node, ast.Literal_):
            return node.value
        if isinstance(node, ast.ListLiteral):
            return [self.value(item, activity) for item in node.items]
        if isinstance(node, ast.Field):
            return self._field(node, activity)
        if isinstance(node, ast.Aggregate):
            return self.aggregate_values[id(node)]
        if isinstance(node, ast.Call):
            return self._call(node, activity)
        if isinstance(node, ast.Unary):
            if node.op == "not":
                return not self.condition(node.operand, activity)
            return runtime.negate(ctx, self.site(node), self.value(node.operand, activity))
        if isinstance(node, ast.Binary):
            left = self.value(node.left, activity)
            right = self.value(node.right, activity)
            return runtime.arithmetic(ctx, self.site(node), node.op, left, right)
        if isinstance(node, ast.BoolOp):
            if node.op == "and":
                return all(self.condition(operand, activity) for operand in node.operands)
            return any(self.condition(operand, activity) for operand in node.operands)
        if isinstance(node, ast.Compare):
            return self._compare(node, activity)
        if isinstance(node, ast.Matches):
            text = self.value(node.left, activity)
            # The plain re-like search, not the compiled engine's memoised fast path, so
            # the property tests compare two independent ways of matching.
            regex = compile_regex(node.pattern, node.flags)
            return runtime.matches(ctx, self.site(node), text, lambda t: plain_search(regex, t))
        if isinstance(node, ast.Glob):
            text = self.value(node.left, activity)
            return runtime.glob(ctx, self.site(node), text, compile_glob(node.pattern).matcher())
        raise AssertionError(f"unhandled syntax node {type(node).__name__}")

    def _field(self, node: ast.Field, activity: Activity | None) -> Any:
        # Only the dot forms (contact.id, activity.type, …) read the contact or activity
        # itself. The bracket forms, such as contact["id"], read the profile or attributes.
        if node.root == "contact":
            if node.builtin:
                return self.contact.id
            return runtime.field(self.contact.profile, node.path)
        assert activity is not None, (
            "the checker allows activity fields only where there is an activity"
        )
        if node.builtin:
            return getattr(activity, node.path[0])
        return runtime.field(activity.attributes, node.path)

    def _call(self, node: ast.Call, activity: Activity | None) -> Any:
        ctx = self.ctx
        if node.name == "now":
            return ctx.at
        arguments = [self.value(argument, activity) for argument in node.args]
        if node.name == "filled":
            return runtime.filled(*arguments)
        site = self.site(node)
        function = {
            "lower": runtime.lower,
            "upper": runtime.upper,
            "len": runtime.length,
            "domain": runtime.domain,
            "days_since": runtime.days_since,
        }[node.name]
        return function(ctx, site, arguments[0])

    def _compare(self, node: ast.Compare, activity: Activity | None) -> bool:
        ctx = self.ctx
        left = self.value(node.left, activity)
        if node.op == "is empty":
            return runtime.is_empty(left)
        if node.op == "is not empty":
            return not runtime.is_empty(left)
        assert node.right is not None
        right = self.value(node.right, activity)
        site = self.site(node)
        op = node.op
        if op == "==":
            return runtime.equal(ctx, site, left, right)
        if op == "!=":
            return runtime.not_equal(ctx, site, left, right)
        if op in ("<", "<=", ">", ">="):
            return runtime.order(ctx, site, op, left, right)
        if op == "in":
            return runtime.member(ctx, site, left, right)
        if op == "not in":
            return runtime.not_member(ctx, site, left, right)
        if op == "contains":
            return runtime.contains(ctx, site, left, right)
        if op == "starts with":
            return runtime.starts_with(ctx, site, left, right)
        return runtime.ends_with(ctx, site, left, right)
