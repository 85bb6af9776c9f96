import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.engine.stats import (
    clean_runs_needed,
    failure_rate_upper_bound,
    unseen_polluter_chance,
    wilson_interval,
)


def _textbook_wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson (1927) as written in textbooks: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z**2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - spread) / (1 + z**2 / n), (centre + spread) / (1 + z**2 / n)


@pytest.mark.parametrize(
    ("failures", "runs", "expected"),
    [
        pytest.param(0, 10, (0.0, 0.2775), id="0-of-10"),
        pytest.param(10, 10, (0.7225, 1.0), id="10-of-10"),
        pytest.param(5, 10, (0.2366, 0.7634), id="5-of-10"),
        pytest.param(1, 20, (0.0089, 0.2361), id="1-of-20"),
    ],
)
def test_wilson_interval_matches_published_values(failures: int, runs: int, expected: tuple[float, float]) -> None:
    """The interval matches the published 95% Wilson values to four decimals."""
    assert wilson_interval(failures, runs) == pytest.approx(expected, abs=1e-4)


@given(runs=st.integers(min_value=1, max_value=10_000), data=st.data())
def test_wilson_interval_matches_textbook_formula(runs: int, data: st.DataObject) -> None:
    """For any count the interval equals the textbook formula (z=1.96), clipped to [0, 1]."""
    failures = data.draw(st.integers(min_value=0, max_value=runs))
    low, high = _textbook_wilson(failures, runs)
    assert wilson_interval(failures, runs) == pytest.approx((max(low, 0.0), min(high, 1.0)), abs=1e-4)


@given(runs=st.integers(min_value=1, max_value=10_000), data=st.data())
def test_wilson_interval_contains_the_estimate_and_is_symmetric(runs: int, data: st.DataObject) -> None:
    """The interval lies in [0, 1], contains failures/runs, and mirrors the interval of the passes."""
    failures = data.draw(st.integers(min_value=0, max_value=runs))
    low, high = wilson_interval(failures, runs)
    mirror_low, mirror_high = wilson_interval(runs - failures, runs)
    assert 0.0 <= low <= failures / runs <= high <= 1.0
    assert (low, high) == pytest.approx((1 - mirror_high, 1 - mirror_low), abs=1e-12)


def test_wilson_interval_of_no_runs_is_everything() -> None:
    """With no runs nothing is known: the interval is [0, 1]."""
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("orders", "chance"),
    [
        pytest.param(0, 1.0, id="no-orders"),
        pytest.param(1, 0.5, id="one-order"),
        pytest.param(3, 0.125, id="three-orders"),
        pytest.param(10, 1 / 1024, id="ten-orders"),
    ],
)
def test_unseen_polluter_chance_halves_with_each_order(orders: int, chance: float) -> None:
    """Each random order puts a single polluter before its victim with probability 1/2."""
    assert unseen_polluter_chance(orders) == chance


@pytest.mark.parametrize(
    ("clean_runs", "bound"),
    [
        pytest.param(0, 1.0, id="no-clean-runs"),
        pytest.param(1, 0.95, id="one-clean-run"),
        pytest.param(5, 0.4507, id="five-clean-runs"),
        pytest.param(8, 0.3123, id="eight-clean-runs"),
    ],
)
def test_failure_rate_upper_bound_known_values(clean_runs: int, bound: float) -> None:
    """The bound solves (1 - rate)^n = 0.05: nothing is bounded after no runs, 95% after one."""
    assert failure_rate_upper_bound(clean_runs) == pytest.approx(bound, abs=1e-4)


@given(st.integers(min_value=1, max_value=1_000_000))
def test_failure_rate_upper_bound_is_under_the_rule_of_three(clean_runs: int) -> None:
    """The exact bound is below the rule of three (3/n) and leaves exactly 5% chance of n clean runs."""
    bound = failure_rate_upper_bound(clean_runs)
    assert bound < 3 / clean_runs
    assert (1 - bound) ** clean_runs == pytest.approx(0.05)


def test_failure_rate_upper_bound_approaches_the_rule_of_three() -> None:
    """For many clean runs n·bound tends to 3 (more exactly -ln 0.05), the rule of three."""
    assert 1000 * failure_rate_upper_bound(1000) == pytest.approx(3, rel=0.01)


def test_clean_runs_needed_for_one_percent_is_299() -> None:
    """299 clean runs in a row bound a failure rate below 1% at 95% confidence; 298 do not."""
    assert clean_runs_needed(0.01) == 299
    assert failure_rate_upper_bound(299) <= 0.01 < failure_rate_upper_bound(298)


@given(st.floats(min_value=0.0001, max_value=0.99))
def test_clean_runs_needed_is_the_smallest_sufficient_count(rate: float) -> None:
    """clean_runs_needed(rate) clean runs bound the rate below ``rate``, one fewer does not."""
    needed = clean_runs_needed(rate)
    assert failure_rate_upper_bound(needed) <= rate * (1 + 1e-9)
    assert needed == 1 or failure_rate_upper_bound(needed - 1) > rate * (1 - 1e-9)


@given(st.integers(min_value=1, max_value=10_000))
def test_wilson_interval_is_exact_at_the_extremes(runs: int) -> None:
    """Never failing gives a lower bound of exactly 0, always failing an upper bound of exactly 1."""
    assert wilson_interval(0, runs)[0] == 0.0
    assert wilson_interval(runs, runs)[1] == 1.0
