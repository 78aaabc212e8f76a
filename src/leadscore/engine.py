"""The Engine: compiled scorings that turn a contact and its activities into score cards.

Build one with `leadscore.compile`, `leadscore.load` or `Engine.from_config`, then call
`Engine.score` as often as needed. An engine is immutable once built, so one instance
can serve many threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadscore.compiler import CompiledScoring, compile_scoring
from leadscore.config import program_from_config, read_config_file
from leadscore.errors import ConfigError, Problem
from leadscore.evaluation import (
    activity_rule_result,
    award_points,
    diagnostics_for,
    grade_results,
    group_name,
    prepare_activities,
    profile_rule_result,
    resolve_instant,
)
from leadscore.language.checker import check
from leadscore.language.parser import parse
from leadscore.language.program import Program, ProgramScoring
from leadscore.model import Activity, Contact, Threshold
from leadscore.reference import ReferenceEvaluator
from leadscore.runtime import EvalContext
from leadscore.scorecard import Award, Diagnostic, RuleResult, ScoreCard, Scores

__all__ = ["Engine", "compile", "load"]

logger = logging.getLogger("leadscore")

Evaluator = Literal["compiled", "reference"]


def _zone(value: str | ZoneInfo | None) -> ZoneInfo | None:
    if value is None or isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Prague'"
        ) from None


class Engine:
    """Compiled scorings, ready to score contacts.

    Example::

        engine = leadscore.compile('''
            scoring "Product A" {
                threshold "MQL" at 20
                rule "Target country" { when contact.country in ["CZ", "SK"] award 10 }
                rule "Pricing page" { on page_visit where activity.url glob "*/pricing*" award 5 each max 15 }
            }
        ''')
        card = engine.score(contact, activities, at=instant)["Product A"]
    """

    def __init__(
        self,
        program: Program,
        *,
        default_timezone: str | ZoneInfo | None = None,
        evaluator: Evaluator = "compiled",
    ) -> None:
        if evaluator not in ("compiled", "reference"):
            raise ValueError(f"evaluator must be 'compiled' or 'reference', not {evaluator!r}")
        self.program = program
        self.default_timezone = _zone(default_timezone)
        self.evaluator: Evaluator = evaluator
        self._reference = ReferenceEvaluator(program, self.default_timezone)
        self.compiled: tuple[CompiledScoring, ...] = tuple(
            compile_scoring(s) for s in program.scorings
        )
        # Personas compile like scorings but stay apart, so that code which walks
        # `compiled` gets scorings only.
        self.compiled_personas: tuple[CompiledScoring, ...] = tuple(
            compile_scoring(p) for p in program.personas
        )
        self._all_compiled = self.compiled + self.compiled_personas

        # Activity type -> the matchers of every scoring and persona that reads that type.
        dispatch: dict[str, list[tuple[int, Callable[..., None]]]] = {}
        for position, compiled in enumerate(self._all_compiled):
            for activity_type, matcher in compiled.matchers.items():
                dispatch.setdefault(activity_type, []).append((position, matcher))
        self._dispatch = {
            activity_type: tuple(entries) for activity_type, entries in dispatch.items()
        }
        logger.debug(
            "compiled %d scorings and %d personas with %d rules",
            len(program.scorings),
            len(program.personas),
            sum(len(s.rules) for s in program.scorings + program.personas),
        )

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        source: str = "<string>",
        default_timezone: str | ZoneInfo | None = None,
        evaluator: Evaluator = "compiled",
    ) -> Engine:
        """Parse, check and compile rule text; raises RuleSyntaxError or RuleCheckError."""
        program = check(parse(text, source))
        return cls(program, default_timezone=default_timezone, evaluator=evaluator)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        default_timezone: str | ZoneInfo | None = None,
        evaluator: Evaluator = "compiled",
    ) -> Engine:
        """Build an engine from config data whose rules are one-line strings.

        Example::

            Engine.from_config({"scorings": {"Product A": {
                "thresholds": {"MQL": 100},
                "rules": {"Pricing page": 'on page_visit where activity.url glob "*/pricing*" award 5'},
            }}})
        """
        program = program_from_config(config)
        return cls(program, default_timezone=default_timezone, evaluator=evaluator)

    # ---------------------------------------------------------------- description

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Warnings found while checking the rules, such as a threshold the caps make unreachable."""
        return self.program.warnings

    @property
    def scorings(self) -> tuple[str, ...]:
        """The scoring names, in declaration order."""
        return tuple(scoring.name for scoring in self.program.scorings)

    @property
    def personas(self) -> tuple[str, ...]:
        """The persona names, in declaration order."""
        return tuple(persona.name for persona in self.program.personas)

    @property
    def grades(self) -> tuple[str, ...]:
        """The grade names, in declaration order."""
        return tuple(grade.name for grade in self.program.grades)

    def thresholds(self, scoring: str) -> tuple[Threshold, ...]:
        """Return the thresholds of a scoring, lowest first, or the one threshold of a persona."""
        return self._scoring(scoring).thresholds

    def rules(self, scoring: str) -> tuple[str, ...]:
        """Return the rule names of a scoring or persona, in declaration order."""
        return tuple(rule.name for rule in self._scoring(scoring).rules)

    def groups(self, scoring: str) -> tuple[str, ...]:
        """Return the group names of a scoring or persona, in declaration order."""
        return tuple(group.name for group in self._scoring(scoring).groups)

    @property
    def activity_types(self) -> frozenset[str]:
        """Every activity type any rule reads."""
        return frozenset(self._dispatch)

    def _scoring(self, name: str) -> ProgramScoring:
        for scoring in self.program.scorings + self.program.personas:
            if scoring.name == name:
                return scoring
        known = ", ".join(map(repr, self.scorings + self.personas))
        raise KeyError(f"no scoring or persona named {name!r}; they are {known}")

    def __repr__(self) -> str:
        return f"<leadscore.Engine scorings={list(self.scorings)!r} evaluator={self.evaluator!r}>"

    # ---------------------------------------------------------------- scoring

    def score(
        self,
        contact: Contact,
        activities: Iterable[Activity] = (),
        at: dt.datetime | None = None,
    ) -> Scores:
        """Score one contact in every scoring as of ``at`` (default: now, UTC).

        Activities after ``at`` are ignored, and one activity id counts once. Raises
        DataError for an activity of another contact or a naive time with no default
        time zone; a wrong-typed value inside a rule only adds a diagnostic.
        """
        if self.evaluator == "reference":
            return self._reference.score(contact, activities, at)
        instant = resolve_instant(at, self.default_timezone)
        return self._score_one(contact, activities, instant, self._contexts(instant))

    def score_many(
        self,
        contacts: Iterable[Contact | tuple[Contact, Iterable[Activity]]],
        at: dt.datetime | None = None,
    ) -> Iterator[Scores]:
        """Score many contacts as of one instant, yielding their Scores in input order.

        Each item is a Contact (scored on its profile alone) or a pair of a Contact and
        its activities. The instant is resolved once, before the first contact, so
        ``at=None`` scores every contact as of the same "now". Example::

            totals = [s["Product A"].total for s in engine.score_many(contacts, at=instant)]
        """
        instant = resolve_instant(at, self.default_timezone)
        if self.evaluator == "reference":
            for item in contacts:
                contact, activities = (item, ()) if isinstance(item, Contact) else item
                yield self._reference.score(contact, activities, instant)
            return
        contexts = self._contexts(instant)
        score_one = self._score_one
        for item in contacts:
            # The class test is the fast path; isinstance admits subclasses.
            if item.__class__ is Contact or isinstance(item, Contact):
                yield score_one(item, (), instant, contexts)
            else:
                contact, activities = item
                yield score_one(contact, activities, instant, contexts)

    def totals(
        self,
        contact: Contact,
        activities: Iterable[Activity] = (),
        at: dt.datetime | None = None,
    ) -> dict[str, int]:
        """Return one contact's total per scoring as of ``at``, without building score cards.

        The totals equal those of `score`; levels, breakdowns and diagnostics are not
        computed. Example::

            engine.totals(Contact("c-1", {"country": "CZ"}), at=instant)  # {"Product A": 8}
        """
        return next(self.totals_many([(contact, activities)], at))

    def totals_many(
        self,
        contacts: Iterable[Contact | tuple[Contact, Iterable[Activity]]],
        at: dt.datetime | None = None,
    ) -> Iterator[dict[str, int]]:
        """Yield each contact's total per scoring as of one instant, in input order.

        Items are as in `score_many`. It is the fast path for ranking or evaluating many
        contacts, where only totals are read: it skips levels, breakdowns and diagnostics.
        """
        instant = resolve_instant(at, self.default_timezone)
        if self.evaluator == "reference":
            for item in contacts:
                contact, activities = (item, ()) if isinstance(item, Contact) else item
                yield self._reference.score(contact, activities, instant).totals
            return
        default_timezone = self.default_timezone
        parts = [
            (
                compiled.scoring.name,
                compiled.total,
                compiled.empty_state,
                compiled.state_factory,
                compiled.match_all,
                context,
            )
            # The contexts of the personas come after the scorings' and are not needed.
            for compiled, context in zip(
                self.compiled, self._contexts(instant)[: len(self.compiled)], strict=True
            )
        ]
        contexts = [part[5] for part in parts]
        if len(parts) == 1:
            # One scoring scored on profiles alone is the common bulk case, so it gets a
            # loop of its own, with the scoring's parts read once.
            name, total, (no_awards, no_entries), _, _, context = parts[0]
            for item in contacts:
                if item.__class__ is Contact:
                    yield {name: total(item.profile, item.id, context, no_awards, no_entries)}
                else:
                    yield self._totals_one(item, parts, instant, default_timezone)
                if context.diagnostics:
                    # Totals carry no diagnostics; dropping them keeps the context small.
                    context.diagnostics.clear()
            return
        for item in contacts:
            yield self._totals_one(item, parts, instant, default_timezone)
            for context in contexts:
                if context.diagnostics:
                    context.diagnostics.clear()

    @staticmethod
    def _totals_one(
        item: Contact | tuple[Contact, Iterable[Activity]],
        parts: list[Any],
        instant: dt.datetime,
        default_timezone: ZoneInfo | None,
    ) -> dict[str, int]:
        """Return one item's totals: a contact alone, or a contact and its activities."""
        kept: Sequence[Activity] = ()
        if item.__class__ is Contact or isinstance(item, Contact):
            contact = item
        else:
            contact, activities = item
            if contact.__class__ is not Contact and not isinstance(contact, Contact):
                raise TypeError(f"expected leadscore.Contact, got {type(contact).__name__}")
            kept = prepare_activities(contact, activities, instant, default_timezone)
        profile = contact.profile
        contact_id = contact.id
        result = {}
        awards: Sequence[Sequence[Any]]
        entries: Sequence[Sequence[Any]]
        for name, total, empty_state, state_factory, match_all, context in parts:
            if kept:
                awards, entries = state_factory()
                match_all(kept, profile, context, awards, entries)
            else:
                awards, entries = empty_state
            result[name] = total(profile, contact_id, context, awards, entries)
        return result

    def _contexts(self, instant: dt.datetime) -> list[EvalContext]:
        """Return one context per compiled scoring, then one per compiled persona."""
        # prepare_activities drops every activity after `instant`, so the contexts can
        # tell the generated code that all awards and entries are at or before it.
        return [
            EvalContext(instant, compiled.scoring.timezone, self.default_timezone, prefiltered=True)
            for compiled in self._all_compiled
        ]

    def _score_one(
        self,
        contact: Contact,
        activities: Iterable[Activity],
        instant: dt.datetime,
        contexts: list[EvalContext],
    ) -> Scores:
        if contact.__class__ is not Contact and not isinstance(contact, Contact):
            raise TypeError(f"expected leadscore.Contact, got {type(contact).__name__}")
        kept: Sequence[Activity] = ()
        if activities:
            kept = prepare_activities(contact, activities, instant, self.default_timezone)
        cards = {}
        awards: Sequence[Sequence[Any]]
        entries: Sequence[Sequence[Any]]
        for compiled, ctx in zip(self._all_compiled, contexts, strict=True):
            if kept:
                awards, entries = compiled.new_state()
                compiled.match_all(kept, contact.profile, ctx, awards, entries)
            else:
                awards, entries = compiled.empty_state
            cards[compiled.scoring.name] = card_from_state(compiled, contact, awards, entries, ctx)
        if not self.compiled_personas and not self.program.grades:
            return Scores(cards)
        # Persona names never equal scoring names, so one dict contains both until here.
        personas = {persona.name: cards.pop(persona.name) for persona in self.program.personas}
        totals = {name: card.total for name, card in cards.items()}
        return Scores(cards, personas, grade_results(self.program.grades, totals))


def card_from_state(
    compiled: CompiledScoring,
    contact: Contact,
    awards: Sequence[Sequence[tuple[Activity, dt.datetime | None]]],
    entries: Sequence[Sequence[tuple[dt.datetime, Any, Activity]]],
    ctx: EvalContext,
) -> ScoreCard:
    """Evaluate one scoring as of ``ctx.at`` from matched awards and aggregate entries.

    Awards and entries may include activities after ``ctx.at``; they are left out here.
    The breakdown is built only when the card's caller reads it, from the award lists
    given here, so the caller must not change those lists afterwards. The diagnostics
    recorded so far move into the card: ``ctx`` can then score the next contact.
    """
    scoring = compiled.scoring
    at = ctx.at
    total, level, conditions = compiled.evaluate(contact.profile, contact.id, ctx, awards, entries)
    raw_diagnostics: Sequence[tuple[int, str, Any, str]] = ()
    if ctx.diagnostics:
        raw_diagnostics = ctx.diagnostics
        ctx.diagnostics = []

    def details() -> tuple[tuple[RuleResult, ...], tuple[Diagnostic, ...]]:
        results: list[RuleResult] = []
        timezone = scoring.timezone
        for rule in scoring.rules:
            group = group_name(scoring, rule)
            if rule.kind == "profile":
                results.append(profile_rule_result(rule, conditions[rule.index], group))
                continue
            current = [
                (activity, expires_at)
                for activity, expires_at in awards[rule.index]
                if activity.occurred_at <= at and (expires_at is None or at < expires_at)
            ]
            if rule.decay is None:
                points = rule.points
                valid = [Award(activity, points, expires_at) for activity, expires_at in current]
            else:
                valid = [
                    Award(
                        activity, award_points(rule, activity.occurred_at, at, timezone), expires_at
                    )
                    for activity, expires_at in current
                ]
            results.append(activity_rule_result(rule, valid, group))
        return tuple(results), diagnostics_for(scoring, raw_diagnostics)

    return ScoreCard.lazy(compiled.card_spec, scoring.name, contact.id, at, total, level, details)


# ---------------------------------------------------------------- module-level entry points


def compile(
    text: str,
    *,
    source: str = "<string>",
    default_timezone: str | ZoneInfo | None = None,
    evaluator: Evaluator = "compiled",
) -> Engine:
    """Parse, check and compile rule text into an Engine.

    Example::

        engine = leadscore.compile('scoring "A" { rule "CZ" { when contact.country == "CZ" award 10 } }')
    """
    return Engine.from_text(
        text, source=source, default_timezone=default_timezone, evaluator=evaluator
    )


def load(
    path: str | os.PathLike[str],
    *,
    default_timezone: str | ZoneInfo | None = None,
    evaluator: Evaluator = "compiled",
) -> Engine:
    """Load an Engine from a rule file, or from TOML, JSON or YAML config by the file's suffix.

    ``.toml``, ``.json``, ``.yaml`` and ``.yml`` are read as config (YAML needs
    PyYAML); every other suffix, such as ``.lead``, is read as rule text.
    """
    file = Path(path)
    if file.suffix.lower() not in (".toml", ".json", ".yaml", ".yml"):
        return Engine.from_text(
            file.read_text("utf-8"),
            source=str(path),
            default_timezone=default_timezone,
            evaluator=evaluator,
        )
    program = program_from_config(read_config_file(file), file=str(path))
    return Engine(program, default_timezone=default_timezone, evaluator=evaluator)
