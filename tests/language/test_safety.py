"""Rule text is data: names, texts, fields, patterns and types that look like Python never run.

The compiler generates Python source, so every place where rule text ends up is tried
with text that would break out of a string, a comment or a format string. Nothing may
run: a fake module ``leadscore_canary`` records every call to ``fire()``, and the
payloads also try to create a sentinel file. The rules must still compile and score as
written, and the generated source must hold none of the rule text.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from language_helpers import AT, config_error, rule_error

import leadscore
from leadscore import Activity, Contact, Engine, RuleCheckError
from leadscore.engine import Evaluator

EVALUATORS: tuple[Evaluator, ...] = ("compiled", "reference")


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[object, ...]]]:
    """A module ``leadscore_canary`` whose ``fire()`` records that it ran."""
    calls: list[tuple[object, ...]] = []
    module = types.ModuleType("leadscore_canary")
    module.fire = lambda *args: calls.append(args)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leadscore_canary", module)
    yield calls
    assert calls == [], "rule text ran as code"


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    """A path that payloads try to create; it must not exist after the test."""
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "rule text ran a shell command"


def payloads(sentinel: Path) -> list[str]:
    """Texts that would run code if pasted into Python source, a comment or a format string."""
    target = str(sentinel)
    return [
        f"\"); __import__('os').system('touch {target}'); (\"",
        f"'); __import__('os').system('touch {target}'); ('",
        f'"""); open({target!r}, \'w\'); ("""',
        "'''; leadscore_canary.fire(); '''",
        '"""; leadscore_canary.fire(); """',
        "__import__('leadscore_canary').fire()",
        "\n__import__('leadscore_canary').fire()\n# ",
        "\\n__import__('leadscore_canary').fire() #",
        "x\r\nleadscore_canary.fire()",
        "{leadscore_canary.fire()}",
        "{0}{1!r}{__class__.__mro__}",
        "%s%r%(x)s%%",
        "${leadscore_canary.fire()}",
        "__import__",
        "exec",
        "eval(compile('leadscore_canary.fire()', 'x', 'exec'))",
        "lambda: leadscore_canary.fire()",
        "'''",
        '"""',
        "\\",
        "\\'\\\"",
        "\x00'\x00",
        "\t# -*- coding: rot13 -*-",
        "é 😀 \u2028 end",
    ]


def quoted(text: str) -> str:
    """``text`` as a double-quoted text literal of the rule language."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    escaped = escaped.replace("\u2028", "\\u2028")
    return f'"{escaped}"'


def as_regex(text: str) -> str:
    """A regular expression literal that matches ``text`` exactly, every symbol escaped."""
    body = "".join(
        char if char.isalnum() and char.isascii() else f"\\x{{{ord(char):X}}}" for char in text
    )
    return f"/^{body}$/"


def as_glob(text: str) -> str:
    """A glob text literal that matches ``text`` exactly."""
    special = {"*": "[*]", "?": "[?]", "[": "[[]"}
    return quoted("".join(special.get(char, char) for char in text))


def scoring_for(payload: str) -> str:
    """One scoring named by ``payload``, whose rules each give points when data equals it."""
    p = quoted(payload)
    field = f"contact[{p}]"
    return f"""
scoring {p} {{
    threshold {p} at 1
    rule {p} {{
        when {field} == {p} and {field} in [{p}, "other"] and {field} contains {p}
            and {field} starts with {p} and {field} ends with {p} and [{p}] contains {field}
        award 1
    }}
    rule "glob" {{ when {field} glob {as_glob(payload)} award 2 }}
    rule "regex" {{ when {field} matches {as_regex(payload)} award 4 }}
    rule "activity" {{ on {p} where activity[{p}] == {p} award 8 }}
    rule "aggregate" {{ when count({p} where activity[{p}][{p}] == {p}) == 1 award 16 }}
}}
"""


def _check_source(engine: Engine, texts: list[str]) -> None:
    for compiled in engine.compiled:
        for text in texts:
            assert text not in compiled.source
            assert repr(text)[1:-1] not in compiled.source


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_rule_text_that_looks_like_python_scores_as_data(
    evaluator: Evaluator, canary: list[tuple[object, ...]], sentinel: Path
) -> None:
    texts = payloads(sentinel)
    engine = leadscore.compile("".join(scoring_for(text) for text in texts), evaluator=evaluator)
    assert engine.scorings == tuple(texts)
    assert engine.warnings == ()

    for text in texts:
        assert engine.rules(text) == (text, "glob", "regex", "activity", "aggregate")
        assert engine.thresholds(text)[0].name == text
        activity = Activity("c", text, AT - dt.timedelta(days=1), {text: {text: text}}, id="a1")
        direct = Activity("c", text, AT - dt.timedelta(days=2), {text: text}, id="a2")
        card = engine.score(Contact("c", {text: text}), [activity, direct], at=AT)[text]
        assert card.total == 31, text
        assert card.level == text
        assert [result.rule for result in card.breakdown if result.met] == list(engine.rules(text))
        assert card.rule(text).points == 1

        other = engine.score(Contact("c", {text: text + "!"}), at=AT)[text]
        assert other.total == 0, text

    if evaluator == "compiled":
        _check_source(engine, texts)


def test_declared_names_that_look_like_python(
    canary: list[tuple[object, ...]], sentinel: Path
) -> None:
    texts = payloads(sentinel)
    contact = ", ".join(f"{quoted(text)}: text" for text in texts)
    activities = "\n".join(
        f"declare activity {quoted(text)} {{ {quoted(text)}: text }}" for text in texts
    )
    rules = " ".join(
        f"rule {quoted(f'r{number}')} {{ on {quoted(text)} "
        f"where activity[{quoted(text)}] == {quoted(text)} or contact[{quoted(text)}] is empty "
        "award 1 }"
        for number, text in enumerate(texts)
    )
    engine = leadscore.compile(
        f'declare contact {{ {contact} }}\n{activities}\nscoring "A" {{ {rules} }}'
    )
    assert list(engine.program.contact_fields or {}) == texts
    assert list(engine.program.activity_attributes or {}) == texts
    events = [
        Activity("c", text, AT - dt.timedelta(days=1), {text: text}, id=f"e{number}")
        for number, text in enumerate(texts)
    ]
    assert engine.score(Contact("c", {}), events, at=AT)["A"].total == len(texts)
    _check_source(engine, texts)


def test_config_names_and_rule_strings_that_look_like_python(
    canary: list[tuple[object, ...]], sentinel: Path
) -> None:
    texts = payloads(sentinel)
    config = {
        "contact": {text: "text" for text in texts},
        "scorings": {
            text: {
                "thresholds": {text: 1},
                "rules": {text: f"when contact[{quoted(text)}] == {quoted(text)} award 1"},
            }
            for text in texts
        },
    }
    engine = Engine.from_config(config)
    assert engine.scorings == tuple(texts)
    for text in texts:
        card = engine.score(Contact("c", {text: text}), at=AT)[text]
        assert (card.total, card.level) == (1, text)
    _check_source(engine, texts)


def test_python_names_are_fields_not_attributes(canary: list[tuple[object, ...]]) -> None:
    text = """
    scoring "A" {
        rule "class" { when contact.__class__ is empty and contact.a.__class__ is empty award 1 }
        rule "dict" { when contact.__dict__ is empty and contact.get is empty award 2 }
        rule "items" { when contact.items == contact.keys award 4 }
        rule "mro" {
            on visit where activity.__class__ is empty and activity.__init__ is empty award 8
        }
        rule "real" { when contact.__class__ == "mine" award 16 }
    }
    """
    for evaluator in EVALUATORS:
        engine = leadscore.compile(text, evaluator=evaluator)
        visit = Activity("c", "visit", AT - dt.timedelta(days=1), {}, id="v")
        assert engine.score(Contact("c", {"a": {"b": 1}}), [visit], at=AT)["A"].total == 11
        profile = {"__class__": "mine", "items": [1], "keys": [1]}
        assert engine.score(Contact("c", profile), at=AT)["A"].total == 2 + 4 + 16


@pytest.mark.parametrize(
    "call",
    [
        '__import__("os")',
        'exec("leadscore_canary.fire()")',
        'eval("1")',
        'getattr(contact.a, "__class__")',
        'open("/etc/passwd")',
        "breakpoint()",
    ],
)
def test_python_builtins_are_unknown_functions(call: str, canary: list[tuple[object, ...]]) -> None:
    error = rule_error(f'scoring "A" {{ rule "R" {{ when {call} == 1 award 1 }} }}')
    assert isinstance(error, RuleCheckError)
    assert error.message == f"unknown function '{call.split('(')[0]}'"


def test_errors_show_names_that_look_like_format_strings_as_written(
    canary: list[tuple[object, ...]], sentinel: Path
) -> None:
    for text in payloads(sentinel):
        error = rule_error(
            f"scoring {quoted(text)} {{ rule {quoted(text)} {{ when lowr(1) award 1 }} }}"
        )
        assert (error.scoring, error.rule) == (text, text)
        rendered = str(error)
        assert "unknown function 'lowr'" in rendered
        config = {"scorings": {text: {"rules": {text: "when lowr(1) award 1"}}}}
        error = config_error(config)
        assert (error.scoring, error.rule) == (text, text)
        assert str(error).startswith("config, scorings.")


def test_text_after_a_comment_marker_is_still_rule_text(canary: list[tuple[object, ...]]) -> None:
    # A '#' inside text is not a comment, and an escaped newline does not end a comment.
    engine = leadscore.compile(
        'scoring "A" { rule "R" { when contact.a == "# \\n leadscore_canary.fire()" award 1 } }'
        "# \\n leadscore_canary.fire()"
    )
    assert engine.score(Contact("c", {"a": "# \n leadscore_canary.fire()"}), at=AT)["A"].total == 1


def test_the_source_name_is_data(canary: list[tuple[object, ...]], sentinel: Path) -> None:
    for text in payloads(sentinel):
        error = rule_error('scoring "A" { rule "R" { when lowr(1) award 1 } }', source=text)
        assert error.location is not None
        assert error.location.source == text
        assert str(error).startswith(text + ":1:")
