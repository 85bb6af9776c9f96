"""PURE. Label one failing test from everything its runs showed.

Runs are grouped into configurations: *alone*, the *original order* (the original run and its
replays: the same prefix, the same order), and each *permuted* order (one seed each, replays of it
included) or the *reversed* order. The rules:

* a configuration with both a pass and a failure flipped under identical conditions: **intermittent**;
* otherwise, failing in every run of every configuration: **deterministic**;
* passing every time alone and failing in some order: **order-dependent** (it needs a polluter);
* failing every time alone and passing in some order: **brittle** (it needs a state-setter).
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flakehound.engine.stats import (
    clean_runs_needed,
    failure_rate_upper_bound,
    unseen_polluter_chance,
    wilson_interval,
)
from flakehound.models import (
    ClassifiedFailure,
    Configuration,
    ConfigurationCount,
    Evidence,
    EvidenceStrength,
    FailureKind,
    FailureRate,
    Original,
    RunPurpose,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flakehound.config import Settings
    from flakehound.models import TestResult

__all__ = [
    "Observation",
    "classified",
    "classify_failure",
    "configuration_label",
    "evidence_strength",
    "failure_rate",
    "is_settled",
    "summarize_evidence",
]

_ORIGINAL = frozenset({RunPurpose.ORIGINAL, RunPurpose.ORIGINAL_ORDER})
_ORDERS = frozenset({RunPurpose.PERMUTED, RunPurpose.REVERSED})
#: Bound a never-reproduced failure's rate below this to call the test trustworthy.
TRUSTED_RATE = 0.01


@dataclass(frozen=True)
class Observation:
    """One run of one test: the configuration it ran under and whether it failed."""

    configuration: Configuration
    failed: bool


def configuration_label(configuration: Configuration) -> str:
    """A short human name: ``alone``, ``original order``, ``reversed``, ``seed 1234``."""
    if configuration.purpose in _ORIGINAL:
        return "original order"
    if configuration.purpose is RunPurpose.PERMUTED:
        return f"seed {configuration.seed}"
    return str(configuration.purpose.value)


def _groups(observations: Sequence[Observation]) -> dict[str, list[bool]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for observation in observations:
        groups[configuration_label(observation.configuration)].append(observation.failed)
    return dict(groups)


def is_settled(observations: Sequence[Observation]) -> bool:
    """Whether a flip under one configuration already proves the test intermittent."""
    return any(len(set(outcomes)) == 2 for outcomes in _groups(observations).values())  # noqa: PLR2004


def classify_failure(observations: Sequence[Observation]) -> FailureKind | None:
    """The label the observations prove, or None when the test never failed in them."""
    if not any(observation.failed for observation in observations):
        return None
    if is_settled(observations):
        return FailureKind.INTERMITTENT
    alone = [o.failed for o in observations if o.configuration.purpose is RunPurpose.ALONE]
    if all(observation.failed for observation in observations):
        return FailureKind.DETERMINISTIC
    if alone and all(alone):
        return FailureKind.BRITTLE
    return FailureKind.ORDER_DEPENDENT


def _count(observations: Sequence[Observation], purposes: frozenset[RunPurpose]) -> ConfigurationCount:
    chosen = [o.failed for o in observations if o.configuration.purpose in purposes]
    return ConfigurationCount(runs=len(chosen), failures=sum(chosen))


def summarize_evidence(observations: Sequence[Observation]) -> Evidence:
    """Counts per kind of configuration, which orders failed, and one mark per run."""
    groups = _groups(observations)
    orders = {label: outcomes for label, outcomes in groups.items() if label != "alone"}
    return Evidence(
        alone=_count(observations, frozenset({RunPurpose.ALONE})),
        original_order=_count(observations, _ORIGINAL),
        permuted=_count(observations, _ORDERS),
        failing_orders=tuple(label for label, outcomes in orders.items() if all(outcomes)),
        passing_orders=tuple(label for label, outcomes in orders.items() if not any(outcomes)),
        strip={label: "".join("F" if failed else "." for failed in outcomes) for label, outcomes in groups.items()},
    )


def failure_rate(observations: Sequence[Observation]) -> FailureRate:
    """The failure rate under the configuration that flipped most often, with its Wilson interval."""
    groups = _groups(observations)
    flipped = [outcomes for outcomes in groups.values() if len(set(outcomes)) == 2]  # noqa: PLR2004
    outcomes = max(flipped or list(groups.values()), key=len)
    failures, runs = sum(outcomes), len(outcomes)
    low, high = wilson_interval(failures, runs)
    return FailureRate(estimate=failures / runs, low=low, high=high, runs=runs, failures=failures)


def evidence_strength(
    observations: Sequence[Observation], permuted_orders: int, *, can_go_unseen: bool = True
) -> EvidenceStrength:
    """How much the evidence can be trusted: unseen-polluter chance and the clean-run record.

    The unseen-polluter chance is only stated when ``can_go_unseen`` (an intermittent or latent
    failure, which a plain run may miss); for a failure every run shows it means nothing.
    """
    unseen = unseen_polluter_chance(permuted_orders)
    reruns = [o.failed for o in observations if o.configuration.purpose is not RunPurpose.ORIGINAL]
    clean = 0
    for failed in reversed(reruns):
        if failed:
            break
        clean += 1
    parts = []
    if can_go_unseen:
        shuffles = "1 seeded shuffle" if permuted_orders == 1 else f"{permuted_orders} seeded shuffles"
        parts.append(  # the reversed order is not random, so it is not counted: the figure is 0.5 per shuffle
            f"with {shuffles} (the reversed order aside), a single-polluter order dependence had a"
            f" {unseen:.1%} chance of going unseen"
        )
    upper = needed = None
    if reruns and not any(reruns):
        upper = failure_rate_upper_bound(clean)
        needed = clean_runs_needed(TRUSTED_RATE)
        reran = "1 rerun" if clean == 1 else f"{clean} reruns"
        parts.append(
            f"the failure never reproduced in {reran}, so its failure rate may still be up to"
            f" {upper:.0%} (95%), and {needed} clean runs would bound it below {TRUSTED_RATE:.0%}"
        )
    return EvidenceStrength(
        unseen_single_polluter_chance=unseen,
        clean_runs=clean,
        failure_rate_upper_bound=upper,
        clean_runs_needed=needed,
        sentence="; ".join(parts),
    )


def _reproduce(settings: Settings, nodeid: str, found_in: Configuration) -> str:
    pytest = ["python", "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]  # as minimal_reproduce
    if found_in.purpose is RunPurpose.PERMUTED:
        return shlex.join(["flakehound", "run", "--seed", str(settings.seed), "--", *settings.pytest_args])
    if found_in.purpose is RunPurpose.REVERSED:
        return shlex.join(["flakehound", "run", "--", *settings.pytest_args])
    return shlex.join([*pytest, nodeid])


def classified(
    nodeid: str,
    result: TestResult,
    observations: list[Observation],
    found_in: Configuration,
    settings: Settings,
    permuted_orders: int,
) -> ClassifiedFailure:
    """One followed test, labelled from its observations, with its evidence and a command that reproduces it."""
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
