"""The pipeline runs experiments through the Executor seam when given a lab: requests, records, hints and notes."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flakehound.config import Settings
from flakehound.engine.experiments import CLOCK_TIMES, Lab
from flakehound.engine.history import History, RunRecord, TestEntry
from flakehound.engine.pipeline import analyse
from flakehound.engine.signatures import load_catalog
from flakehound.execution.runner import FakeClock, Tweaks
from flakehound.models import FailureKind, Outcome, Run, RunEnd, RunPurpose, TestResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flakehound.execution.runner import RunRequest

SUITE = ("t.py::test_a", "t.py::test_b")


@dataclass
class Machine:
    """A fake executor and its CPU: ``fails(nodeid, request, busy)`` decides each outcome."""

    fails: Callable[[str, RunRequest, bool], bool]
    hangs: Callable[[RunRequest], bool] = lambda request: False
    requests: list[RunRequest] = field(default_factory=list)
    busy: bool = False
    loaded_runs: int = 0
    #: The libfaketime libraries the pipeline asked to get a clock worker ready under, and how many runs were made then.
    warmed: list[tuple[str, int]] = field(default_factory=list)

    def warm_clock(self, library: str) -> None:
        """Note the request (a fork pool starts its clock worker in the background here)."""
        self.warmed.append((library, len(self.requests)))

    def run(self, request: RunRequest) -> Run:
        """Answer one request; a hung run ends by timeout."""
        self.requests.append(request)
        self.loaded_runs += self.busy
        order = SUITE if request.order is None else request.order
        results = tuple(
            TestResult(
                nodeid=nodeid,
                outcome=Outcome.FAILED if self.fails(nodeid, request, self.busy) else Outcome.PASSED,
                duration=0.1,
            )
            for nodeid in order
        )
        ended = RunEnd.TIMEOUT if self.hangs(request) else RunEnd.COMPLETED
        return Run(results=results, collected=order, exit_code=0, ended=ended, duration=0.5)

    @contextmanager
    def load(self) -> Iterator[None]:
        """Keep the CPU busy for the block."""
        self.busy = True
        try:
            yield
        finally:
            self.busy = False


def investigate(
    machine: Machine, *, history: History | None = None, fail_on_latent: bool = False, **lab_fields: object
):
    """Analyse the two-test suite with a lab whose clock never moves (and earlier runs, when given)."""
    values = {
        "catalog": load_catalog(),
        "clock": lambda: 0.0,
        "started": 0.0,
        "busy": machine.load,
        "busy_processes": 6,
        "faketime": None,
        **lab_fields,
    }
    lab = Lab(**values)
    settings = Settings.model_validate(
        {"cwd": Path("/project"), "seed": 3, "reruns": 3, "replays": 1, "orders": 0, "fail_on_latent": fail_on_latent}
    )
    return analyse(
        settings,
        machine,
        created_at="2026-11-22T00:00:00+00:00",
        version="0",
        command=["x"],
        lab=lab,
        history=history,
    )


def original_only(nodeid: str, request: RunRequest) -> bool:
    """test_b failed in the original run (the one with no order)."""
    return nodeid == SUITE[1] and request.order is None


def test_network_experiment_runs_alone_with_the_plugin_option_and_is_recorded():
    """A failure that comes back with the network refused gets a network hint; the runs are experiment records."""
    machine = Machine(
        lambda nodeid, request, busy: (
            original_only(nodeid, request) or (nodeid == SUITE[1] and request.tweaks.no_network)
        )
    )
    report = investigate(machine)
    (failure,) = report.failures
    assert failure.classification is FailureKind.INTERMITTENT
    assert failure.hints[0].category == "network"
    refused = [request for request in machine.requests if request.tweaks.no_network]
    assert [request.order for request in refused] == [(SUITE[1],)] * 12, "seven runs refused decide, five replicate"
    assert refused[0].tweaks.args() == ("-p", "flakehound.execution._experiment_plugin", "--flakehound-no-network")
    assert report.failures[0].hints[0].evidence == (
        "fails 7/7 with outbound connections refused vs 0/7 with the network as is (p = 0.0006)"
        "; replicated in fresh runs: fails 5/5 vs 0/5 (p = 0.008)"
    )
    # three pairs of the concurrency experiment (undecidable after its first look), then seven of the network
    # one and the five that replicate them
    assert [record.purpose for record in report.runs].count(RunPurpose.EXPERIMENT) == 6 + 14 + 10
    assert report.notes == (
        "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)",
    )


def test_clock_runs_carry_the_moment_and_the_clock_worker_is_warmed_at_the_first_flip():
    """With libfaketime, the clock worker starts at the first flip of a failure; clock runs name the moment."""
    library = "/opt/faketime/libfaketime.so.1"
    leap_day = FakeClock(library=library, moment=CLOCK_TIMES[1])
    machine = Machine(
        lambda nodeid, request, busy: (
            original_only(nodeid, request) or (nodeid == SUITE[1] and request.clock == leap_day)
        )
    )
    report = investigate(machine, faketime=library, busy=None)
    assert report.failures[0].hints[0].category == "clock"
    ((warmed_under, made),) = machine.warmed
    assert warmed_under == library
    # The reversed order and the three runs alone passed, in configurations of their own; the replay of
    # the original order passed where the original run failed: the first flip.
    reversed_order = tuple(reversed(SUITE))
    assert [request.order for request in machine.requests[:made]] == [None, reversed_order, *[(SUITE[1],)] * 3, SUITE]
    clocks = [request.clock for request in machine.requests if request.clock is not None]
    assert clocks == [FakeClock(library=library, moment=CLOCK_TIMES[0])] * 3 + [leap_day] * 12
    assert all(request.env == {} for request in machine.requests)


def test_a_failure_that_never_flips_warms_no_clock_worker():
    """A deterministic failure gets no clock experiment, so the clock worker is not started."""
    machine = Machine(lambda nodeid, request, busy: nodeid == SUITE[1])
    report = investigate(machine, faketime="/opt/faketime/libfaketime.so.1")
    assert report.failures[0].classification is FailureKind.DETERMINISTIC
    assert machine.warmed == []


def test_cpu_load_runs_inside_the_busy_context():
    """The CPU-load experiment's runs happen while the lab's busy processes run, and only those."""
    machine = Machine(lambda nodeid, request, busy: original_only(nodeid, request) or (nodeid == SUITE[1] and busy))
    report = investigate(machine)
    assert report.failures[0].hints[0].category == "timing"
    assert machine.loaded_runs == 12, "seven busy runs decide, five replicate"


def test_repetition_runs_the_test_three_times_in_one_order():
    """The repetition experiment asks for the node id three times in one run and reads every result."""

    def fails(nodeid: str, request: RunRequest, busy: bool) -> bool:
        return original_only(nodeid, request) or (request.order == (SUITE[1],) * 3 and busy is False)

    machine = Machine(fails)
    report = investigate(machine, busy=None)
    repeated = [request for request in machine.requests if request.order == (SUITE[1],) * 3]
    assert len(repeated) == 2
    assert "experiment repetition (no-effect)" in report.failures[0].notes[-1]


def test_runs_that_end_early_do_not_count():
    """An experiment run that timed out says nothing about the factor: it is left out and named."""
    machine = Machine(
        lambda nodeid, request, busy: original_only(nodeid, request),
        hangs=lambda request: request.tweaks.no_network,
    )
    report = investigate(machine)
    assert "experiment network (inconclusive): too few runs finished to compare: 3 did not" in report.failures[0].notes


def test_without_a_lab_there_are_no_experiments_or_hints():
    """Without a lab, the pipeline makes no experiment runs and gives no hints (the core alone)."""
    machine = Machine(lambda nodeid, request, busy: original_only(nodeid, request))
    settings = Settings.model_validate({"cwd": Path("/project"), "seed": 3, "reruns": 3, "replays": 1, "orders": 0})
    report = analyse(settings, machine, created_at="2026-11-22T00:00:00+00:00", version="0", command=["x"])
    assert report.failures[0].hints == ()
    assert RunPurpose.EXPERIMENT not in [record.purpose for record in report.runs]


@dataclass
class Cancelled(Machine):
    """A machine whose first experiment run is cut short by SIGTERM (a KeyboardInterrupt here)."""

    def run(self, request: RunRequest) -> Run:
        """Raise KeyboardInterrupt on the first run with tweaks."""
        if request.tweaks != Tweaks():
            raise KeyboardInterrupt
        return super().run(request)


def test_interrupted_experiments_end_the_investigation_with_a_partial_report():
    """SIGTERM during an experiment stops the rest of them; the report is marked interrupted, labels kept."""
    machine = Cancelled(lambda nodeid, request, busy: original_only(nodeid, request))
    report = investigate(machine)
    assert report.status == "interrupted"
    assert report.failures[0].classification is FailureKind.INTERMITTENT
    tweaked = [request for request in machine.requests if request.tweaks != Tweaks()]
    assert tweaked == []  # the interrupted run is not recorded and no experiment ran after it
    assert [record.purpose for record in report.runs].count(RunPurpose.EXPERIMENT) == 0
    assert "experiment concurrency (inconclusive)" in " ".join(report.failures[0].notes)


def failed_on_main(nodeid: str) -> History:
    """One earlier run on main in which ``nodeid`` failed as intermittent."""
    entry = TestEntry(label="intermittent", failed=True, failures=1, runs=3)
    record = RunRecord(
        commit="a" * 40, created_at="2026-11-21T00:00:00+00:00", tests=2, failed=1, entries={nodeid: entry}
    )
    return History(source="on main", records=(record,))


@pytest.mark.parametrize("fail_on_latent", [False, True], ids=["reported", "blocking"])
def test_a_watched_test_made_to_fail_by_an_experiment_is_a_latent_failure_with_the_comparison(fail_on_latent):
    """test_a failed on main and passes every plain run here; fast thread switching makes it fail: latent.

    The seeds are tried first (each finds no failing seed), then the concurrency comparison decides;
    the failure blocks only with --fail-on-latent.
    """
    # a race that plain runs never show
    machine = Machine(lambda nodeid, request, busy: nodeid == SUITE[0] and request.tweaks.switch_interval is not None)
    report = investigate(machine, history=failed_on_main(SUITE[0]), fail_on_latent=fail_on_latent)
    assert report.watched == ()
    (latent,) = report.latent
    assert latent.nodeid == SUITE[0]
    assert latent.classification is FailureKind.INTERMITTENT
    assert latent.found_in.purpose is RunPurpose.EXPERIMENT
    assert latent.original.outcome is Outcome.FAILED
    assert latent.failure_rate is None, "its plain runs never failed: no rate to give from them"
    assert latent.hints[0].category == "concurrency"
    assert latent.hints[0].evidence == (
        "fails 7/7 with threads switching every microsecond vs 0/7 at the default switch interval (p = 0.0006)"
        "; replicated in fresh runs: fails 5/5 vs 0/5 (p = 0.008)"
    )
    assert latent.notes[0] == (
        "passed in the original run, 3 reruns alone and 1 shuffled order; failed in root-cause experiment runs"
        " here (followed because it failed in earlier runs)"
    )
    assert latent.notes[1].startswith("experiment random-seed (inconclusive): fails 0/4 with the random seed varied")
    assert latent.notes[2].startswith("experiment hash-seed (inconclusive): fails 0/4 with PYTHONHASHSEED varied")
    assert latent.history is not None
    assert latent.history.failures == 1
    assert latent.experiments_run == 3
    assert report.summary.latent == 1
    assert report.gate.passed is not fail_on_latent


def test_a_watched_test_that_passes_every_experiment_lists_them_with_both_sides():
    """test_a failed on main and passes every run and experiment here: watched, with each experiment's counts."""
    machine = Machine(lambda nodeid, request, busy: False)
    report = investigate(machine, history=failed_on_main(SUITE[0]))
    assert report.latent == report.failures == ()
    (watched,) = report.watched
    assert (watched.alone.runs, watched.shuffled.runs) == (3, 1)
    factors = [experiment.split(" ", 1)[0] for experiment in watched.experiments]
    assert factors == [
        "random-seed",
        "hash-seed",
        "concurrency",
        "network",
        "second-boundary",
        "cpu-load",
        "repetition",
    ]
    assert watched.experiments[2] == (
        "concurrency (no-effect): fails 0/3 with threads switching every microsecond vs 0/3 at the default switch"
        " interval (p = 1.00): not decided in 6 runs"
    )
    experiment_runs = [request for request in machine.requests if request.order == (SUITE[0],) * 3]
    assert experiment_runs, "the repetition experiment ran it three times in one process"
    assert report.gate.passed
    assert report.notes == (
        "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)",
    )


def test_the_failures_get_their_experiments_before_the_watched_tests():
    """test_b failed here (intermittent), test_a only on main: test_b's experiments come first in the budget."""
    machine = Machine(lambda nodeid, request, busy: original_only(nodeid, request))
    report = investigate(machine, history=failed_on_main(SUITE[0]))
    tried = [request.order[0] for request in machine.requests if request.order and request.tweaks.args()]
    assert tried[0] == SUITE[1]
    assert tried[-1] == SUITE[0]
    assert SUITE[1] not in tried[tried.index(SUITE[0]) :]
    assert [watched.nodeid for watched in report.watched] == [SUITE[0]]


def test_without_history_a_green_suite_gets_no_experiment():
    """No history (the default): nothing is watched and nothing extra runs on a green suite."""
    machine = Machine(lambda nodeid, request, busy: False)
    report = investigate(machine)
    assert report.watched == ()
    assert RunPurpose.EXPERIMENT not in {record.purpose for record in report.runs}
    assert [request.order for request in machine.requests] == [None, tuple(reversed(SUITE))]
