"""Metrics of how well scores predict an outcome: AUC, lift by decile, precision and recall.

Every function here reads an `OutcomeTable`, which counts converted and not converted
contacts per score, so its memory grows with the number of distinct scores and not
with the number of contacts. Scores that tie are ranked in random order in effect:
AUC counts a tie as half a correct ranking, and a tie block split across two deciles
shares its conversions between them in proportion. Both are the expected values
under a random order of the tied contacts. Example::

    from leadscore.metrics import (
        OutcomeTable, area_under_curve, suggest_threshold, threshold_metrics,
    )

    table = OutcomeTable.from_pairs([(40, True), (25, False), (25, True), (0, False)])
    area_under_curve(table)                       # 0.875
    best = suggest_threshold(threshold_metrics(table))
    best.threshold, best.f1                       # 25, 0.8
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import attrs

__all__ = [
    "OutcomeTable",
    "ScoreGroup",
    "ThresholdMetrics",
    "area_under_curve",
    "gains_curve",
    "score_groups",
    "suggest_threshold",
    "threshold_metrics",
]

Score = int | float


class OutcomeTable:
    """Counts of converted and not converted contacts per score."""

    def __init__(self) -> None:
        self._counts: dict[Score, list[int]] = {}
        self.positives = 0
        self.negatives = 0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Score, bool]]) -> OutcomeTable:
        """Build a table from ``(score, converted)`` pairs."""
        table = cls()
        for score, converted in pairs:
            table.add(score, converted)
        return table

    def add(self, score: Score, converted: bool) -> None:
        """Count one contact with ``score`` that converted or not."""
        counts = self._counts.get(score)
        if counts is None:
            counts = self._counts[score] = [0, 0]
        if converted:
            counts[0] += 1
            self.positives += 1
        else:
            counts[1] += 1
            self.negatives += 1

    @property
    def total(self) -> int:
        """The number of contacts counted."""
        return self.positives + self.negatives

    @property
    def base_rate(self) -> float:
        """The share of contacts that converted. Raises ValueError for an empty table."""
        if self.total == 0:
            raise ValueError("the table has no contacts")
        return self.positives / self.total

    def scores(self) -> Iterator[tuple[Score, int, int]]:
        """Yield ``(score, converted, not_converted)`` for each distinct score, highest first."""
        for score in sorted(self._counts, reverse=True):
            positives, negatives = self._counts[score]
            yield score, positives, negatives

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return (
            f"OutcomeTable(contacts={self.total}, converted={self.positives}, "
            f"distinct_scores={len(self._counts)})"
        )


def _require_both_outcomes(table: OutcomeTable) -> None:
    if table.positives == 0 or table.negatives == 0:
        raise ValueError(
            f"the metric needs converted and not converted contacts, got {table.positives} "
            f"converted and {table.negatives} not converted"
        )


def area_under_curve(table: OutcomeTable) -> float:
    """Return the ROC AUC: the chance that a converted contact outscores one that did not.

    This is the Mann-Whitney U statistic divided by the number of pairs, with a tie
    counted as half. Raises ValueError unless both outcomes occur.
    """
    _require_both_outcomes(table)
    pairs_won = 0.0
    negatives_below = table.negatives
    for _score, positives, negatives in table.scores():
        negatives_below -= negatives
        pairs_won += positives * (negatives_below + 0.5 * negatives)
    return pairs_won / (table.positives * table.negatives)


@attrs.frozen
class ScoreGroup:
    """One of the equal-size groups of contacts ranked by score, such as a decile.

    ``rank`` 1 is the group with the highest scores. ``converted`` is a float because a
    tie block split between two groups shares its conversions in proportion.
    ``cumulative_gain`` is the share of all conversions in this group and the ones
    ranked above it.
    """

    rank: int
    contacts: int
    min_score: Score
    max_score: Score
    converted: float
    conversion_rate: float
    lift: float
    cumulative_gain: float


def score_groups(table: OutcomeTable, groups: int = 10) -> list[ScoreGroup]:
    """Split the contacts, highest score first, into ``groups`` groups of equal size.

    Group ``k`` (0-based) contains ranks ``total * k // groups`` up to the next group's
    start, so sizes differ by at most one. Empty groups, when there are fewer contacts
    than groups, are left out. Raises ValueError unless both outcomes occur.
    """
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups}")
    _require_both_outcomes(table)
    base_rate = table.base_rate
    bounds = [table.total * k // groups for k in range(groups + 1)]

    result: list[ScoreGroup] = []
    blocks = list(table.scores())
    block_index = 0
    block_start = 0  # rank of the first contact of blocks[block_index]
    cumulative = 0.0
    for k in range(groups):
        start, end = bounds[k], bounds[k + 1]
        if start == end:
            continue
        converted = 0.0
        scores_seen: list[Score] = []
        # Walk the tie blocks that overlap ranks start..end-1.
        while block_index < len(blocks):
            score, positives, negatives = blocks[block_index]
            size = positives + negatives
            block_end = block_start + size
            overlap = min(end, block_end) - max(start, block_start)
            if overlap > 0:
                converted += positives * overlap / size
                scores_seen.append(score)
            if block_end > end:
                break  # the block goes on into the next group
            block_index += 1
            block_start = block_end
        cumulative += converted
        contacts = end - start
        rate = converted / contacts
        result.append(
            ScoreGroup(
                rank=k + 1,
                contacts=contacts,
                min_score=min(scores_seen),
                max_score=max(scores_seen),
                converted=converted,
                conversion_rate=rate,
                lift=rate / base_rate,
                cumulative_gain=cumulative / table.positives,
            )
        )
    return result


@attrs.frozen
class ThresholdMetrics:
    """The result of selecting every contact with a score at or above ``threshold``.

    ``precision`` is the share of selected contacts that converted, ``recall`` the
    share of all conversions that are selected, and ``f1`` their harmonic mean.
    """

    threshold: Score
    selected: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    selected_share: float


def threshold_metrics(table: OutcomeTable) -> list[ThresholdMetrics]:
    """Return the metrics of every distinct score as a threshold, highest threshold first.

    Raises ValueError unless both outcomes occur.
    """
    _require_both_outcomes(table)
    result: list[ThresholdMetrics] = []
    selected = 0
    true_positives = 0
    for score, positives, negatives in table.scores():
        selected += positives + negatives
        true_positives += positives
        precision = true_positives / selected
        recall = true_positives / table.positives
        f1 = 0.0 if true_positives == 0 else 2 * precision * recall / (precision + recall)
        result.append(
            ThresholdMetrics(
                threshold=score,
                selected=selected,
                true_positives=true_positives,
                false_positives=selected - true_positives,
                false_negatives=table.positives - true_positives,
                precision=precision,
                recall=recall,
                f1=f1,
                selected_share=selected / table.total,
            )
        )
    return result


def suggest_threshold(
    candidates: Sequence[ThresholdMetrics],
    *,
    min_precision: float | None = None,
    capacity: int | None = None,
) -> ThresholdMetrics | None:
    """Pick a threshold from `threshold_metrics` output by one policy, or None if none qualifies.

    - default: the best F1; of equal F1 values, the higher threshold, which selects fewer.
    - ``min_precision``: the lowest threshold whose precision is at least that share.
    - ``capacity``: the lowest threshold that selects at most that many contacts.

    Precision need not rise with the threshold, so a higher threshold may fall below
    ``min_precision`` again. Passing both policies raises ValueError.
    """
    if min_precision is not None and capacity is not None:
        raise ValueError("pass min_precision or capacity, not both")
    if min_precision is not None:
        if not 0.0 <= min_precision <= 1.0:
            raise ValueError(f"min_precision must be between 0 and 1, got {min_precision}")
        qualified = [m for m in candidates if m.precision >= min_precision]
        return min(qualified, key=lambda m: m.threshold, default=None)
    if capacity is not None:
        if capacity < 0:
            raise ValueError(f"capacity must be 0 or more contacts, got {capacity}")
        qualified = [m for m in candidates if m.selected <= capacity]
        return min(qualified, key=lambda m: m.threshold, default=None)
    return max(candidates, key=lambda m: (m.f1, m.threshold), default=None)


def gains_curve(table: OutcomeTable) -> list[tuple[float, float]]:
    """Return the cumulative gains curve as ``(share selected, share of conversions)`` points.

    The curve starts at (0, 0) and has one point per distinct score, highest first.
    A straight line between two points is the expected curve under a random order of
    the tied contacts. Raises ValueError unless both outcomes occur.
    """
    return [(0.0, 0.0)] + [(m.selected_share, m.recall) for m in threshold_metrics(table)]
