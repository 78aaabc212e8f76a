"""What the tracker needs to know about an engine's rules, worked out once per engine.

An `EnginePlan` lists, per scoring and activity type, which rules and aggregates an
activity can feed, how long an activity stays relevant, and where a ``when`` condition
depends on the scoring instant. With it, `Tracker.advance` can tell when a contact's
score may change next without evaluating the contact at every instant.

Time-dependent conditions are found by shape. The tracker schedules a check at:

- every 24 hours after the instant given to ``days_since(x)``,
- the instant where ``now() ± durations`` meets the other side of a comparison,
  and one microsecond later, for ``<``, ``<=``, ``>``, ``>=``, ``==`` and ``!=``,
- the instant an aggregate entry leaves its ``within`` window.

Awards of rules with ``decay`` are rescheduled one value change at a time: `DecaySpec`
gives an award's value at an instant and the next instant that value changes, so
`Tracker.advance` costs time in proportion to the value changes on the way.

Any other use of ``now()`` (inside a function call, a list or ``in``) cannot be
scheduled. Such a rule changes only when the contact does, and building the plan logs
a warning for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from leadscore import runtime
from leadscore.compiler import CompiledScoring
from leadscore.engine import Engine
from leadscore.evaluation import next_decay_periods
from leadscore.language import syntax as ast
from leadscore.language.program import Decay, ProgramGrade, ProgramScoring, Validity
from leadscore.model import EXACT_UNITS, Activity, Duration, Threshold
from leadscore.runtime import EvalContext

__all__ = ["DecaySpec", "DispatchEntry", "EnginePlan", "ScoringPlan", "window_exit"]

logger = logging.getLogger("leadscore.tracking")

DAY = dt.timedelta(days=1)
MICROSECOND = dt.timedelta(microseconds=1)
_ORDERING = frozenset({"==", "!=", "<", "<=", ">", ">="})


@attrs.frozen
class DaysSinceProbe:
    """A ``days_since(argument)`` call whose argument does not read the instant."""

    argument: ast.Expr


@attrs.frozen
class NowProbe:
    """A comparison of ``now()`` moved by ``shifts`` with an ``other`` side free of the instant."""

    other: ast.Expr
    shifts: tuple[tuple[int, Duration], ...]


Probe = DaysSinceProbe | NowProbe


class DecaySpec:
    """The decay of one rule's awards, in the scoring's time zone.

    The periods at which an award's rounded value changes are worked out once per rule,
    so finding an award's value and its next change is a search in a short tuple.
    """

    __slots__ = ("changes", "period", "step", "timezone", "values")

    def __init__(self, points: int, decay: Decay, timezone: ZoneInfo) -> None:
        self.period = decay.period
        self.timezone = timezone
        # The period as a timedelta for minutes to weeks; None for calendar units.
        self.step = None if decay.period.is_calendar else decay.period.as_timedelta()
        zero_after = runtime.periods_to_zero(points, decay.rate)
        changes = [0]
        while changes[-1] < zero_after:
            changes.append(next_decay_periods(points, decay.rate, changes[-1], zero_after))
        # changes[i] is the first period count at which the value is values[i].
        self.changes = tuple(changes)
        self.values = tuple(
            runtime.decayed_points(points, decay.rate, periods) for periods in changes
        )

    def value_and_next(
        self, occurred_at: dt.datetime, at: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        """Return an award's value at ``at`` and the first later instant it changes, or None."""
        # runtime.decay_periods counts the same way, but converts the period on every
        # call. This runs once per decay step, so it uses the converted step.
        step = self.step
        if at <= occurred_at:
            periods = 0
        elif step is not None:
            periods = (at - occurred_at) // step
        else:
            periods = runtime.calendar_periods(occurred_at, self.period, self.timezone, at)
        index = bisect_right(self.changes, periods) - 1
        if index + 1 == len(self.changes):
            return self.values[index], None
        following = self.changes[index + 1]
        if step is not None:
            return self.values[index], occurred_at + following * step
        return self.values[index], runtime.period_step(
            occurred_at, self.period, following, self.timezone
        )


# One scoring's handling of an activity type: (scoring, matcher, (rule index, points, cap,
# decay or None) per ``on`` rule of the type, indices of the aggregates of the type).
DispatchEntry = tuple[
    "ScoringPlan",
    Callable[..., None],
    tuple[tuple[int, int, int | None, DecaySpec | None], ...],
    tuple[int, ...],
]


@attrs.define(eq=False)
class ScoringPlan:
    """One scoring's rules, grouped the way the tracker reads them."""

    position: int
    compiled: CompiledScoring
    scoring: ProgramScoring
    # The scoring's name, read on every changed total.
    name: str
    rule_names: tuple[str, ...]
    rule_points: tuple[int, ...]
    rule_caps: tuple[int | None, ...]
    # Per rule, how its awards decay, or None for a rule without decay.
    rule_decays: tuple[DecaySpec | None, ...]
    # Per rule, the index of its group or None; per group, the cap of its sum.
    rule_groups: tuple[int | None, ...]
    group_caps: tuple[int, ...]
    activity_rules: tuple[int, ...]
    profile_rules: tuple[int, ...]
    thresholds: tuple[Threshold, ...]
    threshold_points: tuple[int, ...]
    # Each threshold with its (scoring, threshold) name pair, as ``reached`` contains them.
    threshold_pairs: tuple[tuple[Threshold, tuple[str, str]], ...]
    floor: int | None
    ceiling: int | None
    type_rules: Mapping[str, tuple[int, ...]]
    type_aggregates: Mapping[str, tuple[int, ...]]
    aggregates: tuple[ast.Aggregate, ...]
    probes: tuple[Probe, ...]
    match_context: EvalContext
    # One empty list per rule, which matchers append awards to while the tracker reads them.
    scratch_awards: list[list[tuple[Activity, dt.datetime | None]]]
    # The conditions of a contact before any ``when`` rule is evaluated: all false.
    unmet: tuple[bool, ...]
    # The sums of a contact without awards: 0 for every rule.
    no_sums: tuple[int, ...]

    @property
    def timezone(self) -> ZoneInfo:
        """The scoring's time zone, used for calendar steps and dates."""
        return self.scoring.timezone


class EnginePlan:
    """The per-engine tables of the tracker: dispatch, relevance and time-dependent conditions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.default_timezone = engine.default_timezone
        # Personas are tracked like scorings, after them, so that one state contains both.
        self.scorings = tuple(
            _scoring_plan(position, compiled, engine.default_timezone)
            for position, compiled in enumerate(engine.compiled + engine.compiled_personas)
        )
        self.scoring_count = len(engine.compiled)
        self.personas = self.scorings[self.scoring_count :]
        self.grades: tuple[ProgramGrade, ...] = engine.program.grades
        # Whether a change of totals can change a label: the persona or a grade.
        self.labelled = bool(self.personas or self.grades)
        self.persona_points = tuple(
            (persona, persona.thresholds[0].points) for persona in self.personas
        )
        # Scoring or persona name -> its position, for the grades.
        self.positions = {plan.name: plan.position for plan in self.scorings}
        dispatch: dict[str, list[tuple[int, Callable[..., None]]]] = {}
        for plan in self.scorings:
            for activity_type, matcher in plan.compiled.matchers.items():
                dispatch.setdefault(activity_type, []).append((plan.position, matcher))
        self.dispatch = {name: tuple(entries) for name, entries in dispatch.items()}
        self.type_dispatch: dict[str, tuple[DispatchEntry, ...]] = {
            name: tuple(
                (
                    self.scorings[position],
                    matcher,
                    tuple(
                        (
                            rule,
                            self.scorings[position].rule_points[rule],
                            self.scorings[position].rule_caps[rule],
                            self.scorings[position].rule_decays[rule],
                        )
                        for rule in self.scorings[position].type_rules.get(name, ())
                    ),
                    self.scorings[position].type_aggregates.get(name, ()),
                )
                for position, matcher in entries
            )
            for name, entries in dispatch.items()
        }
        # Positions of the scorings with ``when`` rules: only they have conditions to re-check.
        self.conditional = tuple(plan.position for plan in self.scorings if plan.profile_rules)
        # Whether any scoring has aggregates, whose entry lists need compacting after pruning.
        self.aggregated = any(plan.aggregates for plan in self.scorings)

        # Activity type -> how long an activity of that type can matter to any rule.
        validities: dict[str, list[tuple[Validity, ZoneInfo]]] = {}
        windows: dict[str, list[tuple[Duration | None, ZoneInfo]]] = {}
        for plan in self.scorings:
            for rule in plan.scoring.rules:
                for activity_type in rule.activity_types:
                    validities.setdefault(activity_type, []).append((rule.validity, plan.timezone))
            for aggregate in plan.aggregates:
                windows.setdefault(aggregate.activity_type, []).append(
                    (aggregate.within, plan.timezone)
                )
        self._validities = validities
        self._windows = windows
        # Types whose rules and windows are all exact lengths: the longest one, for a fast path.
        self.exact_relevance: dict[str, dt.timedelta] = {}
        for activity_type in set(validities) | set(windows):
            lengths = [
                validity.duration.as_timedelta()
                for validity, _ in validities.get(activity_type, ())
                if validity.kind == "after"
                and validity.duration is not None
                and not validity.duration.is_calendar
            ]
            lengths += [
                within.as_timedelta()
                for within, _ in windows.get(activity_type, ())
                if within is not None and not within.is_calendar
            ]
            if len(lengths) == len(validities.get(activity_type, ())) + len(
                windows.get(activity_type, ())
            ):
                self.exact_relevance[activity_type] = max(lengths)
        # Activity type -> (exact relevance or None, dispatch), read once per activity.
        self.types: dict[str, tuple[dt.timedelta | None, tuple[DispatchEntry, ...]]] = {
            activity_type: (self.exact_relevance.get(activity_type), dispatch_entries)
            for activity_type, dispatch_entries in self.type_dispatch.items()
        }
        self.fingerprint = _fingerprint(engine)

    def relevant_until(self, activity: Activity) -> dt.datetime | None:
        """Return the instant after which no rule can use ``activity``, or None for never.

        It is the latest award expiry and window exit over every rule and aggregate of
        the activity's type, and never before the activity itself.
        """
        occurred_at = activity.occurred_at
        exact = self.exact_relevance.get(activity.type)
        if exact is not None:
            return runtime.shift_or_none(occurred_at, exact)
        latest = occurred_at
        for validity, timezone in self._validities.get(activity.type, ()):
            expires_at = runtime.expiry(occurred_at, validity, timezone)
            if expires_at is None:
                return None
            latest = max(latest, expires_at)
        for within, timezone in self._windows.get(activity.type, ()):
            exit_at = None if within is None else window_exit(occurred_at, within, timezone)
            if exit_at is None:
                return None
            latest = max(latest, exit_at)
        return latest

    def threshold_names(self) -> set[tuple[str, str]]:
        """Return every (scoring, threshold) name pair of the engine's scorings."""
        return {
            (plan.name, threshold.name)
            for plan in self.scorings
            for threshold, _ in plan.threshold_pairs
        }


def _fingerprint(engine: Engine) -> str:
    # The checked program's repr includes every literal, name, setting and source
    # position of the rules, so any edit of the rule text changes the fingerprint.
    text = repr(engine.program.scorings) + repr(engine.default_timezone)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _scoring_plan(
    position: int, compiled: CompiledScoring, default_timezone: ZoneInfo | None
) -> ScoringPlan:
    scoring = compiled.scoring
    persona = scoring.kind == "persona"
    type_rules: dict[str, list[int]] = {}
    type_aggregates: dict[str, list[int]] = {}
    aggregates: list[ast.Aggregate] = []
    probes: list[Probe] = []
    for rule in scoring.rules:
        for activity_type in rule.activity_types:
            type_rules.setdefault(activity_type, []).append(rule.index)
        # The compiler numbers aggregates across the scoring in rule order; so does this loop.
        for aggregate in rule.aggregates:
            type_aggregates.setdefault(aggregate.activity_type, []).append(len(aggregates))
            aggregates.append(aggregate)
        if rule.kind == "profile" and rule.condition is not None:
            unsupported: list[str] = []
            probes.extend(_probes(rule.condition, unsupported))
            for text in unsupported:
                logger.warning(
                    "scoring %r, rule %r: the tracker cannot tell when %s changes, so the rule "
                    "is re-evaluated only when the contact changes",
                    scoring.name,
                    rule.name,
                    text,
                )
    return ScoringPlan(
        position=position,
        compiled=compiled,
        scoring=scoring,
        name=scoring.name,
        rule_names=tuple(rule.name for rule in scoring.rules),
        rule_points=tuple(rule.points for rule in scoring.rules),
        rule_groups=tuple(rule.group for rule in scoring.rules),
        group_caps=tuple(group.cap for group in scoring.groups),
        rule_caps=tuple(rule.cap for rule in scoring.rules),
        rule_decays=tuple(
            None if rule.decay is None else DecaySpec(rule.points, rule.decay, scoring.timezone)
            for rule in scoring.rules
        ),
        activity_rules=tuple(rule.index for rule in scoring.rules if rule.kind == "activity"),
        profile_rules=tuple(rule.index for rule in scoring.rules if rule.kind == "profile"),
        thresholds=scoring.thresholds,
        # A persona's threshold decides membership, through `Scorer`, not threshold events.
        threshold_points=() if persona else tuple(t.points for t in scoring.thresholds),
        threshold_pairs=()
        if persona
        else tuple((threshold, (scoring.name, threshold.name)) for threshold in scoring.thresholds),
        floor=scoring.floor,
        ceiling=scoring.ceiling,
        type_rules={name: tuple(indices) for name, indices in type_rules.items()},
        type_aggregates={name: tuple(indices) for name, indices in type_aggregates.items()},
        aggregates=tuple(aggregates),
        probes=tuple(probes),
        match_context=EvalContext(
            dt.datetime(1970, 1, 1, tzinfo=dt.UTC), scoring.timezone, default_timezone
        ),
        scratch_awards=[[] for _ in scoring.rules],
        unmet=(False,) * len(scoring.rules),
        no_sums=(0,) * len(scoring.rules),
    )


# ---------------------------------------------------------------- finding time-dependent conditions


def _children(node: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(node, ast.Unary):
        yield node.operand
    elif isinstance(node, ast.Binary):
        yield node.left
        yield node.right
    elif isinstance(node, ast.BoolOp):
        yield from node.operands
    elif isinstance(node, ast.Compare):
        yield node.left
        if node.right is not None:
            yield node.right
    elif isinstance(node, ast.Matches | ast.Glob):
        yield node.left
    elif isinstance(node, ast.Call):
        yield from node.args
    elif isinstance(node, ast.ListLiteral):
        yield from node.items


def _reads_instant(node: ast.Expr) -> bool:
    if isinstance(node, ast.Call) and node.name in ("now", "days_since"):
        return True
    return any(_reads_instant(child) for child in _children(node))


def _now_shifts(node: ast.Expr) -> tuple[tuple[int, Duration], ...] | None:
    """Return the durations added to ``now()`` in ``node``, or None for another shape."""
    if isinstance(node, ast.Call) and node.name == "now":
        return ()
    if isinstance(node, ast.Binary) and node.op in ("+", "-"):
        right = node.right
        if isinstance(right, ast.Literal_) and isinstance(right.value, Duration):
            inner = _now_shifts(node.left)
            if inner is not None:
                return (*inner, (1 if node.op == "+" else -1, right.value))
        left = node.left
        if node.op == "+" and isinstance(left, ast.Literal_) and isinstance(left.value, Duration):
            inner = _now_shifts(node.right)
            if inner is not None:
                return (*inner, (1, left.value))
    return None


def _probes(node: ast.Expr, unsupported: list[str]) -> Iterator[Probe]:
    if isinstance(node, ast.Compare) and node.op in _ORDERING and node.right is not None:
        for now_side, other in ((node.left, node.right), (node.right, node.left)):
            shifts = _now_shifts(now_side)
            if shifts is not None and not _reads_instant(other):
                yield NowProbe(other, shifts)
                return
    if isinstance(node, ast.Call) and node.name == "days_since":
        if node.args and not _reads_instant(node.args[0]):
            yield DaysSinceProbe(node.args[0])
        else:
            unsupported.append(_text(node))
        return
    if isinstance(node, ast.Call) and node.name == "now":
        unsupported.append(_text(node))
        return
    for child in _children(node):
        yield from _probes(child, unsupported)


def _text(node: Any) -> str:
    span: ast.Span = node.span
    return span.origin.text[span.start : span.end]


# ---------------------------------------------------------------- instants


def window_exit(
    occurred_at: dt.datetime, within: Duration, timezone: ZoneInfo
) -> dt.datetime | None:
    """Return the first instant at which an entry at ``occurred_at`` is outside a ``within`` window.

    An entry is in the window while ``at < occurred_at + within``, with months and years
    stepped on the scoring's wall clock, so it leaves exactly once, at that instant.
    None means never: the exit would fall after the last instant a datetime can hold.
    """
    return runtime.add_duration_or_none(occurred_at, within, timezone)


def instant_of(
    value: Any, timezone: ZoneInfo, default_timezone: ZoneInfo | None
) -> dt.datetime | None:
    """Return a date or datetime as the instant the runtime compares it as, or None."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value
        return None if default_timezone is None else value.replace(tzinfo=default_timezone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=timezone)
    return None


def next_condition_change(
    plan: ScoringPlan,
    profile: Mapping[str, Any],
    contact_id: str,
    entries: Sequence[Sequence[tuple[dt.datetime, Any, Activity]]],
    at: dt.datetime,
    default_timezone: ZoneInfo | None,
) -> dt.datetime | None:
    """Return the next instant after ``at`` where a ``when`` condition of the scoring may change.

    Costs one pass over the aggregate entries plus one evaluation per probe.
    """
    timezone = plan.timezone
    earliest: dt.datetime | None = None
    for index, aggregate in enumerate(plan.aggregates):
        within = aggregate.within
        if within is None:
            continue
        exact = within.as_timedelta() if within.unit in EXACT_UNITS else None
        for occurred_at, _, _ in entries[index]:
            exit_at = (
                runtime.shift_or_none(occurred_at, exact)
                if exact is not None
                else window_exit(occurred_at, within, timezone)
            )
            if exit_at is None:
                continue
            if exit_at > at and (earliest is None or exit_at < earliest):
                earliest = exit_at
    if not plan.probes:
        return earliest
    evaluator = _ValueEvaluator(plan, profile, contact_id, entries, at, default_timezone)
    for probe in plan.probes:
        for candidate in _probe_instants(probe, evaluator, at):
            if candidate > at and (earliest is None or candidate < earliest):
                earliest = candidate
    return earliest


def _probe_instants(probe: Probe, evaluator: _ValueEvaluator, at: dt.datetime) -> list[dt.datetime]:
    timezone = evaluator.plan.timezone
    value = evaluator.value(probe.argument if isinstance(probe, DaysSinceProbe) else probe.other)
    instant = instant_of(value, timezone, evaluator.default_timezone)
    if instant is None:
        return []
    if isinstance(probe, DaysSinceProbe):
        periods = math.floor((at - instant) / DAY)
        return [instant + (periods + 1) * DAY]
    # Solve now() ± shifts == instant for now() by undoing the shifts in reverse order.
    solved = instant
    calendar = False
    for sign, duration in reversed(probe.shifts):
        solved = runtime.add_duration(solved, duration, timezone, -sign)
        calendar = calendar or duration.is_calendar
    instants = [solved, solved + MICROSECOND]
    if calendar:
        # NOTE: a calendar step cannot be undone exactly at a month's end. Checking the next
        # local midnight too covers a clamped day, but not every hour of one.
        local = solved.astimezone(timezone)
        midnight = dt.datetime.combine(local.date() + DAY, dt.time(0), tzinfo=timezone).astimezone(
            dt.UTC
        )
        instants += [midnight, midnight + MICROSECOND]
    return instants


class _ValueEvaluator:
    """Evaluate expressions that do not read the instant, for finding when a condition changes."""

    def __init__(
        self,
        plan: ScoringPlan,
        profile: Mapping[str, Any],
        contact_id: str,
        entries: Sequence[Sequence[tuple[dt.datetime, Any, Activity]]],
        at: dt.datetime,
        default_timezone: ZoneInfo | None,
    ) -> None:
        self.plan = plan
        self.profile = profile
        self.contact_id = contact_id
        self.entries = entries
        self.at = at
        self.default_timezone = default_timezone
        # Diagnostics found here are dropped: the score card collects its own.
        self.context = EvalContext(at, plan.timezone, default_timezone)
        self.site = runtime.Site(0, "")

    def value(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.Literal_):
            return node.value
        if isinstance(node, ast.ListLiteral):
            return [self.value(item) for item in node.items]
        if isinstance(node, ast.Field):
            if node.root != "contact":
                return None
            if node.path == ("id",):
                return self.contact_id
            return runtime.field(self.profile, node.path)
        if isinstance(node, ast.Aggregate):
            return self._aggregate(node)
        if isinstance(node, ast.Unary) and node.op == "-":
            return runtime.negate(self.context, self.site, self.value(node.operand))
        if isinstance(node, ast.Binary):
            left = self.value(node.left)
            right = self.value(node.right)
            return runtime.arithmetic(self.context, self.site, node.op, left, right)
        if isinstance(node, ast.Call) and node.args:
            arguments = [self.value(argument) for argument in node.args]
            if node.name == "filled":
                return runtime.filled(*arguments)
            function = {
                "lower": runtime.lower,
                "upper": runtime.upper,
                "len": runtime.length,
                "domain": runtime.domain,
            }.get(node.name)
            if function is not None:
                return function(self.context, self.site, arguments[0])
        return None

    def _aggregate(self, node: ast.Aggregate) -> Any:
        index = next(i for i, aggregate in enumerate(self.plan.aggregates) if aggregate is node)
        entries = self.entries[index]
        lower = None
        if node.within is not None and node.within.is_calendar:
            entries = runtime.calendar_window(entries, node.within, self.plan.timezone, self.at)
        else:
            lower = runtime.window_start(self.at, node.within, self.plan.timezone)
        function = node.function
        if function == "count":
            return runtime.aggregate_count(entries, lower, self.at)
        if function == "exists":
            return runtime.aggregate_exists(entries, lower, self.at)
        if function == "first":
            return runtime.aggregate_first(entries, lower, self.at)
        if function == "last":
            return runtime.aggregate_last(entries, lower, self.at)
        return runtime.aggregate_numeric(self.context, self.site, function, entries, lower, self.at)
