"""Static checks: turn a syntax tree into a checked `Program`, or report every problem.

The checker walks the whole tree before giving up, so one run reports all errors with
their line, column and rule. It infers a static type for each expression (number,
text, boolean, date, datetime, list, duration, null, or ``any`` where a field is not
declared) and rejects what can never work: comparing text with a number literal,
``activity.x`` outside a ``where``, an aggregate inside ``where``, an unknown function.
What only the data can decide is left to scoring time, where it becomes a diagnostic.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from leadscore.errors import Problem, RuleCheckError, SourceLocation, key_path
from leadscore.language import syntax as ast
from leadscore.language.patterns import PatternError, compile_glob, compile_regex
from leadscore.language.program import (
    NEVER,
    Band,
    Decay,
    Program,
    ProgramGrade,
    ProgramGroup,
    ProgramRule,
    ProgramScoring,
    StaticType,
    Validity,
)
from leadscore.model import Threshold

__all__ = ["DECLARABLE_TYPES", "FUNCTIONS", "check"]

UTC = dt.UTC
DECLARABLE_TYPES = ("text", "number", "boolean", "date", "datetime", "list", "any")


@attrs.frozen
class FunctionSpec:
    """Arity, accepted argument types and result type of a built-in function."""

    min_args: int
    max_args: int | None
    argument_types: tuple[StaticType, ...] | None
    result: StaticType
    # Functions that read the scoring instant cannot decide whether an activity matches.
    reads_instant: bool = False


FUNCTIONS = {
    "lower": FunctionSpec(1, 1, ("text",), "text"),
    "upper": FunctionSpec(1, 1, ("text",), "text"),
    "len": FunctionSpec(1, 1, ("text", "list"), "number"),
    "domain": FunctionSpec(1, 1, ("text",), "text"),
    "filled": FunctionSpec(1, None, None, "number"),
    "days_since": FunctionSpec(1, 1, ("datetime", "date"), "number", reads_instant=True),
    "now": FunctionSpec(0, 0, (), "datetime", reads_instant=True),
}

CONTACT_BUILTINS: dict[str, StaticType] = {"id": "text"}
ACTIVITY_BUILTINS: dict[str, StaticType] = {"type": "text", "occurred_at": "datetime", "id": "text"}


@attrs.frozen
class _Scope:
    """Where an expression sits: a ``when`` condition, an ``on … where``, or an aggregate's ``where``."""

    kind: Literal["when", "where", "aggregate"]
    activity_types: tuple[str, ...] = ()


def check(rule_file: ast.RuleFile) -> Program:
    """Check a parsed file; raises RuleCheckError listing every error found."""
    checker = _Checker()
    program = checker.check_file(rule_file)
    if checker.errors:
        raise RuleCheckError(_in_source_order(checker.errors))
    return program


def _in_source_order(problems: list[Problem]) -> list[Problem]:
    # Rules from config each have their own text starting at line 1, so sorting by
    # line would interleave them; they keep the order in which they were checked.
    if any(p.location is None or p.location.source == "config" for p in problems):
        return problems
    return sorted(
        problems, key=lambda p: (p.location.line, p.location.column) if p.location else (0, 0)
    )


def _article(static_type: str) -> str:
    return {
        "any": "a value of any type",
        "null": "null",
        "text": "text",
        "list": "a list",
        "duration": "a duration",
        "boolean": "true or false",
        "number": "a number",
        "date": "a date",
        "datetime": "a date and time",
    }.get(static_type, static_type)


def _declaration_hint(span: ast.Span, activity_type: str | None, *, new: bool) -> str:
    """Return how to declare a contact field (``activity_type`` None) or an activity type or attribute.

    Rules from config declare these as tables, so the hint names the table there.
    ``new`` says the activity type itself is missing, not one of its attributes.
    """
    config = span.origin.source == "config"
    if activity_type is None:
        if config:
            return "add it with its type to the [contact] table of the config"
        return "add it to 'declare contact { … }'"
    table = key_path(["activities", activity_type])
    if new:
        if config:
            return f"declare it in the config with the table [{table}]"
        return f"declare it with: declare activity {activity_type} {{ … }}"
    if config:
        return f"add it with its type to the [{table}] table of the config"
    return f"declare it in: declare activity {activity_type} {{ … }}"


def _did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _compatible(left: StaticType, right: StaticType) -> bool:
    if "any" in (left, right):
        return True
    if {left, right} <= {"date", "datetime"}:
        return True
    return left == right


class _Checker:
    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.scoring: str | None = None
        self.rule: str | None = None
        self.contact_fields: dict[str, str] | None = None
        self.activity_attributes: dict[str, dict[str, str]] | None = None
        # Filled while one rule's condition is checked.
        self.aggregates: list[ast.Aggregate] = []
        self.reads_contact = False

    # ---------------------------------------------------------------- reporting

    def _location(self, span: ast.Span) -> SourceLocation:
        return SourceLocation(
            source=span.origin.source,
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
            source_line=span.origin.line(span.line),
            scoring=self.scoring,
            rule=self.rule,
        )

    def error(self, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.errors.append(Problem("error", message, self._location(span), hint))

    def warning(self, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.warnings.append(Problem("warning", message, self._location(span), hint))

    # ---------------------------------------------------------------- file and declarations

    def check_file(self, rule_file: ast.RuleFile) -> Program:
        for item in rule_file.items:
            if isinstance(item, ast.ContactDecl):
                self._declare_contact(item)
            elif isinstance(item, ast.ActivityDecl):
                self._declare_activity(item)

        scorings: list[ProgramScoring] = []
        seen: dict[str, ast.Scoring] = {}
        for item in rule_file.items:
            if not isinstance(item, ast.Scoring):
                continue
            if item.name in seen:
                first = seen[item.name].span.line
                self.scoring = item.name
                self.error(
                    f"duplicate scoring name '{item.name}'; the first is on line {first}",
                    item.name_span,
                )
                continue
            seen[item.name] = item
            scorings.append(self._check_scoring(item, len(scorings)))

        personas = self._check_personas(rule_file, seen)
        grades = self._check_grades(rule_file, seen, personas)

        has_tests = any(isinstance(item, ast.TestBlock) for item in rule_file.items)
        if not seen and not personas and not self.errors and not has_tests:
            self.warnings.append(
                Problem("warning", "the rules define no scoring, so nothing is scored")
            )
        return Program(
            scorings=tuple(scorings),
            contact_fields=self.contact_fields,
            activity_attributes=self.activity_attributes,
            warnings=tuple(self.warnings),
            tests=tuple(item for item in rule_file.items if isinstance(item, ast.TestBlock)),
            personas=tuple(personas.values()),
            grades=tuple(grades),
        )

    def _check_personas(
        self, rule_file: ast.RuleFile, scorings: dict[str, ast.Scoring]
    ) -> dict[str, ProgramScoring]:
        """Check every persona; returns them by name, in declaration order."""
        checked: dict[str, ProgramScoring] = {}
        seen: dict[str, ast.Persona] = {}
        for item in rule_file.items:
            if not isinstance(item, ast.Persona):
                continue
            self.scoring = item.name
            self.rule = None
            if item.name in seen:
                first = seen[item.name].span.line
                self.error(
                    f"duplicate persona name '{item.name}'; the first is on line {first}",
                    item.name_span,
                )
                continue
            seen[item.name] = item
            if item.name in scorings:
                line = scorings[item.name].span.line
                self.error(
                    f"persona '{item.name}' has the name of the scoring on line {line}",
                    item.name_span,
                    hint="scores are looked up by name, so give the persona another name",
                )
                continue
            checked[item.name] = self._check_scoring(item, len(checked))
        return checked

    def _check_grades(
        self,
        rule_file: ast.RuleFile,
        scorings: dict[str, ast.Scoring],
        personas: dict[str, ProgramScoring],
    ) -> list[ProgramGrade]:
        checked: list[ProgramGrade] = []
        seen: dict[str, ast.Grade] = {}
        for item in rule_file.items:
            if not isinstance(item, ast.Grade):
                continue
            self.scoring = None
            self.rule = None
            if item.name in seen:
                first = seen[item.name].span.line
                self.error(
                    f"duplicate grade name '{item.name}'; the first is on line {first}",
                    item.name_span,
                )
                continue
            seen[item.name] = item
            grade = self._check_grade(item, scorings, personas)
            if grade is not None:
                checked.append(grade)
        return checked

    def _check_grade(
        self,
        grade: ast.Grade,
        scorings: dict[str, ast.Scoring],
        personas: dict[str, ProgramScoring],
    ) -> ProgramGrade | None:
        errors_before = len(self.errors)
        axes: dict[str, ast.GradeAxis] = {}
        bands: dict[str, tuple[Band, ...]] = {}
        for axis in grade.axes:
            if axis.role in axes:
                self.error(f"grade '{grade.name}' has more than one '{axis.role}'", axis.span)
                continue
            axes[axis.role] = axis
            if axis.scoring in personas:
                self.error(
                    f"'{axis.scoring}' is a persona, but a grade combines two scorings",
                    axis.scoring_span,
                    hint="a persona's only output is membership; name a scoring",
                )
            elif axis.scoring not in scorings:
                listed = ", ".join(f"'{name}'" for name in scorings)
                self.error(
                    f"unknown scoring '{axis.scoring}' in grade '{grade.name}'",
                    axis.scoring_span,
                    hint=_did_you_mean(axis.scoring, scorings)
                    or (f"the scorings are {listed}" if scorings else "the file has no scoring"),
                )
            bands[axis.role] = self._bands(grade, axis)
        examples = {"fit": '"A" at 60, "B" at 30', "engagement": '"1" at 50, "2" at 20'}
        for role, example in examples.items():
            if role not in axes:
                self.error(
                    f"grade '{grade.name}' has no '{role}' scoring",
                    grade.name_span,
                    hint=f'add: {role} "SCORING" {{ {example} }}',
                )
        if len(self.errors) > errors_before:
            return None
        return ProgramGrade(
            name=grade.name,
            fit=axes["fit"].scoring,
            fit_bands=bands["fit"],
            engagement=axes["engagement"].scoring,
            engagement_bands=bands["engagement"],
            span=grade.span,
        )

    def _bands(self, grade: ast.Grade, axis: ast.GradeAxis) -> tuple[Band, ...]:
        if not axis.bands:
            self.error(
                f"the '{axis.role}' of grade '{grade.name}' has no bands",
                axis.span,
                hint='add bands such as { "A" at 60, "B" at 30, "C" at 0 }',
            )
        names: set[str] = set()
        previous: ast.Band | None = None
        for band in axis.bands:
            if band.name in names:
                self.error(
                    f"duplicate band name '{band.name}' in the '{axis.role}' of grade '{grade.name}'",
                    band.name_span,
                )
            names.add(band.name)
            if previous is not None and band.points >= previous.points:
                self.error(
                    f"bands are out of order: '{band.name}' at {band.points} comes after "
                    f"'{previous.name}' at {previous.points}",
                    band.span,
                    hint="list bands from the highest to the lowest, each below the one before",
                )
            previous = band
        return tuple(Band(band.name, band.points) for band in axis.bands)

    def _field_types(self, fields: Sequence[ast.FieldDecl]) -> dict[str, str]:
        declared: dict[str, str] = {}
        for field in fields:
            if field.name in declared:
                self.error(f"field '{field.name}' is declared twice", field.span)
            elif field.type_name not in DECLARABLE_TYPES:
                self.error(
                    f"unknown field type '{field.type_name}'",
                    field.type_span,
                    hint=_did_you_mean(field.type_name, DECLARABLE_TYPES)
                    or "the types are " + ", ".join(DECLARABLE_TYPES),
                )
                # Declared as any, the field stays known, so the rules that read it get
                # no second error and a misspelt name still gets "did you mean".
                declared[field.name] = "any"
            else:
                declared[field.name] = field.type_name
        return declared

    def _declare_contact(self, declaration: ast.ContactDecl) -> None:
        if self.contact_fields is not None:
            self.error(
                "contact fields are declared twice; merge the two declarations", declaration.span
            )
            return
        self.contact_fields = self._field_types(declaration.fields)

    def _declare_activity(self, declaration: ast.ActivityDecl) -> None:
        if self.activity_attributes is None:
            self.activity_attributes = {}
        if declaration.activity_type in self.activity_attributes:
            self.error(
                f"activity type '{declaration.activity_type}' is declared twice",
                declaration.type_span,
            )
            return
        self.activity_attributes[declaration.activity_type] = self._field_types(declaration.fields)

    # ---------------------------------------------------------------- scorings

    def _check_scoring(self, scoring: ast.Scoring | ast.Persona, index: int) -> ProgramScoring:
        """Check a scoring or a persona: settings, thresholds, groups and rules."""
        what: Literal["scoring", "persona"] = (
            "persona" if isinstance(scoring, ast.Persona) else "scoring"
        )
        self.scoring = scoring.name
        self.rule = None
        thresholds: list[ast.ThresholdDecl] = []
        settings: dict[str, ast.Setting] = {}
        expire: ast.Expire | None = None
        decay: ast.Decay | None = None
        # Each rule with the index of its group, or None; groups keep their order.
        rules: list[tuple[ast.Rule, int | None]] = []
        groups: list[ast.Group] = []

        for item in scoring.items:
            if isinstance(item, ast.ThresholdDecl):
                thresholds.append(item)
            elif isinstance(item, ast.Setting):
                if item.name in settings:
                    self.error(f"'{item.name}' is set twice in {what} '{scoring.name}'", item.span)
                settings[item.name] = item
            elif isinstance(item, ast.Expire):
                if expire is not None:
                    self.error(f"the expiry of {what} '{scoring.name}' is set twice", item.span)
                expire = item
            elif isinstance(item, ast.Decay):
                if decay is not None:
                    self.error(f"'decay' is set twice in {what} '{scoring.name}'", item.span)
                decay = item
            elif isinstance(item, ast.Group):
                self._collect_group(item, None, groups, rules, what)
            else:
                rules.append((item, None))

        if isinstance(scoring, ast.Persona) and "notify" in settings:
            # A persona's threshold gives no threshold events, so no hand-over ever reads it.
            self.error(
                f"persona '{scoring.name}' has 'notify once', but personas hand nothing over",
                settings["notify"].span,
                hint="move 'notify once' to a scoring",
            )
        timezone = self._timezone(settings.get("timezone"))
        floor = settings["floor"].value if "floor" in settings else None
        ceiling = settings["ceiling"].value if "ceiling" in settings else None
        assert floor is None or isinstance(floor, int)
        assert ceiling is None or isinstance(ceiling, int)
        if floor is not None and ceiling is not None and floor >= ceiling:
            self.error(
                f"the floor ({floor}) must be below the ceiling ({ceiling})",
                settings["floor"].value_span,
            )
        default_validity = self._validity(expire, timezone) if expire is not None else NEVER
        default_decay = self._decay(decay) if decay is not None else None
        if isinstance(scoring, ast.Persona):
            checked_thresholds = self._persona_threshold(scoring, thresholds)
        else:
            checked_thresholds = self._thresholds(thresholds)

        checked_rules: list[ProgramRule] = []
        names: dict[str, ast.Rule] = {}
        for rule, group in rules:
            self.rule = rule.name
            if rule.name in names:
                first = names[rule.name].span.line
                self.error(
                    f"duplicate rule name '{rule.name}' in {what} '{scoring.name}'; the first is on line {first}",
                    rule.name_span,
                )
                continue
            names[rule.name] = rule
            checked = self.check_rule(
                rule, len(checked_rules), default_validity, timezone, default_decay
            )
            if checked is not None:
                checked_rules.append(attrs.evolve(checked, group=group))
        self.rule = None
        checked_groups = tuple(
            ProgramGroup(
                index=position,
                name=group.name,
                cap=group.cap,
                rules=tuple(rule.index for rule in checked_rules if rule.group == position),
                span=group.span,
            )
            for position, group in enumerate(groups)
        )

        if not rules:
            self.warning(
                f"{what} '{scoring.name}' has no rules, so every contact scores 0",
                scoring.name_span,
            )
        if isinstance(scoring, ast.Persona):
            reach = [
                (
                    f"the threshold of persona '{scoring.name}' ({scoring.threshold})",
                    scoring.threshold,
                    scoring.threshold_span,
                )
            ]
        else:
            reach = [(f"threshold '{t.name}' at {t.points}", t.points, t.span) for t in thresholds]
        self._warn_unreachable(reach, checked_rules, checked_groups, ceiling)
        return ProgramScoring(
            index=index,
            name=scoring.name,
            thresholds=checked_thresholds,
            floor=floor,
            ceiling=ceiling,
            timezone=timezone,
            notify_once="notify" in settings,
            rules=tuple(checked_rules),
            span=scoring.span,
            groups=checked_groups,
            decay=default_decay,
            kind=what,
        )

    def _collect_group(
        self,
        group: ast.Group,
        outer: ast.Group | None,
        groups: list[ast.Group],
        rules: list[tuple[ast.Rule, int | None]],
        what: str,
    ) -> None:
        """Add a group and its rules to those of a scoring or persona; a nested group is an error."""
        if outer is not None:
            self.error(
                f"group '{group.name}' is inside group '{outer.name}', but groups do not nest",
                group.name_span,
                hint=f"move it out of group '{outer.name}'; each rule belongs to at most one group",
            )
        else:
            for earlier in groups:
                if earlier.name == group.name:
                    self.error(
                        f"duplicate group name '{group.name}' in {what} '{self.scoring}'; "
                        f"the first is on line {earlier.span.line}",
                        group.name_span,
                    )
                    break
            if group.cap <= 0:
                self.error(
                    f"the 'max' of group '{group.name}' must be a positive number of points",
                    group.cap_span,
                )
            groups.append(group)
        position = len(groups) - 1
        if not any(isinstance(item, ast.Rule) for item in group.items):
            self.warning(
                f"group '{group.name}' has no rules, so its cap limits nothing", group.name_span
            )
        for item in group.items:
            if isinstance(item, ast.Group):
                self._collect_group(item, outer or group, groups, rules, what)
            else:
                rules.append((item, position))

    def _persona_threshold(
        self, persona: ast.Persona, thresholds: list[ast.ThresholdDecl]
    ) -> tuple[Threshold, ...]:
        for threshold in thresholds:
            self.error(
                f"persona '{persona.name}' has its threshold after its name, so it takes no "
                "'threshold' inside",
                threshold.span,
                hint=f"remove it, because the threshold of persona '{persona.name}' is the "
                f"{persona.threshold} after its name",
            )
        if persona.threshold <= 0:
            self.error(
                f"the threshold of persona '{persona.name}' must be a positive number of points",
                persona.threshold_span,
                hint="membership compares the score with the threshold as a ratio",
            )
        return (Threshold(persona.name, persona.threshold),)

    def _timezone(self, setting: ast.Setting | None) -> ZoneInfo:
        if setting is None:
            return ZoneInfo("UTC")
        name = str(setting.value)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(
                f"unknown time zone '{name}'",
                setting.value_span,
                hint='use an IANA zone name such as "Europe/Prague" or "UTC"',
            )
            return ZoneInfo("UTC")

    def _thresholds(self, declared: list[ast.ThresholdDecl]) -> tuple[Threshold, ...]:
        names: set[str] = set()
        previous: ast.ThresholdDecl | None = None
        for threshold in declared:
            if threshold.name in names:
                self.error(f"duplicate threshold name '{threshold.name}'", threshold.name_span)
            names.add(threshold.name)
            if previous is not None and threshold.points <= previous.points:
                self.error(
                    f"thresholds are out of order: '{threshold.name}' at {threshold.points} comes after "
                    f"'{previous.name}' at {previous.points}",
                    threshold.span,
                    hint="list thresholds from the lowest to the highest, each above the one before",
                )
            previous = threshold
        return tuple(Threshold(t.name, t.points) for t in declared)

    def _warn_unreachable(
        self,
        thresholds: list[tuple[str, int, ast.Span]],
        rules: list[ProgramRule],
        groups: tuple[ProgramGroup, ...],
        ceiling: int | None,
    ) -> None:
        """Warn about each threshold, given as (description, points, span), above the reachable total.

        Decay only ever lowers an award, so an award's full points bound it.
        """
        highest: int | None = 0
        group_highest: list[int | None] = [0] * len(groups)
        for rule in rules:
            if rule.points <= 0:
                continue
            if rule.kind == "profile":
                most: int | None = rule.points
            else:
                most = rule.cap  # an uncapped activity rule can add without limit
            if rule.group is None:
                highest = None if highest is None or most is None else highest + most
            else:
                inner = group_highest[rule.group]
                group_highest[rule.group] = None if inner is None or most is None else inner + most
        limiting = []
        for group, inner in zip(groups, group_highest, strict=True):
            if inner is None or inner > group.cap:
                limiting.append(f"group '{group.name}' adds at most {group.cap}")
                inner = group.cap
            highest = None if highest is None else highest + inner
        if ceiling is not None:
            highest = ceiling if highest is None else min(highest, ceiling)
        if highest is None:
            return
        hint = None
        if limiting:
            hint = "the caps of groups count too: " + ", ".join(limiting)
        for description, points, span in thresholds:
            if points > highest:
                self.warning(
                    f"{description} cannot be reached: "
                    f"the rules and caps allow at most {highest} points",
                    span,
                    hint,
                )

    def _validity(self, expire: ast.Expire, timezone: ZoneInfo) -> Validity:
        if expire.kind == "never":
            return NEVER
        if expire.kind == "on":
            assert expire.date is not None
            # "expire on DATE" ends at the start of that date in the scoring's time zone.
            local_midnight = dt.datetime.combine(expire.date, dt.time(0), tzinfo=timezone)
            return Validity("until", until=local_midnight.astimezone(UTC))
        assert expire.duration is not None
        if expire.duration.amount <= 0:
            self.error(
                "an expiry must be a positive duration",
                expire.value_span,
                hint="write expire never",
            )
        return Validity("after", duration=expire.duration)

    def _decay(self, decay: ast.Decay) -> Decay | None:
        """Return the checked decay, or None for ``decay none`` and for an invalid decay."""
        if decay.kind == "none":
            return None
        assert decay.rate is not None
        assert decay.period is not None
        assert decay.rate_span is not None
        assert decay.period_span is not None
        valid = True
        rate = decay.rate
        if rate.denominator != 1:
            self.error(
                "a decay rate must be a whole number of percent",
                decay.rate_span,
                hint=f"write {math.floor(rate)}% or {math.ceil(rate)}%",
            )
            valid = False
        elif not 0 < rate <= 100:
            if rate <= 0:
                hint = (
                    "the rate is the share of points lost each period; "
                    "write decay none for points that keep their value"
                )
            else:
                hint = "at 100% an award is worth nothing after one period"
            self.error(
                f"a decay rate must be more than 0% and at most 100%, not {rate}%",
                decay.rate_span,
                hint=hint,
            )
            valid = False
        if decay.period.amount <= 0:
            self.error("a decay period must be a positive duration", decay.period_span)
            valid = False
        return Decay(int(rate), decay.period) if valid else None

    # ---------------------------------------------------------------- rules

    def check_rule(
        self,
        rule: ast.Rule,
        index: int,
        default_validity: Validity,
        timezone: ZoneInfo,
        default_decay: Decay | None = None,
    ) -> ProgramRule | None:
        """Check one rule's clauses and conditions; returns None when it has errors."""
        errors_before = len(self.errors)
        by_kind: dict[type, list[Any]] = {}
        for clause in rule.clauses:
            by_kind.setdefault(type(clause), []).append(clause)
        clause_words = {
            ast.When: "when",
            ast.On: "on",
            ast.AwardClause: "award",
            ast.MaxClause: "max",
            ast.Expire: "expire",
            ast.Decay: "decay",
        }
        for clause_type, clauses in by_kind.items():
            if len(clauses) > 1:
                self.error(
                    f"rule '{rule.name}' has more than one '{clause_words[clause_type]}' clause",
                    clauses[1].span,
                )

        whens = by_kind.get(ast.When, [])
        ons = by_kind.get(ast.On, [])
        awards: list[ast.AwardClause] = by_kind.get(ast.AwardClause, [])
        caps = by_kind.get(ast.MaxClause, [])
        expires = by_kind.get(ast.Expire, [])
        decays: list[ast.Decay] = by_kind.get(ast.Decay, [])

        if whens and ons:
            self.error(
                f"rule '{rule.name}' has both 'when' and 'on'",
                ons[0].span,
                hint="a rule is either a profile rule (when) or an activity rule (on … where …)",
            )
        if not whens and not ons:
            self.error(
                f"rule '{rule.name}' has no 'when' or 'on' clause",
                rule.name_span,
                hint='add a condition such as: when contact.country == "CZ"  or  on page_visit',
            )
        if not awards:
            self.error(
                f"rule '{rule.name}' has no 'award' clause", rule.name_span, hint="add: award 10"
            )
        award = awards[0] if awards else None
        if award is not None and award.points == 0:
            self.warning(f"rule '{rule.name}' awards 0 points", award.points_span)

        self.aggregates = []
        self.reads_contact = False
        result: tuple[Any, ...] | None
        decay = default_decay
        if whens:
            result = self._profile_rule(rule, whens[0], award, caps, expires)
            for clause in decays:
                self.error(
                    "'decay' has no effect on a 'when' rule, because its points have no age",
                    clause.span,
                    hint="a 'when' rule adds its points while its condition holds; remove it",
                )
            decay = None
        elif ons:
            if decays:
                decay = self._decay(decays[0])
            result = self._activity_rule(
                rule, ons[0], award, caps, expires, default_validity, timezone
            )
        else:
            result = None
        if result is None or len(self.errors) > errors_before:
            return None
        kind, condition, types, where, cap, validity = result
        assert award is not None
        return ProgramRule(
            index=index,
            name=rule.name,
            kind=kind,
            points=award.points,
            cap=cap,
            condition=condition,
            activity_types=types,
            where=where,
            validity=validity,
            aggregates=tuple(self.aggregates),
            uses_profile=self.reads_contact,
            span=rule.span,
            decay=decay,
        )

    def _profile_rule(
        self,
        rule: ast.Rule,
        when: ast.Clause,
        award: ast.AwardClause | None,
        caps: list[ast.Clause],
        expires: list[ast.Clause],
    ) -> tuple[Literal["profile"], ast.Expr, tuple[str, ...], None, None, Validity] | None:
        assert isinstance(when, ast.When)
        reason = "a 'when' rule adds its points once, for as long as its condition holds"
        if award is not None and award.mode is not None:
            self.error(
                f"'{award.mode}' has no effect on a 'when' rule",
                award.span,
                hint=f"{reason}; remove it",
            )
        for cap in caps:
            self.error(
                "'max' has no effect on a 'when' rule", cap.span, hint=f"{reason}; remove it"
            )
        for expire in expires:
            self.error(
                "'expire' has no effect on a 'when' rule",
                expire.span,
                hint=f"{reason}; to count recent activity use an aggregate such as count(page_visit within 30 days)",
            )
        condition_type = self._value(when.condition, _Scope("when"))
        self._require_condition(when.condition, condition_type, "a 'when' condition")
        return "profile", when.condition, (), None, None, NEVER

    def _activity_rule(
        self,
        rule: ast.Rule,
        on: ast.Clause,
        award: ast.AwardClause | None,
        caps: list[ast.Clause],
        expires: list[ast.Clause],
        default_validity: Validity,
        timezone: ZoneInfo,
    ) -> (
        tuple[Literal["activity"], None, tuple[str, ...], ast.Expr | None, int | None, Validity]
        | None
    ):
        assert isinstance(on, ast.On)
        for name, span in zip(on.activity_types, on.type_spans, strict=True):
            self._check_activity_type(name, span)
        if len(set(on.activity_types)) != len(on.activity_types):
            self.error("the same activity type is listed twice", on.span)

        cap: int | None = None
        if award is not None and award.mode == "once":
            cap = abs(award.points)
            if caps:
                self.error(
                    "'once' and 'max' both cap the rule",
                    caps[0].span,
                    hint="'once' is 'max' equal to the rule's points; keep one of them",
                )
        if caps:
            assert isinstance(caps[0], ast.MaxClause)
            cap_clause = caps[0]
            if cap_clause.points <= 0:
                self.error("'max' must be a positive number of points", cap_clause.points_span)
            elif award is not None and award.mode != "once":
                cap = cap_clause.points
                if award.points != 0 and cap_clause.points < abs(award.points):
                    self.warning(
                        f"max {cap_clause.points} is less than one award of {award.points} points, "
                        f"so the rule never gives more than {cap_clause.points}",
                        cap_clause.span,
                    )

        validity = default_validity
        if expires:
            assert isinstance(expires[0], ast.Expire)
            validity = self._validity(expires[0], timezone)

        if on.where is not None:
            where_type = self._value(on.where, _Scope("where", on.activity_types))
            self._require_condition(on.where, where_type, "a 'where' condition")
        return "activity", None, on.activity_types, on.where, cap, validity

    def _check_activity_type(self, name: str, span: ast.Span) -> None:
        if self.activity_attributes is not None and name not in self.activity_attributes:
            self.error(
                f"unknown activity type '{name}'",
                span,
                hint=_did_you_mean(name, self.activity_attributes)
                or _declaration_hint(span, name, new=True),
            )

    def _require_condition(self, expr: ast.Expr, static_type: StaticType, role: str) -> None:
        if static_type not in ("boolean", "any"):
            self.error(
                f"{role} must be true or false, but this is {_article(static_type)}",
                expr.span,
                hint="compare it with something, for example: contact.employees > 50",
            )

    # ---------------------------------------------------------------- expressions

    def _value(self, expr: ast.Expr, scope: _Scope) -> StaticType:
        """Check an expression used as a value: a bare duration is only valid in date arithmetic."""
        static_type = self._expr(expr, scope)
        if static_type == "duration":
            self.error(
                "a duration can only be added to or subtracted from a date or time",
                expr.span,
                hint="for example: contact.signed_up_at > now() - 30 days",
            )
            return "any"
        return static_type

    def _expr(self, expr: ast.Expr, scope: _Scope) -> StaticType:
        if isinstance(expr, ast.Literal_):
            return self._literal(expr)
        if isinstance(expr, ast.ListLiteral):
            for item in expr.items:
                self._value(item, scope)
            return "list"
        if isinstance(expr, ast.Field):
            return self._field(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.Aggregate):
            return self._aggregate(expr, scope)
        if isinstance(expr, ast.Unary):
            return self._unary(expr, scope)
        if isinstance(expr, ast.Binary):
            return self._binary(expr, scope)
        if isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                operand_type = self._value(operand, scope)
                self._require_condition(operand, operand_type, f"each operand of '{expr.op}'")
            return "boolean"
        if isinstance(expr, ast.Compare):
            self._compare(expr, scope)
            return "boolean"
        if isinstance(expr, ast.Matches):
            self._text_operand(expr.left, scope, "matches")
            try:
                compile_regex(expr.pattern, expr.flags)
            except PatternError as error:
                self.error(error.message, expr.pattern_span, error.hint)
            return "boolean"
        if isinstance(expr, ast.Glob):
            self._text_operand(expr.left, scope, "glob")
            try:
                compile_glob(expr.pattern)
            except PatternError as error:
                self.error(error.message, expr.pattern_span, error.hint)
            return "boolean"
        raise AssertionError(f"unhandled syntax node {type(expr).__name__}")

    def _literal(self, literal: ast.Literal_) -> StaticType:
        if literal.zone_missing:
            self.error(
                "this date and time has no time zone",
                literal.span,
                hint="add Z for UTC or an offset such as +01:00",
            )
        return literal.kind

    def _field(self, field: ast.Field, scope: _Scope) -> StaticType:
        head = field.path[0]
        if field.root == "contact":
            self.reads_contact = True
            if field.builtin:
                return CONTACT_BUILTINS[head]
            return self._declared(field, head, self.contact_fields, "contact field")

        if scope.kind == "when":
            self.error(
                f"{field.text} is only available where there is an activity",
                field.span,
                hint="use it inside 'on TYPE where …' or inside an aggregate's where, "
                'such as count(page_visit where activity.url glob "*/pricing*")',
            )
            return "any"
        if field.builtin:
            return ACTIVITY_BUILTINS[head]
        if self.activity_attributes is None:
            return "any"
        types_found: set[str] = set()
        for activity_type in scope.activity_types:
            attributes = self.activity_attributes.get(activity_type)
            if attributes is None:
                return "any"  # the type itself is reported as unknown elsewhere
            if head not in attributes:
                hint = _did_you_mean(head, attributes) or _declaration_hint(
                    field.span, activity_type, new=False
                )
                self.error(
                    f"activity type '{activity_type}' has no attribute '{head}'", field.span, hint
                )
                return "any"
            types_found.add(attributes[head])
        if len(types_found) == 1:
            declared = types_found.pop()
            return self._nested(field, declared)
        return "any"

    def _declared(
        self,
        field: ast.Field,
        head: str,
        declared: dict[str, str] | None,
        role: str,
    ) -> StaticType:
        if declared is None:
            return "any"
        if head not in declared:
            hint = _did_you_mean(head, declared) or _declaration_hint(field.span, None, new=False)
            self.error(f"unknown {role} '{head}'", field.span, hint)
            return "any"
        return self._nested(field, declared[head])

    def _nested(self, field: ast.Field, declared: str) -> StaticType:
        if len(field.path) > 1 and declared != "any":
            self.error(
                f"'{field.path[0]}' is declared as {declared}, so it has no field '{field.path[1]}'",
                field.span,
                hint="declare it as any to reach nested fields",
            )
            return "any"
        return declared  # type: ignore[return-value]

    def _call(self, call: ast.Call, scope: _Scope) -> StaticType:
        spec = FUNCTIONS.get(call.name)
        if spec is None:
            hint = _did_you_mean(call.name, FUNCTIONS) or "the functions are " + ", ".join(
                sorted(FUNCTIONS)
            )
            self.error(f"unknown function '{call.name}'", call.name_span, hint)
            for argument in call.args:
                self._value(argument, scope)
            return "any"
        count = len(call.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            if spec.max_args is None:
                wanted = f"at least {spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
            elif spec.min_args == spec.max_args:
                wanted = f"{spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
            else:
                wanted = f"{spec.min_args} to {spec.max_args} arguments"
            self.error(
                f"{call.name}() takes {wanted}, but {count} {'is' if count == 1 else 'are'} given",
                call.span,
            )
        if spec.reads_instant and scope.kind != "when":
            self.error(
                f"{call.name}() depends on the scoring instant, so it cannot decide whether an activity matches",
                call.name_span,
                hint="limit how long activity points count with 'expire after', or use an aggregate with 'within'",
            )
        for position, argument in enumerate(call.args):
            argument_type = self._value(argument, scope)
            accepted = spec.argument_types
            if not accepted or (spec.max_args is not None and position >= spec.max_args):
                continue  # any type will do, or an extra argument already reported above
            if argument_type not in ("any", "null") and argument_type not in accepted:
                wanted_types = " or ".join(_article(t) for t in accepted)
                self.error(
                    f"{call.name}() needs {wanted_types}, but this is {_article(argument_type)}",
                    argument.span,
                )
        return spec.result

    def _aggregate(self, aggregate: ast.Aggregate, scope: _Scope) -> StaticType:
        if scope.kind != "when":
            self.error(
                f"{aggregate.function}() cannot be used inside 'where'",
                aggregate.span,
                hint="an activity matches on its own attributes; put the aggregate in a separate 'when' rule",
            )
            return "any"
        self._check_activity_type(aggregate.activity_type, aggregate.type_span)
        function = aggregate.function
        needs_attribute = function in ("sum", "min", "max", "avg")
        if needs_attribute and not aggregate.attribute:
            self.error(
                f"{function}() needs an activity attribute",
                aggregate.type_span,
                hint=f"for example: {function}({aggregate.activity_type}.price)",
            )
        attribute_span = aggregate.attribute_span or aggregate.type_span
        if not needs_attribute and aggregate.attribute:
            what = "instants" if function in ("first", "last") else "activities"
            self.error(
                f"{function}() works on {what} and takes no attribute",
                attribute_span,
                hint=f"write {function}({aggregate.activity_type})",
            )
        if needs_attribute and aggregate.attribute and self.activity_attributes is not None:
            attributes = self.activity_attributes.get(aggregate.activity_type)
            head = aggregate.attribute[0]
            if attributes is not None and head not in attributes:
                self.error(
                    f"activity type '{aggregate.activity_type}' has no attribute '{head}'",
                    attribute_span,
                    _did_you_mean(head, attributes)
                    or _declaration_hint(attribute_span, aggregate.activity_type, new=False),
                )
            elif attributes is not None and attributes[head] not in ("number", "any"):
                self.error(
                    f"{function}() needs a number, but '{head}' is declared as {attributes[head]}",
                    attribute_span,
                )
        if aggregate.within is not None and aggregate.within.amount <= 0:
            assert aggregate.within_span is not None
            self.error("'within' needs a positive duration", aggregate.within_span)
        if aggregate.where is not None:
            where_type = self._value(
                aggregate.where, _Scope("aggregate", (aggregate.activity_type,))
            )
            self._require_condition(aggregate.where, where_type, "a 'where' condition")
        self.aggregates.append(aggregate)
        return {
            "count": "number",
            "sum": "number",
            "min": "number",
            "max": "number",
            "avg": "number",
            "first": "datetime",
            "last": "datetime",
            "exists": "boolean",
        }[function]  # type: ignore[return-value]

    def _unary(self, unary: ast.Unary, scope: _Scope) -> StaticType:
        operand_type = self._value(unary.operand, scope)
        if unary.op == "not":
            self._require_condition(unary.operand, operand_type, "the operand of 'not'")
            return "boolean"
        if operand_type not in ("number", "any", "null"):
            self.error(f"cannot negate {_article(operand_type)}", unary.span)
        return "number" if operand_type == "number" else "any"

    def _binary(self, binary: ast.Binary, scope: _Scope) -> StaticType:
        left = self._expr(binary.left, scope)
        right = self._expr(binary.right, scope)
        op = binary.op

        if op in ("+", "-") and "duration" in (left, right):
            return self._date_arithmetic(binary, left, right)
        for side, side_type in ((binary.left, left), (binary.right, right)):
            if side_type == "duration":
                self._value(side, scope)
        if "any" in (left, right) or "null" in (left, right):
            return "number" if op in ("*", "/", "%") else "any"
        if left == right == "number":
            return "number"
        if op == "+" and left == right == "text":
            return "text"
        hint = None
        if op == "-" and {left, right} <= {"date", "datetime"}:
            hint = "use days_since(x) to measure time since a date"
        self.error(
            f"cannot apply '{op}' to {_article(left)} and {_article(right)}",
            binary.op_span,
            hint,
        )
        return "any"

    def _date_arithmetic(
        self, binary: ast.Binary, left: StaticType, right: StaticType
    ) -> StaticType:
        if right == "duration" and left == "duration":
            self.error("cannot add two durations; write one duration", binary.op_span)
            return "any"
        other = left if right == "duration" else right
        if binary.op == "-" and left == "duration":
            self.error(
                "cannot subtract a date from a duration",
                binary.op_span,
                hint="write: date - 30 days",
            )
            return "any"
        duration_node = binary.right if right == "duration" else binary.left
        if other == "date" and isinstance(duration_node, ast.Literal_):
            unit = getattr(duration_node.value, "unit", "")
            if unit in ("hours", "minutes"):
                self.error(
                    "a date has no time of day, so hours and minutes cannot be added to it",
                    duration_node.span,
                    hint="add days, weeks, months or years",
                )
        if other in ("date", "datetime"):
            return other
        if other == "any":
            return "any"
        self.error(f"cannot add a duration to {_article(other)}", binary.op_span)
        return "any"

    def _text_operand(self, expr: ast.Expr, scope: _Scope, operator: str) -> None:
        operand_type = self._value(expr, scope)
        if operand_type not in ("text", "any", "null"):
            self.error(f"'{operator}' needs text, but this is {_article(operand_type)}", expr.span)

    def _compare(self, compare: ast.Compare, scope: _Scope) -> None:
        op = compare.op
        left = self._value(compare.left, scope)
        if compare.right is None:
            return  # is empty / is not empty accept any value
        right = self._value(compare.right, scope)

        if op in ("==", "!=", "<", "<=", ">", ">=") and "null" in (left, right):
            self.error(
                "a comparison with null is always false",
                compare.span,
                hint="write 'is empty' or 'is not empty' to test for a missing value",
            )
            return
        if op in ("==", "!="):
            if not _compatible(left, right):
                self._mismatch(compare, left, right)
            return
        if op in ("<", "<=", ">", ">="):
            for side, side_type in ((compare.left, left), (compare.right, right)):
                if side_type in ("boolean", "list"):
                    self.error(f"'{op}' cannot order {_article(side_type)}", side.span)
                    return
            if not _compatible(left, right):
                self._mismatch(compare, left, right)
            return
        if op in ("in", "not in"):
            self._membership(compare, left, right)
            return
        if op == "contains":
            if left not in ("list", "text", "any"):
                self.error(
                    f"'contains' needs a list or text on its left, but this is {_article(left)}",
                    compare.left.span,
                )
            elif left == "text" and right not in ("text", "any"):
                self._mismatch(compare, left, right)
            return
        # starts with / ends with
        for side, side_type in ((compare.left, left), (compare.right, right)):
            if side_type not in ("text", "any"):
                self.error(f"'{op}' needs text, but this is {_article(side_type)}", side.span)
                return

    def _membership(self, compare: ast.Compare, left: StaticType, right: StaticType) -> None:
        assert compare.right is not None
        if right not in ("list", "text", "any"):
            self.error(
                f"'{compare.op}' needs a list or text on its right, but this is {_article(right)}",
                compare.right.span,
                hint='write a list in square brackets: ["CZ", "SK"]',
            )
            return
        if right == "text" and left not in ("text", "any"):
            self._mismatch(compare, left, right)
            return
        if isinstance(compare.right, ast.ListLiteral) and left != "any":
            item_types = [
                item.kind for item in compare.right.items if isinstance(item, ast.Literal_)
            ]
            literal_only = len(item_types) == len(compare.right.items)
            if literal_only and item_types and not any(_compatible(left, t) for t in item_types):
                listed = " and ".join(sorted({_article(t) for t in item_types}))
                self.error(
                    f"the list holds {listed}, so {_article(left)} is never in it",
                    compare.span,
                )

    def _mismatch(self, compare: ast.Compare, left: StaticType, right: StaticType) -> None:
        self.error(
            f"'{compare.op}' compares {_article(left)} with {_article(right)}, which never match",
            compare.span,
            hint="compare values of the same type",
        )
