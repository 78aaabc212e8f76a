"""Check and run the ``test`` blocks of rule files.

A test block scores one contact as of one instant and compares the result with its
``expect`` lines::

    test "Head of marketing from CZ, one pricing visit" {
        at 2026-06-30T12:00Z
        contact { country: "CZ", job_title: "Head of Marketing" }
        activity page_visit 3 days ago { url: "https://example.com/pricing" }
        expect "Product A" total 35
        expect "Product A" level none
        expect "Product A" rule "Pricing page" 5
    }

``expect persona "NAME"`` (or ``none``) checks the contact's persona, and
``expect grade "GRADE" "A1"`` (or ``none``) the label of a grade.

``at`` is required, and a date means the start of that day in UTC. The block has at
most one ``contact``, whose id defaults to `DEFAULT_CONTACT_ID`. An activity's time is
``N UNIT ago``, counted back from ``at`` with months and years stepping the calendar
in UTC, or ``at`` an instant. `check_test_blocks` reports mistakes with file, line and column before
anything runs, and `run_test_blocks` returns one `TestOutcome` per block.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar, TypeAlias
from zoneinfo import ZoneInfo

import attrs

from leadscore.engine import Engine
from leadscore.errors import Problem, RuleCheckError, SourceLocation
from leadscore.language import syntax as ast
from leadscore.model import Activity, Contact
from leadscore.runtime import add_duration
from leadscore.scorecard import Scores
from leadscore.testing.assertions import ScoreMismatch
from leadscore.testing.builders import DEFAULT_CONTACT_ID
from leadscore.testing.expectations import (
    NOT_CHECKED,
    Expectation,
    GradeDifference,
    PersonaDifference,
    ScoringDifference,
    compare_grades,
    compare_persona,
    compare_scores,
)
from leadscore.testing.report import quote, render_mismatch

__all__ = ["EXPECTATIONS", "TestOutcome", "check_test_blocks", "run_test_block", "run_test_blocks"]

logger = logging.getLogger("leadscore.testing")

UTC = dt.UTC
# The words that may follow the scoring name in an expect line. `expect persona` and
# `expect grade` name no scoring, so the grammar reads them apart.
EXPECTATIONS = ("total", "level", "rule")
_EXAMPLES = 'expect "Product A" total 35, expect "Product A" level "MQL" (or none), expect "Product A" rule "Pricing page" 5'


@attrs.frozen(eq=False)
class TestOutcome:
    """The result of one test block: the scores it produced and, if it failed, the mismatch."""

    __test__: ClassVar[bool] = False  # keeps pytest from collecting this class as a test

    block: ast.TestBlock
    scores: Scores
    mismatch: ScoreMismatch | None = None

    @property
    def name(self) -> str:
        """The test block's name."""
        return self.block.name

    @property
    def location(self) -> str:
        """Where the block starts, as ``file:line``."""
        return f"{self.block.span.origin.source}:{self.block.span.line}"

    @property
    def passed(self) -> bool:
        """True when every expectation of the block holds."""
        return self.mismatch is None


# ---------------------------------------------------------------- static checks


def _location(span: ast.Span) -> SourceLocation:
    return SourceLocation(
        source=span.origin.source,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        source_line=span.origin.line(span.line),
    )


def _error(message: str, span: ast.Span, hint: str | None = None) -> Problem:
    return Problem("error", message, _location(span), hint)


def _warning(message: str, span: ast.Span, hint: str | None = None) -> Problem:
    return Problem("warning", message, _location(span), hint)


def _suggest(name: str, candidates: Sequence[str], kind: str) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    if close:
        return f"did you mean {quote(close[0])}?"
    listed = ", ".join(quote(candidate) for candidate in candidates)
    return f"the {kind} are {listed}" if candidates else f"there are no {kind}"


_AnyExpect: TypeAlias = ast.TestExpect | ast.TestExpectPersona | ast.TestExpectGrade


def _expect_key(expect: _AnyExpect) -> tuple[str | None, ...]:
    """Return what an expect line checks, so that two lines with one key repeat an expectation."""
    if isinstance(expect, ast.TestExpectPersona):
        return ("persona",)
    if isinstance(expect, ast.TestExpectGrade):
        return ("grade", expect.grade)
    return (expect.scoring, expect.what, expect.rule)


def _scoring_span(expect: ast.TestExpect) -> ast.Span:
    """Return the span of the scoring name in an expect line, which the syntax tree does not keep."""
    text = expect.span.origin.text
    start = expect.span.start + len("expect")
    while start < expect.span.end and text[start] in " \t\r\n":
        start += 1
    if start >= expect.span.end or text[start] not in "\"'":
        return expect.span
    end = start + 1
    while end < expect.span.end and text[end] != text[start]:
        end += 2 if text[end] == "\\" else 1
    end = min(end + 1, expect.span.end)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return attrs.evolve(
        expect.span,
        line=line,
        column=column,
        end_line=line,
        end_column=column + (end - start),
        start=start,
        end=end,
    )


def check_test_blocks(
    engine: Engine, blocks: Iterable[ast.TestBlock] | None = None
) -> list[Problem]:
    """Return the errors and warnings in test blocks (default: the engine's), in source order.

    Errors are a test name used twice in one file, a missing or repeated ``at``, more
    than one contact, and no ``expect`` line. So are an unknown scoring, rule,
    threshold, persona, grade, grade label or expectation word, a value of the wrong
    kind, a repeated expectation, and an empty id or activity type. Warnings: an
    activity type that no rule reads.
    """
    problems: list[Problem] = []
    # Names identify tests in reports and in pytest, so one file uses each name once.
    names: dict[tuple[str, str], ast.TestBlock] = {}
    for block in engine.program.tests if blocks is None else blocks:
        key = (block.span.origin.source, block.name)
        if key in names:
            problems.append(
                _error(
                    f"test {quote(block.name)} is defined twice; the first is on line "
                    f"{names[key].span.line}",
                    block.name_span,
                    hint="give each test in a file its own name",
                )
            )
        names.setdefault(key, block)
        problems.extend(_check_block(engine, block))
    return problems


def _check_block(engine: Engine, block: ast.TestBlock) -> list[Problem]:
    problems: list[Problem] = []
    name = quote(block.name)
    instants = [item for item in block.items if isinstance(item, ast.TestAt)]
    contacts = [item for item in block.items if isinstance(item, ast.TestContact)]
    expects = [
        item
        for item in block.items
        if isinstance(item, ast.TestExpect | ast.TestExpectPersona | ast.TestExpectGrade)
    ]

    if not instants:
        problems.append(
            _error(
                f"test {name} has no 'at' line, so it has no scoring instant",
                block.name_span,
                hint="add a line such as: at 2026-06-30T12:00Z",
            )
        )
    for repeated in instants[1:]:
        problems.append(
            _error(
                f"the scoring instant of test {name} is set twice; the first is on line "
                f"{instants[0].span.line}",
                repeated.span,
            )
        )
    for repeated_contact in contacts[1:]:
        problems.append(
            _error(
                f"test {name} has more than one contact; a test scores one contact",
                repeated_contact.span,
                hint="split it into one test per contact",
            )
        )
    for contact in contacts:
        if contact.contact_id == "":
            problems.append(_error("a contact id must not be empty", contact.span))
    if not expects:
        problems.append(
            _error(
                f"test {name} has no 'expect' line, so it cannot fail",
                block.name_span,
                hint=f"add a line such as: {_EXAMPLES.split(', ')[0]}",
            )
        )

    read_types = set().union(*(scoring.activity_types for scoring in engine.program.scorings))
    for item in block.items:
        if isinstance(item, ast.TestActivity):
            problems.extend(_check_activity(item, read_types))

    seen: dict[tuple[str | None, ...], _AnyExpect] = {}
    for expect in expects:
        if isinstance(expect, ast.TestExpectPersona):
            problems.extend(_check_expect_persona(engine, expect))
        elif isinstance(expect, ast.TestExpectGrade):
            problems.extend(_check_expect_grade(engine, expect))
        else:
            problems.extend(_check_expect(engine, expect))
        key = _expect_key(expect)
        if key in seen:
            problems.append(
                _error(
                    f"this expectation repeats the one on line {seen[key].span.line}",
                    expect.span,
                    hint="keep one of the two lines",
                )
            )
        seen.setdefault(key, expect)
    return sorted(problems, key=_position)


def _position(problem: Problem) -> tuple[int, int]:
    location = problem.location
    return (location.line, location.column) if location is not None else (0, 0)


def _check_activity(item: ast.TestActivity, read_types: set[str]) -> list[Problem]:
    if item.activity_type == "":
        return [_error("an activity type must not be empty", item.span)]
    problems = []
    if item.activity_id == "":
        problems.append(_error("an activity id must not be empty", item.span))
    if item.activity_type not in read_types:
        close = difflib.get_close_matches(item.activity_type, sorted(read_types), n=1)
        problems.append(
            _warning(
                f"no rule reads activity type '{item.activity_type}', so this activity scores nothing",
                item.span,
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        )
    return problems


def _check_expect(engine: Engine, expect: ast.TestExpect) -> list[Problem]:
    if expect.scoring not in engine.scorings:
        return [
            _error(
                f"unknown scoring {quote(expect.scoring)}",
                _scoring_span(expect),
                hint=_suggest(expect.scoring, engine.scorings, "scorings"),
            )
        ]
    scoring = quote(expect.scoring)
    if expect.what not in EXPECTATIONS:
        return [
            _error(
                f"unknown expectation '{expect.what}'; the expectations are total, level and rule",
                expect.what_span,
                hint=f"write: {_EXAMPLES}",
            )
        ]
    value = expect.value
    if expect.what == "total" and (isinstance(value, bool) or not isinstance(value, int)):
        return [
            _error(
                "'total' needs a whole number of points",
                expect.value_span,
                hint=_EXAMPLES.split(", ")[0],
            )
        ]
    if expect.what == "level":
        levels = [threshold.name for threshold in engine.thresholds(expect.scoring)]
        if isinstance(value, ast.Word) and value.text == "none":
            return []
        if not isinstance(value, str):
            return [
                _error(
                    "'level' needs a threshold name in quotes, or none for no level",
                    expect.value_span,
                    hint='write: level "MQL" or level none',
                )
            ]
        if value not in levels:
            return [
                _error(
                    f"scoring {scoring} has no threshold {quote(value)}",
                    expect.value_span,
                    hint=_suggest(value, levels, "thresholds"),
                )
            ]
    if expect.what == "rule":
        assert expect.rule is not None
        rules = engine.rules(expect.scoring)
        if expect.rule not in rules:
            return [
                _error(
                    f"scoring {scoring} has no rule {quote(expect.rule)}",
                    expect.what_span,
                    hint=_suggest(expect.rule, rules, "rules"),
                )
            ]
    return []


def _check_expect_persona(engine: Engine, expect: ast.TestExpectPersona) -> list[Problem]:
    value = expect.persona
    if isinstance(value, ast.Word):
        if value.text == "none":
            return []
        return [
            _error(
                "'persona' needs a persona name in quotes, or none for no persona",
                expect.value_span,
                hint='write: expect persona "NAME" or expect persona none',
            )
        ]
    if value not in engine.personas:
        return [
            _error(
                f"unknown persona {quote(value)}",
                expect.value_span,
                hint=_suggest(value, engine.personas, "personas"),
            )
        ]
    return []


def _grade_labels(engine: Engine, name: str) -> list[str]:
    """Return every label a grade can give."""
    (grade,) = (grade for grade in engine.program.grades if grade.name == name)
    return list(grade.labels)


def _check_expect_grade(engine: Engine, expect: ast.TestExpectGrade) -> list[Problem]:
    if expect.grade not in engine.grades:
        return [
            _error(
                f"unknown grade {quote(expect.grade)}",
                expect.grade_span,
                hint=_suggest(expect.grade, engine.grades, "grades"),
            )
        ]
    value = expect.label
    if isinstance(value, ast.Word):
        if value.text == "none":
            return []
        return [
            _error(
                "'grade' needs a label in quotes, or none for no label",
                expect.value_span,
                hint=f'write: expect grade {quote(expect.grade)} "A1" or none',
            )
        ]
    labels = _grade_labels(engine, expect.grade)
    if value not in labels:
        return [
            _error(
                f"grade {quote(expect.grade)} has no label {quote(value)}",
                expect.value_span,
                hint=_suggest(value, labels, "labels"),
            )
        ]
    return []


# ---------------------------------------------------------------- running


@attrs.frozen
class _Scenario:
    at: dt.datetime
    contact: Contact
    activities: tuple[Activity, ...]
    labels: dict[int, str]
    expectations: dict[str, Expectation]
    # The expected persona, None for no persona, or NOT_CHECKED without an expect line.
    persona: object
    grades: dict[str, str | None]


def _instant(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(0), tzinfo=UTC)


def _scenario(block: ast.TestBlock) -> _Scenario:
    at: dt.datetime | None = None
    contact = Contact(DEFAULT_CONTACT_ID)
    for item in block.items:
        if isinstance(item, ast.TestAt) and at is None:
            at = _instant(item.instant)
        elif isinstance(item, ast.TestContact):
            profile = {field.name: field.value for field in item.fields}
            contact = Contact(item.contact_id or DEFAULT_CONTACT_ID, profile)
    if at is None:
        raise ValueError(f"test {quote(block.name)} has no 'at' line; run check_test_blocks first")

    activities: list[Activity] = []
    labels: dict[int, str] = {}
    utc = ZoneInfo("UTC")
    for item in block.items:
        if not isinstance(item, ast.TestActivity):
            continue
        if item.ago is not None:
            occurred_at: dt.datetime = add_duration(at, item.ago, utc, -1)
        else:
            assert item.at is not None
            occurred_at = _instant(item.at)
        attributes = {field.name: field.value for field in item.attributes}
        activity = Activity(
            contact.id, item.activity_type, occurred_at, attributes, id=item.activity_id
        )
        activities.append(activity)
        labels[id(activity)] = f"line {item.span.line}"

    persona: object = NOT_CHECKED
    grades: dict[str, str | None] = {}
    for item in block.items:
        if isinstance(item, ast.TestExpectPersona):
            persona = item.persona if isinstance(item.persona, str) else None
        elif isinstance(item, ast.TestExpectGrade):
            grades[item.grade] = item.label if isinstance(item.label, str) else None

    expectations: dict[str, Expectation] = {}
    for item in block.items:
        if not isinstance(item, ast.TestExpect):
            continue
        current = expectations.get(item.scoring, Expectation())
        if item.what == "total":
            assert isinstance(item.value, int)
            current = attrs.evolve(current, total=item.value)
        elif item.what == "level":
            level = item.value if isinstance(item.value, str) else None
            current = attrs.evolve(current, level=level)
        else:
            assert item.rule is not None
            assert isinstance(item.value, int)
            current = attrs.evolve(current, rules={**current.rules, item.rule: item.value})
        expectations[item.scoring] = current
    return _Scenario(at, contact, tuple(activities), labels, expectations, persona, grades)


def _failed_expects(
    block: ast.TestBlock,
    differences: Sequence[ScoringDifference],
    persona: PersonaDifference | None,
    grades: Sequence[GradeDifference],
) -> list[str]:
    by_scoring = {difference.scoring: difference for difference in differences}
    by_grade = {difference.grade: difference for difference in grades}
    lines = []
    for item in block.items:
        if isinstance(item, ast.TestExpectPersona) and persona is not None:
            lines.append(_expect_line(item, _shown(persona.actual)))
            continue
        if isinstance(item, ast.TestExpectGrade) and item.grade in by_grade:
            lines.append(_expect_line(item, _shown(by_grade[item.grade].actual.label)))
            continue
        if not isinstance(item, ast.TestExpect) or item.scoring not in by_scoring:
            continue
        difference = by_scoring[item.scoring]
        card = difference.card
        if item.what == "total" and difference.total_differs:
            actual = str(card.total)
        elif item.what == "level" and difference.level_differs:
            actual = "none" if card.level is None else quote(card.level)
        elif item.what == "rule" and any(d.rule == item.rule for d in difference.rules):
            actual = str(card.rule(item.rule or "").points)
        else:
            continue
        lines.append(_expect_line(item, actual))
    return lines


def _shown(name: str | None) -> str:
    return "none" if name is None else quote(name)


def _expect_line(item: _AnyExpect, actual: str) -> str:
    """Write an expect line as its file shows it, with the actual value."""
    source = item.span.origin
    written = source.line(item.span.line).strip()
    return f"  {source.source}:{item.span.line}: {written}  (actual: {actual})"


def run_test_block(engine: Engine, block: ast.TestBlock) -> TestOutcome:
    """Score one checked test block and compare the scores with its expectations."""
    scenario = _scenario(block)
    scores = engine.score(scenario.contact, scenario.activities, at=scenario.at)
    differences = compare_scores(scores, scenario.expectations)
    persona = None
    if scenario.persona is not NOT_CHECKED:
        assert scenario.persona is None or isinstance(scenario.persona, str)
        persona = compare_persona(scores, scenario.persona)
    grades = compare_grades(scores, scenario.grades)
    if not differences and persona is None and not grades:
        logger.debug("test %r passed", block.name)
        return TestOutcome(block, scores)

    failed = [d.scoring for d in differences]
    if persona is not None:
        failed.append("persona")
    failed.extend(f"grade {d.grade}" for d in grades)
    logger.debug("test %r failed in %s", block.name, failed)
    header = [f"test {quote(block.name)} failed; the expectations that do not hold:"]
    header.extend(_failed_expects(block, differences, persona, grades))
    report = render_mismatch(
        engine,
        scenario.contact,
        scenario.activities,
        scenario.at,
        differences,
        labels=scenario.labels,
        persona=persona,
        grades=grades,
    )
    mismatch = ScoreMismatch(
        "\n".join(header) + "\n\n" + report,
        differences=differences,
        scores=scores,
        contact=scenario.contact,
        activities=scenario.activities,
        at=scenario.at,
        persona=persona,
        grades=grades,
    )
    return TestOutcome(block, scores, mismatch)


def run_test_blocks(
    engine: Engine, blocks: Iterable[ast.TestBlock] | None = None
) -> list[TestOutcome]:
    """Check, then run test blocks (default: the engine's own) and return one outcome per block.

    Raises RuleCheckError listing every error `check_test_blocks` finds, before any
    block runs. Warnings do not stop the run.
    """
    chosen = list(engine.program.tests if blocks is None else blocks)
    errors = [p for p in check_test_blocks(engine, chosen) if p.severity == "error"]
    if errors:
        raise RuleCheckError(errors)
    logger.debug("running %d test blocks", len(chosen))
    return [run_test_block(engine, block) for block in chosen]
