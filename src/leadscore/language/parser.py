"""Parse rule text into the syntax tree, with every position kept for error messages.

The grammar (``grammar.lark``) is LALR(1), run by Lark with its contextual lexer. LALR
parses in linear time and reports an error at the first token that cannot continue
any valid text, which gives exact line and column numbers. The price is that the
grammar must stay free of shift/reduce conflicts, so a few constructs are spelled to
keep one token of lookahead enough. The contextual lexer only considers the terminals
that the parser can accept next. That lets ``/`` mean division after an operand and
start a regular expression after ``matches``, but it also lets a keyword through as a
plain name where only a name can follow (``contact.and``). `_Builder` rejects those
names, because a keyword is never a field, type or function name.

Operator precedence, loosest first:

    =====================================  =======================================
    or                                     either operand true
    and                                    both operands true
    not                                    negation
    == != < <= > >= in, not in, contains,  comparisons; they do not chain, so
    starts with, ends with, matches, glob, ``a < b < c`` is a syntax error
    is empty, is not empty
    + -                                    addition, subtraction, text joining
    * / %                                  multiplication, division, remainder
    -                                      unary minus
    =====================================  =======================================
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterable, Iterator
from fractions import Fraction
from importlib import resources
from typing import Any

import attrs
import lark
from lark import Token, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lark import PostLex

from leadscore.errors import Problem, RuleSyntaxError, SourceLocation
from leadscore.language import syntax as ast
from leadscore.model import Duration

__all__ = [
    "KEYWORDS",
    "MAX_DIGITS",
    "MAX_NESTING",
    "parse",
    "parse_decay",
    "parse_expire",
    "parse_rule_body",
]

# Deeper trees would approach the limits of Python's recursion and of its parser, which
# rejects more than 200 nested parentheses in the generated code. Long chains such as
# a + b + c + … count one level per operator.
MAX_NESTING = 64

# Longer numbers are typing mistakes; Python also refuses to convert very long digit strings.
MAX_DIGITS = 50

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _NamesEverywhere(PostLex):
    """Let the contextual lexer read a name in every state, not only where one may stand.

    Without it, a state that accepts ``or`` but no name splits ``orange`` into ``or``
    and ``ange``, so ``(x) orange`` would parse as ``(x) or ange``. With a name always
    possible, the longest match wins and the name is reported where it cannot stand.
    """

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.cache
def _parser(start: str = "start") -> lark.Lark:
    # One parser per start symbol: LALR states shared between start symbols would list
    # "the end of the text" as expected inside a file, where it never is.
    grammar = resources.files("leadscore.language").joinpath("grammar.lark").read_text("utf-8")
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_NamesEverywhere(),
        start=start,
    )


@functools.cache
def _keywords() -> frozenset[str]:
    return frozenset(
        term.pattern.value
        for term in _parser().terminals
        if term.pattern.type == "str" and _NAME.fullmatch(term.pattern.value)
    )


class _KeywordSet:
    """The language's keywords, read from the grammar on first use."""

    def __contains__(self, word: object) -> bool:
        return word in _keywords()

    def __iter__(self) -> Any:
        return iter(sorted(_keywords()))


KEYWORDS = _KeywordSet()


# ---------------------------------------------------------------- public entry points


def parse(text: str, source: str = "<string>") -> ast.RuleFile:
    """Parse a whole rule file; raises RuleSyntaxError at the first error."""
    origin = ast.Origin(source, text)
    tree = _run_parser(text, "start", origin)
    result = _build(_Builder(origin), tree)
    assert isinstance(result, ast.RuleFile)
    return result


def parse_rule_body(
    text: str, *, rule: str, scoring: str | None, source: str = "config"
) -> ast.Rule:
    """Parse the clauses of one rule written as a string in config, such as ``on x award 5``."""
    origin = ast.Origin(source, text)
    context = {"rule": rule, "scoring": scoring}
    tree = _run_parser(text, "rule_body", origin, context)
    clauses = _build(_Builder(origin, context), tree)
    span = _whole_text_span(origin)
    return ast.Rule(name=rule, clauses=tuple(clauses), span=span, name_span=span)


def parse_expire(text: str, *, scoring: str | None, source: str = "config") -> ast.Expire:
    """Parse an expiry given as a config value: ``after 90 days``, ``never`` or ``on 2027-01-01``."""
    origin = ast.Origin(source, text)
    context = {"rule": None, "scoring": scoring}
    tree = _run_parser(text, "expire_spec", origin, context)
    result = _build(_Builder(origin, context), tree)
    assert isinstance(result, ast.Expire)
    return result


def parse_decay(text: str, *, scoring: str | None, source: str = "config") -> ast.Decay:
    """Parse a decay given as a config value: ``25% every 30 days`` or ``none``."""
    origin = ast.Origin(source, text)
    context = {"rule": None, "scoring": scoring}
    tree = _run_parser(text, "decay_spec", origin, context)
    result = _build(_Builder(origin, context), tree)
    assert isinstance(result, ast.Decay)
    return result


def _build(builder: _Builder, tree: Tree[Token]) -> Any:
    try:
        return builder.transform(tree)
    except VisitError as error:
        # Lark wraps whatever a callback raises; our own syntax errors go out unwrapped.
        if isinstance(error.orig_exc, RuleSyntaxError):
            raise error.orig_exc from None
        raise


def _whole_text_span(origin: ast.Origin) -> ast.Span:
    lines = origin.text.split("\n")
    return ast.Span(1, 1, len(lines), len(lines[-1].rstrip("\r")) + 1, 0, len(origin.text), origin)


# ---------------------------------------------------------------- running Lark


def _run_parser(
    text: str, start: str, origin: ast.Origin, context: dict[str, str | None] | None = None
) -> Tree[Token]:
    if not isinstance(text, str):
        raise TypeError(f"rule text must be str, got {type(text).__name__}")
    try:
        tree = _parser(start).parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, origin, start, context or {}) from None
    _check_nesting(tree, origin, context or {})
    return tree


def _check_nesting(tree: Tree[Token], origin: ast.Origin, context: dict[str, str | None]) -> None:
    # An explicit stack, because the point is to fail before anything recursive runs.
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            line = getattr(node.meta, "line", 1)
            column = getattr(node.meta, "column", 1)
            location = _location(origin, line, column, line, column + 1, context)
            problem = Problem(
                "error",
                f"the rule text nests more than {MAX_NESTING} levels deep",
                location,
                hint="split it into several rules or name parts of it in separate conditions",
            )
            raise RuleSyntaxError(problem)
        # Children go on the stack right to left, so the leftmost too-deep node is reported.
        for child in reversed(node.children):
            if isinstance(child, Tree):
                stack.append((child, depth + 1))


# ---------------------------------------------------------------- syntax errors in plain words

# Terminals defined by a pattern; string terminals are shown as the quoted string.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "text in quotes",
    "INT": "a whole number",
    "DECIMAL": "a number",
    "DATE": "a date such as 2026-01-31",
    "DATETIME": "a date and time such as 2026-01-31T09:00Z",
    "REGEX": "a regular expression such as /pricing/i",
    "UNIT": "a time unit such as days",
    "MINUS": "'-'",
    "$END": "the end of the text",
}

_MAX_EXPECTED_SHOWN = 13


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        term = _parser().get_terminal(name)
    except KeyError:
        return name.lower()
    return f"'{term.pattern.value}'" if term.pattern.type == "str" else name.lower()


_OPERATORS = frozenset(
    {"'=='", "'!='", "'<'", "'<='", "'>'", "'>='", "'+'", "'-'", "'*'", "'/'", "'%'"}
)
_COMPARISON_WORDS = frozenset(
    {"'in'", "'not'", "'contains'", "'starts'", "'ends'", "'matches'", "'glob'", "'is'"}
)
# Everything that can start a value. Where numbers and text are expected, so is the rest.
_VALUE_WORDS = frozenset(
    {
        "a name",
        "text in quotes",
        "a whole number",
        "a number",
        "a date such as 2026-01-31",
        "a date and time such as 2026-01-31T09:00Z",
        "'('",
        "'['",
        "'-'",
        "'contact'",
        "'activity'",
        "'true'",
        "'false'",
        "'null'",
        "'count'",
        "'sum'",
        "'min'",
        "'max'",
        "'avg'",
        "'first'",
        "'last'",
        "'exists'",
    }
)
_A_VALUE = "a value such as contact.country or 10"


def _expected_words(names: Iterable[str]) -> list[str]:
    words = {_describe_terminal(name) for name in names if name not in ("COMMENT", "WS")}
    # Long lists hide the one word the reader needs, so families of terminals that
    # always come together are named once.
    if {"text in quotes", "a whole number", "a number"} <= words:
        words = (words - _VALUE_WORDS) | {_A_VALUE}
    if len(words & _OPERATORS) >= 3:
        words = (words - _OPERATORS) | {"an operator such as == or +"}
    if len(words & _COMPARISON_WORDS) >= 3:
        words = (words - _COMPARISON_WORDS) | {"a comparison such as 'in' or 'matches'"}
    # Values first, then keywords and punctuation, each alphabetical.
    return sorted(words, key=lambda word: (word.startswith("'"), word))


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of the text"
    if token.type == "NAME":
        # Where a keyword cannot stand, the lexer reads it as a plain name.
        kind = "keyword" if token.value in KEYWORDS else "name"
        return f"{kind} '{token.value}'"
    if token.type == "STRING":
        return f"text {token.value}"
    if token.type in ("INT", "DECIMAL"):
        return f"number {token.value}"
    if token.type in ("DATE", "DATETIME"):
        return f"date {token.value}"
    if token.type == "REGEX":
        return f"regular expression {token.value}"
    if _NAME.fullmatch(str(token.value)):
        return f"keyword '{token.value}'"
    return f"'{token.value}'"


def _location(
    origin: ast.Origin,
    line: int,
    column: int,
    end_line: int,
    end_column: int,
    context: dict[str, str | None],
) -> SourceLocation:
    return SourceLocation(
        source=origin.source,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        source_line=origin.line(line),
        scoring=context.get("scoring"),
        rule=context.get("rule"),
    )


def _token_location(
    token: Token, origin: ast.Origin, context: dict[str, str | None]
) -> SourceLocation:
    line = token.line or 1
    column = token.column or 1
    end_line = token.end_line or line
    return _location(origin, line, column, end_line, token.end_column or column + 1, context)


# ---- what the parser had read when it stopped

# Lark keeps the parser's state on the exception: ``state_stack`` holds LALR states and
# ``value_stack`` the tokens and subtrees read so far. The functions below read them to
# find the real mistake, which is sometimes a token or two before where LALR stopped.


def _stacks(error: UnexpectedInput) -> tuple[list[Any], list[Any]]:
    state = getattr(error, "state", None)
    states = getattr(state, "state_stack", None)
    values = getattr(state, "value_stack", None)
    if not isinstance(states, list) or not isinstance(values, list):
        return [], []
    return states, values


def _acceptable(error: UnexpectedInput, drop: int = 0) -> set[str] | None:
    """The terminals the parser accepts next, after forgetting the last ``drop`` values.

    Each terminal is tried on a copy of the parser, as Lark's own ``accepts`` does, but
    without copying the values deeply: a deeply nested text must not recurse here.
    """
    state: Any = getattr(error, "state", None)
    states, values = _stacks(error)
    if not states or len(states) <= drop:
        return None
    if drop:
        states, values = states[:-drop], values[:-drop]
    conf = copy.copy(state.parse_conf)
    conf.callbacks = {}
    accepted: set[str] = set()
    for name in conf.states[states[-1]]:
        if not name.isupper():
            continue
        trial = type(state)(conf, state.lexer, list(states), list(values))
        try:
            trial.feed_token(Token(name, ""), name == "$END")
        except UnexpectedToken:
            continue
        accepted.add(name)
    return accepted


def _misread_unit(values: list[Any]) -> Token | None:
    """Find a name after a number that is not a time unit, such as the 'AND' of ``1 AND``.

    The grammar reads a number followed by any name as a duration, so such a name only
    fails later, at a token that is fine in itself; the real mistake is the name. The
    durations read so far are subtrees on the stack, or its last two tokens.
    """
    units: list[Token] = []
    tail = values[-2:]
    if [getattr(value, "type", None) for value in tail] == ["INT", "NAME"]:
        units.append(tail[1])
    pending = [value for value in values if isinstance(value, Tree)]
    while pending:  # no recursion: the stack can hold a deeply nested subtree
        tree = pending.pop()
        unit = tree.children[-1] if tree.data == "duration" and tree.children else None
        if isinstance(unit, Token):
            units.append(unit)
        pending.extend(child for child in tree.children if isinstance(child, Tree))
    wrong = [unit for unit in units if _unit(str(unit)) is None]
    return min(wrong, key=lambda unit: unit.start_pos or 0) if wrong else None


def _unit(word: str) -> str | None:
    unit = _UNIT_PLURAL.get(word, word)
    return unit if unit in _UNIT_PLURAL.values() else None


_UNITS_HINT = "the units are minutes, hours, days, weeks, months and years"


def _unit_problem(word: str) -> tuple[str, str | None]:
    """Message and hint for a name after a number that is not a time unit."""
    if word in KEYWORDS:
        return f"unexpected keyword '{word}' after a number", None
    if word.lower() in KEYWORDS:
        hint = f"keywords are lowercase: write '{word.lower()}'"
        return f"unexpected name '{word}' after a number", hint
    # A misspelled unit ("dayz") or a misspelled keyword after a number ("awrd").
    units = list(_UNIT_PLURAL.values())
    close = difflib.get_close_matches(word.lower(), [*units, *sorted(KEYWORDS)], n=1, cutoff=0.75)
    if close and close[0] not in units:
        return f"unexpected name '{word}' after a number", f"did you mean '{close[0]}'?"
    if close:
        return f"unknown time unit '{word}'", f"did you mean '{close[0]}'? ({_UNITS_HINT})"
    return f"unknown time unit '{word}'", _UNITS_HINT


def _end_of_input(error: UnexpectedInput) -> tuple[int, int]:
    """Where the text ended early: just after its last token, or 1:1 if it has none."""
    lexer_state = getattr(getattr(getattr(error, "state", None), "lexer", None), "state", None)
    token = getattr(lexer_state, "last_token", None)
    if isinstance(token, Token) and token.end_line is not None and token.end_column is not None:
        return token.end_line, token.end_column
    return 1, 1


def _syntax_error(
    error: UnexpectedInput, origin: ast.Origin, start: str, context: dict[str, str | None]
) -> RuleSyntaxError:
    _states, values = _stacks(error)
    misread = _misread_unit(values)
    if misread is not None:
        message, hint = _unit_problem(str(misread))
        location = _token_location(misread, origin, context)
        return RuleSyntaxError(Problem("error", message, location, hint))

    if isinstance(error, UnexpectedCharacters):
        accepted = _acceptable(error)
        if accepted is None:
            accepted = set(error.allowed or ()) - {"NAME"}
        last = values[-1] if values else None
        if isinstance(last, Token) and last.type == "INT" and "NAME" in accepted:
            accepted = (accepted - {"NAME"}) | {"UNIT"}  # after a number, a name is a time unit
        expected = _expected_words(accepted)
        line, column = error.line, error.column
        char = error.char
        location = _location(origin, line, column, line, column + 1, context)
        message, hint = _unexpected_character(char, origin.text, error.pos_in_stream or 0, expected)
        if char in "{}" and start == "rule_body":
            hint = "a rule from config holds only its clauses, without braces"
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        names = error.expected if isinstance(error, UnexpectedEOF) else error.accepts
        expected = _expected_words(names or error.expected)
        line, column = _end_of_input(error)
        location = _location(origin, line, column, line, column + 1, context)
        message = f"the text ended early; expected {_join(expected)}"
        hint = "a closing '}' is missing" if "'}'" in expected else None
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    assert isinstance(error, UnexpectedToken)
    token = error.token
    last = values[-1] if values else None
    # `accepts` is computed by trying each terminal, so it is exact where the LALR
    # lookahead sets of merged states are not.
    accepted = set(error.accepts or error.expected)

    # A name where only '(' can follow was read as a function name. When that name is a
    # keyword, the keyword came too early: a value is missing before it (`a == and b`).
    if (
        isinstance(last, Token)
        and last.type == "NAME"
        and str(last).lower() in KEYWORDS
        and accepted == {"LPAR"}
    ):
        accepted = _acceptable(error, drop=1)
        expected = _expected_words(accepted or ())
        word = str(last)
        location = _token_location(last, origin, context)
        if word in KEYWORDS:
            message, hint = f"unexpected keyword '{word}'; expected {_join(expected)}", None
        else:
            message = f"unexpected name '{word}'; expected {_join(expected)}"
            hint = f"keywords are lowercase: write '{word.lower()}'"
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    if isinstance(last, Token) and last.type == "INT" and "NAME" in accepted:
        accepted = (accepted - {"NAME"}) | {"UNIT"}  # after a number, a name is a time unit
    expected = _expected_words(accepted)
    location = _token_location(token, origin, context)
    message = f"unexpected {_describe_token(token)}; expected {_join(expected)}"
    hint = _token_hint(token, last, values, expected, origin, start)
    if hint is None and token.type == "NAME":
        hint = _close_keyword_hint(str(token.value), accepted)
    if token.type == "SLASH" and _TERMINAL_WORDS["REGEX"] in expected:
        message = "the regular expression is not closed on this line"
        hint = "end it with '/' and any flags"
    return RuleSyntaxError(Problem("error", message, location, hint), expected)


_COMPARISONS = frozenset(
    {
        "compare",
        "in_",
        "not_in",
        "contains",
        "starts_with",
        "ends_with",
        "matches",
        "glob",
        "is_empty",
        "is_not_empty",
    }
)


def _token_hint(
    token: Token, last: Any, values: list[Any], expected: list[str], origin: ast.Origin, start: str
) -> str | None:
    value = str(token.value)
    if token.type == "NAME" and value.lower() in KEYWORDS and value.lower() != value:
        return f"keywords are lowercase: write '{value.lower()}'"
    if token.type in ("LBRACE", "RBRACE") and start == "rule_body":
        return "a rule from config holds only its clauses, without braces"
    if token.type == "RBRACE" and "the end of the text" in expected:
        return "there is one '}' too many"
    if token.type == "COMMA" and "')'" in expected:
        return 'lists are written in square brackets, such as ["CZ", "SK"]'
    if token.type in ("INT", "DECIMAL") and "'expect'" in expected:
        # Inside a test block, where `at` starts a line: the number is not a missing `at`.
        return _test_block_number_hint(values)
    if token.type in ("INT", "DECIMAL") and expected == ["'at'"]:
        after_threshold = len(values) >= 2 and getattr(values[-2], "type", None) == "THRESHOLD"
        if after_threshold:
            return 'a threshold reads: threshold "MQL" at 100'
        return 'a band of a grade reads: "A" at 60'
    if expected == ["text in quotes", "'}'"] and token.type == "NAME":
        # Only the bands of a grade expect exactly this.
        return f'band names are text in quotes, such as "{value}" at 60'
    if expected == ["'%'"]:
        return "the rate is a percentage: decay 50% every 30 days"
    if isinstance(last, Token) and last.type == "DECAY":
        return "write: decay 50% every 30 days, or decay none"
    if token.type == "REGEX":
        return "regular expressions such as /ceo/i only follow 'matches'"
    if value in ("==", "!=", "<", "<=", ">", ">=") and _after_comparison(values):
        return "comparisons do not chain: write a < b and b < c"
    if isinstance(last, Token) and last.type in ("CONTACT", "ACTIVITY") and "'.'" in expected:
        return f'write a field such as {last}.country or {last}["country"]'
    if isinstance(last, Token) and last.type == "NAME" and expected == ["'('"]:
        return f"write contact.{last} for a field of the contact, or {last}(…) to call a function"
    if token.type == "STRING" and isinstance(last, Token) and last.type == "DOT":
        return 'a field name in quotes goes in brackets, such as contact["first name"]'
    if token.type == "DOT" and _between_digits(origin.text, token) and "a number" not in expected:
        return "only whole numbers are allowed here"
    if token.type == "NAME" and _unit(value) and isinstance(last, Token) and last.type == "DECIMAL":
        return "a duration is a whole number of units, such as 36 hours"
    return None


# config.py uses the same cutoff for keys. Two swapped letters in a four-letter keyword, as in
# 'wehn', score exactly 0.75, but in a three-letter one ('adn') they score 0.67 and get no hint.
_CLOSE_KEYWORD_CUTOFF = 0.75


def _close_keyword_hint(word: str, accepted: Iterable[str]) -> str | None:
    """Return "did you mean 'when'?" when ``word`` is close to a keyword the parser accepts here."""
    keywords = []
    for name in accepted:
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue  # $END and the like
        if pattern.type == "str" and _NAME.fullmatch(pattern.value):
            keywords.append(pattern.value)
    close = difflib.get_close_matches(word.lower(), keywords, n=1, cutoff=_CLOSE_KEYWORD_CUTOFF)
    return f"did you mean '{close[0]}'?" if close else None


def _test_block_number_hint(values: list[Any]) -> str:
    # An expect line stays unreduced on the stack until the token after it fits, so an
    # EXPECT token there means the number follows the value of an expect line.
    if any(getattr(value, "type", None) == "EXPECT" for value in values):
        return 'an expect line checks one value, such as: expect "Product A" total 35'
    return "a test block holds only at, contact, activity and expect lines"


def _after_comparison(values: list[Any]) -> bool:
    if values and isinstance(values[-1], Tree) and values[-1].data in _COMPARISONS:
        return True
    return len(values) >= 2 and isinstance(values[-2], Tree) and values[-2].data == "comp_op"


def _between_digits(text: str, token: Token) -> bool:
    start = token.start_pos or 0
    return start > 0 and text[start - 1].isdigit() and text[start + 1 : start + 2].isdigit()


def _unexpected_character(
    char: str, text: str, position: int, expected: list[str]
) -> tuple[str, str | None]:
    following = text[position + 1 : position + 2]
    if char in "\"'":
        return (
            f"the text that starts with {char} is not closed on this line",
            f"add a closing {char}",
        )
    if char == "=" and following != "=":
        return "'=' is not an operator", "write '==' to compare"
    if char == "&":
        return "'&' is not an operator", "write 'and'"
    if char == "|":
        return "'|' is not an operator", "write 'or'"
    if char == "!" and following != "=":
        return "'!' is not an operator", "write 'not'"
    if char == "/" and _TERMINAL_WORDS["REGEX"] in expected:
        return "the regular expression is not closed on this line", "end it with '/' and any flags"
    if char == "/":
        return "unexpected '/'", "regular expressions such as /ceo/i only follow 'matches'"
    shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
    return f"unexpected character {shown}; expected {_join(expected)}", None


def _join(words: list[str]) -> str:
    if not words:
        return "nothing more"
    if len(words) > _MAX_EXPECTED_SHOWN:
        words = [*words[:_MAX_EXPECTED_SHOWN], "…"]
    if len(words) == 1:
        return words[0]
    # A comma keeps "a value such as x or 10, or 'not'" from reading as three choices.
    last_separator = ", or " if " or " in words[-2] else " or "
    return ", ".join(words[:-1]) + last_separator + words[-1]


# ---------------------------------------------------------------- tree to syntax nodes

# The escapes of text literals, in the order the hint lists them, and the character each
# stands for. Besides these, \uXXXX gives the character with that hex code.
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_ESCAPES_HINT = "write \\\\ for a backslash; the escapes are " + " ".join(
    [*(f"\\{code}" for code in _ESCAPES), "\\uXXXX"]
)
# Longer durations overflow dates (the calendar ends in 9999) and Python's timedelta.
_MAX_DURATION = {
    "minutes": 10_000 * 366 * 24 * 60,
    "hours": 10_000 * 366 * 24,
    "days": 10_000 * 366,
    "weeks": 10_000 * 53,
    "months": 10_000 * 12,
    "years": 10_000,
}
_UNIT_PLURAL = {
    "minute": "minutes",
    "hour": "hours",
    "day": "days",
    "week": "weeks",
    "month": "months",
    "year": "years",
}


@v_args(meta=True)
class _Builder(lark.Transformer[Token, Any]):
    """Turn Lark's parse tree into syntax nodes, rejecting keywords used as names."""

    def __init__(self, origin: ast.Origin, context: dict[str, str | None] | None = None) -> None:
        super().__init__(visit_tokens=False)
        self.origin = origin
        self.context = context or {}

    # ---- spans and errors

    def _span(self, meta: Any) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(1, 1, 1, 1, 0, 0, self.origin)
        return ast.Span(
            meta.line,
            meta.column,
            meta.end_line,
            meta.end_column,
            meta.start_pos,
            meta.end_pos,
            self.origin,
        )

    def _token_span(self, token: Token) -> ast.Span:
        line = token.line or 1
        column = token.column or 1
        return ast.Span(
            line,
            column,
            token.end_line or line,
            token.end_column or column + len(token),
            token.start_pos or 0,
            token.end_pos or 0,
            self.origin,
        )

    def _error(self, message: str, span: ast.Span, hint: str | None = None) -> RuleSyntaxError:
        location = _location(
            self.origin, span.line, span.column, span.end_line, span.end_column, self.context
        )
        return RuleSyntaxError(Problem("error", message, location, hint))

    def _name(self, token: Token, role: str, root: str = "contact") -> str:
        name = str(token)
        if name in KEYWORDS:
            hint = None
            if role == "field name":
                hint = f'write the field name in brackets: {root}["{name}"]'
            elif role == "declared field":
                hint = f'write the field name in quotes: "{name}": text'
            elif role == "record field":
                hint = f'write the field name in quotes: "{name}": …'
            elif role == "activity type":
                hint = f'write the activity type in quotes: "{name}"'
            article = "an" if role[0] in "aeiou" else "a"
            message = f"'{name}' is a keyword and cannot be {article} {role}"
            raise self._error(message, self._token_span(token), hint)
        return name

    def _text(self, token: Token, *, pattern: bool = False) -> str:
        raw = str(token)[1:-1]
        if "\\" not in raw:
            return raw
        out: list[str] = []
        index = 0
        while index < len(raw):
            char = raw[index]
            if char != "\\":
                out.append(char)
                index += 1
                continue
            code = raw[index + 1]
            if code in _ESCAPES:
                out.append(_ESCAPES[code])
                index += 2
            elif code == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", raw[index + 2 : index + 6]):
                point = int(raw[index + 2 : index + 6], 16)
                if 0xD800 <= point <= 0xDFFF:
                    # Half of a UTF-16 pair is no character: no text can hold or match it.
                    span = self._token_span(token)
                    column = span.column + 1 + index
                    bad = ast.Span(span.line, column, span.line, column + 6, 0, 0, self.origin)
                    escape = raw[index : index + 6]
                    message = f"'{escape}' is half of a surrogate pair, not a character"
                    raise self._error(message, bad, hint="write the character itself")
                out.append(chr(point))
                index += 6
            else:
                span = self._token_span(token)
                column = span.column + 1 + index
                bad = ast.Span(span.line, column, span.line, column + 2, 0, 0, self.origin)
                hint = _ESCAPES_HINT
                if pattern:
                    # Between slashes a backslash needs no escaping: "\d+" means /\d+/.
                    regex = raw.replace("/", "\\/")
                    hint = f"write the pattern between slashes: /{regex}/"
                raise self._error(f"unknown escape sequence '\\{code}' in text", bad, hint=hint)
        return "".join(out)

    # ---- file level

    def start(self, meta: Any, items: list[ast.Item]) -> ast.RuleFile:
        return ast.RuleFile(tuple(items))

    def declare_contact(self, meta: Any, fields: list[ast.FieldDecl]) -> ast.ContactDecl:
        return ast.ContactDecl(tuple(fields), self._span(meta))

    # ---- test blocks

    def test_block(self, meta: Any, children: list[Any]) -> ast.TestBlock:
        name_token, *items = children
        return ast.TestBlock(
            self._text(name_token), tuple(items), self._span(meta), self._token_span(name_token)
        )

    def _instant(self, token: Token) -> dt.datetime | dt.date:
        if token.type == "DATE":
            return self._date(token)
        literal = self.datetime_lit(None, [token])
        if literal.zone_missing:
            raise self._error(
                f"{token} has no time zone",
                self._token_span(token),
                hint="add Z for UTC or an offset such as +01:00",
            )
        assert isinstance(literal.value, dt.datetime)
        return literal.value

    def test_at(self, meta: Any, children: list[Token]) -> ast.TestAt:
        return ast.TestAt(self._instant(children[0]), self._span(meta))

    def test_contact(self, meta: Any, children: list[Any]) -> ast.TestContact:
        id_token, fields = children
        contact_id = self._text(id_token) if id_token is not None else None
        return ast.TestContact(contact_id, tuple(fields), self._span(meta))

    def test_activity(self, meta: Any, children: list[Any]) -> ast.TestActivity:
        (activity_type, _), (ago, at), id_token, attributes = children
        activity_id = self._text(id_token) if id_token is not None else None
        return ast.TestActivity(
            activity_type, ago, at, activity_id, tuple(attributes or ()), self._span(meta)
        )

    def time_ago(self, meta: Any, children: list[Any]) -> tuple[Duration, None]:
        duration, word = children
        if str(word) != "ago":
            raise self._error(
                f"expected 'ago' after the duration, not '{word}'",
                self._token_span(word),
                hint="write: activity page_visit 3 days ago",
            )
        return duration.value, None

    def time_at(self, meta: Any, children: list[Token]) -> tuple[None, dt.datetime | dt.date]:
        return None, self._instant(children[0])

    def expect_value(self, meta: Any, children: list[Any]) -> ast.TestExpect:
        scoring_token, what_token, value = children
        if isinstance(value, tuple):
            points, value_span = value
            value = points
        elif value.type == "STRING":
            value_span = self._token_span(value)
            value = self._text(value)
        else:
            value_span = self._token_span(value)
            value = ast.Word(str(value))
        return ast.TestExpect(
            self._text(scoring_token),
            str(what_token),
            None,
            value,
            self._span(meta),
            self._token_span(what_token),
            value_span,
        )

    def expect_rule(self, meta: Any, children: list[Any]) -> ast.TestExpect:
        scoring_token, rule_token, (points, points_span) = children
        return ast.TestExpect(
            self._text(scoring_token),
            "rule",
            self._text(rule_token),
            points,
            self._span(meta),
            self._token_span(rule_token),
            points_span,
        )

    def _name_or_word(self, token: Token) -> str | ast.Word:
        """Return quoted text as text and a bare word, such as ``none``, as `ast.Word`."""
        if token.type == "STRING":
            return self._text(token)
        return ast.Word(str(token))

    def expect_persona(self, meta: Any, children: list[Token]) -> ast.TestExpectPersona:
        (value_token,) = children
        return ast.TestExpectPersona(
            self._name_or_word(value_token), self._span(meta), self._token_span(value_token)
        )

    def expect_grade(self, meta: Any, children: list[Token]) -> ast.TestExpectGrade:
        grade_token, value_token = children
        return ast.TestExpectGrade(
            self._text(grade_token),
            self._name_or_word(value_token),
            self._span(meta),
            self._token_span(grade_token),
            self._token_span(value_token),
        )

    def record(
        self, meta: Any, children: list[ast.RecordField | None]
    ) -> tuple[ast.RecordField, ...]:
        fields = tuple(field for field in children if field is not None)
        seen: set[str] = set()
        for field in fields:
            if field.name in seen:
                raise self._error(f"field '{field.name}' is given twice", field.span)
            seen.add(field.name)
        return fields

    def record_field(self, meta: Any, children: list[Any]) -> ast.RecordField:
        name_token, value = children
        if name_token.type == "STRING":
            name = self._text(name_token)
        else:
            name = self._name(name_token, "record field")
        span = self._span(meta)
        if isinstance(value, tuple):
            data: object = {field.name: field.value for field in value}
        else:
            data = self._data(value)
        return ast.RecordField(name, data, span)

    def _data(self, node: ast.Expr) -> object:
        """Return the plain value of a literal written in a test block."""
        if isinstance(node, ast.Literal_) and node.kind != "duration":
            if node.zone_missing:
                raise self._error(
                    "this date and time has no time zone",
                    node.span,
                    hint="add Z for UTC or an offset such as +01:00",
                )
            return node.value
        if isinstance(node, ast.ListLiteral):
            return [self._data(item) for item in node.items]
        if (
            isinstance(node, ast.Unary)
            and node.op == "-"
            and isinstance(node.operand, ast.Literal_)
            and node.operand.kind == "number"
        ):
            return -node.operand.value  # type: ignore[operator]
        raise self._error(
            "a test value must be a literal: a number, text, true, false, null, a date, a list or { … }",
            node.span,
        )

    def declare_activity(self, meta: Any, children: list[Any]) -> ast.ActivityDecl:
        (type_name, type_span), *fields = children
        return ast.ActivityDecl(type_name, tuple(fields), self._span(meta), type_span)

    def field_decl(self, meta: Any, children: list[Token]) -> ast.FieldDecl:
        name_token, type_token = children
        name = (
            self._text(name_token)
            if name_token.type == "STRING"
            else self._name(name_token, "declared field")
        )
        return ast.FieldDecl(name, str(type_token), self._span(meta), self._token_span(type_token))

    def type_name(self, meta: Any, children: list[Token]) -> tuple[str, ast.Span]:
        (token,) = children
        name = self._text(token) if token.type == "STRING" else self._name(token, "activity type")
        return name, self._token_span(token)

    def _integer(self, token: Token) -> int:
        if len(token) > MAX_DIGITS:
            raise self._error(f"a number has at most {MAX_DIGITS} digits", self._token_span(token))
        return int(str(token))

    def signed_int(self, meta: Any, children: list[Token | None]) -> tuple[int, ast.Span]:
        minus, digits = children
        assert digits is not None
        value = self._integer(digits)
        return (-value if minus is not None else value), self._span(meta)

    # ---- scorings

    def scoring(self, meta: Any, children: list[Any]) -> ast.Scoring:
        name_token, *items = children
        return ast.Scoring(
            self._text(name_token), tuple(items), self._span(meta), self._token_span(name_token)
        )

    def threshold(self, meta: Any, children: list[Any]) -> ast.ThresholdDecl:
        name_token, (points, _) = children
        return ast.ThresholdDecl(
            self._text(name_token), points, self._span(meta), self._token_span(name_token)
        )

    def floor(self, meta: Any, children: list[Any]) -> ast.Setting:
        ((points, span),) = children
        return ast.Setting("floor", points, self._span(meta), span)

    def ceiling(self, meta: Any, children: list[Any]) -> ast.Setting:
        ((points, span),) = children
        return ast.Setting("ceiling", points, self._span(meta), span)

    def timezone(self, meta: Any, children: list[Token]) -> ast.Setting:
        (token,) = children
        return ast.Setting("timezone", self._text(token), self._span(meta), self._token_span(token))

    def notify(self, meta: Any, children: list[Any]) -> ast.Setting:
        return ast.Setting("notify", "once", self._span(meta), self._span(meta))

    def persona(self, meta: Any, children: list[Any]) -> ast.Persona:
        name_token, (threshold, threshold_span), *items = children
        return ast.Persona(
            self._text(name_token),
            threshold,
            tuple(items),
            self._span(meta),
            self._token_span(name_token),
            threshold_span,
        )

    def group(self, meta: Any, children: list[Any]) -> ast.Group:
        name_token, cap_token, *items = children
        return ast.Group(
            self._text(name_token),
            self._integer(cap_token),
            tuple(items),
            self._span(meta),
            self._token_span(name_token),
            self._token_span(cap_token),
        )

    # ---- grades

    def grade(self, meta: Any, children: list[Any]) -> ast.Grade:
        name_token, *axes = children
        return ast.Grade(
            self._text(name_token), tuple(axes), self._span(meta), self._token_span(name_token)
        )

    def grade_axis(self, meta: Any, children: list[Any]) -> ast.GradeAxis:
        role_token, scoring_token, *bands = children
        role = str(role_token)
        if role not in ("fit", "engagement"):
            raise self._error(
                f"expected 'fit' or 'engagement' inside a grade, not '{role}'",
                self._token_span(role_token),
                hint='write: fit "SCORING" { "A" at 60, "B" at 30 }',
            )
        return ast.GradeAxis(
            role,  # type: ignore[arg-type]
            self._text(scoring_token),
            tuple(band for band in bands if band is not None),
            self._span(meta),
            self._token_span(scoring_token),
        )

    def band(self, meta: Any, children: list[Any]) -> ast.Band:
        name_token, (points, _) = children
        return ast.Band(
            self._text(name_token), points, self._span(meta), self._token_span(name_token)
        )

    # ---- rules and clauses

    def rule(self, meta: Any, children: list[Any]) -> ast.Rule:
        name_token, *clauses = children
        return ast.Rule(
            self._text(name_token), tuple(clauses), self._span(meta), self._token_span(name_token)
        )

    def rule_body(self, meta: Any, clauses: list[ast.Clause]) -> list[ast.Clause]:
        return clauses

    def when(self, meta: Any, children: list[ast.Expr]) -> ast.When:
        return ast.When(children[0], self._span(meta))

    def on(self, meta: Any, children: list[Any]) -> ast.On:
        *types, where = children
        names = tuple(name for name, _ in types)
        spans = tuple(span for _, span in types)
        return ast.On(names, spans, where, self._span(meta))

    def award(self, meta: Any, children: list[Any]) -> ast.AwardClause:
        (points, points_span), mode = children
        return ast.AwardClause(points, mode, self._span(meta), points_span)

    def award_mode(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def max(self, meta: Any, children: list[Token]) -> ast.MaxClause:
        (token,) = children
        return ast.MaxClause(self._integer(token), self._span(meta), self._token_span(token))

    def expire(self, meta: Any, children: list[ast.Expire]) -> ast.Expire:
        (value,) = children
        return ast.Expire(
            value.kind, value.duration, value.date, self._span(meta), value.value_span
        )

    def expire_spec(self, meta: Any, children: list[ast.Expire]) -> ast.Expire:
        return children[0]

    def expire_after(self, meta: Any, children: list[ast.Literal_]) -> ast.Expire:
        (duration,) = children
        assert isinstance(duration.value, Duration)
        return ast.Expire("after", duration.value, None, self._span(meta), duration.span)

    def expire_never(self, meta: Any, children: list[Any]) -> ast.Expire:
        return ast.Expire("never", None, None, self._span(meta), self._span(meta))

    def expire_on(self, meta: Any, children: list[Token]) -> ast.Expire:
        (token,) = children
        date = self._date(token)
        return ast.Expire("on", None, date, self._span(meta), self._token_span(token))

    def decay(self, meta: Any, children: list[ast.Decay]) -> ast.Decay:
        (value,) = children
        return attrs.evolve(value, span=self._span(meta))

    def decay_spec(self, meta: Any, children: list[ast.Decay]) -> ast.Decay:
        return children[0]

    def decay_every(self, meta: Any, children: list[Any]) -> ast.Decay:
        (rate, rate_span), word, duration = children
        if str(word) != "every":
            raise self._error(
                f"expected 'every' after the decay rate, not '{word}'",
                self._token_span(word),
                hint="write: decay 50% every 30 days",
            )
        assert isinstance(duration.value, Duration)
        return ast.Decay("every", rate, duration.value, self._span(meta), rate_span, duration.span)

    def decay_none(self, meta: Any, children: list[Token]) -> ast.Decay:
        (word,) = children
        if str(word) != "none":
            raise self._error(
                f"expected a rate such as 50% or 'none' after 'decay', not '{word}'",
                self._token_span(word),
                hint="write: decay 50% every 30 days, or decay none",
            )
        return ast.Decay("none", None, None, self._span(meta))

    def decay_rate(self, meta: Any, children: list[Token | None]) -> tuple[Fraction, ast.Span]:
        minus, number = children
        assert number is not None
        if len(number) > MAX_DIGITS + 1:
            raise self._error(f"a number has at most {MAX_DIGITS} digits", self._token_span(number))
        rate = Fraction(str(number))
        return (-rate if minus is not None else rate), self._span(meta)

    # ---- expressions

    def or_test(self, meta: Any, operands: list[ast.Expr]) -> ast.BoolOp:
        return ast.BoolOp("or", tuple(operands), self._span(meta))

    def and_test(self, meta: Any, operands: list[ast.Expr]) -> ast.BoolOp:
        return ast.BoolOp("and", tuple(operands), self._span(meta))

    def not_(self, meta: Any, children: list[ast.Expr]) -> ast.Unary:
        return ast.Unary("not", children[0], self._span(meta))

    def neg(self, meta: Any, children: list[Any]) -> ast.Unary:
        return ast.Unary("-", children[1], self._span(meta))

    def comp_op(self, meta: Any, children: list[Token]) -> tuple[str, ast.Span]:
        return str(children[0]), self._token_span(children[0])

    add_op = comp_op
    mul_op = comp_op

    def compare(self, meta: Any, children: list[Any]) -> ast.Compare:
        left, (op, op_span), right = children
        return ast.Compare(op, left, right, self._span(meta), op_span)

    def binary(self, meta: Any, children: list[Any]) -> ast.Binary:
        left, (op, op_span), right = children
        return ast.Binary(op, left, right, self._span(meta), op_span)

    def _keyword_compare(
        self, op: ast.CompareOp, meta: Any, children: list[ast.Expr]
    ) -> ast.Compare:
        left, right = children
        span = self._span(meta)
        return ast.Compare(op, left, right, span, span)

    def in_(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        return self._keyword_compare("in", meta, children)

    def not_in(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        return self._keyword_compare("not in", meta, children)

    def contains(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        return self._keyword_compare("contains", meta, children)

    def starts_with(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        return self._keyword_compare("starts with", meta, children)

    def ends_with(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        return self._keyword_compare("ends with", meta, children)

    def is_empty(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        span = self._span(meta)
        return ast.Compare("is empty", children[0], None, span, span)

    def is_not_empty(self, meta: Any, children: list[ast.Expr]) -> ast.Compare:
        span = self._span(meta)
        return ast.Compare("is not empty", children[0], None, span, span)

    def matches(self, meta: Any, children: list[Any]) -> ast.Matches:
        left, (pattern, flags, pattern_span) = children
        return ast.Matches(left, pattern, flags, self._span(meta), pattern_span)

    def pattern(self, meta: Any, children: list[Token]) -> tuple[str, str, ast.Span]:
        (token,) = children
        span = self._token_span(token)
        if token.type == "STRING":
            return self._text(token, pattern=True), "", span
        raw = str(token)
        closing = raw.rindex("/")
        # Only the delimiter escape is undone; every other backslash belongs to RE2.
        return raw[1:closing].replace("\\/", "/"), raw[closing + 1 :], span

    def glob(self, meta: Any, children: list[Any]) -> ast.Glob:
        left, token = children
        return ast.Glob(left, self._text(token), self._span(meta), self._token_span(token))

    # ---- atoms

    def int_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(self._integer(children[0]), "number", self._span(meta))

    def decimal_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        (token,) = children
        if len(token) > MAX_DIGITS + 1:
            raise self._error(f"a number has at most {MAX_DIGITS} digits", self._token_span(token))
        return ast.Literal_(float(str(token)), "number", self._span(meta))

    def string_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(self._text(children[0]), "text", self._span(meta))

    def true_lit(self, meta: Any, children: list[Any]) -> ast.Literal_:
        return ast.Literal_(True, "boolean", self._span(meta))

    def false_lit(self, meta: Any, children: list[Any]) -> ast.Literal_:
        return ast.Literal_(False, "boolean", self._span(meta))

    def null_lit(self, meta: Any, children: list[Any]) -> ast.Literal_:
        return ast.Literal_(None, "null", self._span(meta))

    def _date(self, token: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(token))
        except ValueError:
            raise self._error(f"{token} is not a valid date", self._token_span(token)) from None

    def date_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(self._date(children[0]), "date", self._span(meta))

    def datetime_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        (token,) = children
        try:
            value = dt.datetime.fromisoformat(str(token))
        except ValueError:
            raise self._error(
                f"{token} is not a valid date and time", self._token_span(token)
            ) from None
        return ast.Literal_(value, "datetime", self._span(meta), zone_missing=value.tzinfo is None)

    def duration(self, meta: Any, children: list[Token]) -> ast.Literal_:
        amount_token, unit_token = children
        unit = _unit(str(unit_token))
        if unit is None:
            message, hint = _unit_problem(str(unit_token))
            raise self._error(message, self._token_span(unit_token), hint)
        amount = self._integer(amount_token)
        if amount > _MAX_DURATION[unit]:
            raise self._error(
                f"{amount} {unit} is longer than the calendar; a duration is at most 10000 years",
                self._span(meta),
            )
        return ast.Literal_(Duration(amount, unit), "duration", self._span(meta))  # type: ignore[arg-type]

    def list_lit(self, meta: Any, children: list[ast.Expr | None]) -> ast.ListLiteral:
        return ast.ListLiteral(
            tuple(item for item in children if item is not None), self._span(meta)
        )

    def _path(self, tokens: list[Token], root: str) -> tuple[str, ...]:
        return tuple(
            self._text(token) if token.type == "STRING" else self._name(token, "field name", root)
            for token in tokens
        )

    def contact_field(self, meta: Any, children: list[Token]) -> ast.Field:
        builtin = len(children) == 1 and children[0].type == "NAME" and str(children[0]) == "id"
        return ast.Field("contact", self._path(children, "contact"), self._span(meta), builtin)

    def activity_field(self, meta: Any, children: list[Token]) -> ast.Field:
        builtin = (
            len(children) == 1
            and children[0].type == "NAME"
            and str(children[0]) in ("type", "occurred_at", "id")
        )
        return ast.Field("activity", self._path(children, "activity"), self._span(meta), builtin)

    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        name_token, *args = children
        name = self._name(name_token, "function name")
        arguments = tuple(arg for arg in args if arg is not None)
        return ast.Call(name, arguments, self._span(meta), self._token_span(name_token))

    def agg_function(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def aggregate(self, meta: Any, children: list[Any]) -> ast.Aggregate:
        function, (activity_type, type_span), *rest = children
        *accessors, where, within = rest
        root = activity_type if _NAME.fullmatch(activity_type) else "activity"
        attribute_span = None
        if accessors:
            first, last = self._token_span(accessors[0]), self._token_span(accessors[-1])
            attribute_span = attrs.evolve(
                first, end_line=last.end_line, end_column=last.end_column, end=last.end
            )
        return ast.Aggregate(
            function=function,
            activity_type=activity_type,
            attribute=self._path(accessors, root),
            where=where,
            within=within.value if within is not None else None,
            span=self._span(meta),
            type_span=type_span,
            within_span=within.span if within is not None else None,
            attribute_span=attribute_span,
        )
