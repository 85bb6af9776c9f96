"""Orchestration: ``analyse(settings, executor, ...) -> Report``. No GitHub, no printing.

1. the original run, or the results an earlier step wrote as JUnit XML (:mod:`flakehound.engine.original`);
   a broken one gets a report of its first errors and nothing more;
2. shuffled whole-suite runs (seeded permutations and the reversed order), on green suites too:
   a test that passed originally but fails in one of them is *latent*;
3. each failing test alone, up to ``reruns`` times, stopping once a flip settles it;
4. the original order replayed ``replays`` times up to the last unsettled failure (one replay serves
   every failure in it), and likewise the shuffled order a latent test was found in
   (the runs of 2-4 and their bookkeeping: :mod:`flakehound.engine.investigation`);
5. labels, evidence, polluters (:mod:`flakehound.engine.diagnose`), and with a lab, root-cause experiments
   and ranked hints (:mod:`flakehound.engine.experiments`);
6. the report and the gate.

With history, the tests that failed in earlier runs but passed in the original run (*watched*) go
through 2, 3 and 5 too: one that fails alone becomes a latent failure found alone before the labels,
one that fails in an experiment run becomes a latent failure found there after the experiments
(:mod:`flakehound.engine.watch`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT
from flakehound.engine.classify import Observation, classified, configuration_label
from flakehound.engine.diagnose import diagnose
from flakehound.engine.experiments import explain
from flakehound.engine.gate import decide_gate
from flakehound.engine.history import suspects, with_history
from flakehound.engine.investigation import (
    Investigation,
    Latent,
    Silent,
    cut_shuffles,
    plan_shuffles,
    replay,
    run_alone,
    run_shuffles,
    run_trial,
)
from flakehound.engine.original import broken_reason, run_original, summarize
from flakehound.engine.shards import label_summary
from flakehound.engine.watch import failed_alone, failed_in_experiment, noted_if_promoted, provisional, watched_entries
from flakehound.models import (
    ClassifiedFailure,
    Configuration,
    Report,
    ReportSettings,
    RunEnd,
    RunPurpose,
    Tool,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.engine.diagnose import Snapshot
    from flakehound.engine.experiments import Lab
    from flakehound.engine.history import History
    from flakehound.engine.investigation import Progress, Shuffle
    from flakehound.execution.runner import Executor
    from flakehound.models import CoverageSummary, Run, ShardOf, Summary, TestResult

__all__ = ["analyse", "report_settings_for"]

_FIRST_ERRORS = 5
#: The configuration of the original run, where the original failures were found.
_ORIGINAL = Configuration(purpose=RunPurpose.ORIGINAL)
#: The original failures and the latent tests, labelled.
_Groups = tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...]]
#: The original failures, the latent tests and the watched tests as the experiments left them, and the lab's notes.
_Causes = tuple[
    tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...], tuple[str, ...]
]


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
    history: History | None = None,
) -> Report:
    """Run and investigate the suite; return the report with its gate verdict.

    With a ``lab``, root-cause experiments follow the diagnosis and every failure gets ranked hints.
    With a ``shard``, only its share of the failures is investigated, and only the shard that finds
    latent tests runs the shuffled orders in full (the others run each up to their last failure in it).
    With a ``history`` of earlier runs, the tests that failed there but passed here are *watched*: followed
    in the shuffled orders, rerun alone and (with a lab, after the failures) given the root-cause
    experiments. One that fails in any of them is a latent failure; one that passes them all is listed
    with what was run. Every failure says how it fared there. Without history nothing extra runs.
    """
    first = original if original is not None else run_original(settings, executor)
    summary = summarize(first.results)
    failing = [result.nodeid for result in first.results if result.outcome.is_failure]
    report_settings = report_settings_for(settings, bool(failing), disabled_plugins)
    base: dict[str, Any] = {
        "tool": Tool(version=version),
        "created_at": created_at,
        "command": tuple(command),
        "settings": report_settings,
        "commit": commit,
        "shard": shard,
    }
    broken = broken_reason(first, summary)
    if broken is not None:
        return _broken_report(base, first, summary, broken, settings.min_pass_rate, coverage)

    investigation = _begin(settings, executor, first, failing, progress or Silent(), lab, original_from_junit)
    shuffles = plan_shuffles(first.results, settings.seed, report_settings.orders)
    records = history.records if history is not None else ()
    scope = _run_shuffled_orders(investigation, shuffles, first.results, failing, shard, suspects(records))
    _rerun_and_replay(investigation, len(shuffles), [result.nodeid for result in first.results], scope)
    scope = _promote_failed_alone(investigation, scope)
    groups = _classify(investigation, first.results, scope, report_settings.orders)
    orders = _orders_by_label(first.results, shuffles)
    watched = provisional(investigation, first.results, scope.watched, report_settings.orders)
    failures, latent, tried, lab_notes = _find_causes(
        investigation, orders, groups, snapshot, lab, first.duration, watched
    )
    promoted = tuple(test for test in tried if test.nodeid in investigation.experiment_failures)
    latent = (*latent, *(failed_in_experiment(investigation, test) for test in promoted))
    report = _investigated_report(base, investigation, first, summary, (failures, latent), scope, lab_notes, coverage)
    if history is None:
        return report
    passed = [test for test in tried if test not in promoted]
    return with_history(report.model_copy(update={"watched": watched_entries(investigation, passed, records)}), history)


def _promote_failed_alone(investigation: Investigation, scope: _Scope) -> _Scope:
    """Watched tests that failed in a rerun alone: latent failures now, found alone, no longer watched."""
    found = failed_alone(investigation, scope.watched)
    watched = tuple(nodeid for nodeid in scope.watched if nodeid not in found)
    return replace(scope, latent={**scope.latent, **found}, watched=watched, promoted=(*scope.promoted, *found))


def _broken_report(
    base: Mapping[str, Any],
    first: Run,
    summary: Summary,
    broken: str,
    min_pass_rate: float,
    coverage: CoverageSummary | None,
) -> Report:
    """The report on a run too broken to investigate: its first errors and the gate, and no reruns."""
    failing_results = [result for result in first.results if result.outcome.is_failure]
    ran = summary.pass_rate is not None
    return Report(
        **base,
        status="broken",
        broken_reason=broken,
        first_errors=(*first.collection_errors, *failing_results)[:_FIRST_ERRORS],
        summary=summary,
        coverage=coverage if ran else None,
        notes=() if ran or base["settings"].coverage == "off" else ("coverage not measured: the suite did not run",),
        gate=decide_gate(
            summary,
            (),
            (),
            min_pass_rate=min_pass_rate,
            fail_on_latent=False,
            broken_reason=broken,
            coverage=coverage if ran else None,
        ),
    )


def _begin(
    settings: Settings,
    executor: Executor,
    first: Run,
    failing: Sequence[str],
    progress: Progress,
    lab: Lab | None,
    original_from_junit: bool,
) -> Investigation:
    """The investigation's bookkeeping, with the original failures observed and the original run recorded.

    Results an earlier step wrote as JUnit XML are observed but not recorded: no run was made here.
    """
    investigation = Investigation(
        settings=settings,
        executor=executor,
        progress=progress,
        durations={result.nodeid: result.duration for result in first.results},
        tracked={result.nodeid for result in first.results},
        on_flip=_clock_warmer(executor, lab),
    )
    investigation.observe(first, _ORIGINAL, failing)
    if not original_from_junit:
        investigation.record(first, RunPurpose.ORIGINAL, None, len(first.results))
    return investigation


@dataclass(frozen=True)
class _Scope:
    """What the investigation follows once the shuffled orders have run, and what it leaves out."""

    #: The original failures investigated: within ``--max-failures``, and only a shard's share.
    investigated: tuple[str, ...]
    #: The latent tests followed (as many as ``--max-failures`` leaves room for), and where each first failed.
    latent: Mapping[str, Latent]
    #: The failures and latent tests left out for ``--max-failures``.
    skipped: tuple[str, ...]
    #: Tests that passed here but failed in earlier runs: investigated all the same, as long as they pass.
    watched: tuple[str, ...] = ()
    #: Watched tests that failed in a rerun alone: latent failures now (in ``latent``, found alone).
    promoted: tuple[str, ...] = ()


def _run_shuffled_orders(
    investigation: Investigation,
    shuffles: Sequence[Shuffle],
    results: Sequence[TestResult],
    failing: Sequence[str],
    shard: ShardOf | None,
    suspects: Sequence[str] = (),
) -> _Scope:
    """Run the shuffled orders, choose the tests to follow, and observe them in those runs.

    A shard that does not look for latent tests cuts the orders short, and passes no original
    results: with no test that passed originally, none can be latent.
    """
    settings = investigation.settings
    planned = failing[: settings.max_failures]
    investigated = planned if shard is None else [nodeid for nodeid in planned if nodeid in shard.failures]
    finds_latent = shard is None or shard.finds_latent
    investigation.progress.plan(len(shuffles) + settings.reruns * len(investigated) + settings.replays)
    shuffled_runs, latent_found = (
        run_shuffles(investigation, shuffles, results)
        if finds_latent
        else run_shuffles(investigation, cut_shuffles(shuffles, investigated), ())
    )

    room = max(settings.max_failures - len(planned), 0)
    latent_ids = list(latent_found)[:room]
    skipped = (list(failing[settings.max_failures :]) if finds_latent else []) + list(latent_found)[room:]
    passed = {result.nodeid for result in results if not result.outcome.is_failure}
    watched = [n for n in suspects if n in passed and n not in latent_found][: room - len(latent_ids)]
    investigation.focus([*investigated, *latent_ids, *watched])
    for configuration, run in shuffled_runs:
        investigation.observe(run, configuration, [*investigated, *latent_ids, *watched])
    for nodeid in [*latent_ids, *watched]:  # the original run, where it passed, is evidence too
        investigation.observations[nodeid].insert(0, Observation(_ORIGINAL, failed=False))
    latent = {nodeid: latent_found[nodeid] for nodeid in latent_ids}
    return _Scope(investigated=tuple(investigated), latent=latent, skipped=tuple(skipped), watched=tuple(watched))


def _rerun_and_replay(
    investigation: Investigation, shuffle_count: int, original_order: Sequence[str], scope: _Scope
) -> None:
    """Each followed test alone; the original order replayed for the failures, a latent test's order for it."""
    settings = investigation.settings
    latent_orders = {found.order: found.configuration for found in scope.latent.values()}
    investigation.progress.plan(
        shuffle_count
        + settings.reruns * (len(scope.investigated) + len(scope.latent) + len(scope.watched))
        + settings.replays * (1 + len(latent_orders))
    )
    run_alone(investigation, [*scope.investigated, *scope.latent, *scope.watched])
    replay(investigation, original_order, _ORIGINAL, scope.investigated)
    for order, configuration in latent_orders.items():
        replay(investigation, order, configuration, [n for n, found in scope.latent.items() if found.order == order])


def _classify(
    investigation: Investigation, results: Sequence[TestResult], scope: _Scope, permuted_orders: int
) -> _Groups:
    """The followed failures and latent tests, labelled from what their runs showed."""
    settings = investigation.settings
    observations = investigation.observations
    by_id = {result.nodeid: result for result in results}
    failures = tuple(
        classified(nodeid, by_id[nodeid], observations[nodeid], _ORIGINAL, settings, permuted_orders)
        for nodeid in scope.investigated
    )
    latent = tuple(
        classified(nodeid, found.result, observations[nodeid], found.configuration, settings, permuted_orders)
        for nodeid, found in scope.latent.items()
    )
    return failures, tuple(noted_if_promoted(failure, scope.promoted) for failure in latent)


def _orders_by_label(results: Sequence[TestResult], shuffles: Sequence[Shuffle]) -> dict[str, Sequence[str]]:
    """Every whole-suite order, by its label in the evidence: where the searches look for polluters."""
    order_of: dict[str, Sequence[str]] = {"original order": [result.nodeid for result in results]}
    order_of.update((configuration_label(configuration), order) for configuration, order in shuffles)
    return order_of


def _find_causes(
    investigation: Investigation,
    orders: Mapping[str, Sequence[str]],
    groups: _Groups,
    snapshot: Snapshot | None,
    lab: Lab | None,
    original_seconds: float,
    watched: tuple[ClassifiedFailure, ...],
) -> _Causes:
    """Polluters and state-setters, then with a lab the root-cause experiments, the watched tests' last.

    Neither once interrupted.
    """
    failures, latent = groups
    lab_notes: tuple[str, ...] = ()
    if not investigation.interrupted:
        failures, latent = _diagnosed(investigation, orders, (failures, latent), snapshot)
    if lab is not None and not investigation.interrupted:
        failures, latent, watched, lab_notes = _explained(
            investigation, (failures, latent), lab, original_seconds, watched
        )
    return failures, latent, watched, lab_notes


def _investigated_report(
    base: Mapping[str, Any],
    investigation: Investigation,
    first: Run,
    summary: Summary,
    groups: _Groups,
    scope: _Scope,
    lab_notes: Sequence[str],
    coverage: CoverageSummary | None,
) -> Report:
    """The report on an investigation: the labels counted, every run, the notes and the gate."""
    settings = investigation.settings
    failures, latent = groups
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
        skipped_investigations=scope.skipped,
        notes=(*_notes(first, scope.skipped, settings.max_failures), *lab_notes),
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


def report_settings_for(settings: Settings, has_failures: bool, disabled_plugins: Sequence[str]) -> ReportSettings:
    """Every option in force, as the report lists them."""
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
        python=settings.python,
        disabled_plugins=tuple(disabled_plugins),
        min_coverage=settings.min_coverage if settings.measure_coverage else None,
        min_diff_coverage=settings.min_diff_coverage if settings.measure_coverage else None,
        coverage=("files" if settings.coverage_files else "measured") if settings.measure_coverage else "off",
        base=settings.base,
    )


def _diagnosed(
    investigation: Investigation,
    orders: Mapping[str, Sequence[str]],
    groups: _Groups,
    snapshot: Snapshot | None,
) -> _Groups:
    """Find polluters and state-setters for the original failures and the latent ones, all side by side.

    One diagnosis serves both: their victims never share a search, since an original failure failed
    in the original order and passed in another, and a latent one the other way round.
    """
    failures, latent = groups
    found = diagnose(
        (*failures, *latent),
        orders,
        investigation.searches(),
        snapshot=snapshot,
        side_by_side=investigation.side_by_side,
    )
    return found[: len(failures)], found[len(failures) :]


def _explained(
    investigation: Investigation,
    groups: _Groups,
    lab: Lab,
    original_seconds: float,
    watched: tuple[ClassifiedFailure, ...],
) -> _Causes:
    """Run the root-cause experiments on the failures, the latent ones, then the watched tests; rank the hints."""
    failures, latent = groups
    alone = [record.duration for record in investigation.records if record.purpose is RunPurpose.ALONE]
    explained, notes = explain(
        [*failures, *latent],
        partial(run_trial, investigation, lab),
        lab,
        seed=investigation.settings.seed,
        original_seconds=original_seconds,
        per_run=max(alone, default=1.0),
        watched=watched,
    )
    known = len(failures) + len(latent)
    return explained[: len(failures)], explained[len(failures) : known], explained[known:], notes


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
