"""The pipeline's decisions, driven through the Executor seam by a small fake executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flakehound.config import Settings
from flakehound.engine.history import History, RunRecord, TestEntry
from flakehound.engine.original import junit_run
from flakehound.engine.pipeline import analyse
from flakehound.errors import ConfigError
from flakehound.models import FailureKind, Outcome, Run, RunPurpose, TestResult

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flakehound.execution.runner import RunRequest

SUITE = tuple(f"t.py::test_{name}" for name in ("a", "b", "c", "d", "e"))


@dataclass
class FakeExecutor:
    """Runs nothing: ``fails(nodeid, tests_before)`` decides each outcome."""

    fails: Callable[[str, Sequence[str]], bool]
    suite: tuple[str, ...] = SUITE
    requests: list[RunRequest] = field(default_factory=list)
    missing: tuple[str, ...] = ()
    skipped_in_reruns: frozenset[str] = frozenset()

    def run(self, request: RunRequest) -> Run:
        """Answer one request from ``fails``."""
        self.requests.append(request)
        order = self.suite if request.order is None else request.order
        results = tuple(
            TestResult(
                nodeid=nodeid,
                outcome=self.outcome(nodeid, order[:index], rerun=request.order is not None),
                duration=0.5,
            )
            for index, nodeid in enumerate(order)
        )
        return Run(results=results, collected=order, missing=self.missing, exit_code=0)

    def outcome(self, nodeid: str, before: Sequence[str], *, rerun: bool) -> Outcome:
        """Skipped when asked to in reruns, else failed or passed as ``fails`` says."""
        if rerun and nodeid in self.skipped_in_reruns:
            return Outcome.SKIPPED
        return Outcome.FAILED if self.fails(nodeid, before) else Outcome.PASSED


def settings(**values: object) -> Settings:
    """Settings for a fake project with a fixed seed."""
    return Settings.model_validate({"cwd": Path("/project"), "seed": 3, **values})


def investigate(executor: FakeExecutor, **values: object):
    """Analyse with the fake executor and fixed metadata."""
    return analyse(settings(**values), executor, created_at="2026-11-22T00:00:00+00:00", version="0", command=["x"])


def test_victim_of_an_earlier_polluter_is_order_dependent():
    """A test failing only after test_a is order-dependent and its replays stop at the victim."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[3] and SUITE[0] in before)
    report = investigate(executor)
    (failure,) = report.failures
    assert failure.classification is FailureKind.ORDER_DEPENDENT
    replays = [request.order for request in executor.requests[1:] if request.order == SUITE[:4]]
    assert len(replays) == 3


def test_max_failures_caps_the_investigation_and_says_so():
    """Only --max-failures failures are investigated; the rest are named in the report."""
    executor = FakeExecutor(lambda nodeid, before: nodeid in SUITE[:3])
    report = investigate(executor, max_failures=2)
    assert [failure.nodeid for failure in report.failures] == list(SUITE[:2])
    assert report.skipped_investigations == (SUITE[2],)
    assert "1 failing test(s) were not investigated (--max-failures 2)" in report.notes


def test_latent_failure_is_replayed_in_its_shuffled_order():
    """A test passing originally but failing after test_e in a shuffled order is latent and order-dependent."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[1] and SUITE[4] in before)
    report = investigate(executor, orders=0)
    (latent,) = report.latent
    assert latent.classification is FailureKind.ORDER_DEPENDENT
    assert latent.found_in.purpose is RunPurpose.REVERSED
    assert report.gate.passed
    assert report.summary.latent == 1


def test_latent_failures_block_with_fail_on_latent():
    """--fail-on-latent turns a latent failure into a blocking reason."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[1] and SUITE[4] in before)
    report = investigate(executor, orders=0, fail_on_latent=True)
    assert not report.gate.passed
    assert "fails only in a shuffled order" in report.gate.reasons[0]


def test_missing_test_in_a_rerun_is_bad_input():
    """A node id that pytest no longer collects (stale --junit results) is a ConfigError naming it."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[0], missing=(SUITE[0],))
    with pytest.raises(ConfigError, match=r"test 't.py::test_a' no longer exists"):
        investigate(executor)


def test_original_results_from_junit_skip_the_original_run():
    """Results handed in (from JUnit XML) replace the original run: no run with order None is made."""
    executor = FakeExecutor(lambda nodeid, before: False)
    original = [
        TestResult(nodeid=SUITE[0], outcome=Outcome.FAILED),
        TestResult(nodeid=SUITE[1], outcome=Outcome.PASSED),
    ]
    report = analyse(
        settings(),
        executor,
        created_at="now",
        version="0",
        command=["x"],
        original=junit_run(original),
        original_from_junit=True,
    )
    assert all(request.order is not None for request in executor.requests)
    (failure,) = report.failures
    assert failure.classification is FailureKind.INTERMITTENT
    assert "never reproduced" in failure.notes[0]
    assert "state outside the project" in failure.notes[1]
    assert report.runs[0].purpose is RunPurpose.PERMUTED


def test_explicit_timeout_applies_to_every_run():
    """--timeout bounds every run; without it a rerun gets three times its tests' time plus 30 s."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[0])
    investigate(executor, timeout=7, orders=1)
    assert {request.timeout for request in executor.requests} == {7}
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[0])
    investigate(executor, orders=1)
    alone = [request for request in executor.requests if request.order == (SUITE[0],)]
    assert alone[0].timeout == 3 * 0.5 + 30


class Recorder:
    """A Progress that remembers what it was told."""

    def __init__(self) -> None:
        """Nothing told yet."""
        self.totals: list[int] = []
        self.steps: list[str] = []

    def plan(self, total: int) -> None:
        """Remember the planned total."""
        self.totals.append(total)

    def advance(self, description: str) -> None:
        """Remember the step."""
        self.steps.append(description)


def test_progress_is_told_every_run():
    """The progress reporter gets a plan and one step per rerun."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[2])
    recorder = Recorder()
    analyse(settings(), executor, created_at="now", version="0", command=["x"], progress=recorder)
    assert len(recorder.steps) == len(executor.requests) - 1
    assert recorder.totals[-1] >= len(recorder.steps)


def test_skipped_reruns_are_not_evidence():
    """A rerun in which the failing test was skipped counts neither as a pass nor as a failure."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[0], skipped_in_reruns=frozenset({SUITE[0]}))
    report = investigate(executor)
    (failure,) = report.failures
    assert (failure.evidence.alone.runs, failure.evidence.original_order.runs) == (0, 1)
    assert failure.classification is FailureKind.DETERMINISTIC


def test_a_one_test_suite_has_no_reversed_order():
    """With a single runnable test there is nothing to reverse: only the seeded orders run."""
    executor = FakeExecutor(lambda nodeid, before: True, suite=(SUITE[0],))
    report = investigate(executor, orders=1)
    purposes = [run.purpose for run in report.runs]
    assert RunPurpose.REVERSED not in purposes
    assert purposes.count(RunPurpose.PERMUTED) == 1


def _history_of(*failed: str) -> History:
    """Two earlier runs on main in which these tests failed as intermittent."""
    entries = {nodeid: TestEntry(label="intermittent", failed=True, failures=1, runs=3) for nodeid in failed}
    records = tuple(
        RunRecord(commit=commit * 40, created_at=f"2026-11-2{day}T00:00:00+00:00", tests=5, failed=1, entries=entries)
        for commit, day in (("b", 1), ("a", 0))
    )
    return History(source="on main", records=records)


def test_a_test_that_failed_on_main_but_passed_here_is_followed_and_watched():
    """History names test_c; it passed in the original, the reversed order and every rerun alone: watched."""
    executor = FakeExecutor(lambda nodeid, before: False)
    report = analyse(
        settings(orders=0),
        executor,
        created_at="2026-11-22T00:00:00+00:00",
        version="0",
        command=["x"],
        history=_history_of(SUITE[2], "t.py::test_gone"),
    )
    (watched,) = report.watched
    assert watched.nodeid == SUITE[2]
    assert (watched.alone.runs, watched.alone.failures) == (5, 0)
    assert (watched.shuffled.runs, watched.shuffled.failures) == (1, 0), "observed in the reversed order too"
    assert watched.experiments == (), "no lab, no experiments"
    assert (watched.history.runs, watched.history.failures) == (2, 2)
    assert watched.history.first_failed_commit == "aaaaaaa"
    assert [request.order for request in executor.requests].count((SUITE[2],)) == 5
    assert report.failures == report.latent == ()
    assert report.gate.passed, "history explains; it never turns a green run red"
    assert report.history is not None
    assert report.history.runs == 2


@pytest.mark.parametrize("fail_on_latent", [False, True], ids=["reported", "blocking"])
def test_a_watched_test_that_fails_alone_here_is_a_latent_failure(fail_on_latent):
    """test_c passed in the original and reversed orders but fails every time alone: latent, brittle, found alone.

    Its row says where it passed, where it failed and what history says; it blocks only with --fail-on-latent.
    """
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[2] and not before)
    report = analyse(
        settings(orders=0, fail_on_latent=fail_on_latent),
        executor,
        created_at="2026-11-22T00:00:00+00:00",
        version="0",
        command=["x"],
        history=_history_of(SUITE[2]),
    )
    assert report.watched == ()
    (latent,) = report.latent
    assert latent.nodeid == SUITE[2]
    assert latent.classification is FailureKind.BRITTLE
    assert latent.found_in.purpose is RunPurpose.ALONE
    assert (latent.evidence.alone.runs, latent.evidence.alone.failures) == (5, 5)
    assert latent.notes[0] == (
        "passed in the original run and 1 shuffled order; failed 5/5 alone here"
        " (followed because it failed in earlier runs)"
    )
    assert latent.state_setters, "a passing order was searched for what makes it pass"
    assert latent.reproduce == (
        "python -m pytest -p no:randomly -p no:cacheprovider t.py::test_a t.py::test_c  # passes; alone it fails"
    )
    assert latent.history is not None
    assert latent.history.failures == 2
    assert report.summary.latent == 1
    assert report.gate.passed is not fail_on_latent


def test_history_reaches_every_failure_and_leaves_a_failing_test_out_of_the_watch():
    """A test failing now is investigated as a failure, with its history; it is not watched as well."""
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[1])
    report = analyse(
        settings(),
        executor,
        created_at="2026-11-22T00:00:00+00:00",
        version="0",
        command=["x"],
        history=_history_of(SUITE[1]),
    )
    (failure,) = report.failures
    assert failure.history is not None
    assert failure.history.failures == 2
    assert report.watched == ()
