"""The pipeline hands independent runs to the executor together and never pays twice for one order."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from signalkit import interrupt_the_waiting_main_thread

from flakehound.config import Settings
from flakehound.engine.pipeline import analyse
from flakehound.execution.pool import BatchExecutor
from flakehound.execution.runner import RunRequest
from flakehound.models import FailureKind, Outcome, Run, RunPurpose, TestResult

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SUITE = tuple(f"t.py::test_{name}" for name in "abcdefgh")


@dataclass
class BatchFake:
    """Runs nothing: ``fails(nodeid, tests_before)`` decides; remembers every batch it was handed."""

    fails: Callable[[str, Sequence[str]], bool]
    batches: list[list[tuple[str, ...] | None]] = field(default_factory=list)

    def run(self, request: RunRequest) -> Run:
        """Answer one request."""
        order = SUITE if request.order is None else request.order
        results = tuple(
            TestResult(nodeid=nodeid, outcome=Outcome.FAILED if self.fails(nodeid, order[:index]) else Outcome.PASSED)
            for index, nodeid in enumerate(order)
        )
        return Run(results=results, collected=order, exit_code=0)

    def run_many(self, requests: Sequence[RunRequest]) -> list[Run]:
        """Answer a batch, last request first, as parallel workers might finish."""
        self.batches.append([request.order for request in requests])
        return list(reversed([self.run(request) for request in reversed(requests)]))


def _investigate(executor: BatchFake):
    settings = Settings.model_validate({"cwd": Path("/project"), "seed": 3})
    original = executor.run(RunRequest(order=None, timeout=1.0))
    return analyse(
        settings, executor, created_at="2026-11-22T00:00:00+00:00", version="0", command=["x"], original=original
    )


def _victim_after_a(nodeid: str, before: Sequence[str]) -> bool:
    return nodeid == SUITE[6] and SUITE[0] in before


def test_shuffles_and_alone_reruns_reach_the_executor_as_batches():
    """The shuffled orders come as one batch; the alone reruns in rounds of four, each failing test in turn."""
    executor = BatchFake(lambda nodeid, before: nodeid in {SUITE[2], SUITE[4]})
    assert isinstance(executor, BatchExecutor)
    report = _investigate(executor)
    shuffles = executor.batches[0]
    assert len(shuffles) == 4
    assert shuffles[-1] == tuple(reversed(SUITE))
    rounds = executor.batches[1:4]
    assert rounds == [[(SUITE[2],), (SUITE[4],)] * 2] * 2 + [[(SUITE[2],), (SUITE[4],)]]
    replays = executor.batches[4:6]
    assert [len(batch) for batch in replays] == [2, 1]
    assert all(order == SUITE[:5] for batch in replays for order in batch)
    purposes = [record.purpose for record in report.runs]
    assert purposes[:5] == [RunPurpose.ORIGINAL] + [RunPurpose.PERMUTED] * 3 + [RunPurpose.REVERSED]
    assert [record.outcomes for record in report.runs if record.purpose is RunPurpose.ALONE][:2] == [
        {SUITE[2]: Outcome.FAILED},
        {SUITE[4]: Outcome.FAILED},
    ]


def test_a_polluter_search_reuses_the_alone_runs_already_made():
    """The search's own "victim alone" runs are the investigation's alone reruns, not new ones."""
    executor = BatchFake(_victim_after_a)
    report = _investigate(executor)
    (failure,) = report.failures
    assert failure.classification is FailureKind.ORDER_DEPENDENT
    assert failure.polluters[0].nodeids == (SUITE[0],)
    runs = Counter(order for batch in executor.batches for order in batch)
    assert runs[(SUITE[6],)] == 5
    assert failure.polluters[0].alone_runs >= 1
    bisect = [record for record in report.runs if record.purpose is RunPurpose.BISECT]
    assert all(record.tests > 1 for record in bisect)


def test_one_flaky_test_is_rerun_four_at_a_time_until_it_flips():
    """A single target fills a round alone; once it has flipped, no further round starts."""
    calls = Counter[str]()

    def flips_on_the_third_alone_run(nodeid: str, before: Sequence[str]) -> bool:
        if nodeid != SUITE[3]:
            return False
        if not before:  # alone (no shuffle of this suite and seed starts with it)
            calls[nodeid] += 1
            return calls[nodeid] != 3  # the third run alone passes
        return True

    executor = BatchFake(flips_on_the_third_alone_run)
    report = _investigate(executor)
    (failure,) = report.failures
    assert failure.classification is FailureKind.INTERMITTENT
    alone_batches = [batch for batch in executor.batches if batch and all(order == (SUITE[3],) for order in batch)]
    assert alone_batches == [[(SUITE[3],)] * 4]
    assert (failure.evidence.alone.runs, failure.evidence.alone.failures) == (4, 3)


@dataclass
class Workers(BatchFake):
    """A BatchFake with several workers: remembers which threads its runs came from."""

    jobs: int = 2
    threads: set[str] = field(default_factory=set)

    def run(self, request: RunRequest) -> Run:
        """Answer one request, noting the thread it came from."""
        self.threads.add(threading.current_thread().name)
        return super().run(request)


def _victims_of_a_and_setter_f(nodeid: str, before: Sequence[str]) -> bool:
    """test_g fails after test_a; test_b fails unless test_f ran before it (it does in the reversed order)."""
    if nodeid == SUITE[6]:
        return SUITE[0] in before
    return nodeid == SUITE[1] and SUITE[5] not in before


def _findings(report):
    return [
        (failure.nodeid, failure.classification, [p.nodeids for p in failure.polluters + failure.state_setters])
        for failure in report.failures
    ]


def test_searches_go_side_by_side_with_several_workers_and_find_the_same():
    """Two searches (a polluter's, a state-setter's) run in their own threads; the findings match one worker's."""
    alone = _investigate(BatchFake(_victims_of_a_and_setter_f))
    workers = Workers(_victims_of_a_and_setter_f)
    together = _investigate(workers)
    assert _findings(together) == _findings(alone)
    assert [kind for _, kind, _ in _findings(together)] == [FailureKind.BRITTLE, FailureKind.ORDER_DEPENDENT]
    assert any(name.startswith("flakehound-search") for name in workers.threads)
    bisect = [record for record in together.runs if record.purpose is RunPurpose.BISECT]
    assert sorted(record.id for record in together.runs) == list(range(1, len(together.runs) + 1))
    assert len(bisect) == len([record for record in alone.runs if record.purpose is RunPurpose.BISECT])


@dataclass
class Interrupting(Workers):
    """Workers whose first run in a search thread interrupts the investigation, as Ctrl-C would."""

    raised: bool = False

    def run(self, request: RunRequest) -> Run:
        """Send SIGINT once, from the first search thread's run, to the main thread as it waits for the searches."""
        if not self.raised and threading.current_thread().name.startswith("flakehound-search"):
            self.raised = True
            interrupt_the_waiting_main_thread()
        return super().run(request)


@dataclass
class Halting(Interrupting):
    """Interrupting workers that can be told to kill the runs other threads wait for, as the worker pool can."""

    halted: bool = False

    def halt(self) -> None:
        """Note that the investigation asked for the runs to stop."""
        self.halted = True


@pytest.mark.usefixtures("ctrl_c")
@pytest.mark.parametrize("kind", [Interrupting, Halting])
def test_an_interruption_during_searches_side_by_side_stops_them(kind):
    """Ctrl-C while the main thread waits for the searches: no more runs, and the report says it was interrupted.

    An executor that can halt its runs is told to, so the search threads' runs end now, not at their timeout.
    """
    executor = kind(_victims_of_a_and_setter_f)
    report = _investigate(executor)
    assert executor.raised
    assert report.status == "interrupted"
    assert report.gate.passed is False
    assert getattr(executor, "halted", None) is (True if kind is Halting else None)


@dataclass
class SearchLog(Workers):
    """Workers that remember the orders run in search threads (one search alone runs in the calling thread)."""

    searched: list[tuple[str, ...]] = field(default_factory=list)

    def run(self, request: RunRequest) -> Run:
        """Answer one request, noting its order when a search thread asked."""
        if request.order is not None and threading.current_thread().name.startswith("flakehound-search"):
            self.searched.append(request.order)
        return super().run(request)


def _victim_of_a_and_latent_victim_of_h(nodeid: str, before: Sequence[str]) -> bool:
    """test_g fails after test_a (it does in the original order); test_c after test_h (only in a shuffle)."""
    if nodeid == SUITE[6]:
        return SUITE[0] in before
    return nodeid == SUITE[2] and SUITE[7] in before


def test_the_latent_failures_searches_go_side_by_side_with_the_original_failures():
    """One polluter search for a failure, one for a latent test: both in search threads, each its own polluter."""
    workers = SearchLog(_victim_of_a_and_latent_victim_of_h)
    report = _investigate(workers)
    (failure,) = report.failures
    (latent,) = report.latent
    assert (failure.nodeid, latent.nodeid) == (SUITE[6], SUITE[2])
    assert failure.polluters[0].nodeids == (SUITE[0],)
    assert latent.polluters[0].nodeids == (SUITE[7],)
    assert {order[-1] for order in workers.searched} == {SUITE[6], SUITE[2]}
    assert _findings(_investigate(BatchFake(_victim_of_a_and_latent_victim_of_h))) == _findings(report)
