"""Build a syntax tree from config data: scorings whose rules are one-line strings.

The shape, in TOML::

    [scorings."Product A"]
    thresholds = { MQL = 100, SQL = 150 }
    expire = "after 90 days"          # or "never", or "on 2027-01-01"
    floor = 0
    timezone = "Europe/Prague"

    [scorings."Product A".rules]
    "Pricing page" = 'on page_visit where activity.url glob "*/pricing*" award 5 each max 25'
    "Decision maker" = 'when contact.job_title matches /\\b(ceo|cto)\\b/i award 20'

Each rule string is parsed on its own with the ``rule_body`` start symbol, so a string
can never close its rule and start another one. Errors name the scoring and the rule.
Optional ``contact`` and ``activities`` tables declare fields, as ``declare`` does in a
rule file. Decay, groups, personas and grades look like this::

    [scorings."Engagement"]
    decay = "25% every 30 days"       # or "none"

    [scorings."Engagement".groups."Web"]
    max = 30
    rules = { "Pricing page" = 'on page_visit award 25', "Blog" = 'on blog_visit award 25' }

    [personas."CFO"]
    threshold = 20
    rules = { "Finance title" = 'when contact.job_title matches /cfo|finance/i award 20' }

    [grades."Lead grade"]
    fit = { scoring = "Fit", bands = { A = 60, B = 30, C = 0 } }
    engagement = { scoring = "Engagement", bands = { "1" = 50, "2" = 20, "3" = 0 } }
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs

from leadscore.errors import (
    ConfigError,
    Problem,
    RuleCheckError,
    RuleSyntaxError,
    SourceLocation,
    key_path,
)
from leadscore.language import syntax as ast
from leadscore.language.checker import check
from leadscore.language.parser import parse_decay, parse_expire, parse_rule_body
from leadscore.language.program import Program

__all__ = ["program_from_config", "read_config_file", "rule_file_from_config"]

_Parsed = TypeVar("_Parsed")

_TOP_KEYS = ("scorings", "personas", "grades", "contact", "activities")
_SCORING_KEYS = (
    "thresholds",
    "expire",
    "decay",
    "floor",
    "ceiling",
    "timezone",
    "notify",
    "rules",
    "groups",
)
_PERSONA_KEYS = ("threshold", *(key for key in _SCORING_KEYS if key != "thresholds"))
_GROUP_KEYS = ("max", "rules")
_GRADE_KEYS = ("fit", "engagement")
_AXIS_KEYS = ("scoring", "bands")


def program_from_config(config: Mapping[str, Any], *, file: str | None = None) -> Program:
    """Build and check the program of a config mapping; raises ConfigError or RuleError.

    Every error names ``file`` (``config`` when it is None) and the key path of the
    value it is about, such as ``scorings."Product A".expire``. An error in a rule
    string also names the rule and gives the column within that string.
    """
    reader = _Reader(file)
    try:
        rule_file = reader.rule_file(config)
    except ConfigError as error:
        if file is None:
            raise
        located = ConfigError(error.reason, error.path, file=file)
        raise located.with_traceback(error.__traceback__) from None
    try:
        program = check(rule_file)
    except RuleCheckError as error:
        problems = [reader.relocate(problem) for problem in error.problems]
        raise RuleCheckError(problems).with_traceback(error.__traceback__) from None
    warnings = tuple(reader.relocate(warning) for warning in program.warnings)
    return attrs.evolve(program, warnings=warnings)


def read_config_file(path: Path) -> Any:
    """Read a TOML, JSON or YAML config file, chosen by its suffix, into Python data.

    A file that is not UTF-8 or does not parse raises ConfigError with the file, the
    line and column the parser reports, and the parser's own error as its cause.
    """
    file = str(path)
    suffix = path.suffix.lower()
    yaml: Any = None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped, no-redef]
        except ImportError:
            raise ConfigError(
                "the file is YAML, which needs PyYAML: pip install pyyaml", file=file
            ) from None
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"the file is not UTF-8 text (byte {error.start + 1} is invalid); save it as UTF-8",
            file=file,
        ) from error
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _toml_error(error, text, file) from error
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise _json_error(error, file) from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise _yaml_error(error, file) from error


_FIX = "; fix the file at that place and load it again"


def _sentence_case(reason: str) -> str:
    # Parsers start their messages with a capital; ours continue a sentence.
    if len(reason) > 1 and reason[1].islower():
        return reason[0].lower() + reason[1:]
    return reason


def _toml_error(error: tomllib.TOMLDecodeError, text: str, file: str) -> ConfigError:
    # Python 3.11 to 3.13 put the place only in the message, as "(at line 3, column 9)"
    # or "(at end of document)".
    message = str(error)
    place = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if place is not None:
        reason, line, column = place[1], int(place[2]), int(place[3])
    else:
        reason = message.removesuffix(" (at end of document)")
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
    return ConfigError(
        f"invalid TOML: {_sentence_case(reason)}{_FIX}", file=file, line=line, column=column
    )


def _json_error(error: json.JSONDecodeError, file: str) -> ConfigError:
    before = error.doc[: error.pos].rstrip()
    after = error.doc[error.pos : error.pos + 1]
    if before.endswith(",") and after in ("}", "]"):
        # json reports a trailing comma as a missing name or value after it.
        reason = "a comma after the last item; remove it, because JSON allows no trailing comma"
    else:
        reason = _sentence_case(error.msg) + _FIX
    return ConfigError(f"invalid JSON: {reason}", file=file, line=error.lineno, column=error.colno)


def _yaml_error(error: Exception, file: str) -> ConfigError:
    # PyYAML's marked errors count lines and columns from 0; other YAMLErrors have no place.
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None or problem is None:
        return ConfigError(f"invalid YAML: {error}{_FIX}", file=file)
    reason = problem
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    if context is not None and context_mark is not None:
        reason += f" ({context} that starts at line {context_mark.line + 1}, column {context_mark.column + 1})"
    elif context is not None:
        reason += f" ({context})"
    return ConfigError(
        f"invalid YAML: {reason}{_FIX}", file=file, line=mark.line + 1, column=mark.column + 1
    )


def rule_file_from_config(config: Mapping[str, Any]) -> ast.RuleFile:
    """Turn a config mapping into the same syntax tree a rule file gives.

    The checker's problems in the tree name no key path; `program_from_config` adds them.
    """
    return _Reader(None).rule_file(config)


def _mapping(value: Any, path: list[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a table of names to values, got {type(value).__name__}", path)
    return value


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], path: list[str]) -> None:
    for key in table:
        if key not in allowed:
            # A high cutoff keeps far-fetched guesses such as 'personas' for 'version' out.
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.75)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f"; the keys are {', '.join(allowed)}"
            )
            raise ConfigError(f"unknown key '{key}'{hint}", path)


def _integer(value: Any, path: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected a whole number of points, got {value!r}", path)
    return value


class _Reader:
    """Read one config mapping into a syntax tree, and place the problems found in it by key path.

    The checker's locations name only the scoring, the rule and the line of text, so
    the reader records which key each text it builds came from.
    """

    def __init__(self, file: str | None) -> None:
        self.source = "config" if file is None else file
        # (scoring or persona name, or None outside one; text) -> key path of a setting.
        self.settings: dict[tuple[str | None, str], tuple[str, ...]] = {}
        # (scoring or persona name, rule name) -> key path and lines of the rule string.
        self.rules: dict[tuple[str, str], tuple[tuple[str, ...], frozenset[str]]] = {}

    # ---------------------------------------------------------------- placing problems

    def relocate(self, problem: Problem) -> Problem:
        """Return ``problem`` placed by file and key path."""
        location = problem.location
        if location is None or location.source != "config" or location.key is not None:
            return problem
        found = self._key_of(location)
        if found is None:
            return problem
        path, rule = found
        return self._at_key(problem, path, rule)

    def _at_key(self, problem: Problem, path: tuple[str, ...], rule: str | None) -> Problem:
        assert problem.location is not None
        location = attrs.evolve(problem.location, source=self.source, key=key_path(path), rule=rule)
        return attrs.evolve(problem, location=location)

    def _key_of(self, location: SourceLocation) -> tuple[tuple[str, ...], str | None] | None:
        line = location.source_line
        scoring, rule = location.scoring, location.rule
        if scoring is not None and rule is not None:
            # The checker leaves the last rule's name set while it checks later settings.
            entry = self.rules.get((scoring, rule))
            if entry is not None and line in entry[1]:
                return entry[0], rule
        for owner in (scoring, None):
            path = self.settings.get((owner, line))
            if path is not None:
                return path, None
        paths = {path for (_, text), path in self.settings.items() if text == line}
        if len(paths) == 1:
            return paths.pop(), None
        return None

    def _setting_span(self, text: str, path: list[str], owner: str | None = None) -> ast.Span:
        # Settings given as config values have no rule text; a span over a one-line
        # summary lets the checker's messages show which setting they are about.
        self.settings[(owner, text)] = tuple(path)
        return ast.Span(1, 1, 1, len(text) + 1, 0, len(text), ast.Origin("config", text))

    def _parsed(
        self, parse: Callable[[], _Parsed], path: list[str], rule: str | None = None
    ) -> _Parsed:
        """Run one of the parser's config entry points and place its syntax error at ``path``."""
        try:
            return parse()
        except RuleSyntaxError as error:
            problem = self._at_key(error.problems[0], tuple(path), rule)
            located = RuleSyntaxError(problem, error.expected)
            raise located.with_traceback(error.__traceback__) from None

    # ---------------------------------------------------------------- reading

    def rule_file(self, config: Mapping[str, Any]) -> ast.RuleFile:
        top = _mapping(config, [])
        _check_keys(top, _TOP_KEYS, [])
        items: list[ast.Item] = []

        if "contact" in top:
            fields = _mapping(top["contact"], ["contact"])
            span = self._setting_span("contact", ["contact"])
            items.append(ast.ContactDecl(self._field_decls(fields, ["contact"]), span))
        for activity_type, attributes in _mapping(
            top.get("activities", {}), ["activities"]
        ).items():
            path = ["activities", str(activity_type)]
            span = self._setting_span(f"activities.{activity_type}", path)
            decls = self._field_decls(_mapping(attributes, path), path)
            items.append(ast.ActivityDecl(str(activity_type), decls, span, span))

        if "scorings" not in top:
            raise ConfigError("missing the 'scorings' table", [])
        for name, body in _mapping(top["scorings"], ["scorings"]).items():
            items.append(self._scoring(str(name), _mapping(body, ["scorings", str(name)])))
        for name, body in _mapping(top.get("personas", {}), ["personas"]).items():
            items.append(self._persona(str(name), _mapping(body, ["personas", str(name)])))
        for name, body in _mapping(top.get("grades", {}), ["grades"]).items():
            items.append(self._grade(str(name), _mapping(body, ["grades", str(name)])))
        return ast.RuleFile(tuple(items))

    def _field_decls(self, fields: Mapping[str, Any], path: list[str]) -> tuple[ast.FieldDecl, ...]:
        decls = []
        for name, type_name in fields.items():
            field_path = [*path, str(name)]
            if not isinstance(type_name, str):
                raise ConfigError(
                    f'expected a type name such as "text", got {type_name!r}', field_path
                )
            text = f"{'.'.join(field_path)} = {type_name}"
            span = self._setting_span(text, field_path)
            decls.append(ast.FieldDecl(str(name), type_name, span, span))
        return tuple(decls)

    def _scoring(self, name: str, body: Mapping[str, Any]) -> ast.Scoring:
        path = ["scorings", name]
        _check_keys(body, _SCORING_KEYS, path)
        items = self._thresholds(name, body.get("thresholds", {}), [*path, "thresholds"])
        items += self._settings_and_rules(name, body, path)
        span = self._setting_span(f"scorings.{name}", path, name)
        return ast.Scoring(name, tuple(items), span, span)

    def _persona(self, name: str, body: Mapping[str, Any]) -> ast.Persona:
        path = ["personas", name]
        _check_keys(body, _PERSONA_KEYS, path)
        if "threshold" not in body:
            raise ConfigError("a persona needs a 'threshold', such as threshold = 20", path)
        threshold = _integer(body["threshold"], [*path, "threshold"])
        items = self._settings_and_rules(name, body, path)
        span = self._setting_span(f"personas.{name}", path, name)
        threshold_span = self._setting_span(
            f"personas.{name}.threshold = {threshold}", [*path, "threshold"], name
        )
        return ast.Persona(name, threshold, tuple(items), span, span, threshold_span)

    def _thresholds(self, owner: str, value: Any, path: list[str]) -> list[ast.ScoringItem]:
        items: list[ast.ScoringItem] = []
        for threshold_name, points in _named_points(value, path, "a threshold", "MQL"):
            threshold_path = [*path, threshold_name]
            points = _integer(points, threshold_path)
            span = self._setting_span(
                f"thresholds.{threshold_name} = {points}", threshold_path, owner
            )
            items.append(ast.ThresholdDecl(threshold_name, points, span, span))
        return items

    def _settings_and_rules(
        self, name: str, body: Mapping[str, Any], path: list[str]
    ) -> list[ast.ScoringItem]:
        """Read the settings, rules and groups that scorings and personas share."""
        scoring_items: list[ast.ScoringItem] = []
        if "expire" in body:
            text = body["expire"]
            if not isinstance(text, str):
                raise ConfigError(
                    'expected text such as "after 90 days", "never" or "on 2027-01-01"',
                    [*path, "expire"],
                )
            self.settings[(name, text)] = (*path, "expire")
            expire = self._parsed(partial(parse_expire, text, scoring=name), [*path, "expire"])
            scoring_items.append(expire)
        if "decay" in body:
            text = body["decay"]
            if not isinstance(text, str):
                raise ConfigError(
                    'expected text such as "25% every 30 days" or "none"', [*path, "decay"]
                )
            self.settings[(name, text)] = (*path, "decay")
            decay = self._parsed(partial(parse_decay, text, scoring=name), [*path, "decay"])
            scoring_items.append(decay)
        for key in ("floor", "ceiling"):
            if key in body:
                value = _integer(body[key], [*path, key])
                span = self._setting_span(f"{key} = {value}", [*path, key], name)
                scoring_items.append(ast.Setting(key, value, span, span))
        if "timezone" in body:
            zone = body["timezone"]
            if not isinstance(zone, str):
                raise ConfigError(
                    'expected a time zone name such as "Europe/Prague"', [*path, "timezone"]
                )
            span = self._setting_span(f"timezone = {zone}", [*path, "timezone"], name)
            scoring_items.append(ast.Setting("timezone", zone, span, span))
        if "notify" in body:
            if body["notify"] not in ("once", "each crossing"):
                raise ConfigError('expected "once" or "each crossing"', [*path, "notify"])
            if body["notify"] == "once":
                span = self._setting_span("notify = once", [*path, "notify"], name)
                scoring_items.append(ast.Setting("notify", "once", span, span))

        scoring_items += self._rules(name, body.get("rules", {}), [*path, "rules"])
        for group_name, group in _mapping(body.get("groups", {}), [*path, "groups"]).items():
            group_path = [*path, "groups", str(group_name)]
            group_body = _mapping(group, group_path)
            scoring_items.append(self._group(name, str(group_name), group_body, group_path))
        return scoring_items

    def _rules(self, scoring: str, table: Any, path: list[str]) -> list[ast.Rule]:
        rules = []
        for rule_name, text in _mapping(table, path).items():
            rule_path = [*path, str(rule_name)]
            if not isinstance(text, str):
                raise ConfigError(
                    "expected the rule as text, such as 'on download award 10'", rule_path
                )
            name = str(rule_name)
            lines = frozenset(line.rstrip("\r") for line in text.split("\n"))
            self.rules.setdefault((scoring, name), (tuple(rule_path), lines))
            rule = self._parsed(
                partial(parse_rule_body, text, rule=name, scoring=scoring), rule_path, name
            )
            rules.append(rule)
        return rules

    def _group(
        self, scoring: str, name: str, body: Mapping[str, Any], path: list[str]
    ) -> ast.Group:
        _check_keys(body, _GROUP_KEYS, path)
        if "max" not in body:
            raise ConfigError("a group needs a 'max', such as max = 30", path)
        cap = _integer(body["max"], [*path, "max"])
        rules = self._rules(scoring, body.get("rules", {}), [*path, "rules"])
        span = self._setting_span(f"groups.{name}", path, scoring)
        cap_span = self._setting_span(f"groups.{name}.max = {cap}", [*path, "max"], scoring)
        return ast.Group(name, cap, tuple(rules), span, span, cap_span)

    def _grade(self, name: str, body: Mapping[str, Any]) -> ast.Grade:
        path = ["grades", name]
        _check_keys(body, _GRADE_KEYS, path)
        axes = []
        for role in _GRADE_KEYS:
            if role not in body:
                continue  # the checker names the missing scoring
            axis_path = [*path, role]
            axis = _mapping(body[role], axis_path)
            _check_keys(axis, _AXIS_KEYS, axis_path)
            scoring = axis.get("scoring")
            if not isinstance(scoring, str):
                raise ConfigError(
                    f"expected the name of a scoring as text, got {scoring!r}",
                    [*axis_path, "scoring"],
                )
            bands = []
            for band_name, points in _named_points(
                axis.get("bands", {}), [*axis_path, "bands"], "a band", "A"
            ):
                band_path = [*axis_path, "bands", band_name]
                points = _integer(points, band_path)
                span = self._setting_span(
                    f"grades.{name}.{role}.bands.{band_name} = {points}", band_path
                )
                bands.append(ast.Band(band_name, points, span, span))
            span = self._setting_span(f"grades.{name}.{role}", axis_path)
            scoring_span = self._setting_span(
                f"grades.{name}.{role}.scoring = {scoring}", [*axis_path, "scoring"]
            )
            axes.append(ast.GradeAxis(role, scoring, tuple(bands), span, scoring_span))  # type: ignore[arg-type]
        span = self._setting_span(f"grades.{name}", path)
        return ast.Grade(name, tuple(axes), span, span)


def _named_points(value: Any, path: list[str], what: str, example: str) -> list[tuple[str, Any]]:
    """Read a table of name to points, or a list of ``{name, at}`` tables, for ``what`` entries."""
    if isinstance(value, Mapping):
        return [(str(name), points) for name, points in value.items()]
    if not isinstance(value, list):
        raise ConfigError(
            f"expected a table such as {{ {example} = 100 }} or a list of {{name, at}}", path
        )
    pairs = []
    for position, entry in enumerate(value):
        entry_path = [*path, str(position)]
        entry = _mapping(entry, entry_path)
        _check_keys(entry, ("name", "at"), entry_path)
        if "name" not in entry or "at" not in entry:
            raise ConfigError(f"{what} needs 'name' and 'at'", entry_path)
        if not isinstance(entry["name"], str):
            name = entry["name"]
            raise ConfigError(f"expected the name as text, got {name!r}", [*entry_path, "name"])
        pairs.append((entry["name"], entry["at"]))
    return pairs
