"""The evaluation metrics against values worked out by hand.

The main table has ten contacts with scores 30, 30, 30, 20, 20, 20, 10, 10, 10 and 0.
Converted: two of the 30s, one 20 and one 10, so 4 converted and 6 not.

AUC by counting pairs (converted, not converted), 24 in all, a tie counting half:
each converted 30 beats the five lower non-converted and ties one: 2 x 5.5 = 11;
the converted 20 beats three and ties two: 4; the converted 10 beats one and ties
two: 2. Total 17, so AUC = 17 / 24.
"""

from __future__ import annotations

import math

import pytest

from leadscore.metrics import (
    OutcomeTable,
    area_under_curve,
    gains_curve,
    score_groups,
    suggest_threshold,
    threshold_metrics,
)

PAIRS = [
    (30, True),
    (30, True),
    (30, False),
    (20, True),
    (20, False),
    (20, False),
    (10, False),
    (10, True),
    (10, False),
    (0, False),
]


@pytest.fixture
def table() -> OutcomeTable:
    return OutcomeTable.from_pairs(PAIRS)


def test_table_counts(table: OutcomeTable) -> None:
    assert table.total == 10
    assert table.positives == 4
    assert table.negatives == 6
    assert table.base_rate == pytest.approx(0.4)
    assert list(table.scores()) == [(30, 2, 1), (20, 1, 2), (10, 1, 2), (0, 0, 1)]


def test_auc_hand_computed(table: OutcomeTable) -> None:
    assert area_under_curve(table) == pytest.approx(17 / 24)


def test_auc_perfect_ranking() -> None:
    table = OutcomeTable.from_pairs([(3, True), (2, True), (1, False), (0, False)])
    assert area_under_curve(table) == 1.0


def test_auc_reversed_ranking() -> None:
    table = OutcomeTable.from_pairs([(3, False), (2, False), (1, True), (0, True)])
    assert area_under_curve(table) == 0.0


def test_auc_all_tied_is_half() -> None:
    table = OutcomeTable.from_pairs([(5, True), (5, False), (5, False), (5, True)])
    assert area_under_curve(table) == 0.5


def test_auc_float_scores() -> None:
    # 0.5 beats -1.5 only: one pair of the four is ordered right.
    table = OutcomeTable.from_pairs([(0.5, True), (-2.5, True), (2.0, False), (-1.5, False)])
    assert area_under_curve(table) == pytest.approx(1 / 4)


def test_auc_needs_both_outcomes() -> None:
    table = OutcomeTable.from_pairs([(1, True), (2, True)])
    with pytest.raises(ValueError, match="2 converted and 0 not converted"):
        area_under_curve(table)


def test_thresholds_hand_computed(table: OutcomeTable) -> None:
    rows = threshold_metrics(table)
    assert [row.threshold for row in rows] == [30, 20, 10, 0]
    assert [row.selected for row in rows] == [3, 6, 9, 10]
    assert [row.true_positives for row in rows] == [2, 3, 4, 4]
    assert [row.false_positives for row in rows] == [1, 3, 5, 6]
    assert [row.false_negatives for row in rows] == [2, 1, 0, 0]
    assert [row.precision for row in rows] == pytest.approx([2 / 3, 1 / 2, 4 / 9, 4 / 10])
    assert [row.recall for row in rows] == pytest.approx([1 / 2, 3 / 4, 1, 1])
    # F1 = 2PR / (P + R): 4/7, 3/5, 8/13 and 4/7.
    assert [row.f1 for row in rows] == pytest.approx([4 / 7, 3 / 5, 8 / 13, 4 / 7])
    assert [row.selected_share for row in rows] == pytest.approx([0.3, 0.6, 0.9, 1.0])


def test_suggest_best_f1(table: OutcomeTable) -> None:
    best = suggest_threshold(threshold_metrics(table))
    assert best is not None
    assert best.threshold == 10


def test_suggest_best_f1_tie_takes_higher() -> None:
    # Thresholds 2 and 1 both have F1 2/3: 2 selects one converted contact of two,
    # 1 selects both converted and two not converted.
    table = OutcomeTable.from_pairs([(2, True), (1, True), (1, False), (1, False)])
    rows = threshold_metrics(table)
    assert [row.f1 for row in rows] == pytest.approx([2 / 3, 2 / 3])
    best = suggest_threshold(rows)
    assert best is not None
    assert best.threshold == 2


def test_suggest_min_precision(table: OutcomeTable) -> None:
    chosen = suggest_threshold(threshold_metrics(table), min_precision=0.5)
    assert chosen is not None
    assert chosen.threshold == 20


def test_suggest_min_precision_unreachable(table: OutcomeTable) -> None:
    assert suggest_threshold(threshold_metrics(table), min_precision=0.9) is None


def test_suggest_min_precision_not_monotonic() -> None:
    # Precision is 1/1 at 3, 1/2 at 2 and 2/3 at 1: the lowest threshold with
    # precision >= 0.6 is 1, even though 2 falls below it.
    table = OutcomeTable.from_pairs([(3, True), (2, False), (1, True)])
    chosen = suggest_threshold(threshold_metrics(table), min_precision=0.6)
    assert chosen is not None
    assert chosen.threshold == 1


def test_suggest_capacity(table: OutcomeTable) -> None:
    chosen = suggest_threshold(threshold_metrics(table), capacity=5)
    assert chosen is not None
    assert chosen.threshold == 30


def test_suggest_capacity_exact_fit(table: OutcomeTable) -> None:
    chosen = suggest_threshold(threshold_metrics(table), capacity=6)
    assert chosen is not None
    assert chosen.threshold == 20


def test_suggest_capacity_too_small(table: OutcomeTable) -> None:
    # The top score alone is shared by three contacts.
    assert suggest_threshold(threshold_metrics(table), capacity=2) is None


def test_suggest_rejects_two_policies(table: OutcomeTable) -> None:
    with pytest.raises(ValueError, match="not both"):
        suggest_threshold(threshold_metrics(table), min_precision=0.5, capacity=3)


def test_groups_split_ties_in_proportion(table: OutcomeTable) -> None:
    # Five groups of two. Group 1 contains two of the three 30s (2 converted of 3), so
    # 2 x 2/3 conversions; group 2 the last 30 and one 20 (1 of 3): 2/3 + 1/3;
    # group 5 the last 10 (1 of 3) and the 0: 1/3.
    groups = score_groups(table, 5)
    assert [g.contacts for g in groups] == [2, 2, 2, 2, 2]
    assert [g.converted for g in groups] == pytest.approx([4 / 3, 1, 2 / 3, 2 / 3, 1 / 3])
    assert [(g.min_score, g.max_score) for g in groups] == [
        (30, 30),
        (20, 30),
        (20, 20),
        (10, 10),
        (0, 10),
    ]
    assert math.fsum(g.converted for g in groups) == pytest.approx(4)


def test_groups_lift_and_gain(table: OutcomeTable) -> None:
    groups = score_groups(table, 5)
    # Group 1: conversion (4/3) / 2 = 2/3, base rate 0.4, lift 5/3.
    assert groups[0].conversion_rate == pytest.approx(2 / 3)
    assert groups[0].lift == pytest.approx(5 / 3)
    assert [g.cumulative_gain for g in groups] == pytest.approx([1 / 3, 7 / 12, 3 / 4, 11 / 12, 1])


def test_groups_uneven_sizes() -> None:
    table = OutcomeTable.from_pairs([(i, i % 2 == 0) for i in range(7)])
    groups = score_groups(table, 3)
    # Bounds 0, 7 // 3 = 2, 14 // 3 = 4 and 7.
    assert [g.contacts for g in groups] == [2, 2, 3]


def test_groups_fewer_contacts_than_groups() -> None:
    table = OutcomeTable.from_pairs([(2, True), (1, False), (0, False)])
    groups = score_groups(table, 10)
    assert [g.rank for g in groups] == [4, 7, 10]
    assert [g.contacts for g in groups] == [1, 1, 1]


def test_groups_reject_zero() -> None:
    table = OutcomeTable.from_pairs([(1, True), (0, False)])
    with pytest.raises(ValueError, match="at least 1"):
        score_groups(table, 0)


def test_gains_curve_points(table: OutcomeTable) -> None:
    points = gains_curve(table)
    assert [x for x, _ in points] == pytest.approx([0, 0.3, 0.6, 0.9, 1.0])
    assert [y for _, y in points] == pytest.approx([0, 0.5, 0.75, 1.0, 1.0])
