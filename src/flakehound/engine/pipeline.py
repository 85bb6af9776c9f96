"""Orchestration: ``analyse(settings, executor, ...) -> Report``. No GitHub, no printing.

1. the original run (or the results an earlier step wrote as JUnit XML; :mod:`flakehound.engine.original`);
2. shuffled whole-suite runs (seeded permutations and the reversed order), on green suites too:
   a test that passed originally but fails in one of them is *latent*;
3. each failing test alone, up to ``reruns`` times, stopping once a flip settles it;
4. the original order replayed ``replays`` times up to the last unsettled failure (one replay serves
   every failure in it), and likewise the shuffled order a latent test was found in
   (the runs of 2-4 and their bookkeeping: :mod:`flakehound.engine.investigation`);
5. labels, evidence, polluters (:mod:`flakehound.engine.diagnose`), and with a lab, root-cause experiments
   and ranked hints (:mod:`flakehound.engine.experiments`);
6. the report and the gate.
"""

from __future__ import annotations

import shlex
from functools import partial
from typing import TYPE_CHECKING, Any

from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT
from flakehound.engine.classify import (
    Observation,
    classify_failure,
    configuration_label,
    evidence_strength,
    failure_rate,
    summarize_evidence,
)
from flakehound.engine.diagnose import diagnose
from flakehound.engine.experiments import explain
from flakehound.engine.gate import decide_gate
from flakehound.engine.investigation import (
    Investigation,
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
from flakehound.models import (
    ClassifiedFailure,
    Configuration,
    FailureKind,
    Original,
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
    from flakehound.engine.investigation import Progress
    from flakehound.execution.runner import Executor
    from flakehound.models import CoverageSummary, Run, ShardOf, TestResult

__all__ = ["analyse"]

_FIRST_ERRORS = 5
#: The original failures and the latent tests, labelled.
_Groups = tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...]]


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
    broken = broken_reason(first, summary)
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

    progress = progress or Silent()
    investigation = Investigation(
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
    shuffles = plan_shuffles(results, settings.seed, report_settings.orders)
    planned = failing[: settings.max_failures]
    investigated = planned if shard is None else [nodeid for nodeid in planned if nodeid in shard.failures]
    finds_latent = shard is None or shard.finds_latent
    progress.plan(len(shuffles) + settings.reruns * len(investigated) + settings.replays)
    # A shard that does not look for latent tests cuts the orders short, and passes no original
    # results: with no test that passed originally, none can be latent.
    shuffled_runs, latent_found = (
        run_shuffles(investigation, shuffles, results)
        if finds_latent
        else run_shuffles(investigation, cut_shuffles(shuffles, investigated), ())
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

    run_alone(investigation, [*investigated, *latent_ids])
    replay(investigation, [result.nodeid for result in results], original_config, investigated)
    for order, configuration in latent_orders.items():
        replay(investigation, order, configuration, [n for n in latent_ids if latent_found[n].order == order])

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
        python=investigation.settings.python,
        snapshot=snapshot,
        side_by_side=investigation.side_by_side,
    )
    return found[: len(failures)], found[len(failures) :]


def _explained(
    investigation: Investigation,
    groups: _Groups,
    lab: Lab,
    original_seconds: float,
) -> tuple[tuple[ClassifiedFailure, ...], tuple[ClassifiedFailure, ...], tuple[str, ...]]:
    """Run the root-cause experiments on the failures and the latent ones; rank every failure's hints."""
    failures, latent = groups
    alone = [record.duration for record in investigation.records if record.purpose is RunPurpose.ALONE]
    explained, notes = explain(
        [*failures, *latent],
        partial(run_trial, investigation, lab),
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
