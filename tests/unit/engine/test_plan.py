from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.engine.plan import order_seed, permutations, permute, prefix_through

TESTS = [f"tests/test_m.py::test_{index}" for index in range(20)]
nodeids = st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=30)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@given(tests=nodeids, seed=seeds)
def test_permute_is_a_permutation(tests: list[str], seed: int) -> None:
    """A shuffled order holds exactly the tests it was given, each once."""
    assert Counter(permute(tests, seed)) == Counter(tests)


@given(tests=nodeids, seed=seeds)
def test_permute_is_repeatable_and_ignores_input_order(tests: list[str], seed: int) -> None:
    """The same seed gives the same order, however the tests were listed."""
    assert permute(tests, seed) == permute(tests, seed) == permute(list(reversed(tests)), seed)


@given(tests=nodeids.filter(bool), seed=seeds)
def test_permute_is_stable_when_a_test_is_added(tests: list[str], seed: int) -> None:
    """Adding a test elsewhere leaves the relative order of the others unchanged."""
    *others, added = tests
    assert [nodeid for nodeid in permute(tests, seed) if nodeid != added] == list(permute(others, seed))


@pytest.mark.parametrize(
    ("first", "second"), [pytest.param(0, 1, id="0-vs-1"), pytest.param(1234, 4321, id="1234-vs-4321")]
)
def test_permute_differs_across_seeds(first: int, second: int) -> None:
    """Different seeds shuffle twenty tests differently."""
    assert permute(TESTS, first) != permute(TESTS, second)


def test_permutations_are_repeatable_and_distinct() -> None:
    """An investigation seed gives the same list of (seed, order) pairs every time, each order different."""
    orders = permutations(TESTS, seed=1234, count=4)
    assert orders == permutations(TESTS, seed=1234, count=4)
    assert [seed for seed, _ in orders] == [order_seed(1234, index) for index in range(4)]
    assert [order for _, order in orders] == [permute(TESTS, seed) for seed, _ in orders]
    assert len({order for _, order in orders}) == 4
    assert orders != permutations(TESTS, seed=1235, count=4)


def test_permutations_extend_as_prefixes() -> None:
    """Asking for more orders keeps the first ones, so --orders 5 replays every order of --orders 3."""
    assert permutations(TESTS, seed=7, count=5)[:3] == permutations(TESTS, seed=7, count=3)


def test_no_permutations_when_count_is_zero() -> None:
    """--orders 0 plans no shuffled run."""
    assert permutations(TESTS, seed=7, count=0) == []


@given(seed=seeds, index=st.integers(min_value=0, max_value=1000))
def test_order_seed_fits_a_seed_option(seed: int, index: int) -> None:
    """Every derived seed is a valid --seed value (0 <= seed < 2**32), so it can be replayed."""
    assert 0 <= order_seed(seed, index) < 2**32


@pytest.mark.parametrize(
    ("order", "last", "expected"),
    [
        pytest.param(("a", "b", "c"), "a", ("a",), id="first"),
        pytest.param(("a", "b", "c"), "b", ("a", "b"), id="middle"),
        pytest.param(["a", "b", "c"], "c", ("a", "b", "c"), id="last-from-list"),
        pytest.param(("a", "b", "a", "c"), "a", ("a",), id="first-occurrence"),
    ],
)
def test_prefix_through(order: tuple[str, ...], last: str, expected: tuple[str, ...]) -> None:
    """The prefix ends with the first occurrence of the victim, included."""
    assert prefix_through(order, last) == expected


def test_prefix_through_unknown_test_raises() -> None:
    """Asking for a test that is not in the order is a programming error."""
    with pytest.raises(ValueError, match="not in list"):
        prefix_through(("a", "b"), "z")
