"""Watched tests: they failed in earlier runs but passed in the original run here, and are investigated anyway.

A probabilistic failure that happens not to show today is still there, so the pipeline follows each
watched test in the shuffled orders, reruns it alone and, with a lab, runs the root-cause experiments
on it after the failures. The pieces here turn what those runs showed into the report's terms: a
watched test that failed alone or in an experiment run is a latent failure found there, with a note
saying where it passed and where it failed; one that passed everything is a :class:`WatchedTest`
listing what was run on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakehound.engine.classify import classified, summarize_evidence
from flakehound.engine.history import history_of
from flakehound.engine.investigation import Latent
from flakehound.engine.wording import plural
from flakehound.models import Configuration, FailureKind, Original, RunPurpose, WatchedTest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flakehound.engine.history import RunRecord
    from flakehound.engine.investigation import Investigation
    from flakehound.models import ClassifiedFailure, TestResult

__all__ = ["failed_alone", "failed_in_experiment", "noted_if_promoted", "provisional", "watched_entries"]


def watched_entries(
    investigation: Investigation, tried: Sequence[ClassifiedFailure], records: Sequence[RunRecord]
) -> tuple[WatchedTest, ...]:
    """The tests followed because they failed in earlier runs, which passed every run here: what was run on them."""
    watched = []
    for test in tried:
        evidence = summarize_evidence(investigation.observations[test.nodeid])
        watched.append(
            WatchedTest(
                nodeid=test.nodeid,
                alone=evidence.alone,
                shuffled=evidence.permuted,
                experiments=tuple(note.removeprefix("experiment ") for note in test.notes),
                history=history_of(test.nodeid, records),
            )
        )
    return tuple(watched)


def failed_alone(investigation: Investigation, watched: Sequence[str]) -> dict[str, Latent]:
    """The watched tests that failed in a rerun alone, each with where (alone) and its first failing result there."""
    alone = Configuration(purpose=RunPurpose.ALONE)
    found: dict[str, Latent] = {}
    for nodeid in watched:
        results = (run.result_of(nodeid) for run in investigation.runs_of.get((nodeid,), []))
        failed = next((result for result in results if result is not None and result.outcome.is_failure), None)
        if failed is not None:
            found[nodeid] = Latent(alone, (nodeid,), failed)
    return found


def provisional(
    investigation: Investigation, results: Sequence[TestResult], watched: Sequence[str], permuted_orders: int
) -> tuple[ClassifiedFailure, ...]:
    """The watched tests that passed every run so far, shaped as failures for the experiments (no label holds yet)."""
    by_id = {result.nodeid: result for result in results}
    experiment = Configuration(purpose=RunPurpose.EXPERIMENT)
    return tuple(
        classified(
            nodeid,
            by_id[nodeid],
            investigation.observations[nodeid],
            experiment,
            investigation.settings,
            permuted_orders,
        )
        for nodeid in watched
    )


def failed_in_experiment(investigation: Investigation, test: ClassifiedFailure) -> ClassifiedFailure:
    """A watched test that failed in a root-cause experiment run: a latent failure, found there.

    Its plain runs never failed here, so it flipped only between conditions: intermittent, with no
    failure rate to give from the plain runs. What the experiments showed (both sides counted) stays
    in its notes, and an experiment it followed becomes its top hint.
    """
    failed = investigation.experiment_failures[test.nodeid]
    note = (
        f"passed in the original run, {plural(test.evidence.alone.runs, 'rerun')} alone and"
        f" {plural(test.evidence.permuted.runs, 'shuffled order')}; failed in root-cause experiment runs here"
        " (followed because it failed in earlier runs)"
    )
    return test.model_copy(
        update={
            "classification": FailureKind.INTERMITTENT,
            "original": _original_of(failed),
            "failure_rate": None,
            "notes": (note, *test.notes),
        }
    )


def _original_of(result: TestResult) -> Original:
    """The result a latent failure was found with, as its report entry keeps it."""
    return Original.model_validate(result.model_dump(exclude={"nodeid", "duration"}))


def noted_if_promoted(failure: ClassifiedFailure, promoted: Sequence[str]) -> ClassifiedFailure:
    """A watched test that failed alone says so: where it passed here, where it failed, why it was followed."""
    if failure.nodeid not in promoted:
        return failure
    alone = failure.evidence.alone
    note = (
        f"passed in the original run and {plural(failure.evidence.permuted.runs, 'shuffled order')};"
        f" failed {alone.failures}/{alone.runs} alone here (followed because it failed in earlier runs)"
    )
    return failure.model_copy(update={"notes": (note, *failure.notes)})
