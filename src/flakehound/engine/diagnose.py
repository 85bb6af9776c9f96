"""Orchestration of the order-dependence diagnosis: who breaks (or fixes) a test, and what it leaves behind.

For every ``order-dependent`` failure, the tests that ran before it in a failing order are searched
for its polluter(s); for every ``brittle`` failure, a passing order is searched for its
state-setter(s) (:mod:`flakehound.engine.bisect`). Victims that failed in the same order share one search,
and the searches go side by side where the caller can run them so. Each finding is confirmed, then
run once more with state snapshots around it, so the report can say what the polluter leaves behind
(:mod:`flakehound.engine.statediff`). IO comes in as callables: ``search`` (a new search's way to run
orders, each once, side by side where it can), ``snapshot`` (one run that records process state before the first test
and after a named one) and ``side_by_side`` (run tasks, maybe together; the results in their order).
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from flakehound.engine.bisect import find_polluters, find_state_setters, to_polluter
from flakehound.engine.statediff import diff_states, rank_changes
from flakehound.models import ClassifiedFailure, FailureKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from flakehound.engine.bisect import Probe, ProbeMany, SearchResult
    from flakehound.models import Polluter, Run, StateChange

    #: Process state before an order's first test and after a named one, or None (the run failed).
    State = Mapping[str, Any] | None
    #: One run of an order that records process state before its first test and after the named one.
    Snapshot = Callable[[Sequence[str], str], State]
    #: What one search found, by victim: its result, and the state around the finding (if any).
    Found = dict[str, tuple[SearchResult, State]]

_T = TypeVar("_T")

__all__ = ["diagnose", "minimal_reproduce", "probes"]
#: The state changes a finding keeps, most relevant to the victim first.
KEPT_CHANGES = 8
_PREFERRED_ORDER = "original order"


def minimal_reproduce(before: Sequence[str], victim: str) -> str:
    """``python -m pytest -p no:randomly -p no:cacheprovider POLLUTER... VICTIM``: pytest keeps argument order.

    It says ``python``, the one a developer's shell finds, never the absolute interpreter of the machine that
    ran it (the report keeps that one as ``settings.python``).
    """
    return shlex.join(["python", "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *before, victim])


def _in_turn(tasks: Sequence[Callable[[], _T]]) -> list[_T]:
    return [task() for task in tasks]


def _failed_in(run: Run) -> dict[str, bool]:
    """What a probe answers for one run: whether each test in it failed."""
    return {result.nodeid: result.outcome.is_failure for result in run.results}


def probes(execute: Callable[[Sequence[Sequence[str]]], Sequence[Run]]) -> tuple[Probe, ProbeMany]:
    """A search's probe of one order and of several side by side, both through its ``execute``."""

    def probe_many(orders: Sequence[Sequence[str]]) -> list[dict[str, bool]]:
        return [_failed_in(run) for run in execute(orders)]

    return lambda order: probe_many([order])[0], probe_many


def _order_label(labels: Sequence[str]) -> str:
    """The original order when it is among ``labels`` (the one the user runs), else the first."""
    return _PREFERRED_ORDER if _PREFERRED_ORDER in labels else labels[0]


def _group(failures: Sequence[ClassifiedFailure], kind: FailureKind) -> dict[str, list[str]]:
    """Victims of ``kind`` by the order to search: a failing one for polluters, a passing one for setters."""
    groups: dict[str, list[str]] = defaultdict(list)
    for failure in failures:
        if failure.classification is not kind:
            continue
        # An order-dependent test failed throughout some order and a brittle one passed throughout one
        # (classify's rules), and every order label names one of the orders that were run.
        evidence = failure.evidence
        labels = evidence.failing_orders if kind is FailureKind.ORDER_DEPENDENT else evidence.passing_orders
        groups[_order_label(labels)].append(failure.nodeid)
    return groups


def _before(order: Sequence[str], victims: Sequence[str]) -> list[str]:
    """The tests that ran before the last victim, without the victims themselves."""
    last = max(list(order).index(victim) for victim in victims)
    chosen = set(victims)
    return [nodeid for nodeid in order[:last] if nodeid not in chosen]


def _state_changes(state: State, victim_text: str) -> tuple[StateChange, ...]:
    if state is None or state.get("after") is None:
        return ()
    changes = diff_states(state["before"], state["after"])
    return tuple(rank_changes(changes, victim_text)[:KEPT_CHANGES])


def _victim_text(failure: ClassifiedFailure) -> str:
    original = failure.original
    return "\n".join(part for part in (failure.nodeid, original.message, original.traceback) if part)


def diagnose(
    failures: Sequence[ClassifiedFailure],
    orders: Mapping[str, Sequence[str]],
    search: Callable[[], Callable[[Sequence[Sequence[str]]], Sequence[Run]]],
    *,
    snapshot: Snapshot | None = None,
    budget: int = 200,
    side_by_side: Callable[[Sequence[Callable[[], Found]]], list[Found]] = _in_turn,
) -> tuple[ClassifiedFailure, ...]:
    """The failures with their polluters or state-setters found, confirmed and explained."""
    tasks = [
        partial(
            _snapshotted,
            _search(find, victims, _before(orders[label], victims), search(), budget),
            snapshot,
        )
        for kind, find in ((FailureKind.ORDER_DEPENDENT, find_polluters), (FailureKind.BRITTLE, find_state_setters))
        for label, victims in _group(failures, kind).items()
    ]
    results: Found = {}
    for found in side_by_side(tasks):
        results.update(found)
    diagnosed = []
    for failure in failures:
        if failure.nodeid not in results:
            diagnosed.append(failure)
            continue
        diagnosed.append(_with_finding(failure, *results[failure.nodeid]))
    return tuple(diagnosed)


def _search(
    find: Callable[..., dict[str, SearchResult]],
    victims: Sequence[str],
    before: Sequence[str],
    execute: Callable[[Sequence[Sequence[str]]], Sequence[Run]],
    budget: int,
) -> Callable[[], dict[str, SearchResult]]:
    """One search, ready to start: ``find`` over ``before`` for ``victims``, probing through ``execute``."""
    probe, probe_many = probes(execute)
    return partial(find, victims, before, probe, budget=budget, probe_many=probe_many)


def _snapshotted(search: Callable[[], dict[str, SearchResult]], snapshot: Snapshot | None) -> Found:
    """A search's results, each finding with the state around one more run of it, in the search's own turn.

    So the snapshot runs go side by side too, and victims that share a finding share its snapshot.
    """
    results = search()
    states: dict[tuple[str, ...], State] = {}
    for result in results.values():
        if snapshot is not None and result.nodeids is not None and result.nodeids not in states:
            states[result.nodeids] = snapshot(result.nodeids, result.nodeids[-1])
    return {
        victim: (result, None if result.nodeids is None else states.get(result.nodeids))
        for victim, result in results.items()
    }


def _with_finding(failure: ClassifiedFailure, result: SearchResult, state: State) -> ClassifiedFailure:
    if result.nodeids is None:
        note = f"no {result.role} found: {result.reason}"
        return failure.model_copy(update={"notes": (*failure.notes, note)})
    changes = _state_changes(state, _victim_text(failure))
    finding: Polluter | None = to_polluter(result, changes)
    if result.role == "polluter":
        return failure.model_copy(
            update={
                "polluters": (finding,),
                "reproduce": minimal_reproduce(result.nodeids, failure.nodeid),
            }
        )
    return failure.model_copy(
        update={
            "state_setters": (finding,),
            "reproduce": minimal_reproduce(result.nodeids, failure.nodeid) + "  # passes; alone it fails",
        }
    )
