"""Field paths and text templates over a hand-over, shared by the built-in sinks.

A field path names one value of a hand-over:

- ``key``: the idempotency key
- ``contact_id``: the contact's id
- ``scoring``: the scoring's name
- ``threshold`` and ``threshold_points``: the threshold's name and points
- ``score`` and ``level``: the score and level at the crossing (level empty when none)
- ``at``: the crossing instant, ISO 8601 in UTC
- ``breakdown``: each rule's points, such as ``Pricing page: 30; Job title: 20``
- ``profile.NAME``: a profile field. ``NAME`` is the exact key or, when there is no
  such key, a dotted path into nested mappings.
- ``details.NAME``: a field the enricher filled, found the same way

Templates are `string.Template` text with these paths as placeholders, such as
``Hot lead: ${profile.name} (${score} points)``. Rendering only looks values up, so a
template can never run code. In e-mail templates ``${breakdown}`` is a whole table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from leadscore.handover.record import HandOver

__all__ = [
    "FIELD_NAMES",
    "MISSING",
    "FieldSource",
    "HandOverTemplate",
    "check_field_path",
    "one_line",
    "resolve",
]

FIELD_NAMES: Final = (
    "key",
    "contact_id",
    "scoring",
    "threshold",
    "threshold_points",
    "score",
    "level",
    "at",
    "breakdown",
)
_PREFIXES: Final = ("profile.", "details.")


class _Missing:
    """The type of `MISSING`: a profile or details field that the hand-over does not have."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

# A field path, or a function that computes the value from the whole hand-over.
FieldSource = str | Callable[[HandOver], Any]


def check_field_path(path: str) -> None:
    """Raise ValueError unless ``path`` is a known field, ``profile.NAME`` or ``details.NAME``."""
    if path in FIELD_NAMES:
        return
    for prefix in _PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return
    known = ", ".join(FIELD_NAMES)
    raise ValueError(
        f"unknown hand-over field {path!r}; use one of {known}, profile.NAME or details.NAME"
    )


def check_source(source: FieldSource, description: str) -> None:
    """Raise ValueError or TypeError unless ``source`` is a valid field path or a callable."""
    if isinstance(source, str):
        check_field_path(source)
    elif not callable(source):
        raise TypeError(
            f"{description} must be a field path or a callable, got {type(source).__name__}"
        )


def resolve(handover: HandOver, source: FieldSource) -> Any:
    """Return the value ``source`` names in ``handover``, or `MISSING` for an absent field."""
    if not isinstance(source, str):
        return source(handover)

    if source in _TOP_LEVEL_FIELDS:
        return _TOP_LEVEL_FIELDS[source](handover)

    if source.startswith("profile."):
        return _lookup(handover.profile, source.removeprefix("profile."))
    if source.startswith("details."):
        return _lookup(handover.details, source.removeprefix("details."))
    check_field_path(source)  # raises: the path is unknown
    return MISSING


def _lookup(mapping: Mapping[str, Any], name: str) -> Any:
    if name in mapping:
        return mapping[name]

    # No key with the exact name, so read it as a dotted path into nested mappings.
    value: Any = mapping
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def breakdown_summary(handover: HandOver) -> str:
    """Return each rule's points on one line, such as ``Pricing page: 30; Job title: 20``."""
    return "; ".join(f"{result.rule}: {result.points}" for result in handover.breakdown)


_TOP_LEVEL_FIELDS: Final[Mapping[str, Callable[[HandOver], Any]]] = {
    "key": lambda h: h.key,
    "contact_id": lambda h: h.contact_id,
    "scoring": lambda h: h.scoring,
    "threshold": lambda h: h.threshold.name,
    "threshold_points": lambda h: h.threshold.points,
    "score": lambda h: h.score,
    "level": lambda h: h.level,
    "at": lambda h: h.at,
    "breakdown": breakdown_summary,
}


def format_value(value: Any) -> str:
    """Return a value as display text: empty for None and missing fields, ISO 8601 for instants."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item) for item in value)
    return str(value)


def one_line(text: str) -> str:
    """Return ``text`` with every control character and line or paragraph separator made a space.

    Used for every header value: a CR or LF that reached a header could add headers of
    its own, such as ``Bcc``.
    """
    return "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in text
    )


class HandOverTemplate(string.Template):
    """A `string.Template` whose braced placeholders may be field paths, like ``${profile.name}``.

    Construction raises ValueError for a malformed template or an unknown field. Example::

        HandOverTemplate("Hot lead ${contact_id}: ${score} points").render_text(handover)
    """

    # Braced names may contain dots and any character but braces, so profile keys with
    # spaces work; bare $names stay plain identifiers.
    braceidpattern = r"(?a:[_a-z][_a-z0-9]*(?:\.[^{}\r\n]+)?)"

    def __init__(self, template: str) -> None:
        super().__init__(template)
        if not self.is_valid():
            raise ValueError(
                f"invalid template {template!r}: write $$ for a dollar sign and ${{name}} "
                "for a field"
            )
        for name in self.get_identifiers():
            check_field_path(name)

    def render_text(self, handover: HandOver, *, breakdown: str | None = None) -> str:
        """Return the template filled with plain-text values; ``breakdown`` replaces the summary."""
        return self.substitute(_TemplateValues(handover, escape=None, breakdown=breakdown))

    def render_html(self, handover: HandOver, *, breakdown: str | None = None) -> str:
        """Return the template filled with HTML-escaped values; ``breakdown`` is inserted as is."""
        return self.substitute(_TemplateValues(handover, escape=html.escape, breakdown=breakdown))


class _TemplateValues(Mapping[str, str]):
    """The values `string.Template.substitute` looks up, computed on demand."""

    def __init__(
        self, handover: HandOver, *, escape: Callable[[str], str] | None, breakdown: str | None
    ) -> None:
        self._handover = handover
        self._escape = escape
        self._breakdown = breakdown

    def __getitem__(self, name: str) -> str:
        if name == "breakdown" and self._breakdown is not None:
            return self._breakdown
        text = format_value(resolve(self._handover, name))
        return self._escape(text) if self._escape is not None else text

    def __iter__(self) -> Iterator[str]:
        return iter(FIELD_NAMES)

    def __len__(self) -> int:
        return len(FIELD_NAMES)


def breakdown_table_text(handover: HandOver) -> str:
    """Return the breakdown as a plain-text table: rule, points and the activities behind them."""
    if not handover.breakdown:
        return "(no rule contributed points)"
    rows = [("Rule", "Points", "Activities")]
    for result in handover.breakdown:
        points = f"{result.points} (capped)" if result.capped else str(result.points)
        rows.append((result.rule, points, str(len(result.awards)) if result.awards else ""))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        f"{rule:<{widths[0]}}  {points:>{widths[1]}}  {activities:>{widths[2]}}".rstrip()
        for rule, points, activities in rows
    ]
    return "\n".join(lines)


def breakdown_table_html(handover: HandOver) -> str:
    """Return the breakdown as an HTML table with every value escaped."""
    if not handover.breakdown:
        return "<p>No rule contributed points.</p>"
    rows = []
    for result in handover.breakdown:
        points = f"{result.points} (capped)" if result.capped else str(result.points)
        activities = str(len(result.awards)) if result.awards else ""
        rows.append(
            f"<tr><td>{html.escape(result.rule)}</td><td>{html.escape(points)}</td>"
            f"<td>{activities}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Rule</th><th>Points</th><th>Activities</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
