"""Orchestration: ``analyse(settings, executor, ...) -> Report``. No GitHub, no printing.

1. the original run (or the results an earlier step wrote as JUnit XML);
2. shuffled whole-suite runs (seeded permutations and the reversed order), on green suites too:
   a test that passed originally but fails in one of them is *latent*;
3. each failing test alone, up to ``reruns`` times, stopping once a flip settles it;
4. the original order replayed ``replays`` times up to the last unsettled failure (one replay serves
   every failure in it), and likewise the shuffled order a latent test was found in;
5. labels, evidence, polluters (:mod:`flakehound.engine.diagnose`), and with a lab, root-cause experiments
   and ranked hints (:mod:`flakehound.engine.experiments`);
6. the report and the gate.
"""

from __future__ import annotations

import shlex
import threading
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT
from flakehound.engine.classify import (
    Observation,
    classify_failure,
    configuration_label,
    evidence_strength,
    failure_rate,
    is_settled,
    summarize_evidence,
)
from flakehound.engine.diagnose import diagnose
from flakehound.engine.experiments import explain
from flakehound.engine.gate import decide_gate
from flakehound.engine.plan import permutations, prefix_through
from flakehound.engine.shards import label_summary
from flakehound.errors import ConfigError, PytestCrashed
from flakehound.execution.pool import run_batch
from flakehound.execution.runner import RunRequest
from flakehound.models import (
    ClassifiedFailure,
    Configuration,
    CoverageSummary,
    FailureKind,
    Original,
    Outcome,
    Report,
    ReportSettings,
    Run,
    RunEnd,
    RunPurpose,
    RunRecord,
    ShardOf,
    Summary,
    TestResult,
    Tool,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.engine.diagnose import Snapshot
    from flakehound.engine.experiments import Condition, Lab
    from flakehound.execution.runner import Executor

__all__ = ["BROKEN_SHARE", "Progress", "analyse", "junit_run", "run_original", "summarize"]

_T = TypeVar("_T")

#: Over this share of failing tests the run is a broken environment or build, not a set of failures.
BROKEN_SHARE = 0.8
#: The share rule needs at least this many tests to mean anything.
BROKEN_MIN_TESTS = 10
_FIRST_ERRORS = 5
#: Alone reruns go in rounds of this many runs or more, replays of an order this many at a time: enough
#: to keep parallel workers busy, few enough that a test settled early costs little.
ALONE_ROUND = 4
REPLAY_ROUND = 2
_RERUN_SLACK = 30.0
_PYTEST_USAGE_ERROR = 4
_PYTEST_NO_TESTS = 5


class Progress(Protocol):
    """Told about the work as it goes (a progress bar, or nothing)."""

    def plan(self, total: int) -> None:
        """The number of runs now expected in all."""

    def advance(self, description: str) -> None:
        """One more run finished."""


class _Silent:
    def plan(self, total: int) -> None:
        pass

    def advance(self, description: str) -> None:
        pass


def summarize(results: Sequence[TestResult]) -> Summary:
    """Counts and the pass rate (passed, xfailed and skipped tests do not count against it)."""
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        counts[result.outcome] += 1
    failing = counts[Outcome.FAILED] + counts[Outcome.ERROR]
    ran = len(results) - counts[Outcome.SKIPPED]
    pass_rate = 100.0 if ran == 0 else 100.0 * (ran - failing) / ran
    return Summary(
        total=len(results),
        passed=counts[Outcome.PASSED],
        failed=counts[Outcome.FAILED],
        errors=counts[Outcome.ERROR],
        skipped=counts[Outcome.SKIPPED],
        xfailed=counts[Outcome.XFAILED],
        xpassed=counts[Outcome.XPASSED],
        pass_rate=pass_rate,
    )


def _usage_complaint(text: str) -> str:
    """Quote what pytest objected to: argparse's ``prog: error: ...`` or an ``ERROR:`` line, not the usage."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    argparse_errors = [line.partition(": error: ")[2] for line in lines if ": error: " in line]
    tagged = [
        line.removeprefix("ERROR:").strip()
        for line in lines
        if line.startswith("ERROR:") and not line.startswith("ERROR: usage:")
    ]
    return (argparse_errors or tagged or lines or ["(no output)"])[0]


def check_original(run: Run, settings: Settings) -> None:
    """Turn a run that produced no usable results into the error the user needs."""
    args = shlex.join(settings.pytest_args) or "(no arguments)"
    if run.exit_code == _PYTEST_USAGE_ERROR:
        reason = _usage_complaint(run.output_tail)
        msg = f"pytest rejected the arguments {args}: {reason}; fix the arguments after --"
        raise ConfigError(msg)
    if run.exit_code == _PYTEST_NO_TESTS or (
        run.ended is RunEnd.COMPLETED and not run.results and not run.collection_errors
    ):
        msg = f"pytest collected no tests in {settings.cwd} with arguments {args}; point flakehound at your tests"
        raise ConfigError(msg)
    if not run.results and not run.collection_errors:
        errors = [
            line.removeprefix("INTERNALERROR>").strip() for line in run.output_tail.splitlines() if "Error" in line
        ]
        msg = f"pytest crashed before running any test ({run.detail})" + "".join(f": {line}" for line in errors[-1:])
        raise PytestCrashed(msg, run.output_tail)


@dataclass
class _Investigation:
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
    #: Held while a run is recorded: searches side by side record theirs from their own threads.
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Called once, when the first test flips under one configuration (it is intermittent, so the
    #: clock experiment may follow): a forking executor gets its clock worker ready then.
    on_flip: Callable[[], None] | None = None

    def timeout_for(self, order: Sequence[str]) -> float:
        if self.settings.timeout is not None:
            return self.settings.timeout
        return 3 * sum(self.durations.get(nodeid, 0.0) for nodeid in order) + _RERUN_SLACK

    def record(self, run: Run, purpose: RunPurpose, seed: int | None, tests: int) -> None:
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
        if run.missing:
            missing = run.missing[0]
            msg = (
                f"test {missing!r} no longer exists: pytest does not collect it in {self.settings.cwd};"
                " regenerate the --junit results from the current code"
            )
            raise ConfigError(msg)
        with self.lock:
            self.record(run, purpose, seed, len(order))
            self.runs_of.setdefault(tuple(order), []).append(run)
            self.progress.advance(f"{purpose.value} run")

    def searches(self) -> Callable[[], Callable[[Sequence[str]], Run]]:
        """Run orders for searches: a search's ``k``-th run of an order is the ``k``-th run of it made before.

        Runs of the same order under the same conditions are samples of the same thing, so a search
        never pays again for a run the investigation already made (the victim alone, above all). Only
        runs made before the searches began are reused: searches side by side never see each other's
        runs, so what each one runs does not depend on ``--jobs``.
        """
        made_before = {key: list(runs) for key, runs in self.runs_of.items()}

        def search() -> Callable[[Sequence[str]], Run]:
            served: dict[tuple[str, ...], int] = defaultdict(int)

            def execute(order: Sequence[str]) -> Run:
                key = tuple(order)
                made = made_before.get(key, [])
                served[key] += 1
                if served[key] <= len(made):
                    return made[served[key] - 1]
                return self.execute(order, RunPurpose.BISECT)

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
                return [future.result() for future in futures] + [task() for task in tasks[len(futures) :]]

    def observe(self, run: Run, configuration: Configuration, nodeids: Sequence[str]) -> None:
        for nodeid in nodeids:
            result = run.result_of(nodeid)
            if result is not None and result.outcome is not Outcome.SKIPPED:
                self.observations[nodeid].append(Observation(configuration, result.outcome.is_failure))
                if self.on_flip is not None and self.settled(nodeid):
                    on_flip, self.on_flip = self.on_flip, None
                    on_flip()

    def focus(self, nodeids: Sequence[str]) -> None:
        """From now on, and in the runs recorded so far, keep only these tests' outcomes."""
        self.tracked = set(nodeids)
        self.records = [
            record.model_copy(update={"outcomes": {n: o for n, o in record.outcomes.items() if n in self.tracked}})
            for record in self.records
        ]

    def settled(self, nodeid: str) -> bool:
        return is_settled(self.observations[nodeid])


def junit_run(results: Sequence[TestResult]) -> Run:
    """The original run as an earlier step reported it in JUnit XML (no process, no exit code)."""
    return Run(results=tuple(results), duration=sum(result.duration for result in results))


def run_original(
    settings: Settings, executor: Executor, *, argv_prefix: Sequence[str] = (), drop_env: Iterable[str] = ()
) -> Run:
    """Run the whole suite once, as the project runs it (under coverage when given its argv prefix).

    Fails loudly when pytest could not run at all.
    """
    timeout = settings.timeout or DEFAULT_ORIGINAL_TIMEOUT
    request = RunRequest(order=None, timeout=timeout, argv_prefix=tuple(argv_prefix), drop_env=frozenset(drop_env))
    run = executor.run(request)
    check_original(run, settings)
    return run


def _reproduce(settings: Settings, nodeid: str, found_in: Configuration) -> str:
    pytest = [settings.python, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
    if found_in.purpose is RunPurpose.PERMUTED:
        return shlex.join(["flakehound", "run", "--seed", str(settings.seed), "--", *settings.pytest_args])
    if found_in.purpose is RunPurpose.REVERSED:
        return shlex.join(["flakehound", "run", "--", *settings.pytest_args])
    return shlex.join([*pytest, nodeid])


def _classified(
    nodeid: str,
    result: TestResult,
    observations: list[Observation],
    found_in: Configuration,
    settings: Settings,
    permuted_orders: int,
) -> ClassifiedFailure:
    kind = classify_failure(observations) or FailureKind.INTERMITTENT
    notes = []
    reruns = [o for o in observations if o.configuration.purpose is not RunPurpose.ORIGINAL]
    if found_in.purpose is RunPurpose.ORIGINAL and reruns and not any(o.failed for o in reruns):
        notes.append(
            "the failure never reproduced in any rerun: it flipped under the same order, so it is intermittent"
        )
    replays = [o.failed for o in observations if o.configuration.purpose is RunPurpose.ORIGINAL_ORDER]
    if found_in.purpose is RunPurpose.ORIGINAL and replays and not any(replays):
        notes.append(
            "every identical replay of the original order passed: state outside the project"
            " (a server, a database, files elsewhere) may carry over between runs"
        )
    is_intermittent = kind is FailureKind.INTERMITTENT
    return ClassifiedFailure(
        nodeid=nodeid,
        classification=kind,
        original=Original(
            outcome=result.outcome,
            phase=result.phase,
            exception=result.exception,
            message=result.message,
            path=result.path,
            line=result.line,
            traceback=result.traceback,
            output=result.output,
        ),
        evidence=summarize_evidence(observations),
        failure_rate=failure_rate(observations) if is_intermittent else None,
        strength=evidence_strength(
            observations,
            permuted_orders,
            can_go_unseen=is_intermittent or found_in.purpose is not RunPurpose.ORIGINAL,
        ),
        found_in=found_in,
        notes=tuple(notes),
        reproduce=_reproduce(settings, nodeid, found_in),
    )


def _report_settings(settings: Settings, has_failures: bool, disabled_plugins: Sequence[str]) -> ReportSettings:
    return ReportSettings(
        seed=settings.seed,
        reruns=settings.reruns,
        replays=settings.replays,
        orders=settings.permuted_orders(has_failures),
        max_failures=settings.max_failures,
        min_pass_rate=settings.min_pass_rate,
        fail_on_latent=settings.fail_on_latent,
        timeout=settings.timeout or DEFAULT_ORIGINAL_TIMEOUT,
        pytest_args=settings.pytest_args,
        junit=settings.junit,
        cwd=str(settings.cwd),
        disabled_plugins=tuple(disabled_plugins),
        min_coverage=settings.min_coverage if settings.measure_coverage else None,
        min_diff_coverage=settings.min_diff_coverage if settings.measure_coverage else None,
        coverage=("files" if settings.coverage_files else "measured") if settings.measure_coverage else "off",
        base=settings.base,
    )


_Shuffle = tuple[Configuration, tuple[str, ...]]


def _shuffles(results: Sequence[TestResult], seed: int, count: int) -> list[_Shuffle]:
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
class _Latent:
    """Where a test that passed originally first failed: the shuffled order and its result there."""

    configuration: Configuration
    order: tuple[str, ...]
    result: TestResult


def _watched(shuffles: Sequence[_Shuffle], watch: Sequence[str]) -> list[_Shuffle]:
    """Each shuffled order cut after the last watched test in it (what a shard's failures need)."""
    cut = []
    for configuration, order in shuffles:
        present = [nodeid for nodeid in watch if nodeid in order]
        if present:
            cut.append((configuration, prefix_through(order, max(present, key=order.index))))
    return cut


def _run_shuffles(
    investigation: _Investigation, shuffles: Sequence[_Shuffle], results: Sequence[TestResult]
) -> tuple[list[tuple[Configuration, Run]], dict[str, _Latent]]:
    """Run every shuffled order; a test that passed originally and fails in one is latent."""
    passed = {result.nodeid for result in results if result.outcome is Outcome.PASSED}
    runs = []
    latent: dict[str, _Latent] = {}
    planned = [(order, configuration.purpose, configuration.seed) for configuration, order in shuffles]
    for (configuration, order), run in zip(shuffles, investigation.execute_many(planned), strict=True):
        runs.append((configuration, run))
        for result in run.results:
            if result.nodeid in passed and result.outcome.is_failure:
                latent.setdefault(result.nodeid, _Latent(configuration, order, result))
    return runs, latent


def _diagnosed(
    investigation: _Investigation,
    orders: Mapping[str, Sequence[str]],
    groups: tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...]],
    snapshot: Snapshot | None,
) -> tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...]]:
    """Find polluters and state-setters for the original failures and the latent ones, all side by side.

    One diagnosis serves both: their victims never share a search, since an original failure failed
    in the original order and passed in another, and a latent one the other way round.
    """
    failures, latent = groups
    found = diagnose(
        (*failures, *latent),
        orders,
        investigation.searches(),
        python=investigation.settings.python,
        snapshot=snapshot,
        side_by_side=investigation.side_by_side,
    )
    return found[: len(failures)], found[len(failures) :]


def _explained(
    investigation: _Investigation,
    groups: tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...]],
    lab: Lab,
    original_seconds: float,
) -> tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...], tuple[str, ...]]:
    """Run the root-cause experiments on the failures and the latent ones; rank every failure's hints."""

    def trial(nodeid: str, conditions: Sequence[Condition]) -> list[tuple[bool, ...] | None]:
        """Independent runs, one per condition: together on every core, or one by one while the cores are busy."""
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
            outcomes.append(
                tuple(result.outcome.is_failure for result in run.results if result.nodeid == nodeid)
                if completed
                else None
            )
        return outcomes

    failures, latent = groups
    alone = [record.duration for record in investigation.records if record.purpose is RunPurpose.ALONE]
    explained, notes = explain(
        [*failures, *latent],
        trial,
        lab,
        seed=investigation.settings.seed,
        original_seconds=original_seconds,
        per_run=max(alone, default=1.0),
    )
    return explained[: len(failures)], explained[len(failures) :], notes


def _clock_warmer(executor: Executor, lab: Lab | None) -> Callable[[], None] | None:
    """How to get a forking executor's clock worker ready under the lab's libfaketime, if both are there.

    Only an intermittent failure gets the clock experiment, so the worker starts collecting at the
    first flip, while the investigation goes on.
    """
    warm_clock = getattr(executor, "warm_clock", None)
    if lab is None or lab.faketime is None or warm_clock is None:
        return None
    return partial(warm_clock, lab.faketime)


def _notes(first: Run, skipped: Sequence[str], max_failures: int) -> tuple[str, ...]:
    notes = []
    if first.ended is not RunEnd.COMPLETED:
        unrun = len(set(first.collected) - {result.nodeid for result in first.results})
        notes.append(f"the original run ended early ({first.ended.value}): {unrun} collected test(s) did not run")
    if skipped:
        notes.append(f"{len(skipped)} failing test(s) were not investigated (--max-failures {max_failures})")
    return tuple(notes)


def analyse(
    settings: Settings,
    executor: Executor,
    *,
    created_at: str,
    version: str,
    command: Sequence[str],
    disabled_plugins: Sequence[str] = (),
    original: Run | None = None,
    original_from_junit: bool = False,
    coverage: CoverageSummary | None = None,
    snapshot: Snapshot | None = None,
    progress: Progress | None = None,
    lab: Lab | None = None,
    shard: ShardOf | None = None,
    commit: str | None = None,
) -> Report:
    """Run and investigate the suite; return the report with its gate verdict.

    With a ``lab``, root-cause experiments follow the diagnosis and every failure gets ranked hints.
    With a ``shard``, only its share of the failures is investigated, and only the shard that finds
    latent tests runs the shuffled orders in full (the others run each up to their last failure in it).
    """
    first = original if original is not None else run_original(settings, executor)
    results = first.results
    summary = summarize(results)
    failing = [result.nodeid for result in results if result.outcome.is_failure]
    report_settings = _report_settings(settings, bool(failing), disabled_plugins)
    base: dict[str, Any] = {
        "tool": Tool(version=version),
        "created_at": created_at,
        "command": tuple(command),
        "settings": report_settings,
        "commit": commit,
        "shard": shard,
    }
    broken = _broken_reason(first, summary)
    if broken is not None:
        failing_results = [result for result in results if result.outcome.is_failure]
        return Report(
            **base,
            status="broken",
            broken_reason=broken,
            first_errors=(*first.collection_errors, *failing_results)[:_FIRST_ERRORS],
            summary=summary,
            coverage=coverage,
            gate=decide_gate(
                summary,
                (),
                (),
                min_pass_rate=settings.min_pass_rate,
                fail_on_latent=False,
                broken_reason=broken,
                coverage=coverage,
            ),
        )

    progress = progress or _Silent()
    investigation = _Investigation(
        settings=settings,
        executor=executor,
        progress=progress,
        durations={result.nodeid: result.duration for result in results},
        tracked={result.nodeid for result in results},
        on_flip=_clock_warmer(executor, lab),
    )
    original_config = Configuration(purpose=RunPurpose.ORIGINAL)
    investigation.observe(first, original_config, failing)
    if not original_from_junit:
        investigation.record(first, RunPurpose.ORIGINAL, None, len(results))
    shuffles = _shuffles(results, settings.seed, report_settings.orders)
    planned = failing[: settings.max_failures]
    investigated = planned if shard is None else [nodeid for nodeid in planned if nodeid in shard.failures]
    finds_latent = shard is None or shard.finds_latent
    progress.plan(len(shuffles) + settings.reruns * len(investigated) + settings.replays)
    # A shard that does not look for latent tests cuts the orders short, and passes no original
    # results: with no test that passed originally, none can be latent.
    shuffled_runs, latent_found = (
        _run_shuffles(investigation, shuffles, results)
        if finds_latent
        else _run_shuffles(investigation, _watched(shuffles, investigated), ())
    )

    room = max(settings.max_failures - len(planned), 0)
    latent_ids = list(latent_found)[:room]
    skipped = (failing[settings.max_failures :] if finds_latent else []) + list(latent_found)[room:]
    investigation.focus([*investigated, *latent_ids])
    for configuration, run in shuffled_runs:
        investigation.observe(run, configuration, [*investigated, *latent_ids])
    for nodeid in latent_ids:  # the original run, where it passed, is evidence too
        investigation.observations[nodeid].insert(0, Observation(original_config, failed=False))
    latent_orders = {latent_found[nodeid].order: latent_found[nodeid].configuration for nodeid in latent_ids}
    progress.plan(
        len(shuffles)
        + settings.reruns * (len(investigated) + len(latent_ids))
        + settings.replays * (1 + len(latent_orders))
    )

    _run_alone(investigation, [*investigated, *latent_ids])
    _replay(investigation, [result.nodeid for result in results], original_config, investigated)
    for order, configuration in latent_orders.items():
        _replay(investigation, order, configuration, [n for n in latent_ids if latent_found[n].order == order])

    by_id = {result.nodeid: result for result in results}
    orders = report_settings.orders
    failures = tuple(
        _classified(nodeid, by_id[nodeid], investigation.observations[nodeid], original_config, settings, orders)
        for nodeid in investigated
    )
    latent = tuple(
        _classified(
            nodeid,
            latent_found[nodeid].result,
            investigation.observations[nodeid],
            latent_found[nodeid].configuration,
            settings,
            orders,
        )
        for nodeid in latent_ids
    )
    order_of: dict[str, Sequence[str]] = {"original order": [result.nodeid for result in results]}
    order_of.update((configuration_label(configuration), order) for configuration, order in shuffles)
    lab_notes: tuple[str, ...] = ()
    if not investigation.interrupted:
        failures, latent = _diagnosed(investigation, order_of, (failures, latent), snapshot)
    if lab is not None and not investigation.interrupted:
        failures, latent, lab_notes = _explained(investigation, (failures, latent), lab, first.duration)
    summary = label_summary(summary, failures, latent)
    stopped = None
    if investigation.interrupted:
        stopped = (
            f"the investigation was interrupted after {len(investigation.records)} run(s):"
            " the labels rest on partial evidence and the verdict is incomplete"
        )
    return Report(
        **base,
        summary=summary,
        failures=failures,
        latent=latent,
        status="interrupted" if stopped else "investigated",
        skipped_investigations=tuple(skipped),
        notes=(*_notes(first, skipped, settings.max_failures), *lab_notes),
        runs=tuple(investigation.records),
        coverage=coverage,
        gate=decide_gate(
            summary,
            failures,
            latent,
            min_pass_rate=settings.min_pass_rate,
            fail_on_latent=settings.fail_on_latent,
            coverage=coverage,
            broken_reason=stopped,
        ),
    )


def _broken_reason(run: Run, summary: Summary) -> str | None:
    if run.collection_errors:
        where = ", ".join(error.nodeid for error in run.collection_errors[:3])
        return f"broken build: {len(run.collection_errors)} error(s) during collection ({where})"
    failing = summary.failed + summary.errors
    if summary.total >= BROKEN_MIN_TESTS and failing > BROKEN_SHARE * summary.total:
        return (
            f"broken environment or build: {failing} of {summary.total} tests failed"
            f" (over {BROKEN_SHARE:.0%}); fix the first errors before investigating one by one"
        )
    return None


def _run_alone(investigation: _Investigation, targets: Sequence[str]) -> None:
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


def _replay(
    investigation: _Investigation, order: Sequence[str], configuration: Configuration, victims: Sequence[str]
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
