"""The readable diff of a `ScoreMismatch`: per scoring, what was expected, what came out, and why.

For each scoring that differs the report gives the expected and actual total and
level, then each rule whose points differ, with its breakdown line and the
activities behind it. Those are the valid awards with their expiry and, where decay
lowered them, their points before decay, and the activities of the rule's types that
earned nothing, with the reason: expired, or did not match the condition. The other
rules follow with their breakdown lines, so the whole total can be added up from the
report. An expected persona or grade label that differs gets its own section: each
persona's total, threshold and ratio, or the two totals and bands behind the grade,
each with its rules' breakdown lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs

from leadscore.engine import Engine
from leadscore.evaluation import resolve_instant
from leadscore.language import syntax as ast
from leadscore.language.program import Band, ProgramGrade, ProgramRule, ProgramScoring
from leadscore.model import Activity, Contact
from leadscore.runtime import decay_periods
from leadscore.runtime import field as read_field
from leadscore.scorecard import Award, RuleResult, ScoreCard, Scores
from leadscore.testing.expectations import (
    NOT_CHECKED,
    GradeDifference,
    PersonaDifference,
    ScoringDifference,
)
from leadscore.testing.hints import fields_read, iter_nodes

__all__ = ["ActivityLabels", "render_mismatch"]

# A label per activity, keyed by id() of the Activity object, such as "line 12" for
# an activity written in a test block.
ActivityLabels = Mapping[int, str]

# Characters of a profile or attribute value shown in the report.
VALUE_WIDTH = 60
# Activities listed as earning no award under one rule, at most.
MAX_UNAWARDED = 10


def quote(name: str) -> str:
    """Return a scoring, rule or threshold name in double quotes, as rule text writes it."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _instant(instant: dt.datetime | None) -> str:
    return "never" if instant is None else instant.isoformat()


def _level(level: object) -> str:
    return "none" if level is None else quote(str(level))


class _Report:
    def __init__(
        self,
        engine: Engine,
        contact: Contact,
        activities: Sequence[Activity],
        at: dt.datetime,
        labels: ActivityLabels,
    ) -> None:
        self.engine = engine
        self.contact = contact
        self.instant = resolve_instant(at, engine.default_timezone)
        # Labels move to the aware copies of activities with a naive time, as the engine
        # scores those copies.
        self.labels: dict[int, str] = {}
        aware = []
        for activity in activities:
            copy = _aware(activity, engine)
            if id(activity) in labels:
                self.labels[id(copy)] = labels[id(activity)]
            aware.append(copy)
        self.counted = [a for a in aware if a.occurred_at <= self.instant]
        self.later = [a for a in aware if a.occurred_at > self.instant]
        # Scores of one activity at its own instant, which tell whether it matches a rule.
        self._alone: dict[int, Scores] = {}

    # ---- pieces

    def activity(self, activity: Activity) -> str:
        parts = [activity.type]
        if activity.id is not None:
            parts.append(quote(activity.id))
        label = self.labels.get(id(activity))
        if label is not None:
            parts.append(f"({label})")
        return f"{' '.join(parts)} at {activity.occurred_at.isoformat()}"

    def _scored_alone(self, activity: Activity) -> Scores:
        key = id(activity)
        if key not in self._alone:
            self._alone[key] = self.engine.score(self.contact, [activity], at=activity.occurred_at)
        return self._alone[key]

    def summary(self, result: RuleResult, rule: ProgramRule) -> str:
        if result.kind == "profile":
            state = "condition met" if result.met else "condition not met"
            return f"{result.points} points, {state}"
        count = len(result.awards)
        if count == 0:
            return "0 points, no valid award"
        text = f"{result.points} points from {count} valid award{'s' if count != 1 else ''}"
        if result.capped:
            text += f", capped at {rule.cap}"
        return text

    def details(
        self, scoring: str, result: RuleResult, rule: ProgramRule, *, unawarded: bool
    ) -> list[str]:
        if result.kind == "profile":
            return [self._profile_reads(rule)] if fields_read(rule.condition) else []
        lines = [
            f"award: {self.activity(award.activity)}, {self._award_points(scoring, award, rule)}, "
            f"expires {_instant(award.expires_at)}"
            for award in result.awards
        ]
        if unawarded:
            lines.extend(self._unawarded(scoring, result, rule))
        return lines

    def _award_points(self, scoring: str, award: Award, rule: ProgramRule) -> str:
        """Write an award's points, with the rule's points and the decay when decay changed them."""
        text = f"{award.points} points"
        if rule.decay is None or award.points == rule.points:
            return text
        timezone = _program_scoring(self.engine, scoring).timezone
        periods = decay_periods(
            award.activity.occurred_at, rule.decay.period, timezone, self.instant
        )
        return (
            f"{text} ({rule.points}, decayed {rule.decay}, "
            f"{periods} period{'s' if periods != 1 else ''})"
        )

    def _profile_reads(self, rule: ProgramRule) -> str:
        values = []
        for node in fields_read(rule.condition):
            value = read_field(self.contact.profile, node.path)
            values.append(
                f"{node.text} not set" if value is None else f"{node.text} = {_value(value)}"
            )
        return "reads " + ", ".join(values)

    def _unawarded(self, scoring: str, result: RuleResult, rule: ProgramRule) -> list[str]:
        awarded = [award.activity for award in result.awards]
        candidates = [a for a in self.counted if a.type in rule.activity_types and a not in awarded]
        lines = []
        for activity in candidates[:MAX_UNAWARDED]:
            lines.append(
                f"no award: {self.activity(activity)}, {self._reason(scoring, rule, activity)}"
            )
        if len(candidates) > MAX_UNAWARDED:
            lines.append(f"… and {len(candidates) - MAX_UNAWARDED} more activities with no award")
        return lines

    def _reason(self, scoring: str, rule: ProgramRule, activity: Activity) -> str:
        """Say why an activity of the rule's types earned no valid award."""
        # Whether an activity matches does not depend on the scoring instant, so scoring
        # it alone at its own instant shows whether it matched and when its award expires.
        alone = _card(self._scored_alone(activity), scoring).rule(rule.name).awards
        if not alone:
            return "did not match the condition" + self._attributes_read(rule, activity)
        expires_at = alone[0].expires_at
        if expires_at is not None and expires_at <= self.instant:
            return f"expired {expires_at.isoformat()}"
        if activity.id is not None and any(
            other is not activity and other.id == activity.id for other in self.counted
        ):
            return "another activity with the same id counts instead"
        return "matched, but its award is not valid at the scoring instant"

    @staticmethod
    def _attributes_read(rule: ProgramRule, activity: Activity) -> str:
        if rule.where is None:
            return ""
        shown: dict[str, str] = {}
        for node in iter_nodes(rule.where):
            if isinstance(node, ast.Field) and node.root == "activity" and not node.builtin:
                value = read_field(activity.attributes, node.path)
                text = f"{node.text} not set" if value is None else f"{node.text} = {_value(value)}"
                shown.setdefault(node.text, text)
        return "; " + ", ".join(shown.values()) if shown else ""

    # ---- one scoring

    def scoring(self, difference: ScoringDifference) -> list[str]:
        card = difference.card
        expectation = difference.expectation
        program = _program_scoring(self.engine, difference.scoring)
        rules = {rule.name: rule for rule in program.rules}
        lines = [f"scoring {quote(difference.scoring)}:"]

        if expectation.total is None:
            lines.append(f"  total: {card.total}")
        elif difference.total_differs:
            lines.append(f"  total: expected {expectation.total}, actual {card.total}")
        else:
            lines.append(f"  total: {card.total}, as expected")
        if expectation.level is NOT_CHECKED:
            lines.append(f"  level: {_level(card.level)}")
        elif difference.level_differs:
            lines.append(
                f"  level: expected {_level(expectation.level)}, actual {_level(card.level)}"
            )
        else:
            lines.append(f"  level: {_level(card.level)}, as expected")
        thresholds = self.engine.thresholds(difference.scoring)
        if thresholds:
            listed = ", ".join(f"{quote(t.name)} at {t.points}" for t in thresholds)
            lines.append(f"  thresholds: {listed}")

        differing = {d.rule for d in difference.rules}
        if difference.rules:
            lines.append("  rules whose points differ:")
            for rule_difference in difference.rules:
                result, rule = rule_difference.actual, rules[rule_difference.rule]
                lines.append(
                    f"    rule {quote(rule.name)}: expected {rule_difference.expected} points, "
                    f"actual {result.points}"
                )
                lines.append(f"      {self.summary(result, rule)}")
                details = self.details(difference.scoring, result, rule, unawarded=True)
                lines.extend(f"      {line}" for line in details)

        # Without rule expectations any rule may explain the total, so every rule shows why
        # its activities earned nothing.
        explain_all = not expectation.rules
        others = [result for result in card.breakdown if result.rule not in differing]
        if others:
            lines.append("  other rules:" if differing else "  breakdown:")
        for result in others:
            rule = rules[result.rule]
            note = ", as expected" if result.rule in expectation.rules else ""
            lines.append(f"    rule {quote(rule.name)}: {self.summary(result, rule)}{note}")
            details = self.details(difference.scoring, result, rule, unawarded=explain_all)
            lines.extend(f"      {line}" for line in details)

        if card.diagnostics:
            lines.append("  values the rules could not use:")
            lines.extend(
                f"    rule {quote(d.rule)}: {d.field} = {d.value}: {d.message}"
                for d in card.diagnostics
            )
        return lines

    def _rules(self, name: str, card: ScoreCard, indent: str) -> list[str]:
        """Write the breakdown line of each rule of a scoring or persona, with its activities."""
        rules = {rule.name: rule for rule in _program_scoring(self.engine, name).rules}
        lines = []
        for result in card.breakdown:
            rule = rules[result.rule]
            lines.append(f"{indent}rule {quote(rule.name)}: {self.summary(result, rule)}")
            details = self.details(name, result, rule, unawarded=True)
            lines.extend(f"{indent}  {line}" for line in details)
        return lines

    # ---- the persona and grades

    def persona(self, difference: PersonaDifference, scores: Scores) -> list[str]:
        lines = [
            f"persona: expected {_level(difference.expected)}, actual {_level(difference.actual)}"
        ]
        for name, card in scores.personas.items():
            (threshold,) = self.engine.thresholds(name)
            lines.append(
                f"  persona {quote(name)}: total {card.total}, threshold {threshold.points}, "
                f"ratio {card.ratio}"
            )
            lines.extend(self._rules(name, card, "    "))
        return lines

    def grade(self, difference: GradeDifference, scores: Scores) -> list[str]:
        result = difference.actual
        program = _program_grade(self.engine, difference.grade)
        lines = [
            f"grade {quote(difference.grade)}: expected {_level(difference.expected)}, "
            f"actual {_level(result.label)}"
        ]
        axes = (
            ("fit", program.fit, result.fit, program.fit_bands),
            ("engagement", program.engagement, result.engagement, program.engagement_bands),
        )
        for role, scoring, band, bands in axes:
            card = scores[scoring]
            lines.append(
                f"  {role} {quote(scoring)}: total {card.total}, band {_level(band)}; "
                f"bands {_bands(bands)}"
            )
            lines.extend(self._rules(scoring, card, "    "))
        return lines

    def unread(self) -> list[str]:
        read = set().union(*(scoring.activity_types for scoring in self.engine.program.scorings))
        unread = [a for a in self.counted if a.type not in read]
        if not unread:
            return []
        lines = ["activities of a type no rule reads:"]
        lines.extend(f"  {self.activity(a)}" for a in unread[:MAX_UNAWARDED])
        if len(unread) > MAX_UNAWARDED:
            lines.append(f"  … and {len(unread) - MAX_UNAWARDED} more")
        return lines


def _aware(activity: Activity, engine: Engine) -> Activity:
    """Return the activity with the engine's default time zone on a naive time, as the engine scores it."""
    if activity.occurred_at.tzinfo is not None or engine.default_timezone is None:
        return activity
    zoned = activity.occurred_at.replace(tzinfo=engine.default_timezone)
    return attrs.evolve(activity, occurred_at=zoned)


def _program_scoring(engine: Engine, name: str) -> ProgramScoring:
    # Persona names differ from scoring names, so one lookup serves both.
    for scoring in (*engine.program.scorings, *engine.program.personas):
        if scoring.name == name:
            return scoring
    raise KeyError(name)


def _program_grade(engine: Engine, name: str) -> ProgramGrade:
    for grade in engine.program.grades:
        if grade.name == name:
            return grade
    raise KeyError(name)


def _card(scores: Scores, name: str) -> ScoreCard:
    """Return the card of a scoring or of a persona."""
    personas = scores.personas
    return personas[name] if name in personas else scores[name]


def _bands(bands: Sequence[Band]) -> str:
    return ", ".join(f"{quote(band.name)} at {band.points}" for band in bands)


def render_mismatch(
    engine: Engine,
    contact: Contact,
    activities: Sequence[Activity],
    at: dt.datetime,
    differences: Sequence[ScoringDifference],
    *,
    labels: ActivityLabels | None = None,
    persona: PersonaDifference | None = None,
    grades: Sequence[GradeDifference] = (),
) -> str:
    """Write the report of scores that differ from their expectations.

    A ``persona`` or ``grades`` difference needs the contact's scores, so the report
    scores the contact again when it has either.
    """
    report = _Report(engine, contact, activities, at, labels or {})
    lines = [
        f"scores of contact {quote(contact.id)} as of {report.instant.isoformat()} "
        "differ from the expected ones"
    ]
    if report.later:
        count = len(report.later)
        lines.append(
            f"({count} activit{'ies' if count != 1 else 'y'} after the scoring instant "
            f"{'are' if count != 1 else 'is'} ignored)"
        )
    for difference in differences:
        lines.append("")
        lines.extend(report.scoring(difference))
    if persona is not None or grades:
        scores = engine.score(contact, report.counted, at=report.instant)
        if persona is not None:
            lines.append("")
            lines.extend(report.persona(persona, scores))
        for grade in grades:
            lines.append("")
            lines.extend(report.grade(grade, scores))
    unread = report.unread()
    if unread:
        lines.append("")
        lines.extend(unread)
    return "\n".join(lines)
