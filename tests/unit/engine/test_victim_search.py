"""``bisect --victim`` from scratch: which way the victim flips, the order it flips in, what flips it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakehound.engine.plan import permute
from flakehound.engine.victim_search import ALONE_RUNS, BISECT_SHUFFLES, bisect_orders, search_victim

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

V = "tests/test_v.py::test_victim"
A, B, C = (f"tests/test_a.py::test_{name}" for name in "abc")


def probe_over(fails: Callable[[frozenset[str], int], bool]) -> Callable[[Sequence[str]], Mapping[str, bool]]:
    """A probe that decides the victim's outcome from the tests before it and the run's number."""
    runs: list[tuple[str, ...]] = []

    def probe(order: Sequence[str]) -> Mapping[str, bool]:
        runs.append(tuple(order))
        return {V: fails(frozenset(order[: list(order).index(V)]), len(runs))}

    return probe


def test_a_victim_that_fails_alone_is_searched_for_a_state_setter_in_an_order_where_it_passes():
    """Brittle: it fails alone and in the first order; the second order passes it, and B is what it needs."""
    search = search_victim(
        V,
        [("pytest's order", [V, A, B]), ("the order of --seed 1", [C, A, V]), ("the order of --seed 2", [B, A, V])],
        probe_over(lambda before, _: B not in before),
    )
    assert (search.role, search.order, search.found) == ("state-setter", "the order of --seed 2", (B,))
    assert (search.alone.runs, search.alone.failures) == (ALONE_RUNS, ALONE_RUNS)
    assert search.orders_tried == ("pytest's order", "the order of --seed 1", "the order of --seed 2")
    assert search.result is not None
    assert search.result.is_confirmed


def test_a_victim_that_passes_alone_is_searched_for_a_polluter():
    """Order-dependent: it passes alone and fails after A; A is found in the first order."""
    search = search_victim(V, [("pytest's order", [A, B, V])], probe_over(lambda before, _: A in before))
    assert (search.role, search.order, search.found, search.alone.failures) == ("polluter", "pytest's order", (A,), 0)


def test_a_victim_that_flips_alone_is_not_searched():
    """Failing some runs alone and passing others, no order decides it: the reason says so with the counts."""
    search = search_victim(V, [("pytest's order", [A, V])], probe_over(lambda _, run: run % 2 == 0))
    assert search.role is None
    assert search.found is None
    assert search.orders_tried == ()
    assert search.reason is not None
    assert f"failed 1 of {ALONE_RUNS} runs with nothing before it" in search.reason


def test_nothing_flips_it_and_the_reason_names_every_order_tried():
    """It fails everywhere: the reason counts the alone runs and names the orders, first, second, last."""
    orders = [("pytest's order", [A, V])] + [(f"the order of --seed {n}", [B, A, V]) for n in range(1, 4)]
    search = search_victim(V, orders, probe_over(lambda _, __: True))
    assert search.found is None
    assert search.reason == (
        f"it failed in all {ALONE_RUNS} runs alone and in 4 orders (pytest's order, the order of --seed 1, …,"
        " the order of --seed 3): no test before it makes it pass there"
    )


def test_an_order_with_the_victim_first_is_counted_but_not_run_again():
    """The victim first in the order is the alone run: it is named as tried, and no extra run is spent on it."""
    runs: list[Sequence[str]] = []

    def probe(order: Sequence[str]) -> Mapping[str, bool]:
        runs.append(order)
        return {V: False}

    search = search_victim(V, [("the order of --order-file", [V, A])], probe)
    assert len(runs) == ALONE_RUNS
    assert search.reason == (
        f"it passed in all {ALONE_RUNS} runs alone and in the order of --order-file: no test before it makes it fail"
        " there"
    )


def test_the_alone_runs_and_the_first_order_go_together():
    """With a probe of several orders, the alone runs and the first order's run are one call; nothing else changes."""
    probe = probe_over(lambda before, _: A in before)
    calls: list[list[tuple[str, ...]]] = []

    def probe_many(orders: Sequence[Sequence[str]]) -> list[Mapping[str, bool]]:
        calls.append([tuple(order) for order in orders])
        return [probe(order) for order in orders]

    search = search_victim(V, [("pytest's order", [A, B, V])], probe, probe_many=probe_many)
    assert calls[0] == [(V,)] * ALONE_RUNS + [(A, B, V)]
    assert (search.role, search.order, search.found, search.alone.failures) == ("polluter", "pytest's order", (A,), 0)
    plain = search_victim(V, [("pytest's order", [A, B, V])], probe_over(lambda before, _: A in before))
    assert plain == search


def test_the_orders_bisect_tries_are_the_given_one_the_seeds_or_pytests_then_shuffles():
    """An order file's node ids (blank lines left out), a seed's shuffle alone, else pytest's order and ten shuffles."""
    collected = [A, B, C, V]
    assert bisect_orders(f"{B}\n\n{V}\n", None, collected) == [("the order of --order-file", [B, V])]
    assert bisect_orders(None, 5, collected) == [("the order of --seed 5", permute(collected, 5))]
    orders = bisect_orders(None, None, collected)
    assert orders[0] == ("pytest's order", collected)
    assert [label for label, _ in orders[1:]] == [f"the order of --seed {n}" for n in range(1, BISECT_SHUFFLES + 1)]
