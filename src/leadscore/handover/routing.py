"""Hand-over routes: which sinks receive the crossings of which scoring and threshold.

The routes are a two-level mapping, scoring name to threshold name to a list of sink
names, so they can come from TOML, JSON or YAML as they are::

    [handover.routes."Product A"]
    MQL = ["crm", "sales-email"]
    SQL = ["crm-hook"]

    [handover.routes."*"]
    "*" = ["sales-email"]

``"*"`` stands for any scoring or any threshold. The most specific entry wins, and an
empty list means no hand-over, so it can silence a wildcard for one threshold.

A grade's name can stand where a scoring's does, with labels such as ``"A1"`` in
place of threshold names: a contact whose grade changes to a routed label is handed
over. A ``"*"`` scoring covers scorings only, so grades are routed by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

from leadscore.errors import ConfigError
from leadscore.model import Threshold

__all__ = ["ANY", "HandOverRoutes"]

ANY: Final = "*"
"""The wildcard that matches any scoring or any threshold name in `HandOverRoutes`."""

_ROOT: Final = "routes"


class _Grade(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> tuple[str, ...]: ...


class _Program(Protocol):
    @property
    def grades(self) -> Sequence[_Grade]: ...


class _Rules(Protocol):
    """The part of `leadscore.Engine` that routes are checked against."""

    @property
    def scorings(self) -> tuple[str, ...]: ...

    @property
    def program(self) -> _Program: ...

    def thresholds(self, scoring: str) -> tuple[Threshold, ...]: ...


class HandOverRoutes:
    """Sink names per scoring and threshold, with ``"*"`` for any scoring or threshold.

    ``routes`` maps a scoring name or ``"*"`` to a mapping of threshold name or
    ``"*"`` to a list of sink names. `sinks_for` looks up, in this order, the exact
    scoring and threshold, the scoring with ``"*"``, ``"*"`` with the threshold, and
    ``"*"`` with ``"*"``. The first entry found decides, even an empty list. A
    malformed mapping raises `leadscore.ConfigError` naming the key path. Example::

        routes = HandOverRoutes({
            "Product A": {"MQL": ["crm", "email"], "SQL": ["webhook"]},
            "*": {"MQL": ["email"]},
        })
        routes.sinks_for("Product B", "MQL")   # ("email",)

    `check` compares the names with an engine and with the configured sinks.
    """

    __slots__ = ("_routes",)

    def __init__(self, routes: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        self._routes = _parse(routes)

    def grade_sinks_for(self, grade: str, label: str) -> tuple[str, ...]:
        """Return the sink names for a grade changing to ``label``, or () for none."""
        routes = self._routes.get(grade, {})
        sinks = routes.get(label)
        if sinks is None:
            sinks = routes.get(ANY, ())
        return sinks

    def sinks_for(self, scoring: str, threshold: str) -> tuple[str, ...]:
        """Return the sink names for a crossing of ``threshold`` in ``scoring``, or () for none."""
        for scoring_key, threshold_key in (
            (scoring, threshold),
            (scoring, ANY),
            (ANY, threshold),
            (ANY, ANY),
        ):
            sinks = self._routes.get(scoring_key, {}).get(threshold_key)
            if sinks is not None:
                return sinks
        return ()

    @property
    def sink_names(self) -> frozenset[str]:
        """Every sink name the routes use."""
        return frozenset(
            sink
            for thresholds in self._routes.values()
            for sinks in thresholds.values()
            for sink in sinks
        )

    def with_route(self, scoring: str, threshold: str, sinks: Sequence[str]) -> HandOverRoutes:
        """Return a copy in which ``scoring`` and ``threshold`` (either may be "*") go to ``sinks``."""
        data: dict[str, dict[str, Sequence[str]]] = {
            name: dict(routes) for name, routes in self.to_dict().items()
        }
        data.setdefault(scoring, {})[threshold] = sinks
        return HandOverRoutes(data)

    def check(self, engine: _Rules, sink_names: Iterable[str]) -> None:
        """Raise `leadscore.ConfigError` for a name that ``engine`` or the sinks do not have.

        A named scoring must be one of the engine's scorings, and a named threshold
        must be a threshold of that scoring, or, under ``"*"``, of at least one
        scoring. A named grade's labels must be labels the grade can give. Every sink
        name must be in ``sink_names``.
        """
        scorings = tuple(engine.scorings)
        thresholds = {scoring: {t.name for t in engine.thresholds(scoring)} for scoring in scorings}
        every_threshold = set().union(*thresholds.values())
        labels = {grade.name: set(grade.labels) for grade in engine.program.grades}
        sinks = set(sink_names)

        for scoring, routes in self._routes.items():
            if scoring != ANY and scoring not in thresholds and scoring not in labels:
                kinds = "scoring or grade" if labels else "scoring"
                raise ConfigError(
                    f"the rules have no {kinds} named {scoring!r}"
                    + _suggest(scoring, [*scorings, *labels]),
                    [_ROOT, scoring],
                )
            if scoring == ANY:
                known = every_threshold
            elif scoring in thresholds:
                known = thresholds[scoring] | labels.get(scoring, set())
            else:
                known = labels[scoring]
            for threshold, names in routes.items():
                if threshold != ANY and threshold not in known:
                    if scoring == ANY:
                        problem = f"no scoring has a threshold named {threshold!r}"
                        graded = [name for name, found in labels.items() if threshold in found]
                        if graded:
                            # "*" covers scorings only, so the error names the grade.
                            raise ConfigError(
                                f"{problem}; {threshold!r} is a label of the grade "
                                f"{graded[0]!r}, and grades are routed by name",
                                [_ROOT, scoring, threshold],
                            )
                    elif scoring in thresholds:
                        problem = f"the scoring {scoring!r} has no threshold named {threshold!r}"
                    else:
                        problem = f"the grade {scoring!r} never gives the label {threshold!r}"
                    raise ConfigError(
                        problem + _suggest(threshold, sorted(known)), [_ROOT, scoring, threshold]
                    )
                for name in names:
                    if name not in sinks:
                        raise ConfigError(
                            f"no sink named {name!r} is configured{_suggest(name, sorted(sinks))}",
                            [_ROOT, scoring, threshold],
                        )

    def to_dict(self) -> dict[str, dict[str, list[str]]]:
        """Return the routes as plain data that the constructor accepts."""
        return {
            scoring: {threshold: list(sinks) for threshold, sinks in routes.items()}
            for scoring, routes in self._routes.items()
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HandOverRoutes):
            return NotImplemented
        return self._routes == other._routes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HandOverRoutes({self.to_dict()!r})"


def _parse(routes: object) -> dict[str, dict[str, tuple[str, ...]]]:
    """Check the shape of a routes mapping and return a copy with tuples of sink names."""
    if isinstance(routes, HandOverRoutes):
        return routes._routes
    if not isinstance(routes, Mapping):
        raise ConfigError(
            f"expected a table of scoring names to tables of thresholds, got {type(routes).__name__}",
            [_ROOT],
        )
    parsed: dict[str, dict[str, tuple[str, ...]]] = {}
    for scoring, thresholds in routes.items():
        _check_name(scoring, "scoring", [_ROOT])
        path = [_ROOT, scoring]
        if not isinstance(thresholds, Mapping):
            raise ConfigError(
                f"expected a table of threshold names to lists of sink names, "
                f"got {type(thresholds).__name__}",
                path,
            )
        parsed[scoring] = {}
        for threshold, sinks in thresholds.items():
            _check_name(threshold, "threshold", path)
            parsed[scoring][threshold] = _sink_list(sinks, [*path, threshold])
    return parsed


def _check_name(name: object, kind: str, path: list[str]) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{kind} names must be non-empty text, got {name!r}", path)


def _sink_list(sinks: object, path: list[str]) -> tuple[str, ...]:
    # A lone string would otherwise be read as a list of one-letter sink names.
    if isinstance(sinks, str) or not isinstance(sinks, Sequence):
        raise ConfigError(
            f"expected a list of sink names, got {type(sinks).__name__}; write [{sinks!r}]"
            if isinstance(sinks, str)
            else f"expected a list of sink names, got {type(sinks).__name__}",
            path,
        )
    names: list[str] = []
    for name in sinks:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"sink names must be non-empty text, got {name!r}", path)
        if name not in names:
            names.append(name)
    return tuple(names)


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if choices:
        return f"; the names are {', '.join(map(repr, choices))}"
    return ""
