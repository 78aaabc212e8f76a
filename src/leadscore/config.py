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
from collections.abc import Mapping
from typing import Any

from leadscore.errors import ConfigError
from leadscore.language import syntax as ast
from leadscore.language.parser import parse_decay, parse_expire, parse_rule_body

__all__ = ["rule_file_from_config"]

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


def _setting_span(text: str) -> ast.Span:
    # Settings given as config values have no rule text; a span over a one-line summary
    # lets the checker's messages show which setting they are about.
    return ast.Span(1, 1, 1, len(text) + 1, 0, len(text), ast.Origin("config", text))


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


def rule_file_from_config(config: Mapping[str, Any]) -> ast.RuleFile:
    """Turn a config mapping into the same syntax tree a rule file gives."""
    top = _mapping(config, [])
    _check_keys(top, _TOP_KEYS, [])
    items: list[ast.Item] = []

    if "contact" in top:
        fields = _mapping(top["contact"], ["contact"])
        items.append(ast.ContactDecl(_field_decls(fields, ["contact"]), _setting_span("contact")))
    for activity_type, attributes in _mapping(top.get("activities", {}), ["activities"]).items():
        path = ["activities", str(activity_type)]
        span = _setting_span(f"activities.{activity_type}")
        decls = _field_decls(_mapping(attributes, path), path)
        items.append(ast.ActivityDecl(str(activity_type), decls, span, span))

    if "scorings" not in top:
        raise ConfigError("missing the 'scorings' table", [])
    for name, body in _mapping(top["scorings"], ["scorings"]).items():
        items.append(_scoring(str(name), _mapping(body, ["scorings", str(name)])))
    for name, body in _mapping(top.get("personas", {}), ["personas"]).items():
        items.append(_persona(str(name), _mapping(body, ["personas", str(name)])))
    for name, body in _mapping(top.get("grades", {}), ["grades"]).items():
        items.append(_grade(str(name), _mapping(body, ["grades", str(name)])))
    return ast.RuleFile(tuple(items))


def _field_decls(fields: Mapping[str, Any], path: list[str]) -> tuple[ast.FieldDecl, ...]:
    decls = []
    for name, type_name in fields.items():
        if not isinstance(type_name, str):
            raise ConfigError(
                f'expected a type name such as "text", got {type_name!r}', [*path, str(name)]
            )
        span = _setting_span(f"{'.'.join([*path, str(name)])} = {type_name}")
        decls.append(ast.FieldDecl(str(name), type_name, span, span))
    return tuple(decls)


def _scoring(name: str, body: Mapping[str, Any]) -> ast.Scoring:
    path = ["scorings", name]
    _check_keys(body, _SCORING_KEYS, path)
    items = _thresholds(body.get("thresholds", {}), [*path, "thresholds"])
    items += _settings_and_rules(name, body, path)
    span = _setting_span(f"scorings.{name}")
    return ast.Scoring(name, tuple(items), span, span)


def _persona(name: str, body: Mapping[str, Any]) -> ast.Persona:
    path = ["personas", name]
    _check_keys(body, _PERSONA_KEYS, path)
    if "threshold" not in body:
        raise ConfigError("a persona needs a 'threshold', such as threshold = 20", path)
    threshold = _integer(body["threshold"], [*path, "threshold"])
    items = _settings_and_rules(name, body, path)
    span = _setting_span(f"personas.{name}")
    threshold_span = _setting_span(f"personas.{name}.threshold = {threshold}")
    return ast.Persona(name, threshold, tuple(items), span, span, threshold_span)


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


def _thresholds(value: Any, path: list[str]) -> list[ast.ScoringItem]:
    items: list[ast.ScoringItem] = []
    for threshold_name, points in _named_points(value, path, "a threshold", "MQL"):
        points = _integer(points, [*path, threshold_name])
        span = _setting_span(f"thresholds.{threshold_name} = {points}")
        items.append(ast.ThresholdDecl(threshold_name, points, span, span))
    return items


def _settings_and_rules(
    name: str, body: Mapping[str, Any], path: list[str]
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
        scoring_items.append(parse_expire(text, scoring=name))
    if "decay" in body:
        text = body["decay"]
        if not isinstance(text, str):
            raise ConfigError(
                'expected text such as "25% every 30 days" or "none"', [*path, "decay"]
            )
        scoring_items.append(parse_decay(text, scoring=name))
    for key in ("floor", "ceiling"):
        if key in body:
            value = _integer(body[key], [*path, key])
            span = _setting_span(f"{key} = {value}")
            scoring_items.append(ast.Setting(key, value, span, span))
    if "timezone" in body:
        zone = body["timezone"]
        if not isinstance(zone, str):
            raise ConfigError(
                'expected a time zone name such as "Europe/Prague"', [*path, "timezone"]
            )
        span = _setting_span(f"timezone = {zone}")
        scoring_items.append(ast.Setting("timezone", zone, span, span))
    if "notify" in body:
        if body["notify"] not in ("once", "each crossing"):
            raise ConfigError('expected "once" or "each crossing"', [*path, "notify"])
        if body["notify"] == "once":
            span = _setting_span("notify = once")
            scoring_items.append(ast.Setting("notify", "once", span, span))

    scoring_items += _rules(name, body.get("rules", {}), [*path, "rules"])
    for group_name, group in _mapping(body.get("groups", {}), [*path, "groups"]).items():
        group_path = [*path, "groups", str(group_name)]
        scoring_items.append(_group(name, str(group_name), _mapping(group, group_path), group_path))
    return scoring_items


def _rules(scoring: str, table: Any, path: list[str]) -> list[ast.Rule]:
    rules = []
    for rule_name, text in _mapping(table, path).items():
        if not isinstance(text, str):
            raise ConfigError(
                "expected the rule as text, such as 'on download award 10'",
                [*path, str(rule_name)],
            )
        rules.append(parse_rule_body(text, rule=str(rule_name), scoring=scoring))
    return rules


def _group(scoring: str, name: str, body: Mapping[str, Any], path: list[str]) -> ast.Group:
    _check_keys(body, _GROUP_KEYS, path)
    if "max" not in body:
        raise ConfigError("a group needs a 'max', such as max = 30", path)
    cap = _integer(body["max"], [*path, "max"])
    rules = _rules(scoring, body.get("rules", {}), [*path, "rules"])
    span = _setting_span(f"groups.{name}")
    cap_span = _setting_span(f"groups.{name}.max = {cap}")
    return ast.Group(name, cap, tuple(rules), span, span, cap_span)


def _grade(name: str, body: Mapping[str, Any]) -> ast.Grade:
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
                f"expected the name of a scoring as text, got {scoring!r}", [*axis_path, "scoring"]
            )
        bands = []
        for band_name, points in _named_points(
            axis.get("bands", {}), [*axis_path, "bands"], "a band", "A"
        ):
            points = _integer(points, [*axis_path, "bands", band_name])
            span = _setting_span(f"grades.{name}.{role}.bands.{band_name} = {points}")
            bands.append(ast.Band(band_name, points, span, span))
        span = _setting_span(f"grades.{name}.{role}")
        scoring_span = _setting_span(f"grades.{name}.{role}.scoring = {scoring}")
        axes.append(ast.GradeAxis(role, scoring, tuple(bands), span, scoring_span))  # type: ignore[arg-type]
    span = _setting_span(f"grades.{name}")
    return ast.Grade(name, tuple(axes), span, span)
