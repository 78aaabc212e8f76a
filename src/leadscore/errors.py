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
    """

    source: str
    line: int
    column: int
    end_line: int
    end_column: int
    source_line: str
    scoring: str | None = None
    rule: str | None = None

    def describe(self) -> str:
        """Return the place as ``file:line:column`` or, for config rules, by scoring and rule name."""
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
            if self.location.rule is not None and self.location.source != "config":
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
    """A config mapping with the wrong shape; ``path`` is the key path, such as ``scorings.A.rules``."""

    def __init__(self, message: str, path: Sequence[str] = ()) -> None:
        self.path: tuple[str, ...] = tuple(path)
        where = ".".join(self.path) if self.path else "config"
        super().__init__(f"{where}: {message}")


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
