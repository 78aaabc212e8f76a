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

import datetime as dt
import functools
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

import lark
from lark import Token, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from leadscore.errors import Problem, RuleSyntaxError, SourceLocation
from leadscore.language import syntax as ast
from leadscore.model import Duration

__all__ = ["KEYWORDS", "MAX_NESTING", "parse", "parse_expire", "parse_rule_body"]

# Deeper trees would approach the limits of Python's recursion and of its parser, which
# rejects more than 200 nested parentheses in the generated code. Long chains such as
# a + b + c + … count one level per operator.
MAX_NESTING = 64

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def _build(builder: _Builder, tree: Tree[Token]) -> Any:
    try:
        return builder.transform(tree)
    except VisitError as error:
        # Lark wraps whatever a callback raises; our own syntax errors go out unwrapped.
        if isinstance(error.orig_exc, RuleSyntaxError):
            raise error.orig_exc from None
        raise


def _whole_text_span(origin: ast.Origin) -> ast.Span:
    lines = origin.text.splitlines() or [""]
    return ast.Span(1, 1, len(lines), len(lines[-1]) + 1, 0, len(origin.text), origin)


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
            meta = node.meta
            location = _location(origin, meta.line, meta.column, meta.line, meta.column + 1, context)
            problem = Problem(
                "error",
                f"the rule text nests more than {MAX_NESTING} levels deep",
                location,
                hint="split it into several rules or name parts of it in separate conditions",
            )
            raise RuleSyntaxError(problem)
        for child in node.children:
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
    "MINUS": "'-'",
    "$END": "the end of the text",
}

_MAX_EXPECTED_SHOWN = 12


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        term = _parser().get_terminal(name)
    except KeyError:
        return name.lower()
    return f"'{term.pattern.value}'" if term.pattern.type == "str" else name.lower()


_OPERATORS = frozenset({"'=='", "'!='", "'<'", "'<='", "'>'", "'>='", "'+'", "'-'", "'*'", "'/'", "'%'"})
_COMPARISON_WORDS = frozenset(
    {"'in'", "'not'", "'contains'", "'starts'", "'ends'", "'matches'", "'glob'", "'is'"}
)


def _expected_words(names: Iterable[str]) -> list[str]:
    words = {_describe_terminal(name) for name in names if name not in ("COMMENT", "WS")}
    # Long lists hide the one word the reader needs, so families of terminals that
    # always come together are named once.
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
        return f"name '{token.value}'"
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


def _end_of_text(origin: ast.Origin) -> tuple[int, int]:
    lines = origin.text.split("\n")
    return len(lines), len(lines[-1]) + 1


_NUMBER_THEN_NAME = re.compile(r"\d\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _misread_unit(
    error: UnexpectedInput, origin: ast.Origin, context: dict[str, str | None]
) -> RuleSyntaxError | None:
    """Report a name after a number that is not a time unit, such as ``1 AND``.

    The grammar reads a number followed by any name as a duration, so such a name only
    fails later, at a token that is fine in itself; the real mistake is the name.
    """
    position = getattr(error, "pos_in_stream", None)
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        position = error.token.start_pos
    if position is None:
        position = len(origin.text)
    found = _NUMBER_THEN_NAME.search(origin.text[:position])
    if found is None or found.group(1) in _UNIT_PLURAL or found.group(1) in _UNIT_PLURAL.values():
        return None
    word = found.group(1)
    start = found.start(1)
    line = origin.text.count("\n", 0, start) + 1
    column = start - (origin.text.rfind("\n", 0, start) + 1) + 1
    location = _location(origin, line, column, line, column + len(word), context)
    if word.lower() in KEYWORDS:
        message = f"unexpected name '{word}' after a number"
        hint = f"keywords are lowercase: write '{word.lower()}'"
    else:
        message = f"unknown time unit '{word}'"
        hint = "the units are minutes, hours, days, weeks, months and years"
    return RuleSyntaxError(Problem("error", message, location, hint))


def _syntax_error(
    error: UnexpectedInput, origin: ast.Origin, start: str, context: dict[str, str | None]
) -> RuleSyntaxError:
    hint: str | None = None
    misread = _misread_unit(error, origin, context)
    if misread is not None:
        return misread

    if isinstance(error, UnexpectedCharacters):
        expected = _expected_words(error.allowed or ())
        line, column = error.line, error.column
        char = error.char
        location = _location(origin, line, column, line, column + 1, context)
        message, hint = _unexpected_character(char, origin.text, error.pos_in_stream, expected)
        if char in "{}" and start == "rule_body":
            hint = "a rule from config holds only its clauses, without braces"
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    if isinstance(error, UnexpectedEOF):
        expected = _expected_words(error.expected)
        line, column = _end_of_text(origin)
        location = _location(origin, line, column, line, column + 1, context)
        message = f"the text ended early; expected {_join(expected)}"
        if "'}'" in expected:
            hint = "a closing '}' is missing"
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    assert isinstance(error, UnexpectedToken)
    token = error.token
    # `accepts` is computed by trying each terminal, so it is exact where the LALR
    # lookahead sets of merged states are not.
    expected = _expected_words(error.accepts or error.expected)
    if token.type == "$END":
        line, column = _end_of_text(origin)
        location = _location(origin, line, column, line, column + 1, context)
        message = f"the text ended early; expected {_join(expected)}"
        if "'}'" in expected:
            hint = "a closing '}' is missing"
        return RuleSyntaxError(Problem("error", message, location, hint), expected)

    line = token.line or 1
    column = token.column or 1
    end_line = token.end_line or line
    end_column = token.end_column or column + 1
    location = _location(origin, line, column, end_line, end_column, context)
    message = f"unexpected {_describe_token(token)}; expected {_join(expected)}"
    value = str(token.value)
    if token.type == "NAME" and value.lower() in KEYWORDS and value.lower() != value:
        hint = f"keywords are lowercase: write '{value.lower()}'"
    elif token.type == "RBRACE" and start == "rule_body":
        hint = "a rule from config holds only its clauses, without braces"
    elif token.type == "COMMA" and "')'" in expected:
        hint = "lists are written in square brackets, such as [\"CZ\", \"SK\"]"
    elif token.type in ("INT", "DECIMAL") and "'at'" in expected:
        hint = 'a threshold reads: threshold "MQL" at 100'
    elif value in ("==", "!=", "<", "<=", ">", ">=") and "an operator such as == or +" not in expected:
        hint = "comparisons do not chain: write a < b and b < c"
    return RuleSyntaxError(Problem("error", message, location, hint), expected)


def _unexpected_character(
    char: str, text: str, position: int, expected: list[str]
) -> tuple[str, str | None]:
    following = text[position + 1 : position + 2]
    if char in "\"'":
        return f"the text that starts with {char} is not closed on this line", f"add a closing {char}"
    if char == "=" and following != "=":
        return "'=' is not an operator", "write '==' to compare"
    if char == "&":
        return "'&' is not an operator", "write 'and'"
    if char == "|":
        return "'|' is not an operator", "write 'or'"
    if char == "!" and following != "=":
        return "'!' is not an operator", "write 'not'"
    if char == "/" and "a regular expression such as /pricing/i" in expected:
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
    return ", ".join(words[:-1]) + " or " + words[-1]


# ---------------------------------------------------------------- tree to syntax nodes

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}
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
            meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos, self.origin
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
            elif role == "activity type":
                hint = f'write the activity type in quotes: "{name}"'
            raise self._error(f"'{name}' is a keyword and cannot be a {role}", self._token_span(token), hint)
        return name

    def _text(self, token: Token) -> str:
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
                out.append(chr(int(raw[index + 2 : index + 6], 16)))
                index += 6
            else:
                span = self._token_span(token)
                column = span.column + 1 + index
                bad = ast.Span(span.line, column, span.line, column + 2, 0, 0, self.origin)
                raise self._error(
                    f"unknown escape sequence '\\{code}' in text",
                    bad,
                    hint='write \\\\ for a backslash; known escapes are \\" \\\' \\n \\t \\r \\uXXXX',
                )
        return "".join(out)

    # ---- file level

    def start(self, meta: Any, items: list[ast.Item]) -> ast.RuleFile:
        return ast.RuleFile(tuple(items))

    def declare_contact(self, meta: Any, fields: list[ast.FieldDecl]) -> ast.ContactDecl:
        return ast.ContactDecl(tuple(fields), self._span(meta))

    def declare_activity(self, meta: Any, children: list[Any]) -> ast.ActivityDecl:
        (type_name, type_span), *fields = children
        return ast.ActivityDecl(type_name, tuple(fields), self._span(meta), type_span)

    def field_decl(self, meta: Any, children: list[Token]) -> ast.FieldDecl:
        name_token, type_token = children
        name = self._text(name_token) if name_token.type == "STRING" else self._name(name_token, "declared field")
        return ast.FieldDecl(name, str(type_token), self._span(meta), self._token_span(type_token))

    def type_name(self, meta: Any, children: list[Token]) -> tuple[str, ast.Span]:
        (token,) = children
        name = self._text(token) if token.type == "STRING" else self._name(token, "activity type")
        return name, self._token_span(token)

    def signed_int(self, meta: Any, children: list[Token | None]) -> tuple[int, ast.Span]:
        minus, digits = children
        assert digits is not None
        value = int(str(digits))
        return (-value if minus is not None else value), self._span(meta)

    # ---- scorings

    def scoring(self, meta: Any, children: list[Any]) -> ast.Scoring:
        name_token, *items = children
        return ast.Scoring(self._text(name_token), tuple(items), self._span(meta), self._token_span(name_token))

    def threshold(self, meta: Any, children: list[Any]) -> ast.ThresholdDecl:
        name_token, (points, _) = children
        return ast.ThresholdDecl(self._text(name_token), points, self._span(meta), self._token_span(name_token))

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

    # ---- rules and clauses

    def rule(self, meta: Any, children: list[Any]) -> ast.Rule:
        name_token, *clauses = children
        return ast.Rule(self._text(name_token), tuple(clauses), self._span(meta), self._token_span(name_token))

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
        return ast.MaxClause(int(str(token)), self._span(meta), self._token_span(token))

    def expire(self, meta: Any, children: list[ast.Expire]) -> ast.Expire:
        (value,) = children
        return ast.Expire(value.kind, value.duration, value.date, self._span(meta), value.value_span)

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

    def _keyword_compare(self, op: ast.CompareOp, meta: Any, children: list[ast.Expr]) -> ast.Compare:
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
            return self._text(token), "", span
        raw = str(token)
        closing = raw.rindex("/")
        # Only the delimiter escape is undone; every other backslash belongs to RE2.
        return raw[1:closing].replace("\\/", "/"), raw[closing + 1 :], span

    def glob(self, meta: Any, children: list[Any]) -> ast.Glob:
        left, token = children
        return ast.Glob(left, self._text(token), self._span(meta), self._token_span(token))

    # ---- atoms

    def int_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(int(str(children[0])), "number", self._span(meta))

    def decimal_lit(self, meta: Any, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(float(str(children[0])), "number", self._span(meta))

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
            raise self._error(f"{token} is not a valid date and time", self._token_span(token)) from None
        return ast.Literal_(value, "datetime", self._span(meta), zone_missing=value.tzinfo is None)

    def duration(self, meta: Any, children: list[Token]) -> ast.Literal_:
        amount_token, unit_token = children
        word = str(unit_token)
        unit = _UNIT_PLURAL.get(word, word)
        if unit not in _UNIT_PLURAL.values():
            raise self._error(
                f"unknown time unit '{word}'",
                self._token_span(unit_token),
                hint="the units are minutes, hours, days, weeks, months and years",
            )
        return ast.Literal_(Duration(int(str(amount_token)), unit), "duration", self._span(meta))  # type: ignore[arg-type]

    def list_lit(self, meta: Any, children: list[ast.Expr | None]) -> ast.ListLiteral:
        return ast.ListLiteral(tuple(item for item in children if item is not None), self._span(meta))

    def _path(self, tokens: list[Token], root: str) -> tuple[str, ...]:
        return tuple(
            self._text(token) if token.type == "STRING" else self._name(token, "field name", root)
            for token in tokens
        )

    def contact_field(self, meta: Any, children: list[Token]) -> ast.Field:
        return ast.Field("contact", self._path(children, "contact"), self._span(meta))

    def activity_field(self, meta: Any, children: list[Token]) -> ast.Field:
        return ast.Field("activity", self._path(children, "activity"), self._span(meta))

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
        return ast.Aggregate(
            function=function,
            activity_type=activity_type,
            attribute=self._path(accessors, "activity"),
            where=where,
            within=within.value if within is not None else None,
            span=self._span(meta),
            type_span=type_span,
            within_span=within.span if within is not None else None,
        )
