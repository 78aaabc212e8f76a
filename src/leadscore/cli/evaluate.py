"""``leadscore evaluate``: how well a scoring's totals predict a known outcome, such as a sale.

The outcome column is removed from every profile before scoring, so the rules cannot
read the outcome they are judged on.
"""

from __future__ import annotations

import argparse
import collections
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from leadscore.cli.console import Console
from leadscore.cli.inputs import (
    InputError,
    add_data_arguments,
    add_rules_argument,
    check_data_arguments,
    column_options,
    command_line_hints,
    load_engine,
    parse_at,
    whole_number,
)
from leadscore.cli.pipeline import ScoringRun
from leadscore.errors import DataError
from leadscore.loaders import ContactColumns
from leadscore.metrics import (
    OutcomeTable,
    ThresholdMetrics,
    area_under_curve,
    gains_curve,
    score_groups,
    suggest_threshold,
    threshold_metrics,
)
from leadscore.model import Threshold

__all__ = ["add_parser", "run"]

# Outcome values that count as converted when --positive is not given, compared ignoring case.
DEFAULT_POSITIVES = ("1", "true", "yes", "y")
# Candidate thresholds listed unless --all-thresholds is given.
LISTED_THRESHOLDS = 25
# Up to this many distinct totals get a bar each in the plot; more are binned.
DISTRIBUTION_BARS = 60
# Distinct outcome values remembered for messages; more would only lengthen them.
LISTED_OUTCOMES = 10


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare the evaluate subcommand and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="measure how well a scoring predicts a known outcome and suggest a threshold",
        description="Score the contacts and compare the totals with a known outcome column: "
        "AUC, conversion and lift by score decile, precision, recall and F1 for each "
        "candidate threshold, and a suggested threshold. The outcome column is removed "
        "from the profiles before scoring.",
        epilog="Exit codes: 0 done, 1 the AUC is below --min-auc or no threshold meets "
        "--precision or --capacity, 2 usage or input error. Example: leadscore evaluate "
        "rules.lead --contacts bank.csv --row-ids --outcome y --positive yes",
    )
    add_rules_argument(parser)
    add_data_arguments(parser, contacts_required=True)

    outcome = parser.add_argument_group("outcome and threshold")
    outcome.add_argument(
        "--outcome",
        metavar="COLUMN",
        required=True,
        help="contacts column with the known outcome, such as y or Converted; contacts with "
        "an empty cell are left out",
    )
    outcome.add_argument(
        "--positive",
        metavar="VALUE",
        help="the outcome value that means converted, compared ignoring case "
        f"(default: any of {', '.join(DEFAULT_POSITIVES)})",
    )
    outcome.add_argument(
        "--scoring",
        metavar="NAME",
        help="the scoring to evaluate (default: the first scoring in RULES)",
    )
    policy = outcome.add_mutually_exclusive_group()
    policy.add_argument(
        "--precision",
        metavar="P",
        type=_share,
        help="suggest the lowest threshold whose precision is at least P, a share "
        "between 0 and 1 such as 0.4 (default policy: the best F1)",
    )
    policy.add_argument(
        "--capacity",
        metavar="N",
        type=whole_number(0),
        help="suggest the lowest threshold that selects at most N contacts, such as "
        "the number of leads sales can call",
    )
    outcome.add_argument(
        "--min-auc",
        metavar="A",
        type=_share,
        help="exit with code 1 when the AUC is below A, a share between 0 and 1",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--all-thresholds",
        action="store_true",
        help=f"list every candidate threshold (default: at most {LISTED_THRESHOLDS}, "
        "evenly spread, with the suggested one and those of RULES)",
    )
    output.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the cumulative gains curve and the score distribution to FILE "
        "(PNG, SVG or PDF by suffix); needs matplotlib: pip install 'leadscore[plot]'",
    )
    return parser


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def run(args: argparse.Namespace, console: Console) -> int:
    """Evaluate the scoring; returns 0, 1 when a target is missed, or 2 for bad input."""
    with command_line_hints():
        return _evaluate(args, console)


@attrs.define
class _Outcomes:
    """The outcome values seen and the table of scores by outcome."""

    table: OutcomeTable = attrs.field(factory=OutcomeTable)
    missing: int = 0
    values: collections.Counter[str] = attrs.field(factory=collections.Counter)


def _evaluate(args: argparse.Namespace, console: Console) -> int:
    check_data_arguments(args, contacts_required=True)
    plotting = _import_pyplot() if args.plot is not None else None
    engine = load_engine(args)
    if not engine.scorings:
        raise InputError(f"{args.rules} defines no scoring, so there is nothing to evaluate")
    scoring = args.scoring or engine.scorings[0]
    if scoring not in engine.scorings:
        raise InputError(
            f"--scoring: no scoring named {scoring!r}; the scorings are "
            + ", ".join(repr(name) for name in engine.scorings)
        )
    contact_options, activity_options = column_options(args)
    contact_options, field = _with_outcome_column(contact_options, args.outcome)
    at = parse_at(args.at, args.timezone)

    scoring_run = ScoringRun(
        engine,
        contacts=args.contacts,
        activities=args.activities,
        contact_options=contact_options,
        activity_options=activity_options,
        at=at,
        skip_bad_rows=args.skip_bad_rows,
        hidden_fields=(field,),
        progress=console.progress,
    )
    outcomes = _Outcomes()
    try:
        for row in scoring_run:
            value = row.contact.profile.get(field)
            if value is None:
                outcomes.missing += 1
                continue
            text = str(value).strip()
            if text in outcomes.values or len(outcomes.values) < LISTED_OUTCOMES:
                outcomes.values[text] += 1
            outcomes.table.add(row.scores[scoring].total, _is_positive(text, args.positive))
    except DataError as error:
        if error.field == args.outcome and error.row == 1:
            # The hint starts with the columns of the header, then names a keyword.
            columns = (error.hint or "").split(";")[0]
            raise InputError(
                f"--outcome: the column {args.outcome!r} is not in the header of "
                f"{error.file}; {columns}"
            ) from None
        raise

    table = outcomes.table
    _check_outcomes(args, outcomes)
    if args.skip_bad_rows:
        console.error(f"{args.contacts}: {scoring_run.contacts_report.summary()}")
        if args.activities is not None:
            console.error(f"{args.activities}: {scoring_run.activities_report.summary()}")

    auc = area_under_curve(table)
    candidates = threshold_metrics(table)
    suggestion = suggest_threshold(candidates, min_precision=args.precision, capacity=args.capacity)

    assert scoring_run.at is not None
    positive = args.positive or " / ".join(DEFAULT_POSITIVES)
    console.print(f"Scoring {scoring!r} as of {scoring_run.at.isoformat()}")
    console.print(
        f"Outcome {args.outcome!r}, converted when {positive}: {table.total:,} contacts, "
        f"{table.positives:,} converted ({table.base_rate:.1%}), "
        f"{outcomes.missing:,} without an outcome left out"
    )
    console.print()
    console.print(
        f"AUC {auc:.3f}: the chance that a converted contact scores above one that did not, "
        "with ties counted half (0.5 is a random order)"
    )
    console.print()
    _print_deciles(console, table)
    console.print()
    _print_thresholds(console, args, candidates, suggestion, engine.thresholds(scoring))
    console.print()
    _print_rule_thresholds(console, candidates, engine.thresholds(scoring))

    code = 0
    policy = _policy_text(args)
    if suggestion is None:
        console.print(f"No threshold meets the policy: {policy}.")
        code = 1
    else:
        console.print(
            f"Suggested threshold: {_number(suggestion.threshold)} ({policy}): selects "
            f"{suggestion.selected:,} contacts ({suggestion.selected_share:.1%}), precision "
            f"{suggestion.precision:.1%}, recall {suggestion.recall:.1%}, F1 {suggestion.f1:.3f}"
        )
    if args.min_auc is not None and auc < args.min_auc:
        console.print(f"The AUC {auc:.3f} is below --min-auc {args.min_auc}.")
        code = 1

    if plotting is not None:
        _plot(plotting, Path(args.plot), table, suggestion, f"{scoring} vs {args.outcome}")
        console.print(f"Wrote the gains curve and score distribution to {args.plot}")
    return code


def _with_outcome_column(options: ContactColumns, outcome: str) -> tuple[ContactColumns, str]:
    """Return options that read the outcome column as text, and its field name in the profile."""
    if outcome == options.id_column:
        raise InputError(f"--outcome: {outcome!r} is the id column")
    types = dict(options.types)
    # Reading the outcome as text keeps "1" and "yes" comparable, and makes the
    # loader reject a file whose header lacks the column.
    types.setdefault(outcome, "text")
    columns = options.columns
    if columns is not None and outcome not in columns:
        columns = {**columns, outcome: outcome}
    field = outcome if columns is None else columns[outcome]
    return attrs.evolve(options, types=types, columns=columns), field


def _is_positive(text: str, positive: str | None) -> bool:
    folded = text.casefold()
    if positive is not None:
        return folded == positive.strip().casefold()
    return folded in DEFAULT_POSITIVES


def _check_outcomes(args: argparse.Namespace, outcomes: _Outcomes) -> None:
    table = outcomes.table
    if table.positives and table.negatives:
        return
    seen = ", ".join(f"{value!r} ({count:,})" for value, count in outcomes.values.most_common())
    if table.total == 0:
        raise InputError(
            f"--outcome: no contact in {args.contacts} has a value in {args.outcome!r}"
        )
    which = "converted" if table.positives == 0 else "not converted"
    raise InputError(
        f"--outcome: no contact is {which}, so the scoring cannot be evaluated; the values "
        f"of {args.outcome!r} are {seen}; pass --positive with the value that means converted"
    )


def _policy_text(args: argparse.Namespace) -> str:
    if args.precision is not None:
        return f"the lowest threshold with precision of at least {args.precision:.0%}"
    if args.capacity is not None:
        return f"the lowest threshold that selects at most {args.capacity:,} contacts"
    return "the best F1"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _print_deciles(console: Console, table: OutcomeTable) -> None:
    rows = [
        [
            group.rank,
            _score_range(group.min_score, group.max_score),
            group.contacts,
            f"{group.converted:.1f}",
            f"{group.conversion_rate:.1%}",
            f"{group.lift:.2f}",
            f"{group.cumulative_gain:.1%}",
        ]
        for group in score_groups(table, 10)
    ]
    console.table(
        ["decile", "scores", "contacts", "converted", "conversion", "lift", "cumulative gain"],
        rows,
        title="By score decile (1 = highest scores; tied scores share their conversions)",
    )


def _score_range(low: float, high: float) -> str:
    if low == high:
        return _number(low)
    return f"{_number(low)} to {_number(high)}"


def _listed(
    candidates: Sequence[ThresholdMetrics],
    suggestion: ThresholdMetrics | None,
    rule_thresholds: Sequence[Threshold],
) -> list[ThresholdMetrics]:
    """Return at most LISTED_THRESHOLDS candidates evenly spread, plus the ones worth naming."""
    if len(candidates) <= LISTED_THRESHOLDS:
        return list(candidates)
    last = len(candidates) - 1
    positions = {round(i * last / (LISTED_THRESHOLDS - 1)) for i in range(LISTED_THRESHOLDS)}
    for position, metrics in enumerate(candidates):
        if metrics is suggestion:
            positions.add(position)
    for threshold in rule_thresholds:
        match = _selection_at(candidates, threshold.points)
        if match is not None:
            positions.add(candidates.index(match))
    return [candidates[position] for position in sorted(positions)]


def _print_thresholds(
    console: Console,
    args: argparse.Namespace,
    candidates: Sequence[ThresholdMetrics],
    suggestion: ThresholdMetrics | None,
    rule_thresholds: Sequence[Threshold],
) -> None:
    listed = (
        list(candidates)
        if args.all_thresholds
        else _listed(candidates, suggestion, rule_thresholds)
    )
    rows = []
    for metrics in listed:
        notes = [t.name for t in rule_thresholds if _selection_at(candidates, t.points) is metrics]
        if metrics is suggestion:
            notes.append("suggested")
        rows.append(
            [
                _number(metrics.threshold),
                metrics.selected,
                f"{metrics.selected_share:.1%}",
                metrics.true_positives,
                f"{metrics.precision:.1%}",
                f"{metrics.recall:.1%}",
                f"{metrics.f1:.3f}",
                ", ".join(notes),
            ]
        )
    title = "Per threshold (a contact is selected when its total is at least the threshold)"
    if len(listed) < len(candidates):
        title += f"; {len(listed)} of {len(candidates)} shown, --all-thresholds lists all"
    console.table(
        ["threshold", "selected", "share", "converted", "precision", "recall", "F1", "note"],
        rows,
        title=title,
    )


def _selection_at(candidates: Sequence[ThresholdMetrics], points: float) -> ThresholdMetrics | None:
    """Return the candidate that selects the same contacts as ``total >= points``, if any."""
    # Candidates run from the highest threshold down; the last one at or above
    # ``points`` is the lowest observed score that the threshold still selects.
    found = None
    for metrics in candidates:
        if metrics.threshold >= points:
            found = metrics
    return found


def _print_rule_thresholds(
    console: Console, candidates: Sequence[ThresholdMetrics], rule_thresholds: Sequence[Threshold]
) -> None:
    if not rule_thresholds:
        return
    rows = []
    for threshold in rule_thresholds:
        metrics = _selection_at(candidates, threshold.points)
        if metrics is None:
            rows.append([threshold.name, threshold.points, 0, "0.0%", "", "", ""])
            continue
        rows.append(
            [
                threshold.name,
                threshold.points,
                metrics.selected,
                f"{metrics.selected_share:.1%}",
                f"{metrics.precision:.1%}",
                f"{metrics.recall:.1%}",
                f"{metrics.f1:.3f}",
            ]
        )
    console.table(
        ["threshold", "at", "selected", "share", "precision", "recall", "F1"],
        rows,
        title="Thresholds of the rule file",
    )


# ---------------------------------------------------------------- plot


def _import_pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # draw to a file, with no window or display needed
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise InputError(
            "--plot needs matplotlib, which is not installed; install it with "
            "pip install 'leadscore[plot]'"
        ) from None
    return pyplot


def _plot(
    pyplot: Any,
    path: Path,
    table: OutcomeTable,
    suggestion: ThresholdMetrics | None,
    title: str,
) -> None:
    """Draw the cumulative gains curve beside a histogram of scores by outcome."""
    if not path.parent.is_dir():
        raise InputError(f"--plot: the folder {str(path.parent)!r} does not exist")
    figure, (gains, distribution) = pyplot.subplots(1, 2, figsize=(11, 4.5))
    try:
        points = gains_curve(table)
        gains.plot([x for x, _ in points], [y for _, y in points], marker=".", label="scoring")
        gains.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random order")
        if suggestion is not None:
            gains.scatter(
                [suggestion.selected_share],
                [suggestion.recall],
                color="red",
                zorder=3,
                label=f"suggested threshold {_number(suggestion.threshold)}",
            )
        gains.set_xlabel("share of contacts selected, highest scores first")
        gains.set_ylabel("share of conversions captured")
        gains.set_title("Cumulative gains")
        gains.legend(loc="lower right")

        rows = sorted(table.scores())
        scores = [score for score, _, _ in rows]
        converted = [positives for _, positives, _ in rows]
        not_converted = [negatives for _, _, negatives in rows]
        if len(scores) <= DISTRIBUTION_BARS:
            # One bar per distinct total, so that no bin mixes totals on either side
            # of a threshold.
            gaps = [high - low for low, high in itertools.pairwise(scores)]
            width = 0.8 * min(gaps, default=1)
            distribution.bar(scores, not_converted, width=width, label="not converted")
            distribution.bar(
                scores, converted, width=width, bottom=not_converted, label="converted"
            )
            cut = min(gaps, default=1) / 2
        else:
            distribution.hist(
                [scores, scores],
                bins=DISTRIBUTION_BARS,
                weights=[not_converted, converted],
                stacked=True,
                label=["not converted", "converted"],
            )
            cut = 0
        if suggestion is not None:
            # The line sits just below the threshold, because totals equal to it are selected.
            distribution.axvline(suggestion.threshold - cut, color="red", linestyle="--")
        distribution.set_xlabel("total")
        distribution.set_ylabel("contacts")
        distribution.set_title("Score distribution")
        distribution.legend()
        figure.suptitle(title)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        pyplot.close(figure)
