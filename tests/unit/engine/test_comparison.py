"""Controlled comparisons: Fisher's exact test, the random allocation of the sides, and the futility rule."""

from __future__ import annotations

import random

import pytest

from flakehound.engine.comparison import (
    ALPHA,
    LOOKS,
    REPLICATE_ALPHA,
    REPLICATE_LOOKS,
    Sides,
    allocation,
    fisher_p,
)


@pytest.mark.parametrize(
    ("table", "p"),
    [
        ((5, 5, 0, 5), 0.007937),  # scipy.stats.fisher_exact([[5, 0], [0, 5]])
        ((7, 7, 0, 7), 0.000583),
        ((3, 8, 1, 8), 0.569231),
        ((8, 10, 0, 10), 0.000714),
        ((2, 4, 2, 4), 1.0),
        ((0, 0, 0, 0), 1.0),
    ],
    ids=["5-of-5", "7-of-7", "uneven-small", "8-of-10", "even", "empty"],
)
def test_fisher_exact_matches_reference_values(table, p):
    """Two-sided p-values as scipy gives them."""
    assert fisher_p(*table) == pytest.approx(p, abs=1e-6)


def test_fisher_is_symmetric_in_the_sides():
    """Swapping treatment and control changes nothing."""
    assert fisher_p(6, 9, 1, 8) == pytest.approx(fisher_p(1, 8, 6, 9))


def test_allocation_has_as_many_of_each_side_in_a_replayable_order():
    """``pairs`` treatment runs and ``pairs`` control runs, shuffled by the seeded draw."""
    first = allocation(random.Random(4), 5)
    assert sorted(first) == [False] * 5 + [True] * 5
    assert first == allocation(random.Random(4), 5)
    assert any(allocation(random.Random(seed), 5) != first for seed in range(5))


def test_the_first_significant_split_is_at_the_second_look():
    """7/7 against 0/7 is significant; 3/3 against 0/3 (the first look) cannot be."""
    assert Sides((True,) * LOOKS[1], (False,) * LOOKS[1]).significant
    assert not Sides((True,) * LOOKS[0], (False,) * LOOKS[0]).significant
    assert Sides((True,) * 7, (False,) * 7).p < ALPHA


SIGNIFICANT = Sides((True,) * 7, (False,) * 7)


def test_a_significant_split_decides_only_when_fresh_runs_replicate_it_the_same_way():
    """Not replicated yet, replicated the other way, or too weakly: not decided; 5/5 against 0/5 the same way is."""
    assert not SIGNIFICANT.decided
    assert SIGNIFICANT.replicated_by(Sides((True,) * REPLICATE_LOOKS[0], (False,) * REPLICATE_LOOKS[0])).decided
    assert not SIGNIFICANT.replicated_by(Sides((False,) * 5, (True,) * 5)).decided, "the other way round"
    assert not SIGNIFICANT.replicated_by(Sides((True,) * 4 + (False,), (False,) * 4 + (True,))).decided
    assert Sides((True,) * 4 + (False,), (False,) * 4 + (True,)).p > REPLICATE_ALPHA
    weak = Sides((True,) * 3, (False,) * 3)
    assert not weak.replicated_by(Sides((True,) * 5, (False,) * 5)).decided, "never significant to begin with"


def test_could_decide_looks_both_ways():
    """Three pairs that split alike cannot be decided by seven more; three that split apart can, either way."""
    assert not Sides((True, False, True), (False, True, True)).could_decide(7, 7)
    assert Sides((True, True, True), (False, False, False)).could_decide(7, 7)
    assert Sides((False, False, False), (True, True, True)).could_decide(7, 7)
    assert not Sides((True,), (False,)).could_decide(0, 0)


def test_could_decide_at_the_replication_threshold():
    """Five pairs can replicate at 0.05 (p = 0.008) where they could never reach 0.001."""
    assert Sides().could_decide(5, 5, REPLICATE_ALPHA)
    assert not Sides().could_decide(5, 5)


def test_counts_name_both_sides_the_p_value_and_lost_runs():
    """Both sides counted, the p-value to a sensible precision, and the runs that did not finish."""
    sides = SIGNIFICANT.add(Sides((), (False,), 2))
    assert sides.counts("with X", "with Y") == (
        "fails 7/7 with X vs 0/8 with Y (p = 0.0002); 2 run(s) did not finish and are not counted"
    )
    assert Sides((True, False), (False, True)).counts("a", "b") == "fails 1/2 a vs 1/2 b (p = 1.00)"
    assert Sides((True,) * 4, (False,) * 4).counts("a", "b") == "fails 4/4 a vs 0/4 b (p = 0.029)"
    assert Sides((True,) * 4, (False,) * 4).treatment_fails_more
    assert not Sides((False,) * 4, (True,) * 4).treatment_fails_more


def test_counts_add_the_replication_with_its_own_counts():
    """The fresh runs are counted apart, with their own p-value, lost runs, or the budget that left none."""
    replicated = SIGNIFICANT.replicated_by(Sides((True,) * 5, (False,) * 4, 1))
    assert replicated.counts("a", "b") == (
        "fails 7/7 a vs 0/7 b (p = 0.0006); replicated in fresh runs: fails 5/5 vs 0/4 (p = 0.008);"
        " 1 run(s) did not finish and are not counted"
    )
    assert replicated.runs == 14 + 9, "finished runs, the replication's included"
    failed = SIGNIFICANT.replicated_by(Sides((True, False), (True, False)))
    assert failed.counts("a", "b").endswith("; not replicated in fresh runs: fails 1/2 vs 1/2 (p = 1.00)")
    assert (
        SIGNIFICANT.replicated_by(Sides())
        .counts("a", "b")
        .endswith("; not replicated: the budget (--budget-seconds) left no time for fresh runs")
    )


def test_a_decided_comparison_is_recorded_with_both_splits_counted():
    """The report's record holds what the evidence text says: each side's failures and runs, lost runs, p-values."""
    replicated = SIGNIFICANT.add(Sides((), (), 1)).replicated_by(Sides((True,) * 5, (False,) * 5))
    record = replicated.comparison("network", "with X", "with Y")
    assert (record.factor, record.treatment, record.control) == ("network", "with X", "with Y")
    assert record.split.model_dump() == {
        "treatment_failures": 7,
        "treatment_runs": 7,
        "control_failures": 0,
        "control_runs": 7,
        "p": SIGNIFICANT.p,
        "lost": 1,
    }
    assert (record.replication.treatment_failures, record.replication.control_runs) == (5, 5)
    assert record.replication.p < REPLICATE_ALPHA


@pytest.mark.parametrize(
    "sides",
    [SIGNIFICANT, SIGNIFICANT.replicated_by(Sides((True, False), (True, False))), SIGNIFICANT.replicated_by(Sides())],
    ids=["not-replicated-yet", "not-replicated", "no-budget"],
)
def test_an_undecided_comparison_is_never_recorded_as_deciding(sides):
    """Only a split that fresh runs replicated may stand behind a hint: anything else is refused, not recorded."""
    with pytest.raises(ValueError, match="only a decided comparison"):
        sides.comparison("network", "a", "b")
