"""Steps shared by every evaluator: preparing inputs, and turning rule results into a card.

Both the compiled engine and the reference evaluator call these, so the two differ
only in how they evaluate conditions, never in how inputs are cleaned or totals added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from leadscore import runtime
from leadscore.errors import DataError
from leadscore.language import syntax as ast
from leadscore.language.program import Band, ProgramGrade, ProgramRule, ProgramScoring
from leadscore.model import Activity, Contact
from leadscore.runtime import Site
from leadscore.scorecard import (
    Award,
    Diagnostic,
    GradeResult,
    RuleResult,
    ScoreCard,
    group_results,
)

UTC = dt.UTC
_MAX_VALUE_REPR = 80
# A contact with thousands of bad values would otherwise carry thousands of diagnostics.
MAX_DIAGNOSTICS_PER_RULE = 20


# ---------------------------------------------------------------- inputs


def resolve_instant(at: dt.datetime | None, default_timezone: ZoneInfo | None) -> dt.datetime:
    """Return the scoring instant in UTC: now when ``at`` is None."""
    if at is None:
        return dt.datetime.now(UTC)
    if at.__class__ is dt.datetime and at.tzinfo is UTC:
        return at
    if not isinstance(at, dt.datetime):
        raise TypeError(f"at must be a datetime.datetime, got {type(at).__name__}")
    if at.tzinfo is None:
        if default_timezone is None:
            raise DataError(
                f"the scoring instant {at.isoformat()} has no time zone",
                hint="pass an aware datetime such as datetime(2026, 6, 30, tzinfo=UTC), "
                "or create the engine with default_timezone=",
            )
        at = at.replace(tzinfo=default_timezone)
    return at.astimezone(UTC)


def _full_key(activity: Activity) -> tuple[Any, ...]:
    return (
        activity.occurred_at,
        activity.type,
        activity.id or "",
        repr(sorted(activity.attributes.items())),
    )


def prepare_activities(
    contact: Contact,
    activities: Iterable[Activity],
    at: dt.datetime,
    default_timezone: ZoneInfo | None,
) -> list[Activity]:
    """Validate, deduplicate and filter a contact's activities for scoring as of ``at``.

    Activities after ``at`` are dropped. Of several activities with one id, the first
    by (time, type, attributes) counts, whatever order they arrive in; since that is
    also the earliest, dropping later ones first cannot change which one wins. A naive
    ``occurred_at`` takes ``default_timezone`` or raises DataError.
    """
    kept: list[Activity] = []
    keep = kept.append
    by_id: dict[str, int] = {}
    contact_id = contact.id
    activity_class = Activity
    for activity in activities:
        if activity.__class__ is not activity_class and not isinstance(activity, Activity):
            raise TypeError(f"expected leadscore.Activity, got {type(activity).__name__}")
        if activity.contact_id != contact_id:
            raise DataError(
                f"activity {activity.id or activity.type!r} belongs to contact {activity.contact_id!r}, "
                f"not to {contact_id!r}",
                hint="pass only the activities of the contact being scored",
            )
        occurred_at = activity.occurred_at
        if occurred_at.tzinfo is None:
            if default_timezone is None:
                raise DataError(
                    f"activity {activity.id or activity.type!r} of contact {contact_id!r} has a naive occurred_at",
                    field="occurred_at",
                    hint="give occurred_at a time zone, or create the engine with default_timezone=",
                )
            activity = attrs.evolve(
                activity, occurred_at=occurred_at.replace(tzinfo=default_timezone)
            )
            occurred_at = activity.occurred_at
        if occurred_at > at:
            continue
        activity_id = activity.id
        if activity_id is not None:
            if activity_id in by_id:
                seen = by_id[activity_id]
                if _full_key(activity) < _full_key(kept[seen]):
                    kept[seen] = activity
                continue
            by_id[activity_id] = len(kept)
        keep(activity)
    return kept


def sort_awards(awards: list[Award]) -> tuple[Award, ...]:
    """Order awards oldest first, with ties broken by content so input order never shows."""
    awards.sort(
        key=lambda award: (award.activity.occurred_at, award.activity.type, award.activity.id or "")
    )
    for index in range(1, len(awards)):
        previous, current = awards[index - 1].activity, awards[index].activity
        if (previous.occurred_at, previous.type, previous.id) == (
            current.occurred_at,
            current.type,
            current.id,
        ):
            awards.sort(key=lambda award: _full_key(award.activity))
            break
    return tuple(awards)


# ---------------------------------------------------------------- diagnostics sites


def source_text(node: Any) -> str:
    """Return the rule text a syntax node was parsed from."""
    span: ast.Span = node.span
    return span.origin.text[span.start : span.end]


def _is_constant(node: Any) -> bool:
    return isinstance(node, (ast.Literal_, ast.ListLiteral))


def site_for(rule: int, node: Any) -> Site:
    """Return where a diagnostic about ``node`` points: the operand that holds data, not the literal."""
    if isinstance(node, (ast.Compare, ast.Binary)) and node.right is not None:
        left, right = source_text(node.left), source_text(node.right)
        if _is_constant(node.left) and not _is_constant(node.right):
            return Site(rule, right, 1, left)
        return Site(rule, left, 0, right)
    if isinstance(node, (ast.Matches, ast.Glob)):
        return Site(rule, source_text(node.left))
    if isinstance(node, ast.Unary):
        return Site(rule, source_text(node.operand))
    if isinstance(node, ast.Call) and node.args:
        return Site(rule, source_text(node.args[0]))
    return Site(rule, source_text(node))


# ---------------------------------------------------------------- results to cards


def award_points(
    rule: ProgramRule, occurred_at: dt.datetime, at: dt.datetime, timezone: ZoneInfo
) -> int:
    """Return what one award of an ``on`` rule is worth at ``at``: its points, decayed by age."""
    if rule.decay is None:
        return rule.points
    periods = runtime.decay_periods(occurred_at, rule.decay.period, timezone, at)
    return runtime.decayed_points(rule.points, rule.decay.rate, periods)


def group_name(scoring: ProgramScoring, rule: ProgramRule) -> str | None:
    """Return the name of the group ``rule`` belongs to, or None."""
    return None if rule.group is None else scoring.groups[rule.group].name


def group_caps(scoring: ProgramScoring) -> tuple[tuple[str, int], ...]:
    """Return each group's name and cap, for `ScoreCard`."""
    return tuple((group.name, group.cap) for group in scoring.groups)


def activity_rule_result(
    rule: ProgramRule, valid: list[Award], group: str | None = None
) -> RuleResult:
    """Add up the valid awards of an ``on`` rule and apply its cap."""
    raw = sum(award.points for award in valid)
    points = raw
    if rule.cap is not None:
        points = min(raw, rule.cap) if rule.points >= 0 else max(raw, -rule.cap)
    return RuleResult(
        rule=rule.name,
        kind="activity",
        points=points,
        met=bool(valid),
        capped=points != raw,
        awards=sort_awards(valid),
        group=group,
    )


def profile_rule_result(rule: ProgramRule, met: bool, group: str | None = None) -> RuleResult:
    """Return a ``when`` rule's contribution: its points while the condition holds."""
    return RuleResult(
        rule=rule.name, kind="profile", points=rule.points if met else 0, met=met, group=group
    )


def diagnostics_for(
    scoring: ProgramScoring, raw: Iterable[tuple[int, str, Any, str]]
) -> tuple[Diagnostic, ...]:
    """Turn raw diagnostics into sorted, deduplicated `Diagnostic` values."""
    unique = set()
    for rule_index, text, value, message in raw:
        shown = repr(value)
        if len(shown) > _MAX_VALUE_REPR:
            shown = shown[: _MAX_VALUE_REPR - 1] + "…"
        unique.add(Diagnostic(scoring.name, scoring.rules[rule_index].name, text, shown, message))
    ordered = sorted(unique)
    per_rule: dict[str, int] = {}
    kept = []
    for diagnostic in ordered:
        count = per_rule.get(diagnostic.rule, 0)
        per_rule[diagnostic.rule] = count + 1
        if count < MAX_DIAGNOSTICS_PER_RULE:
            kept.append(diagnostic)
    return tuple(kept)


def assemble_card(
    scoring: ProgramScoring,
    contact_id: str,
    at: dt.datetime,
    results: Sequence[RuleResult],
    diagnostics: tuple[Diagnostic, ...],
) -> ScoreCard:
    """Add up rule contributions, cap groups, apply floor and ceiling, and find the level reached."""
    caps = group_caps(scoring)
    groups = group_results(caps, results)
    total = sum(result.points for result in results if result.group is None)
    total += sum(group.points for group in groups)
    if scoring.floor is not None and total < scoring.floor:
        total = scoring.floor
    if scoring.ceiling is not None and total > scoring.ceiling:
        total = scoring.ceiling
    reached = tuple(threshold for threshold in scoring.thresholds if total >= threshold.points)
    return ScoreCard(
        scoring.name,
        contact_id,
        at,
        total,
        reached[-1].name if reached else None,
        thresholds_reached=reached,
        breakdown=tuple(results),
        diagnostics=diagnostics,
        thresholds=scoring.thresholds,
        group_caps=caps,
        kind=scoring.kind,
    )


def level_of(scoring: ProgramScoring, total: int) -> str | None:
    """Return the name of the highest threshold ``total`` reaches, or None."""
    level = None
    for threshold in scoring.thresholds:
        if total < threshold.points:
            break
        level = threshold.name
    return level


# ---------------------------------------------------------------- grades


def band_of(bands: Sequence[Band], total: int) -> str | None:
    """Return the name of the highest band ``total`` reaches (bands are highest first), or None."""
    for band in bands:
        if total >= band.points:
            return band.name
    return None


def grade_results(
    grades: Sequence[ProgramGrade], totals: Mapping[str, int]
) -> dict[str, GradeResult]:
    """Return each grade's bands and label, from the totals of the scorings it names."""
    results = {}
    for grade in grades:
        fit = band_of(grade.fit_bands, totals[grade.fit])
        engagement = band_of(grade.engagement_bands, totals[grade.engagement])
        label = fit + engagement if fit is not None and engagement is not None else None
        results[grade.name] = GradeResult(grade.name, label, fit, engagement)
    return results


# ---------------------------------------------------------------- instants at which decay changes a value


def next_decay_change(
    scoring: ProgramScoring,
    awards: Sequence[Sequence[tuple[Activity, dt.datetime | None]]],
    at: dt.datetime,
) -> dt.datetime | None:
    """Return the first instant after ``at`` at which a valid award's decayed value changes.

    ``awards`` are the award lists `CompiledScoring.match_all` fills, one per rule.
    Only awards valid at ``at`` count, and a change at or after an award's expiry is
    left out, because the expiry ends the award first. Period boundaries at which the
    rounded value stays the same are skipped. Returns None when no value will change.
    """
    earliest: dt.datetime | None = None
    for rule in scoring.rules:
        decay = rule.decay
        if decay is None:
            continue
        zero_after = runtime.periods_to_zero(rule.points, decay.rate)
        for activity, expires_at in awards[rule.index]:
            occurred_at = activity.occurred_at
            if occurred_at > at or (expires_at is not None and expires_at <= at):
                continue
            periods = runtime.decay_periods(occurred_at, decay.period, scoring.timezone, at)
            if periods >= zero_after:
                continue
            changes = next_decay_periods(rule.points, decay.rate, periods, zero_after)
            instant = runtime.period_step(occurred_at, decay.period, changes, scoring.timezone)
            if instant is None or (expires_at is not None and instant >= expires_at):
                continue
            if earliest is None or instant < earliest:
                earliest = instant
    return earliest


def next_decay_periods(points: int, rate: int, periods: int, zero_after: int) -> int:
    """Return the fewest periods, more than ``periods``, at which the decayed value differs.

    The value only moves towards 0 as periods pass, so a binary search finds the first
    change, and at ``zero_after`` periods the value is 0, which differs from a value
    that is not.
    """
    current = runtime.decayed_points(points, rate, periods)
    low, high = periods, zero_after  # the value at low is current, and at high it differs
    while high - low > 1:
        middle = (low + high) // 2
        if runtime.decayed_points(points, rate, middle) == current:
            low = middle
        else:
            high = middle
    return high
