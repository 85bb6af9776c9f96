"""PURE. ``flakehound bisect --victim T`` from scratch: which way T flips, an order where it does, then what flips it.

Alone, the victim either fails every time (it may be **brittle**: a test before it may be needed to
make it pass), passes every time (it may be **order-dependent**: a test before it may make it fail),
or both (intermittent: no order decides it). A search needs an order in which the victim does the
opposite of what it does alone; the orders on offer are tried in turn, each run up to the victim,
and the first that flips it goes to :func:`~flakehound.engine.bisect.find_polluters` or
:func:`~flakehound.engine.bisect.find_state_setters` with the tests before the victim in it.

When nothing flips it, the result says what was tried (the alone runs, the orders) in ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flakehound.engine.bisect import Tally, find_polluters, find_state_setters
from flakehound.engine.plan import permute

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from flakehound.engine.bisect import Probe, ProbeMany, Role, SearchResult

__all__ = ["ALONE_RUNS", "BISECT_SHUFFLES", "VictimSearch", "bisect_orders", "search_victim"]

#: Runs of the victim alone that decide which way to search; all must end the same way.
ALONE_RUNS = 3
#: Shuffled orders ``bisect`` tries, after pytest's own, when it is given no order.
BISECT_SHUFFLES = 10


def bisect_orders(given: str | None, seed: int | None, collected: Sequence[str]) -> list[tuple[str, Sequence[str]]]:
    """The orders to find a flipping one in: ``given`` (an order file's text), ``seed``'s, else several.

    Several: pytest's own, then ``BISECT_SHUFFLES`` shuffles.
    """
    if given is not None:
        return [("the order of --order-file", [line.strip() for line in given.splitlines() if line.strip()])]
    if seed is not None:
        return [(f"the order of --seed {seed}", permute(collected, seed))]
    shuffles = [(f"the order of --seed {n}", permute(collected, n)) for n in range(1, BISECT_SHUFFLES + 1)]
    return [("pytest's order", collected), *shuffles]


@dataclass(frozen=True)
class VictimSearch:
    """How the search for one victim went: the alone runs, the orders tried, and what it found."""

    victim: str
    alone: Tally
    orders_tried: tuple[str, ...]
    role: Role | None = None
    order: str | None = None
    result: SearchResult | None = None
    reason: str | None = None

    @property
    def found(self) -> tuple[str, ...] | None:
        """The tests that flip the victim, or None when none were found."""
        return self.result.nodeids if self.result is not None else None


def _tried(labels: Sequence[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    shown = labels if len(labels) <= 3 else [labels[0], labels[1], "…", labels[-1]]  # noqa: PLR2004 - all of a few
    return f"{len(labels)} orders ({', '.join(shown)})"


def search_victim(
    victim: str,
    orders: Iterable[tuple[str, Sequence[str]]],
    probe: Probe,
    *,
    alone_runs: int = ALONE_RUNS,
    budget: int = 200,
    probe_many: ProbeMany | None = None,
) -> VictimSearch:
    """Find what flips ``victim``, searching in the first of ``orders`` (label, order) that flips it.

    The alone runs and the first order's run (which every search needs) go together, side by side
    with ``probe_many``, and so do the search's (see :mod:`~flakehound.engine.bisect`).
    """
    orders = [(label, tuple(order[: list(order).index(victim)])) for label, order in orders]
    first = [[*orders[0][1], victim]] if orders and orders[0][1] else []
    batch = [[victim]] * alone_runs + first
    outcomes = list(probe_many(batch) if probe_many is not None else [probe(order) for order in batch])
    made = {tuple(first[0]): outcomes.pop()} if first else {}
    failed_alone = sum(outcome.get(victim, True) for outcome in outcomes)
    alone = Tally(runs=alone_runs, failures=failed_alone)
    if 0 < failed_alone < alone_runs:
        reason = (
            f"it failed {failed_alone} of {alone_runs} runs with nothing before it: it flips on its own,"
            " so no order decides it; `flakehound run` measures its rate and what changes it"
        )
        return VictimSearch(victim, alone, (), reason=reason)
    role: Role = "state-setter" if failed_alone else "polluter"
    tried: list[str] = []
    for label, prefix in orders:
        tried.append(label)
        if not prefix:
            continue
        run = (*prefix, victim)
        failed = (made.pop(run) if run in made else probe(run)).get(victim, True)
        if failed != bool(failed_alone):
            find = find_polluters if role == "polluter" else find_state_setters
            result = find([victim], prefix, probe, budget=budget, probe_many=probe_many)[victim]
            return VictimSearch(victim, alone, tuple(tried), role, label, result, result.reason)
    ending = "failed" if failed_alone else "passed"
    wanted = "makes it pass" if failed_alone else "makes it fail"
    reason = f"it {ending} in all {alone_runs} runs alone and in {_tried(tried)}: no test before it {wanted} there"
    return VictimSearch(victim, alone, tuple(tried), role, reason=reason)
