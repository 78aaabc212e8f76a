"""Regular expressions and globs, compiled so that matching always runs in linear time.

``matches`` uses RE2 (the google-re2 package), whose matching time grows linearly with
the input, so no pattern can hang on a hostile URL or form value. The features RE2
leaves out for that reason (backreferences and lookaround) are reported as errors
with that reason. Globs are translated to RE2 too, except the common shapes made only
of text and ``*``, which become plain string tests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs
import re2

__all__ = [
    "GlobPlan",
    "PatternError",
    "compile_glob",
    "compile_regex",
    "plain_search",
    "regex_flags",
    "searcher",
]

# Flags accepted after the closing slash, and the RE2 inline flag each one becomes.
_FLAGS = {"i": "i", "m": "m", "s": "s"}


class PatternError(ValueError):
    """A pattern RE2 rejects; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def regex_flags(flags: str) -> str:
    """Return the RE2 inline flags for ``flags``; raises PatternError on an unknown flag."""
    unknown = sorted(set(flags) - set(_FLAGS))
    if unknown:
        raise PatternError(
            f"unknown regular expression flag {unknown[0]!r}",
            hint="the flags are i (ignore case), m (^ and $ match at line breaks) and s (. matches a line break)",
        )
    return "".join(sorted({_FLAGS[flag] for flag in flags}))


def _options() -> Any:
    options = re2.Options()
    # RE2 writes parse errors to stderr by default; the library reports them as errors instead.
    options.log_errors = False
    options.never_capture = True
    return options


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str, flags: str = "") -> Any:
    """Compile ``pattern`` with RE2; raises PatternError with a plain reason when RE2 cannot."""
    inline = regex_flags(flags)
    source = f"(?{inline}){pattern}" if inline else pattern
    try:
        return re2.compile(source, _options())
    except re2.error as error:
        raise _explain(error, pattern) from None
    except UnicodeEncodeError:
        raise _surrogate_error() from None


def _explain(error: Exception, pattern: str) -> PatternError:
    reason = error.args[0] if error.args else str(error)
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    reason = str(reason)
    if "invalid perl operator: (?=" in reason or "invalid perl operator: (?!" in reason:
        return PatternError(
            "lookahead (?= …) and (?! …) are not supported, because matching must run in linear time",
            hint="split the test into two conditions joined by 'and' or 'and not'",
        )
    if "invalid perl operator: (?<" in reason and "(?<" in pattern and "(?<P" not in pattern:
        return PatternError(
            "lookbehind (?<= …) and (?<! …) are not supported, because matching must run in linear time",
            hint="split the test into two conditions joined by 'and' or 'and not'",
        )
    # RE2 reports a named backreference (?P=name) only as the operator "(?P".
    named = "invalid perl operator: (?P" in reason and "(?P=" in pattern
    if re.search(r"invalid escape sequence: \\[1-9]", reason) or "\\k<" in pattern or named:
        return PatternError(
            "backreferences such as \\1 are not supported, because matching must run in linear time",
            hint="list the alternatives explicitly, or compare two fields with ==",
        )
    return PatternError(f"invalid regular expression: {reason}")


# RE2 reads UTF-8, and half of a UTF-16 surrogate pair has no UTF-8 form.
def _surrogate_error() -> PatternError:
    return PatternError(
        "the pattern holds half of a surrogate pair, which is not a character",
        hint="write the character itself",
    )


_SURROGATES = re.compile("[\ud800-\udfff]")


# ---------------------------------------------------------------- globs


@attrs.frozen
class GlobPlan:
    """How a glob is tested: a plain string test where the pattern allows one, else RE2.

    ``kind`` is one of ``equal`` (no wildcard), ``contains`` (``*X*``), ``prefix``
    (``X*``), ``suffix`` (``*X``), ``prefix_suffix`` (``X*Y``), ``any`` (``*``) or
    ``regex``. ``parts`` holds the literal text around the stars.
    """

    kind: Literal["equal", "contains", "prefix", "suffix", "prefix_suffix", "any", "regex"]
    parts: tuple[str, ...]
    regex: Any = None

    def matcher(self) -> Callable[[str], bool]:
        """Return a function that tests one text against the glob."""
        kind, parts = self.kind, self.parts
        if kind == "equal":
            return parts[0].__eq__
        first = parts[0] if parts else ""
        if kind == "contains":
            return lambda text: first in text
        if kind == "prefix":
            return lambda text: text.startswith(first)
        if kind == "suffix":
            return lambda text: text.endswith(first)
        if kind == "prefix_suffix":
            head, tail = parts
            return lambda text: (
                len(text) >= len(head) + len(tail) and text.startswith(head) and text.endswith(tail)
            )
        if kind == "any":
            return lambda text: True
        # Half a surrogate pair in the data matches only '?', '*' and negated classes.
        return searcher(self.regex, anchored=True)


# Distinct texts remembered per pattern. Job titles and URLs repeat a lot across
# contacts, so a small memo answers most tests without calling RE2 at all.
MEMO_SIZE = 4096


def _encoded(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Half a surrogate pair (JSON allows it) is no character the pattern could name.
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def plain_search(regex: Any, text: str) -> bool:
    """Search with RE2's ``re``-like API: slower than `searcher`, kept for the reference evaluator."""
    try:
        return regex.search(text) is not None
    except UnicodeEncodeError:
        return regex.search(_SURROGATES.sub("\ufffd", text)) is not None


def searcher(regex: Any, *, anchored: bool = False) -> Callable[[str], bool]:
    """Return a function that tells whether ``regex`` matches a text (anywhere, or whole).

    It calls RE2's matcher directly rather than through the ``re``-like wrapper, which
    builds match objects and decodes offsets that a yes/no test never reads; that is
    several times faster. Results are memoised per text, up to `MEMO_SIZE` texts.
    """
    match = regex._regexp.Match
    anchor = re2._Anchor.ANCHOR_BOTH if anchored else re2._Anchor.UNANCHORED
    memo: dict[str, bool] = {}

    def search(text: str) -> bool:
        found = memo.get(text)
        if found is None:
            encoded = _encoded(text)
            found = match(anchor, encoded, 0, len(encoded))[0][0] != -1
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[text] = found
        return found

    return search


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> GlobPlan:
    """Plan the test for a shell-style glob: ``*`` any text, ``?`` one character, ``[a-z]`` a class."""
    if "?" not in pattern and "[" not in pattern:
        parts = pattern.split("*")
        if len(parts) == 1:
            return GlobPlan("equal", (pattern,))
        if all(part == "" for part in parts):
            return GlobPlan("any", ())
        if len(parts) == 3 and parts[0] == "" and parts[2] == "":
            return GlobPlan("contains", (parts[1],))
        if len(parts) == 2 and parts[1] == "":
            return GlobPlan("prefix", (parts[0],))
        if len(parts) == 2 and parts[0] == "":
            return GlobPlan("suffix", (parts[1],))
        if len(parts) == 2:
            return GlobPlan("prefix_suffix", (parts[0], parts[1]))
    options = _options()
    options.dot_nl = True
    try:
        regex = re2.compile(_glob_to_regex(pattern), options)
    except re2.error as error:
        raise PatternError(
            f"invalid glob {pattern!r}: {_explain(error, pattern).message}"
        ) from None
    except UnicodeEncodeError:
        raise _surrogate_error() from None
    return GlobPlan("regex", (pattern,), regex)


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            # As in fnmatch, a ']' right after '[' or '[!' is a literal member of the class.
            search_from = index + 1 if pattern[index : index + 1] == "!" else index
            if pattern[search_from : search_from + 1] == "]":
                search_from += 1
            end = pattern.find("]", search_from)
            if end < 0:
                raise PatternError(
                    f"the glob {pattern!r} has a '[' that is never closed",
                    hint="write [[] to match a literal '['",
                )
            body = pattern[index:end]
            index = end + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            escaped = "".join("\\" + c if c in "\\^[]" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
        else:
            out.append(re.escape(char))
    return "".join(out)
