"""Globs and regular expressions: shell-style globs, RE2 flags, search anywhere, linear time."""

from __future__ import annotations

import datetime as dt
import fnmatch

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st
from language_helpers import in_rule, total

import leadscore
from leadscore.language.patterns import (
    PatternError,
    _glob_to_regex,
    compile_glob,
    compile_regex,
    regex_flags,
)

# ---------------------------------------------------------------- glob semantics

GLOBS = [
    # pattern, text, matches
    ("*", "", True),
    ("*", "anything at all\nover lines", True),
    ("**", "x", True),
    ("*/pricing*", "https://example.com/pricing?plan=pro", True),
    ("*/pricing*", "https://example.com/about", False),
    ("*/pricing*", "/pricing", True),
    ("pricing", "pricing", True),
    ("pricing", "Pricing", False),
    ("pricing", "pricing ", False),
    ("pric*", "pricing", True),
    ("pric*", "a pricing", False),
    ("*ing", "pricing", True),
    ("*ing", "pricings", False),
    ("a*z", "az", True),
    ("a*z", "a to z", True),
    ("a*z", "a", False),
    ("ab*ba", "aba", False),
    ("ab*ba", "abba", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("?", "x", True),
    ("?", "", False),
    ("?", "xy", False),
    ("?", "é", True),
    ("?", "😀", True),
    ("?", "\n", True),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("[a-z]", "q", True),
    ("[a-z]", "Q", False),
    ("[a-z]*", "q1", True),
    ("[abc]", "b", True),
    ("[abc]", "d", False),
    ("[!x]", "y", True),
    ("[!x]", "x", False),
    ("[!x]", "", False),
    ("[!a-c]at", "hat", True),
    ("[!a-c]at", "bat", False),
    ("[^x]", "^", True),  # as in fnmatch, '^' is not negation
    ("[^x]", "y", False),
    ("[[]", "[", True),
    ("[]]", "]", True),
    ("[]a]", "a", True),
    ("[!]]", "]", False),
    ("[!]]", "x", True),
    ("x]", "x]", True),
    ("[*]", "*", True),
    ("[*]", "x", False),
    ("[?]", "?", True),
    ("[?]", "x", False),
    ("a.b", "a.b", True),
    ("a.b", "axb", False),
    ("a+b|c(d)$^{2}", "a+b|c(d)$^{2}", True),
    ("a+b", "aab", False),
    ("C:\\temp\\*", "C:\\temp\\x", True),
    ("[\\]", "\\", True),
    ("*.pdf", "report.PDF", False),
    ("*.[pP][dD][fF]", "report.PDF", True),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), GLOBS)
def test_glob(pattern: str, text: str, expected: bool) -> None:
    assert compile_glob(pattern).matcher()(text) is expected


@pytest.mark.parametrize(("pattern", "text", "expected"), GLOBS)
def test_glob_agrees_with_fnmatch(pattern: str, text: str, expected: bool) -> None:
    assert fnmatch.fnmatchcase(text, pattern) is expected


@pytest.mark.parametrize(
    ("pattern", "kind", "parts"),
    [
        ("abc", "equal", ("abc",)),
        ("", "equal", ("",)),
        ("*abc*", "contains", ("abc",)),
        ("abc*", "prefix", ("abc",)),
        ("*abc", "suffix", ("abc",)),
        ("ab*cd", "prefix_suffix", ("ab", "cd")),
        ("*", "any", ()),
        ("***", "any", ()),
        ("a*b*c", "regex", ("a*b*c",)),
        ("**abc", "regex", ("**abc",)),
        ("a?c", "regex", ("a?c",)),
        ("[a]", "regex", ("[a]",)),
    ],
)
def test_glob_plan_shapes(pattern: str, kind: str, parts: tuple[str, ...]) -> None:
    plan = compile_glob(pattern)
    assert (plan.kind, plan.parts) == (kind, parts)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("[a-z", "the glob '[a-z' has a '[' that is never closed"),
        ("x[", "the glob 'x[' has a '[' that is never closed"),
        ("[]", "the glob '[]' has a '[' that is never closed"),
        ("[!]", "the glob '[!]' has a '[' that is never closed"),
        (
            "[z-a]",
            "invalid glob '[z-a]': invalid regular expression: invalid character class range: z-a",
        ),
    ],
)
def test_invalid_globs(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_glob(pattern)
    assert caught.value.message == message


def _slow_path(pattern: str) -> re2._Regexp:
    options = re2.Options()
    options.dot_nl = True
    return re2.compile(_glob_to_regex(pattern), options)


# Small alphabets make matches likely, so both outcomes are tested often.
FAST_GLOBS = st.lists(st.sampled_from(["a", "b", ".", "*", "ab", "\\", "é"]), max_size=6).map(
    "".join
)
TEXTS = st.lists(st.sampled_from(["a", "b", ".", "*", "\n", "ab", "é", "\\"]), max_size=10).map(
    "".join
)
ANY_GLOBS = st.lists(
    st.sampled_from(["a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "[]]", "[[]", ".", "é"]),
    max_size=6,
).map("".join)


@settings(deadline=None)
@given(FAST_GLOBS, TEXTS)
def test_fast_path_shapes_agree_with_the_re2_path(pattern: str, text: str) -> None:
    plan = compile_glob(pattern)
    expected = _slow_path(pattern).fullmatch(text) is not None
    assert plan.matcher()(text) is expected, plan
    assert fnmatch.fnmatchcase(text, pattern) is expected


@settings(deadline=None)
@given(ANY_GLOBS, TEXTS | st.text(max_size=6))
def test_every_glob_agrees_with_fnmatch(pattern: str, text: str) -> None:
    assert compile_glob(pattern).matcher()(text) is fnmatch.fnmatchcase(text, pattern)


@settings(deadline=None)
@given(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12))
def test_fast_path_shapes_on_any_text(head: str, tail: str, text: str) -> None:
    head, tail = (
        head.translate({ord(c): None for c in "*?["}),
        tail.translate({ord(c): None for c in "*?["}),
    )
    for pattern in (head, f"*{head}*", f"{head}*", f"*{tail}", f"{head}*{tail}"):
        plan = compile_glob(pattern)
        assert plan.kind != "regex"
        for candidate in (text, head, head + text + tail, head + tail, tail + head):
            if any("\ud800" <= char <= "\udfff" for char in candidate + pattern):
                continue  # RE2 cannot read half a surrogate pair; see the test below
            expected = _slow_path(pattern).fullmatch(candidate) is not None
            assert plan.matcher()(candidate) is expected, (pattern, candidate)


def test_glob_on_text_holding_half_a_surrogate_pair() -> None:
    assert compile_glob("?x*").matcher()("\ud800x") is True
    assert compile_glob("[!a]").matcher()("\udfff") is True
    assert compile_glob("[a-z]?").matcher()("a\ud83d") is True
    assert compile_glob("[a-z]").matcher()("\ud800") is False
    assert compile_glob("*x*").matcher()("\ud800x") is True


def test_pattern_holding_half_a_surrogate_pair_is_an_error() -> None:
    with pytest.raises(PatternError, match="half of a surrogate pair"):
        compile_glob("\ud800?")
    with pytest.raises(PatternError, match="half of a surrogate pair"):
        compile_regex("\ud800")


def test_glob_in_a_rule_tests_the_whole_text() -> None:
    engine = leadscore.compile(
        'scoring "A" {\n'
        '  rule "Pricing" { on page_visit where activity.url glob "*/pricing*" award 1 each }\n'
        '  rule "PDF" { on download where activity.file glob "*.[pP][dD][fF]" award 10 each }\n'
        "}"
    )
    visits = [
        ("page_visit", 1, "https://x.example/pricing"),
        ("page_visit", 2, "https://x.example/pricing/enterprise"),
        ("page_visit", 3, "https://x.example/about?ref=/pricing"),
        ("page_visit", 4, "https://x.example/prices"),
    ]
    downloads = [("download", 5, "guide.PDF"), ("download", 6, "guide.pdf.zip")]
    activities = [
        (kind, dt.timedelta(days=days), {"url" if kind == "page_visit" else "file": value})
        for kind, days, value in visits + downloads
    ]
    assert total(engine, {}, activities) == 3 + 10


# ---------------------------------------------------------------- regular expressions


@pytest.mark.parametrize(
    ("pattern", "flags", "text", "found"),
    [
        ("ceo", "", "Our CEO", False),
        ("ceo", "i", "Our CEO", True),
        ("^b$", "", "a\nb\nc", False),
        ("^b$", "m", "a\nb\nc", True),
        ("a.c", "", "a\nc", False),
        ("a.c", "s", "a\nc", True),
        ("^A.C$", "ims", "x\na\nc\ny", True),
        ("^A.C$", "im", "x\na\nc\ny", False),
        ("pricing", "", "https://x.example/pricing?y=1", True),
        ("^pricing", "", "https://x.example/pricing", False),
        (r"\b(ceo|cto)\b", "i", "Co-founder & CTO", True),
        (r"\b(ceo|cto)\b", "i", "director", False),
        (r"\d{3}-\d{4}", "", "call 555-1234 now", True),
        ("é+", "i", "CAFÉÉ", True),
        (r"\p{Greek}", "", "alpha α", True),
    ],
)
def test_regex_search_anywhere_with_flags(pattern: str, flags: str, text: str, found: bool) -> None:
    assert (compile_regex(pattern, flags).search(text) is not None) is found


@pytest.mark.parametrize(("flags", "inline"), [("", ""), ("i", "i"), ("si", "is"), ("mmsi", "ims")])
def test_regex_flags_become_sorted_inline_flags(flags: str, inline: str) -> None:
    assert regex_flags(flags) == inline


def test_unknown_regex_flag() -> None:
    with pytest.raises(PatternError) as caught:
        regex_flags("gi")
    assert caught.value.message == "unknown regular expression flag 'g'"
    assert caught.value.hint == (
        "the flags are i (ignore case), m (^ and $ match at line breaks) "
        "and s (. matches a line break)"
    )


def test_matches_in_a_rule_searches_anywhere_and_uses_flags() -> None:
    engine = leadscore.compile(
        in_rule(r"when contact.title matches /\b(ceo|cto)\b/i award 1").replace(
            "} }",
            '} rule "S" { when contact.bio matches /^engineer$/m award 2 }'
            ' rule "D" { when contact.bio matches /start.*end/s award 4 }'
            ' rule "Q" { when contact.title matches "(?i)founder" award 8 } }',
        )
    )
    assert total(engine, {"title": "Co-founder and CEO", "bio": "x"}) == 1 + 8
    assert total(engine, {"title": "Director", "bio": "start\nengineer\nend"}) == 2 + 4
    assert total(engine, {"title": "ceos", "bio": "engineers"}) == 0


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("(a+)+$", "a" * 100_000 + "b", False),
        ("^(a|a)*$", "a" * 100_000 + "b", False),
        ("(a*)*b", "a" * 100_000, False),
        ("(x+x+)+y", "x" * 100_000, False),
        ("^(([a-z])+.)+[A-Z]([a-z])+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" * 2_000, False),
        ("(a+)+b", "a" * 100_000 + "b", True),
    ],
)
def test_pathological_patterns_finish(pattern: str, text: str, found: bool) -> None:
    # With a backtracking engine most of these take longer than the age of the universe;
    # RE2 guarantees time linear in the text, so returning at all is the test.
    assert (compile_regex(pattern).search(text) is not None) is found


def test_pathological_pattern_in_a_rule_finishes() -> None:
    for evaluator in ("compiled", "reference"):
        engine = leadscore.compile(
            in_rule("when contact.name matches /(a+)+$/ award 1"), evaluator=evaluator
        )
        assert total(engine, {"name": "a" * 100_000 + "b"}) == 0
        assert total(engine, {"name": "a" * 100_000}) == 1
