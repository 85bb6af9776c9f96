"""Polluter and state-setter diagnosis driven by a fake executor and a fake state snapshot."""

from __future__ import annotations

from flakehound.engine.diagnose import diagnose, minimal_reproduce
from flakehound.models import (
    ClassifiedFailure,
    Evidence,
    FailureKind,
    Original,
    Outcome,
    Run,
    TestResult,
)

ORDER = ("t::a", "t::b", "t::polluter", "t::c", "t::victim")


def failure(nodeid: str, kind: FailureKind, *, failing=(), passing=()) -> ClassifiedFailure:
    """A labelled failure with the orders it failed and passed in."""
    return ClassifiedFailure(
        nodeid=nodeid,
        classification=kind,
        original=Original(outcome=Outcome.FAILED, message="assert MODE == 'prod'"),
        evidence=Evidence(failing_orders=failing, passing_orders=passing),
        reproduce="old",
    )


def executor(fails, runs=None):
    """A search callable whose runs ``fails(nodeid, tests_before)`` decides; each run's order goes to ``runs``."""

    def execute(order):
        if runs is not None:
            runs.append(tuple(order))
        return Run(
            results=tuple(
                TestResult(nodeid=n, outcome=Outcome.FAILED if fails(n, order[:i]) else Outcome.PASSED)
                for i, n in enumerate(order)
            )
        )

    return lambda: lambda orders: [execute(order) for order in orders]


STATE = {
    "before": {"module-attribute": {"app.MODE": "str 'prod'", "app.OTHER": "1"}},
    "after": {"module-attribute": {"app.MODE": "str 'test'", "app.OTHER": "2"}},
}


def test_polluter_found_with_ranked_state_and_minimal_reproduce():
    """The polluter is found, its state change that the victim mentions comes first, and the replay is minimal."""
    execute = executor(lambda n, before: n == "t::victim" and "t::polluter" in before)
    (diagnosed,) = diagnose(
        [failure("t::victim", FailureKind.ORDER_DEPENDENT, failing=("seed 1", "original order"))],
        {"original order": ORDER},
        execute,
        snapshot=lambda order, after: STATE,
    )
    (polluter,) = diagnosed.polluters
    assert polluter.nodeids == ("t::polluter",)
    assert [change.name for change in polluter.state_changes] == ["app.MODE", "app.OTHER"]
    assert diagnosed.reproduce == minimal_reproduce(["t::polluter"], "t::victim")
    assert diagnosed.reproduce == "python -m pytest -p no:randomly -p no:cacheprovider t::polluter t::victim"


def test_state_setter_found_in_a_passing_order():
    """A brittle test's state-setter is searched in the order it passed in."""
    reversed_order = tuple(reversed(ORDER))
    execute = executor(lambda n, before: n == "t::a" and "t::c" not in before)
    (diagnosed,) = diagnose(
        [failure("t::a", FailureKind.BRITTLE, passing=("reversed",))],
        {"reversed": reversed_order},
        execute,
    )
    (setter,) = diagnosed.state_setters
    assert setter.nodeids == ("t::c",)
    assert setter.state_changes == ()
    assert diagnosed.reproduce.endswith("t::c t::a  # passes; alone it fails")


def test_nothing_found_is_a_note_and_snapshot_failure_means_no_state():
    """A victim that fails alone gets a note; a snapshot that could not run leaves no state changes."""
    failures = [
        failure("t::victim", FailureKind.ORDER_DEPENDENT, failing=("original order",)),
        failure("t::c", FailureKind.ORDER_DEPENDENT, failing=("original order",)),
        failure("t::b", FailureKind.DETERMINISTIC),
    ]
    execute = executor(lambda n, before: n == "t::victim" or (n == "t::c" and "t::a" in before))
    victim, second, deterministic = diagnose(
        failures, {"original order": ORDER}, execute, snapshot=lambda order, after: None
    )
    assert victim.notes == ("no polluter found: the victim failed with nothing before it: no test before it is needed",)
    assert second.polluters[0].nodeids == ("t::a",)
    assert second.polluters[0].state_changes == ()
    assert deterministic == failures[2]


def test_snapshot_without_an_after_state_gives_no_changes():
    """A snapshot whose named test never ran ('after' is null) leaves the state changes empty."""
    execute = executor(lambda n, before: n == "t::victim" and "t::polluter" in before)
    (diagnosed,) = diagnose(
        [failure("t::victim", FailureKind.ORDER_DEPENDENT, failing=("original order",))],
        {"original order": ORDER},
        execute,
        snapshot=lambda order, after: {"before": {}, "after": None},
    )
    assert diagnosed.polluters[0].state_changes == ()


def test_result_of_a_test_that_did_not_run_is_none():
    """Run.result_of answers None for a node id the run never reached."""
    assert Run(results=()).result_of("t::x") is None


def test_searches_go_to_side_by_side_and_their_findings_back_to_their_victims():
    """One task per search (a polluter search and a state-setter search here), whatever order they finish in."""
    reversed_order = tuple(reversed(ORDER))
    runs = []

    def fails(nodeid, before):
        if nodeid == "t::victim":
            return "t::polluter" in before
        return nodeid == "t::a" and "t::c" not in before

    handed = []

    def last_first(tasks):
        handed.append(len(tasks))
        return list(reversed([task() for task in reversed(tasks)]))

    victim, brittle = diagnose(
        [
            failure("t::victim", FailureKind.ORDER_DEPENDENT, failing=("original order",)),
            failure("t::a", FailureKind.BRITTLE, passing=("reversed",)),
        ],
        {"original order": ORDER, "reversed": reversed_order},
        executor(fails, runs),
        side_by_side=last_first,
    )
    assert handed == [2]
    assert victim.polluters[0].nodeids == ("t::polluter",)
    assert brittle.state_setters[0].nodeids == ("t::c",)
    assert ("t::a",) in runs  # the setter search proved the test fails alone


def test_each_search_takes_its_findings_snapshots_in_its_own_task_once_per_finding():
    """Snapshots run inside the search's task (so side by side too); two victims of one polluter share one."""
    order = ("t::brittle", "t::polluter", "t::setter", "t::victim", "t::second")
    events = []

    def fails(nodeid, before):
        if nodeid in {"t::victim", "t::second"}:
            return "t::polluter" in before
        return nodeid == "t::brittle" and "t::setter" not in before

    def traced(tasks):
        found = []
        for number, task in enumerate(tasks):
            events.append(f"task {number} starts")
            found.append(task())
            events.append(f"task {number} ends")
        return found

    def snapshot(found, after):
        events.append(f"snapshot of {' '.join(found)} after {after}")
        return STATE

    victim, second, brittle = diagnose(
        [
            failure("t::victim", FailureKind.ORDER_DEPENDENT, failing=("original order",)),
            failure("t::second", FailureKind.ORDER_DEPENDENT, failing=("original order",)),
            failure("t::brittle", FailureKind.BRITTLE, passing=("reversed",)),
        ],
        {"original order": order, "reversed": tuple(reversed(order))},
        executor(fails),
        snapshot=snapshot,
        side_by_side=traced,
    )
    assert events == [
        "task 0 starts",
        "snapshot of t::polluter after t::polluter",
        "task 0 ends",
        "task 1 starts",
        "snapshot of t::setter after t::setter",
        "task 1 ends",
    ]
    assert victim.polluters[0].nodeids == second.polluters[0].nodeids == ("t::polluter",)
    assert victim.polluters[0].state_changes == second.polluters[0].state_changes != ()
    assert brittle.state_setters[0].nodeids == ("t::setter",)
