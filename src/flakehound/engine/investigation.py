"""The investigation's bookkeeping and the runs it makes: shuffled orders, each test alone, replays.

:class:`Investigation` holds what one analysis has learned so far: every run it made (recorded for the
report), and per followed test the outcomes observed under each configuration. It makes runs through
the executor (in parallel batches where it can) and serves the searches their runs. The functions
here plan and make the runs of each phase: the shuffled whole-suite orders (:func:`run_shuffles`),
each test alone (:func:`run_alone`), and an order replayed up to its last unsettled victim
(:func:`replay`).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from flakehound.engine.classify import Observation, is_settled
from flakehound.engine.plan import permutations, prefix_through
from flakehound.errors import ConfigError
from flakehound.execution.pool import halt_runs, run_batch
from flakehound.execution.runner import RunRequest
from flakehound.models import Configuration, Outcome, Run, RunEnd, RunPurpose, RunRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flakehound.config import Settings
    from flakehound.engine.experiments import Condition, Lab
    from flakehound.execution.runner import Executor
    from flakehound.models import TestResult

__all__ = [
    "ALONE_ROUND",
    "REPLAY_ROUND",
    "Investigation",
    "Latent",
    "Progress",
    "Shuffle",
    "Silent",
    "cut_shuffles",
    "plan_shuffles",
    "replay",
    "run_alone",
    "run_shuffles",
    "run_trial",
]

_T = TypeVar("_T")

#: Alone reruns go in rounds of this many runs or more, replays of an order this many at a time: enough
#: to keep parallel workers busy, few enough that a test settled early costs little.
ALONE_ROUND = 4
REPLAY_ROUND = 2
_RERUN_SLACK = 30.0


class Progress(Protocol):
    """Told about the work as it goes (a progress bar, or nothing)."""

    def plan(self, total: int) -> None:
        """The number of runs now expected in all."""

    def advance(self, description: str) -> None:
        """One more run finished."""


class Silent:
    """Progress told to no one (when the caller shows none)."""

    def plan(self, total: int) -> None:
        """Nothing to show."""

    def advance(self, description: str) -> None:
        """Nothing to show."""


@dataclass
class Investigation:
    """Mutable bookkeeping for one analysis; the report is built from it at the end."""

    settings: Settings
    executor: Executor
    progress: Progress
    durations: dict[str, float]
    tracked: set[str] = field(default_factory=set)
    interrupted: bool = False
    observations: dict[str, list[Observation]] = field(default_factory=lambda: defaultdict(list))
    records: list[RunRecord] = field(default_factory=list)
    runs_of: dict[tuple[str, ...], list[Run]] = field(default_factory=dict)
    #: Per test, its first failing result in a root-cause experiment's run (a watched test that failed there).
    experiment_failures: dict[str, TestResult] = field(default_factory=dict)
    #: Held while a run is recorded: searches side by side record theirs from their own threads.
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Called once, when the first test flips under one configuration (it is intermittent, so the
    #: clock experiment may follow): a forking executor gets its clock worker ready then.
    on_flip: Callable[[], None] | None = None

    def timeout_for(self, order: Sequence[str]) -> float:
        """The given timeout, or three times what the order's tests took originally plus some slack."""
        if self.settings.timeout is not None:
            return self.settings.timeout
        return 3 * sum(self.durations.get(nodeid, 0.0) for nodeid in order) + _RERUN_SLACK

    def record(self, run: Run, purpose: RunPurpose, seed: int | None, tests: int) -> None:
        """Add the run to the report's list of runs, with the followed tests' outcomes."""
        outcomes = {result.nodeid: result.outcome for result in run.results if result.nodeid in self.tracked}
        with self.lock:
            self.records.append(
                RunRecord(
                    id=len(self.records) + 1,
                    purpose=purpose,
                    seed=seed,
                    tests=tests,
                    outcomes=outcomes,
                    duration=round(run.duration, 3),
                    ended=run.ended,
                    restored=run.restored,
                )
            )

    def execute(self, order: Sequence[str], purpose: RunPurpose, seed: int | None = None) -> Run:
        """One run of ``order``, recorded (or empty results, once interrupted)."""
        return self.execute_many([(order, purpose, seed)])[0]

    def execute_many(self, planned: Sequence[tuple[Sequence[str], RunPurpose, int | None]]) -> list[Run]:
        """Independent runs, in parallel when the executor can; recorded in the order planned.

        Once interrupted (SIGTERM, SIGINT), no more runs: empty results instead.
        """
        if not self.interrupted:
            requests = [RunRequest(order=tuple(order), timeout=self.timeout_for(order)) for order, _, _ in planned]
            try:
                runs = run_batch(self.executor, requests)
            except KeyboardInterrupt:
                self.interrupted = True
            else:
                for (order, purpose, seed), run in zip(planned, runs, strict=True):
                    self.accept(run, order, purpose, seed)
                return runs
        return [Run(results=()) for _ in planned]

    def accept(self, run: Run, order: Sequence[str], purpose: RunPurpose, seed: int | None) -> None:
        """Record a finished run and keep it for the searches; a test that no longer exists is bad input."""
        if run.missing:
            missing = run.missing[0]
            msg = (
                f"test {missing!r} no longer exists: pytest does not collect it in {self.settings.cwd};"
                " regenerate the --junit results from the current code"
            )
            raise ConfigError(msg)
        with self.lock:
            self.record(run, purpose, seed, len(order))
            self.runs_of.setdefault(tuple(order), []).append(self._slim(run))
            self.progress.advance(f"{purpose.value} run")

    def _slim(self, run: Run) -> Run:
        """The run with only the followed tests' results: what the searches read of it (a whole run is MBs)."""
        return run.model_copy(update={"results": tuple(r for r in run.results if r.nodeid in self.tracked)})

    def searches(self) -> Callable[[], Callable[[Sequence[Sequence[str]]], list[Run]]]:
        """Run orders for searches: a search's ``k``-th run of an order is the ``k``-th run of it made before.

        A search asks for several orders at once where they do not wait for each other; the new runs
        among them go together (side by side where the executor can).

        Runs of the same order under the same conditions are samples of the same thing, so a search
        never pays again for a run the investigation already made (the victim alone, above all). Only
        runs made before the searches began are reused: searches side by side never see each other's
        runs, so what each one runs does not depend on ``--jobs``.
        """
        made_before = {key: list(runs) for key, runs in self.runs_of.items()}

        def search() -> Callable[[Sequence[Sequence[str]]], list[Run]]:
            served: dict[tuple[str, ...], int] = defaultdict(int)

            def execute(orders: Sequence[Sequence[str]]) -> list[Run]:
                """Each order once: a run made before when one is left, else a new one, the new ones together."""
                runs: list[Run | None] = []
                for order in orders:
                    key = tuple(order)
                    made = made_before.get(key, [])
                    served[key] += 1
                    runs.append(made[served[key] - 1] if served[key] <= len(made) else None)
                missing = [
                    (order, RunPurpose.BISECT, None) for order, run in zip(orders, runs, strict=True) if run is None
                ]
                new = iter(self.execute_many(missing))
                return [run if run is not None else next(new) for run in runs]

            return execute

        return search

    def side_by_side(self, tasks: Sequence[Callable[[], _T]]) -> list[_T]:
        """Tasks that each make one run after another, together when the executor has several workers.

        An interruption (which Python delivers to the main thread, waiting here) stops every task's
        further runs; the tasks then end on their own.
        """
        jobs = int(getattr(self.executor, "jobs", 1))
        if jobs < 2 or len(tasks) < 2:  # noqa: PLR2004 - side by side needs two of each
            return [task() for task in tasks]
        futures: list[Future[_T]] = []
        with ThreadPoolExecutor(max_workers=min(jobs, len(tasks)), thread_name_prefix="flakehound-search") as threads:
            try:
                futures.extend(threads.submit(task) for task in tasks)
                return [future.result() for future in futures]
            except KeyboardInterrupt:
                self.interrupted = True
                halt_runs(self.executor)  # the tasks' runs end now, and they make no more
                return [future.result() for future in futures] + [task() for task in tasks[len(futures) :]]

    def observe(self, run: Run, configuration: Configuration, nodeids: Sequence[str]) -> None:
        """Note these tests' outcomes in the run (skips are no evidence); call ``on_flip`` at the first flip."""
        for nodeid in nodeids:
            result = run.result_of(nodeid)
            if result is not None and result.outcome is not Outcome.SKIPPED:
                self.observations[nodeid].append(Observation(configuration, result.outcome.is_failure))
                if self.on_flip is not None and self.settled(nodeid):
                    on_flip, self.on_flip = self.on_flip, None
                    on_flip()

    def focus(self, nodeids: Sequence[str]) -> None:
        """From now on, and in the runs recorded and kept so far, keep only these tests' outcomes."""
        self.tracked = set(nodeids)
        self.records = [
            record.model_copy(update={"outcomes": {n: o for n, o in record.outcomes.items() if n in self.tracked}})
            for record in self.records
        ]
        self.runs_of = {order: [self._slim(run) for run in runs] for order, runs in self.runs_of.items()}

    def settled(self, nodeid: str) -> bool:
        """Whether the test already flipped under one configuration: it is intermittent, more runs add nothing."""
        return is_settled(self.observations[nodeid])


Shuffle = tuple[Configuration, tuple[str, ...]]


def plan_shuffles(results: Sequence[TestResult], seed: int, count: int) -> list[Shuffle]:
    """The seeded permutations of the runnable tests, then the reversed original order."""
    runnable = [result.nodeid for result in results if result.outcome is not Outcome.SKIPPED]
    shuffles = [
        (Configuration(purpose=RunPurpose.PERMUTED, seed=each), order)
        for each, order in permutations(runnable, seed, count)
    ]
    if len(runnable) > 1:
        shuffles.append((Configuration(purpose=RunPurpose.REVERSED), tuple(reversed(runnable))))
    return shuffles


@dataclass(frozen=True)
class Latent:
    """Where a test that passed originally first failed: the shuffled order and its result there."""

    configuration: Configuration
    order: tuple[str, ...]
    result: TestResult


def cut_shuffles(shuffles: Sequence[Shuffle], watch: Sequence[str]) -> list[Shuffle]:
    """Each shuffled order cut after the last watched test in it (what a shard's failures need)."""
    cut = []
    for configuration, order in shuffles:
        present = [nodeid for nodeid in watch if nodeid in order]
        if present:
            cut.append((configuration, prefix_through(order, max(present, key=order.index))))
    return cut


def run_shuffles(
    investigation: Investigation, shuffles: Sequence[Shuffle], results: Sequence[TestResult]
) -> tuple[list[tuple[Configuration, Run]], dict[str, Latent]]:
    """Run every shuffled order; a test that passed originally and fails in one is latent."""
    passed = {result.nodeid for result in results if result.outcome is Outcome.PASSED}
    runs = []
    latent: dict[str, Latent] = {}
    planned = [(order, configuration.purpose, configuration.seed) for configuration, order in shuffles]
    for (configuration, order), run in zip(shuffles, investigation.execute_many(planned), strict=True):
        runs.append((configuration, run))
        for result in run.results:
            if result.nodeid in passed and result.outcome.is_failure:
                latent.setdefault(result.nodeid, Latent(configuration, order, result))
    return runs, latent


def run_alone(investigation: Investigation, targets: Sequence[str]) -> None:
    """Rounds (one batch each) of ``ALONE_ROUND`` runs or more: every unsettled target alone, as often as fits.

    A target stops once it is settled or has had ``reruns`` runs (so a round can be smaller when
    few reruns are left). The rounds depend on the targets only, never on ``--jobs``, so the runs
    made are the same on one worker or many.
    """
    alone = Configuration(purpose=RunPurpose.ALONE)
    made: Counter[str] = Counter()
    reruns = investigation.settings.reruns
    while True:
        open_targets = [n for n in targets if made[n] < reruns and not investigation.settled(n)]
        if not open_targets:
            return
        each = max(1, ALONE_ROUND // len(open_targets))
        planned = [n for turn in range(each) for n in open_targets if made[n] + turn < reruns]
        runs = investigation.execute_many([([nodeid], RunPurpose.ALONE, None) for nodeid in planned])
        for nodeid, run in zip(planned, runs, strict=True):
            made[nodeid] += 1
            investigation.observe(run, alone, [nodeid])


def replay(
    investigation: Investigation, order: Sequence[str], configuration: Configuration, victims: Sequence[str]
) -> None:
    """Up to ``replays`` runs of ``order`` through its last unsettled victim, ``REPLAY_ROUND`` at a time (one batch)."""
    if configuration.purpose is RunPurpose.ORIGINAL:
        configuration = Configuration(purpose=RunPurpose.ORIGINAL_ORDER)
    left = investigation.settings.replays
    while left > 0:
        open_victims = [nodeid for nodeid in victims if not investigation.settled(nodeid)]
        if not open_victims:
            return
        last = max(open_victims, key=list(order).index)
        prefix = prefix_through(order, last)
        count = min(REPLAY_ROUND, left)
        left -= count
        runs = investigation.execute_many([(prefix, configuration.purpose, configuration.seed)] * count)
        for run in runs:
            investigation.observe(run, configuration, open_victims)


def run_trial(
    investigation: Investigation, lab: Lab, nodeid: str, conditions: Sequence[Condition]
) -> list[tuple[bool, ...] | None]:
    """A root-cause experiment's independent runs of one test, one per condition, recorded.

    Together on every core, or one by one while the lab keeps the cores busy. Each gives the test's
    outcomes (failed or not) in the run, or None when the run did not complete or was never made.
    """
    requests = [
        RunRequest(
            order=(nodeid,) * condition.repeat,
            timeout=investigation.timeout_for((nodeid,) * condition.repeat),
            env=condition.env,
            tweaks=condition.tweaks,
            clock=condition.clock,
        )
        for condition in conditions
    ]
    if investigation.interrupted:
        return [None] * len(requests)
    busy = any(condition.busy for condition in conditions)
    try:
        with lab.busy() if busy and lab.busy is not None else nullcontext():
            executor = investigation.executor
            runs = [executor.run(request) for request in requests] if busy else run_batch(executor, requests)
    except KeyboardInterrupt:
        investigation.interrupted = True
        return [None] * len(requests)
    outcomes: list[tuple[bool, ...] | None] = []
    for request, run in zip(requests, runs, strict=True):
        investigation.record(run, RunPurpose.EXPERIMENT, None, len(request.order or ()))
        investigation.progress.advance("experiment run")
        completed = run.ended is RunEnd.COMPLETED
        mine = [result for result in run.results if result.nodeid == nodeid]
        outcomes.append(tuple(result.outcome.is_failure for result in mine) if completed else None)
        failed = [result for result in mine if result.outcome.is_failure]
        if completed and failed:
            investigation.experiment_failures.setdefault(nodeid, failed[0])
    return outcomes
