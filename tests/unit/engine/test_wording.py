"""Run counts name exactly what they count: shuffled orders are orders, and replays of one are said to be there."""

from __future__ import annotations

import pytest

from flakehound.engine.wording import rerun_counts, shuffled_orders
from flakehound.models import ConfigurationCount, Evidence


@pytest.mark.parametrize(
    ("strip", "runs", "expected"),
    [
        ({}, 3, "in shuffled orders"),
        ({"seed 1": ".", "seed 2": "F", "reversed": "."}, 3, "in 3 shuffled orders"),
        ({"seed 1": "FFFF", "seed 2": ".", "alone": "....."}, 5, "in 2 shuffled orders, replays included"),
        ({"seed 7": "F", "original order": "FFF", "alone": "F"}, 1, "in 1 shuffled order"),
    ],
    ids=["no-strip", "one-run-each", "replayed", "other-labels-are-no-orders"],
)
def test_the_shuffled_count_says_how_many_orders_and_whether_replays_are_in_it(strip, runs, expected):
    """Bisection and experiments never count here; a failing order's replays do, and the label says so."""
    evidence = Evidence(permuted=ConfigurationCount(runs=runs, failures=1), strip=strip)
    assert shuffled_orders(evidence) == expected


def test_rerun_counts_leave_out_what_did_not_run():
    """Only configurations with runs, in the order alone, original order, shuffled orders."""
    evidence = Evidence(
        alone=ConfigurationCount(runs=5, failures=0),
        permuted=ConfigurationCount(runs=4, failures=3),
        strip={"alone": ".....", "seed 3": "FFF", "seed 4": "."},
    )
    assert rerun_counts(evidence, original="in the original order") == [
        ("alone", evidence.alone),
        ("in 2 shuffled orders, replays included", evidence.permuted),
    ]
