"""`analyse` on one shard of a plan, driven by a small fake executor: each shard's share, merged, is the whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flakehound.config import Settings
from flakehound.engine.original import junit_run
from flakehound.engine.pipeline import analyse
from flakehound.engine.shards import merge_reports, plan_settings, plan_shards, share_of
from flakehound.execution.runner import RunRequest
from flakehound.models import Outcome, Run, RunPurpose, TestResult

if TYPE_CHECKING:
    from flakehound.models import Report, ShardOf

SUITE = tuple(f"t{index}.py::test" for index in range(8))
#: t1 fails after t0 (order-dependent), t3 always, t5 after t7 (latent); nothing else fails.
POLLUTED = {SUITE[1]: SUITE[0], SUITE[5]: SUITE[7]}


@dataclass
class FakeExecutor:
    """Runs nothing: a test fails if it is t3, or if its polluter ran before it."""

    requests: list[RunRequest] = field(default_factory=list)

    def run(self, request: RunRequest) -> Run:
        """Answer one request."""
        self.requests.append(request)
        order = SUITE if request.order is None else request.order
        results = []
        for index, nodeid in enumerate(order):
            failed = nodeid == SUITE[3] or POLLUTED.get(nodeid) in order[:index]
            results.append(TestResult(nodeid=nodeid, outcome=Outcome.FAILED if failed else Outcome.PASSED))
        return Run(results=tuple(results), collected=order, exit_code=0)


SETTINGS = Settings(cwd=Path("/project"), seed=3, measure_coverage=False)
ORIGINAL = FakeExecutor().run(RunRequest(order=None, timeout=60))


def _analyse(executor: FakeExecutor, original: Run, shard: ShardOf | None = None) -> Report:
    return analyse(
        SETTINGS,
        executor,
        created_at="t",
        version="0",
        command=["x"],
        original=original,
        original_from_junit=True,
        shard=shard,
        commit="abc",
    )


def _essence(report: Report):
    return (
        [(f.nodeid, f.classification, [p.nodeids for p in f.polluters]) for f in report.failures],
        [(f.nodeid, f.classification, [p.nodeids for p in f.polluters]) for f in report.latent],
        report.summary,
        report.gate,
    )


def test_the_parts_of_a_plan_merge_into_the_whole_investigation():
    """Two shards, analysed apart and merged, give the labels, polluters, latent tests and gate of one analysis."""
    whole = _analyse(FakeExecutor(), junit_run(ORIGINAL.results))
    made = plan_shards(ORIGINAL.results, plan_settings(SETTINGS), count=2, created_at="t", commit="abc")
    parts = {
        str(index): _analyse(FakeExecutor(), junit_run(made.original), share_of(made, index))
        for index in range(len(made.shards))
    }
    assert len(parts) == 2
    merged = merge_reports(parts, command=["m"])
    assert _essence(merged) == _essence(whole)
    assert [f.nodeid for f in merged.latent] == [SUITE[5]]


def test_a_shard_that_does_not_look_for_latent_tests_cuts_the_shuffles_short():
    """Shard 1 runs each shuffled order only up to its own failure, and finds no latent test in it."""
    made = plan_shards(ORIGINAL.results, plan_settings(SETTINGS), count=2, created_at="t")
    executor = FakeExecutor()
    part = _analyse(executor, junit_run(made.original), share_of(made, 1))
    (mine,) = made.shards[1].failures
    shuffles = [r.order for r in executor.requests if r.order is not None and len(r.order) > 1 and mine in r.order]
    assert shuffles
    assert all(order[-1] == mine for order in shuffles)
    assert not part.latent
    assert [f.nodeid for f in part.failures] == [mine]


def test_a_shard_with_nothing_to_do_runs_nothing():
    """A shard without failures that does not look for latent tests makes no run at all."""
    share = share_of(plan_shards(ORIGINAL.results, plan_settings(SETTINGS), count=2, created_at="t"), 1)
    executor = FakeExecutor()
    part = _analyse(executor, junit_run(ORIGINAL.results), share.model_copy(update={"failures": ()}))
    assert executor.requests == []
    assert (part.failures, part.latent, part.runs) == ((), (), ())
    assert not [r for r in part.runs if r.purpose is RunPurpose.PERMUTED]
