"""Hypothesis strategies that generate contacts and activities for the rules of an engine.

The strategies read the engine's program (see `leadscore.testing.hints`) and generate
only the fields, attributes and activity types the rules use, with declared types
where a declaration gives them. Values cluster around what decides each condition,
so a property finds a mis-scored contact within a few hundred examples:

- texts from ``==`` and ``in [...]`` lists, with case variants and near misses,
- texts that match a ``matches`` pattern or a ``glob``, next to arbitrary texts,
- numbers equal to, just below and just above each comparison constant,
- dates and times on both sides of each ``now() - N days`` and ``days_since`` bound,
- activity times exactly at, just before and just after each expiry and ``within``
  window, counted back from the end of ``between``, which is taken as the scoring
  instant.

hypothesis is a test dependency, not a runtime one, so importing this module without
it raises ImportError with the command that installs it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "leadscore.testing.strategies needs hypothesis, a test dependency; "
        "install it with: pip install 'leadscore[test]' (or pip install hypothesis)"
    ) from error

from leadscore.engine import Engine
from leadscore.language.patterns import _glob_to_regex
from leadscore.model import Activity, Contact, Duration
from leadscore.runtime import add_duration
from leadscore.scorecard import Scores
from leadscore.testing.builders import DEFAULT_CONTACT_ID
from leadscore.testing.hints import PolicyHints, ValueHints, policy_hints

__all__ = ["Scenario", "activities", "contacts", "profiles", "scenarios", "streams"]

UTC = dt.UTC
_UTC_ZONE = ZoneInfo("UTC")
_MINUTE = dt.timedelta(minutes=1)
_DAY = dt.timedelta(days=1)
# Generated texts stay short, so failing examples stay readable.
_FREE_TEXT = st.text(max_size=12)
# Streams hold at least this many activities at most, more where a count() needs them.
_STREAM_SIZE = 8
_MAX_STREAM_SIZE = 40
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


@attrs.frozen
class Scenario:
    """One contact, its activities and the instant to score them at."""

    contact: Contact
    activities: tuple[Activity, ...]
    at: dt.datetime

    def score(self, engine: Engine) -> Scores:
        """Score the scenario with ``engine``."""
        return engine.score(self.contact, self.activities, at=self.at)


# ---------------------------------------------------------------- values


def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of ``choices`` with the given relative weights.

    hypothesis picks each branch of ``one_of`` with equal chance, so a branch listed
    twice is drawn twice as often.
    """
    return st.one_of([strategy for weight, strategy in choices for _ in range(weight)])


def _texts(hints: ValueHints) -> st.SearchStrategy[str]:
    # Texts the rules name exactly, and texts that match their patterns, come up about
    # half of the time. Case variants, near misses and arbitrary texts make up the rest.
    choices: list[tuple[int, st.SearchStrategy[Any]]] = []

    if hints.texts:
        literal = sorted(hints.texts)
        choices.append((2, st.sampled_from(literal)))
        variants = {
            variant
            for text in literal
            for variant in (text.lower(), text.upper(), text.title(), f" {text}", text[:-1])
        }
        choices.append((1, st.sampled_from(sorted(variants))))

    for pattern, flags in sorted(hints.regexes):
        choices.extend((2, strategy) for strategy in _regex_texts(pattern, flags))
    for glob in sorted(hints.globs):
        matching = st.from_regex(re.compile(_glob_to_regex(glob), re.DOTALL), fullmatch=True)
        choices.append((2, matching))

    if hints.prefixes:
        prefixed = st.tuples(st.sampled_from(sorted(hints.prefixes)), _FREE_TEXT).map("".join)
        choices.append((2, prefixed))
    if hints.suffixes:
        suffixed = st.tuples(_FREE_TEXT, st.sampled_from(sorted(hints.suffixes))).map("".join)
        choices.append((2, suffixed))
    if hints.members:
        members = st.sampled_from(sorted(str(member) for member in hints.members))
        choices.append((2, st.tuples(_FREE_TEXT, members, _FREE_TEXT).map("".join)))
    if hints.domains:
        choices.append((2, _addresses(sorted(hints.domains))))
    if hints.lengths:
        sized = _sizes(hints.lengths).flatmap(lambda n: st.text(min_size=n, max_size=n))
        choices.append((2, sized))

    choices.append((1, _FREE_TEXT))
    return _weighted(*choices)


def _regex_texts(pattern: str, flags: str) -> list[st.SearchStrategy[str]]:
    python_flags = 0
    for flag in flags:
        python_flags |= _REGEX_FLAGS.get(flag, 0)
    try:
        compiled = re.compile(pattern, python_flags)
    except re.error:
        # NOTE: RE2 syntax that Python's re rejects, such as [[:alpha:]], gets arbitrary
        # texts only, so matching texts are found by chance.
        return []
    return [st.from_regex(compiled)]


def _addresses(domains: Sequence[str]) -> st.SearchStrategy[str]:
    domain = st.sampled_from(domains)
    user = st.sampled_from(["jana", "info", "sales"])
    return st.one_of(
        st.tuples(user, domain).map(lambda pair: f"{pair[0]}@{pair[1]}"),
        st.tuples(st.sampled_from(["https://", "https://www.", "http://"]), domain).map("".join),
        st.tuples(user, domain).map(lambda pair: f"{pair[0]}@mail.{pair[1]}"),
    )


def _sizes(lengths: set[int]) -> st.SearchStrategy[int]:
    near = sorted({n + step for n in lengths for step in (-1, 0, 1) if n + step >= 0})
    return st.sampled_from(near)


def _numbers(hints: ValueHints) -> st.SearchStrategy[int | float]:
    constants = sorted(hints.numbers) or [0]
    # Each constant comes first, so hypothesis shrinks a failing number towards it.
    near: list[int | float] = []
    for constant in constants:
        if isinstance(constant, int):
            steps: tuple[int | float, ...] = (constant, constant - 1, constant + 1)
        else:
            steps = (
                constant,
                math.nextafter(constant, -math.inf),
                math.nextafter(constant, math.inf),
                math.floor(constant),
                math.ceil(constant),
            )
        near.extend(step for step in steps if step not in near)
    low, high = min(constants), max(constants)
    spread = max(high - low, abs(low), abs(high), 10)
    return _weighted(
        (2, st.sampled_from(near)),
        (1, st.integers(math.floor(low - spread), math.ceil(high + spread))),
        (1, st.floats(low - spread, high + spread, allow_nan=False, allow_infinity=False)),
    )


def _before(at: dt.datetime, age: Duration) -> dt.datetime:
    result: dt.datetime = add_duration(at, age, _UTC_ZONE, -1)
    return result


def _datetimes(hints: ValueHints, at: dt.datetime | None) -> st.SearchStrategy[dt.datetime]:
    anchors: set[dt.datetime] = set()
    for instant in hints.datetimes:
        anchors.update((instant - _MINUTE, instant, instant + _MINUTE))
    if at is not None:
        for age in hints.ages:
            bound = _before(at, age)
            anchors.update((bound - _DAY, bound - _MINUTE, bound, bound + _MINUTE, bound + _DAY))
    reference = at or dt.datetime(2026, 1, 1, tzinfo=UTC)
    longest = max((reference - _before(reference, age) for age in hints.ages), default=_DAY * 365)
    low = (reference - 2 * longest - 30 * _DAY).astimezone(UTC).replace(tzinfo=None)
    high = reference.astimezone(UTC).replace(tzinfo=None)
    uniform = st.datetimes(min_value=low, max_value=high, timezones=st.just(UTC))
    if not anchors:
        return uniform
    return st.one_of(st.sampled_from(sorted(anchors)), uniform)


def _dates(hints: ValueHints, at: dt.datetime | None) -> st.SearchStrategy[dt.date]:
    anchors = {day + step * _DAY for day in hints.dates for step in (-1, 0, 1)}
    if at is not None:
        for age in hints.ages:
            bound = _before(at, age).date()
            anchors.update((bound - _DAY, bound, bound + _DAY))
    reference = (at or dt.datetime(2026, 1, 1, tzinfo=UTC)).date()
    uniform = st.dates(reference - 3 * 365 * _DAY, reference + 365 * _DAY)
    if not anchors:
        return uniform
    return st.one_of(st.sampled_from(sorted(anchors)), uniform)


def _lists(hints: ValueHints) -> st.SearchStrategy[list[Any]]:
    items: list[st.SearchStrategy[Any]] = [_FREE_TEXT]
    if hints.members:
        items.insert(0, st.sampled_from(sorted(hints.members, key=repr)))
    if hints.lengths:
        return _sizes(hints.lengths).flatmap(
            lambda n: st.lists(st.one_of(items), min_size=n, max_size=n)
        )
    return st.lists(st.one_of(items), max_size=4)


def _is_textual(hints: ValueHints) -> bool:
    return bool(
        hints.texts
        or hints.regexes
        or hints.globs
        or hints.prefixes
        or hints.suffixes
        or hints.domains
        or (hints.members and hints.declared != "list")
    )


def _value(hints: ValueHints, at: dt.datetime | None) -> st.SearchStrategy[Any]:
    """Return the strategy for one field or attribute: its declared type, else what the rules compare it with."""
    declared = hints.declared
    if declared == "text":
        options: list[st.SearchStrategy[Any]] = [_texts(hints)]
    elif declared == "number":
        options = [_numbers(hints)]
    elif declared == "boolean":
        options = [st.booleans()]
    elif declared == "date":
        options = [_dates(hints, at)]
    elif declared == "datetime":
        options = [_datetimes(hints, at)]
    elif declared == "list":
        options = [_lists(hints)]
    else:
        options = _inferred(hints, at)
    if hints.empty:
        empties: dict[str, list[Any]] = {"text": [""], "list": [[]]}
        options.append(st.sampled_from(empties.get(declared or "", ["", []])))
    # A field is unset (None) one time in eight, so rules meet missing values too.
    return _weighted((7, st.one_of(options)), (1, st.none()))


def _inferred(hints: ValueHints, at: dt.datetime | None) -> list[st.SearchStrategy[Any]]:
    options: list[st.SearchStrategy[Any]] = []
    if _is_textual(hints) or hints.lengths:
        options.append(_texts(hints))
    if hints.numbers or hints.numeric:
        options.append(_numbers(hints))
    if hints.booleans:
        options.append(st.booleans())
    if hints.dates:
        options.append(_dates(hints, at))
    if hints.datetimes or hints.ages:
        options.append(_datetimes(hints, at))
    if hints.members or hints.lengths:
        options.append(_lists(hints))
    if hints.children:
        options.append(_mapping(hints.children, at))
    if not options:
        # A field the rules only test for presence, as in filled(...): any short value.
        options.append(st.one_of(_FREE_TEXT, st.integers(-10, 1000)))
    return options


def _mapping(
    children: Mapping[str, ValueHints],
    at: dt.datetime | None,
    required: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: _value(node, at) for name, node in children.items()}
    fields.update(required or {})
    return st.fixed_dictionaries(fields)


# ---------------------------------------------------------------- contacts


def profiles(
    engine: Engine | None = None,
    *,
    fields: Mapping[str, st.SearchStrategy[Any]] | None = None,
    at: dt.datetime | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Generate profiles with every field the engine's rules read or its declarations list.

    A field is unset (None) in about one profile in eight. ``fields`` maps a field name
    to a strategy of your own, which then generates that field. Without an engine,
    those are the only fields. ``at`` is the scoring instant that ``now()`` and
    ``days_since`` bounds are counted back from. Without it, dates and times are spread
    around 1 January 2026.
    """
    if engine is None and not fields:
        raise ValueError("profiles() needs an engine, fields, or both")
    children = policy_hints(engine.program).contact.children if engine is not None else {}
    return _mapping(children, at, fields)


def contacts(
    engine: Engine | None = None,
    *,
    id: str = DEFAULT_CONTACT_ID,
    fields: Mapping[str, st.SearchStrategy[Any]] | None = None,
    at: dt.datetime | None = None,
) -> st.SearchStrategy[Contact]:
    """Generate contacts with the id ``id`` and a profile from `profiles`."""
    return profiles(engine, fields=fields, at=at).map(lambda profile: Contact(id, profile))


# ---------------------------------------------------------------- activities


def _check_between(between: tuple[dt.datetime, dt.datetime]) -> tuple[dt.datetime, dt.datetime]:
    start, end = between
    for name, instant in (("start", start), ("end", end)):
        if not isinstance(instant, dt.datetime) or instant.tzinfo is None:
            raise ValueError(
                f"between needs two aware datetimes, but its {name} is {instant!r}; "
                "add a time zone such as tzinfo=datetime.UTC"
            )
    if start > end:
        raise ValueError(f"between starts after it ends: {start.isoformat()} > {end.isoformat()}")
    return start.astimezone(UTC), end.astimezone(UTC)


def _times(
    hints: PolicyHints, start: dt.datetime, end: dt.datetime
) -> st.SearchStrategy[dt.datetime]:
    anchors = {start, end}
    for duration in hints.durations:
        if duration.amount > 0:
            bound = _before(end, duration)
            anchors.update((bound - _MINUTE, bound, bound + _MINUTE))
    for instant in hints.instants:
        anchors.update((instant - _MINUTE, instant, instant + _MINUTE))
    inside = sorted(anchor for anchor in anchors if start <= anchor <= end)
    uniform = st.datetimes(
        min_value=start.replace(tzinfo=None),
        max_value=end.replace(tzinfo=None),
        timezones=st.just(UTC),
    )
    return st.one_of(st.sampled_from(inside), uniform)


def _chosen_types(hints: PolicyHints, types: Sequence[str] | None) -> list[str]:
    if types is not None:
        chosen = list(types)
        if not chosen:
            raise ValueError("types must name at least one activity type")
        return chosen
    if not hints.activity_types:
        raise ValueError(
            "the rules read no activity type, so there is nothing to generate; pass types=[...]"
        )
    return list(hints.activity_types)


def _contact_id(contact: Contact | str) -> str:
    return contact.id if isinstance(contact, Contact) else contact


def _of_type(
    activity_type: str,
    contact_id: str,
    hints: PolicyHints,
    times: st.SearchStrategy[dt.datetime],
    end: dt.datetime,
) -> st.SearchStrategy[Activity]:
    node = hints.attributes.get(activity_type, ValueHints())
    return st.builds(
        lambda occurred_at, attributes: Activity(
            contact_id, activity_type, occurred_at, attributes
        ),
        times,
        _mapping(node.children, end),
    )


def activities(
    engine: Engine,
    *,
    between: tuple[dt.datetime, dt.datetime],
    types: Sequence[str] | None = None,
    contact: Contact | str = DEFAULT_CONTACT_ID,
) -> st.SearchStrategy[Activity]:
    """Generate one activity of a type the rules read (or of ``types``), at a time in ``between``.

    Attributes are those the rules read for that type. The activity has no id;
    `streams` numbers the activities it generates.
    """
    hints = policy_hints(engine.program)
    start, end = _check_between(between)
    times = _times(hints, start, end)
    contact_id = _contact_id(contact)
    return st.one_of(
        [_of_type(t, contact_id, hints, times, end) for t in _chosen_types(hints, types)]
    )


def _numbered(generated: list[Activity]) -> list[Activity]:
    ordered = sorted(generated, key=lambda activity: activity.occurred_at)
    return [attrs.evolve(activity, id=f"a{n}") for n, activity in enumerate(ordered, start=1)]


def streams(
    engine: Engine,
    *,
    between: tuple[dt.datetime, dt.datetime],
    types: Sequence[str] | None = None,
    contact: Contact | str = DEFAULT_CONTACT_ID,
    min_size: int = 0,
    max_size: int | None = None,
) -> st.SearchStrategy[list[Activity]]:
    """Generate one contact's activities in ``between``, oldest first, with the ids a1, a2, ….

    Without ``max_size``, a stream may add a run of one activity type long enough to
    pass each ``count()`` constant the rules compare with, up to 40 activities.
    """
    hints = policy_hints(engine.program)
    start, end = _check_between(between)
    times = _times(hints, start, end)
    contact_id = _contact_id(contact)
    chosen = _chosen_types(hints, types)
    per_type = {t: _of_type(t, contact_id, hints, times, end) for t in chosen}
    size = max_size if max_size is not None else _STREAM_SIZE
    mixed = st.lists(st.one_of(list(per_type.values())), min_size=min_size, max_size=size)

    counted = [t for t in chosen if t in hints.counts]
    if max_size is not None or not counted:
        return mixed.map(_numbered)

    def run(activity_type: str) -> st.SearchStrategy[list[Activity]]:
        longest = min(max(hints.counts[activity_type]) + 1, _MAX_STREAM_SIZE - size)
        return st.lists(per_type[activity_type], max_size=max(longest, 0))

    runs = st.sampled_from(counted).flatmap(run)
    return st.tuples(mixed, runs).map(lambda pair: _numbered(pair[0] + pair[1]))


def scenarios(
    engine: Engine,
    *,
    at: dt.datetime,
    between: tuple[dt.datetime, dt.datetime] | None = None,
    types: Sequence[str] | None = None,
    fields: Mapping[str, st.SearchStrategy[Any]] | None = None,
    contact_id: str = DEFAULT_CONTACT_ID,
) -> st.SearchStrategy[Scenario]:
    """Generate a contact from `contacts` and its activities from `streams`, scored at ``at``.

    ``between`` defaults to the year before ``at``, or longer when an expiry or a
    ``within`` window of the rules is longer.
    """
    if between is None:
        hints = policy_hints(engine.program)
        longest = max(
            (at - _before(at, duration) for duration in hints.durations if duration.amount > 0),
            default=dt.timedelta(0),
        )
        between = (at - max(365 * _DAY, longest + 30 * _DAY), at)
    # The activities are drawn before the contact: in trials with a policy whose bug needs
    # both a profile value and an activity type, hypothesis's default 100 examples then
    # held both together about twice as often as in the other order.
    return st.tuples(
        streams(engine, between=between, types=types, contact=contact_id),
        contacts(engine, id=contact_id, fields=fields, at=at),
    ).map(lambda pair: Scenario(pair[1], tuple(pair[0]), at))
