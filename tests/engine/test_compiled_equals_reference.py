"""The compiled engine and the reference evaluator give equal score cards.

The reference evaluator walks the syntax tree and defines what the language means, and
the compiled engine inlines fast paths. On random rule files and data the two must agree
on every total, level, breakdown, award, decayed value, expiry, group, diagnostic,
persona and grade, and on the DataError they raise for invalid input.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import leadscore
from leadscore import DataError, Scores

from . import strategies

SLOW_EXAMPLES = 3000


def _outcome(case: strategies.Case, evaluator: leadscore.engine.Evaluator) -> Scores | str:
    engine = leadscore.compile(
        case.rules.text, default_timezone=case.default_timezone, evaluator=evaluator
    )
    try:
        return engine.score(case.contact, case.activities, case.at)
    except DataError as error:
        return f"DataError: {error}"


def check_agreement(case: strategies.Case) -> None:
    """Assert that both evaluators give the same cards, or raise the same DataError."""
    compiled = _outcome(case, "compiled")
    reference = _outcome(case, "reference")
    if isinstance(compiled, str) or isinstance(reference, str):
        assert compiled == reference
        return
    assert list(compiled) == list(reference)
    for name, expected in [*reference.items(), *reference.personas.items()]:
        card = compiled.personas[name] if name in reference.personas else compiled[name]
        assert card.total == expected.total
        assert card.level == expected.level
        assert card.breakdown == expected.breakdown
        assert card.groups == expected.groups
        assert card.diagnostics == expected.diagnostics
    assert compiled.persona == reference.persona
    assert compiled.grades == reference.grades
    assert compiled == reference


@given(rules=strategies.rule_files())
@settings(deadline=None)
def test_generated_files_compile(rules: strategies.RuleFile) -> None:
    # A RuleError here is a bug in the strategies or in the checker, never a skipped example.
    engine = leadscore.compile(rules.text)
    assert engine.scorings == tuple(scoring.name for scoring in rules.scorings)
    assert engine.personas == tuple(persona.name for persona in rules.personas)
    assert engine.grades == tuple(grade.name for grade in rules.grades)
    for scoring in (*rules.scorings, *rules.personas):
        assert engine.rules(scoring.name) == tuple(rule.name for rule in scoring.rules)
        assert engine.groups(scoring.name) == tuple(name for name, _ in scoring.groups)
        thresholds = [
            (threshold.name, threshold.points) for threshold in engine.thresholds(scoring.name)
        ]
        assert thresholds == list(scoring.thresholds)


@given(case=strategies.cases(foreign_activities=True))
@settings(deadline=None)
def test_evaluators_agree(case: strategies.Case) -> None:
    check_agreement(case)


@given(case=strategies.cases(rules=strategies.rule_files(max_scorings=1, max_rules=3, max_depth=5)))
@settings(deadline=None)
def test_evaluators_agree_deep_conditions(case: strategies.Case) -> None:
    check_agreement(case)


@pytest.mark.slow
@given(case=strategies.cases(foreign_activities=True))
@settings(deadline=None, max_examples=SLOW_EXAMPLES)
def test_evaluators_agree_slow(case: strategies.Case) -> None:
    check_agreement(case)


@pytest.mark.slow
@given(case=strategies.cases(rules=strategies.rule_files(max_scorings=1, max_rules=3, max_depth=5)))
@settings(deadline=None, max_examples=SLOW_EXAMPLES)
def test_evaluators_agree_deep_conditions_slow(case: strategies.Case) -> None:
    check_agreement(case)
