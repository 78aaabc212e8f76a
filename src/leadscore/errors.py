"""The exceptions leadscore raises, in one flat hierarchy.

Every error a caller can trigger with bad rules, config or data derives from
`LeadscoreError`, so ``except leadscore.LeadscoreError`` is enough to keep a host
application running::

    LeadscoreError
    ├── RuleError            a problem in rule text, with line, column and caret
    │   ├── RuleSyntaxError  the text does not parse
    │   └── RuleCheckError   it parses but breaks a static check (one or more problems)
    ├── ConfigError          a config mapping has the wrong shape (names the key path)
    ├── DataError            a contact, activity or data file is invalid (file, row, field)
    └── DeliveryError        a sink could not deliver a hand-over (says whether a retry can help)

`RuleError`, `ConfigError` and `DataError` are also `ValueError`, so code written
against the standard exceptions keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import attrs

__all__ = [
    "ConfigError",
    "DataError",
    "DeliveryError",
    "LeadscoreError",
    "Problem",
    "RuleCheckError",
    "RuleError",
    "RuleSyntaxError",
    "SourceLocation",
]


@attrs.frozen
class SourceLocation:
    """A span in rule text: 1-based line and column, the source line, and the rule it is in.

    ``source`` names where the text came from: a file path, ``"<string>"`` for text
    passed to `leadscore.compile`, or ``"config"`` for rules taken from a config mapping.
    ``key`` is set for text from config: the key path of the value, such as
    ``scorings."Product A".expire``. Then ``source`` is the config file's path, or
    ``"config"`` for a mapping, and line and column count within that value.
    """

    source: str
    line: int
    column: int
    end_line: int
    end_column: int
    source_line: str
    scoring: str | None = None
    rule: str | None = None
    key: str | None = None

    def describe(self) -> str:
        """Return the place as ``file:line:column`` or, for config, by file and key path."""
        if self.key is not None:
            place = f"{self.source}, {self.key}"
            if self.line > 1:
                return f"{place}, line {self.line}, column {self.column}"
            # A span over the whole value adds nothing to the key, except in a rule string.
            whole = self.column == 1 and self.end_column > len(self.source_line.rstrip("\r\n"))
            if self.rule is not None or not whole:
                return f"{place}, column {self.column}"
            return place
        if self.source == "config" and self.rule is not None:
            place = f"config, scoring {_quote(self.scoring)}, rule {_quote(self.rule)}"
            if self.line > 1 or "\n" in self.source_line:
                return f"{place}, line {self.line}, column {self.column}"
            return f"{place}, column {self.column}"
        if self.source == "config" and self.scoring is not None:
            return f"config, scoring {_quote(self.scoring)}"
        if self.source == "config":
            return "config"  # a declaration from config: the snippet names the key
        return f"{self.source}:{self.line}:{self.column}"

    def snippet(self) -> str:
        """Return the source line with a caret line under the span, both indented four spaces."""
        text = self.source_line.rstrip("\r\n")
        start = max(self.column - 1, 0)
        if self.end_line == self.line and self.end_column > self.column:
            width = self.end_column - self.column
        else:
            width = 1
        width = max(1, min(width, len(text) - start))
        # Tabs are kept in the caret line's indent, so the caret sits under the right character.
        indent = "".join("\t" if char == "\t" else " " for char in text[:start])
        return f"    {text}\n    {indent}{'^' * width}"


def _quote(name: str | None) -> str:
    return '"' + (name or "").replace("\\", "\\\\").replace('"', '\\"') + '"'


@attrs.frozen
class Problem:
    """One error or warning found in rule text, with where it is and what to do."""

    severity: Literal["error", "warning"]
    message: str
    location: SourceLocation | None = None
    hint: str | None = None

    def __str__(self) -> str:
        lines = []
        if self.location is None:
            lines.append(f"{self.severity}: {self.message}")
        else:
            lines.append(f"{self.location.describe()}: {self.severity}: {self.message}")
            location = self.location
            if location.rule is not None and location.source != "config" and location.key is None:
                lines[0] += f" (in rule {_quote(self.location.rule)})"
            lines.append(self.location.snippet())
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)


class LeadscoreError(Exception):
    """Base class of every error leadscore raises on bad rules, config or data."""


class RuleError(LeadscoreError, ValueError):
    """A problem in rule text; ``str()`` shows the place, the message and a caret."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a RuleError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    @property
    def message(self) -> str:
        """The first problem's message, without place or snippet."""
        return self.problems[0].message

    @property
    def location(self) -> SourceLocation | None:
        """Where the first problem is."""
        return self.problems[0].location

    @property
    def line(self) -> int | None:
        """1-based line of the first problem."""
        return self.location.line if self.location else None

    @property
    def column(self) -> int | None:
        """1-based column of the first problem."""
        return self.location.column if self.location else None

    @property
    def rule(self) -> str | None:
        """Name of the rule the first problem is in, when known."""
        return self.location.rule if self.location else None

    @property
    def scoring(self) -> str | None:
        """Name of the scoring the first problem is in, when known."""
        return self.location.scoring if self.location else None


class RuleSyntaxError(RuleError):
    """Rule text that does not parse. ``expected`` lists what would have been valid, in words."""

    def __init__(self, problem: Problem, expected: Sequence[str] = ()) -> None:
        self.expected: tuple[str, ...] = tuple(expected)
        super().__init__([problem])


class RuleCheckError(RuleError):
    """Rule text that parses but breaks static checks; ``problems`` lists every error found."""


class ConfigError(LeadscoreError, ValueError):
    """Config with the wrong shape, or a config file that does not parse.

    ``path`` is the key path, such as ``("scorings", "A", "rules")``. ``file`` is the
    config file's path when the config was loaded from one. ``line`` and ``column``
    (1-based) are the place of a syntax error in that file. ``reason`` is the message
    without the place.
    """

    def __init__(
        self,
        message: str,
        path: Sequence[str] = (),
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path: tuple[str, ...] = tuple(path)
        self.file = file
        self.line = line
        self.column = column
        self.reason = message
        place = [] if file is None else [file]
        if self.path:
            place.append(key_path(self.path))
        if line is not None:
            place.append(f"line {line}" if column is None else f"line {line}, column {column}")
        super().__init__(f"{', '.join(place) or 'config'}: {message}")


def key_path(keys: Sequence[str]) -> str:
    """Return config keys joined with dots, quoting each key that is not a bare TOML key.

    Example: ``key_path(["scorings", "Product A", "expire"])`` is ``scorings."Product A".expire``.
    """
    return ".".join(key if _BARE_KEY.fullmatch(key) else _quote(key) for key in keys)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class DataError(LeadscoreError, ValueError):
    """Invalid input data. ``file``, ``row`` (1-based, the header is row 1) and ``field`` say where."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.hint = hint
        self.reason = message
        place = []
        if file is not None:
            place.append(file)
        if row is not None:
            place.append(f"row {row}")
        if field is not None:
            place.append(f"field {field!r}")
        text = f"{', '.join(place)}: {message}" if place else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DeliveryError(LeadscoreError):
    """A sink or enricher failed to deliver a hand-over; ``retryable`` is True if a retry can help.

    ``retry_after`` is the number of seconds the receiver asked to wait (an HTTP
    ``Retry-After``), or None. The dispatcher logs the message, so it must name no
    profile value, e-mail address or secret. Example::

        raise DeliveryError("CRM returned HTTP 503", retryable=True, retry_after=30.0)
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be zero or more seconds, got {retry_after!r}")
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)

    def __repr__(self) -> str:
        return (
            f"DeliveryError({str(self)!r}, retryable={self.retryable!r}, "
            f"retry_after={self.retry_after!r})"
        )
