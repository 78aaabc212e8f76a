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
rule file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from leadscore.errors import ConfigError
from leadscore.language import syntax as ast
from leadscore.language.parser import parse_expire, parse_rule_body

__all__ = ["rule_file_from_config"]

_TOP_KEYS = ("scorings", "contact", "activities")
_SCORING_KEYS = ("thresholds", "expire", "floor", "ceiling", "timezone", "notify", "rules")


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
            close = difflib.get_close_matches(str(key), allowed, n=1)
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
    scoring_items: list[ast.ScoringItem] = []

    thresholds = body.get("thresholds", {})
    if isinstance(thresholds, Mapping):
        pairs = list(thresholds.items())
    elif isinstance(thresholds, list):
        pairs = []
        for position, entry in enumerate(thresholds):
            entry_path = [*path, "thresholds", str(position)]
            entry = _mapping(entry, entry_path)
            _check_keys(entry, ("name", "at"), entry_path)
            if "name" not in entry or "at" not in entry:
                raise ConfigError("a threshold needs 'name' and 'at'", entry_path)
            if not isinstance(entry["name"], str):
                name = entry["name"]
                raise ConfigError(f"expected the name as text, got {name!r}", [*entry_path, "name"])
            pairs.append((entry["name"], entry["at"]))
    else:
        raise ConfigError(
            "expected a table such as { MQL = 100 } or a list of {name, at}", [*path, "thresholds"]
        )
    for threshold_name, points in pairs:
        value = _integer(points, [*path, "thresholds", str(threshold_name)])
        span = _setting_span(f"thresholds.{threshold_name} = {value}")
        scoring_items.append(ast.ThresholdDecl(str(threshold_name), value, span, span))

    if "expire" in body:
        text = body["expire"]
        if not isinstance(text, str):
            raise ConfigError(
                'expected text such as "after 90 days", "never" or "on 2027-01-01"',
                [*path, "expire"],
            )
        scoring_items.append(parse_expire(text, scoring=name))
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

    for rule_name, text in _mapping(body.get("rules", {}), [*path, "rules"]).items():
        if not isinstance(text, str):
            raise ConfigError(
                "expected the rule as text, such as 'on download award 10'",
                [*path, "rules", str(rule_name)],
            )
        scoring_items.append(parse_rule_body(text, rule=str(rule_name), scoring=name))

    span = _setting_span(f"scorings.{name}")
    return ast.Scoring(name, tuple(scoring_items), span, span)
