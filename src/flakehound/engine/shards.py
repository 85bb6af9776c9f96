"""PURE. Split one investigation across a job matrix, and merge the partial reports into one.

``plan_shards`` takes the original run's results and deals its failures out to ``count`` shards,
longest work first onto the least loaded shard (LPT), by an estimate from the measured durations.
Failures of one test module travel together (victims of one polluter usually share a module, and
they share one search for it) unless the module alone outweighs a fair share. Every shard replays
the same original order; shard 0 also runs the shuffled orders in full and owns the latent tests.

``merge_reports`` checks that the parts belong together (one commit, one plan, each shard once and
all of them) and builds the report one machine would have written: the failures in their original
order, the runs renumbered, the summary's labels counted again and the gate decided again.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flakehound.engine.gate import decide_gate
from flakehound.errors import ConfigError
from flakehound.models import CoverageSummary, FailureKind, Report, ShardOf, TestResult

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.models import ClassifiedFailure, RunRecord, Summary

__all__ = [
    "RUN_OVERHEAD",
    "PlanSettings",
    "Shard",
    "ShardPlan",
    "label_summary",
    "merge_reports",
    "plan_settings",
    "plan_shards",
    "read_part",
    "read_plan",
    "share_of",
]

#: Seconds a run costs beyond its tests' own time (starting or forking pytest), for the estimate.
RUN_OVERHEAD = 1.0
_PLAN_ADVICE = "pass the file `flakehound plan` wrote"
_PART_ADVICE = "pass the files `flakehound investigate --plan` wrote"

_Model = TypeVar("_Model", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanSettings(_Frozen):
    """The options every shard of a plan investigates with (the rest is each machine's own)."""

    seed: int
    reruns: int
    replays: int
    orders: int | None = None
    max_failures: int
    min_pass_rate: float
    fail_on_latent: bool = False
    timeout: float | None = None
    pytest_args: tuple[str, ...] = ()
    measure_coverage: bool = True
    coverage_files: tuple[str, ...] = ()
    min_coverage: float = 100.0
    min_diff_coverage: float = 100.0
    base: str | None = None


class Shard(_Frozen):
    """One job of the matrix: the failures it investigates and the estimated seconds they take."""

    index: int = Field(ge=0)
    failures: tuple[str, ...] = ()
    estimated_seconds: float = 0.0
    finds_latent: bool = False


class ShardPlan(_Frozen):
    """The original run and how its investigation is split (``flakehound plan --out``), schema_version 1."""

    schema_version: Literal[1] = 1
    plan_id: str
    created_at: str
    commit: str | None = None
    settings: PlanSettings
    original: tuple[TestResult, ...]
    coverage: CoverageSummary | None = None
    notes: tuple[str, ...] = ()
    shards: tuple[Shard, ...]

    @property
    def matrix(self) -> dict[str, list[int]]:
        """The ``strategy.matrix`` of the jobs: one ``shard`` value per shard."""
        return {"shard": [shard.index for shard in self.shards]}


def plan_settings(settings: Settings) -> PlanSettings:
    """The shared part of ``settings``."""
    return PlanSettings.model_validate(settings.model_dump(include=set(PlanSettings.model_fields)))


def _estimated_seconds(original: Sequence[TestResult], settings: PlanSettings) -> dict[str, float]:
    """Per test: its reruns alone, plus its original prefix replayed and about once more searched."""
    elapsed = 0.0
    estimate = {}
    for result in original:
        elapsed += result.duration
        alone = settings.reruns * (result.duration + RUN_OVERHEAD)
        estimate[result.nodeid] = alone + (settings.replays + 1) * (elapsed + RUN_OVERHEAD)
    return estimate


def _failing(original: Sequence[TestResult]) -> list[str]:
    return [result.nodeid for result in original if result.outcome.is_failure]


def _units(failing: Sequence[str], cost: Mapping[str, float], count: int) -> list[tuple[str, ...]]:
    """Failures of one module together, unless together they outweigh a fair share of the work."""
    modules: dict[str, list[str]] = {}
    for nodeid in failing:
        modules.setdefault(nodeid.partition("::")[0], []).append(nodeid)
    fair_share = sum(cost[nodeid] for nodeid in failing) / count
    units: list[tuple[str, ...]] = []
    for members in modules.values():
        if len(members) > 1 and sum(cost[nodeid] for nodeid in members) > fair_share:
            units.extend((nodeid,) for nodeid in members)
        else:
            units.append(tuple(members))
    return units


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def plan_shards(
    original: Sequence[TestResult],
    settings: PlanSettings,
    *,
    count: int,
    created_at: str,
    commit: str | None = None,
    coverage: CoverageSummary | None = None,
) -> ShardPlan:
    """Deal the failures the investigation would look at out to at most ``count`` shards (fewer if fewer units)."""
    if count < 1:
        msg = f"--shards must be 1 or more, got {count}; pass the number of jobs in the matrix"
        raise ConfigError(msg)
    failing = _failing(original)[: settings.max_failures]
    cost = _estimated_seconds(original, settings)
    units = _units(failing, cost, count)
    count = min(count, max(len(units), 1))
    loads = [0.0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for unit in sorted(units, key=lambda unit: -sum(cost[nodeid] for nodeid in unit)):
        target = loads.index(min(loads))
        members[target].extend(unit)
        loads[target] += sum(cost[nodeid] for nodeid in unit)
    position = {nodeid: index for index, nodeid in enumerate(failing)}
    shards = tuple(
        Shard(
            index=index,
            failures=tuple(sorted(members[index], key=position.__getitem__)),
            estimated_seconds=round(loads[index], 3),
            finds_latent=index == 0,
        )
        for index in range(count)
    )
    payload = {
        "commit": commit,
        "settings": settings.model_dump(mode="json"),
        "original": [(result.nodeid, result.outcome.value) for result in original],
        "shards": [shard.model_dump(mode="json") for shard in shards],
    }
    return ShardPlan(
        plan_id=_digest(payload),
        created_at=created_at,
        commit=commit,
        settings=settings,
        original=tuple(original),
        coverage=coverage,
        shards=shards,
    )


def share_of(plan: ShardPlan, index: int) -> ShardOf:
    """What shard ``index`` investigates, as its partial report records it."""
    if not 0 <= index < len(plan.shards):
        msg = f"--shard must be one of the plan's shards 0 to {len(plan.shards) - 1}, got {index}; pass a matrix value"
        raise ConfigError(msg)
    shard = plan.shards[index]
    return ShardOf(
        plan_id=plan.plan_id,
        index=index,
        count=len(plan.shards),
        failures=shard.failures,
        planned=tuple(nodeid for nodeid in _failing(plan.original)[: plan.settings.max_failures]),
        finds_latent=shard.finds_latent,
    )


def _load(text: str, model: type[_Model], what: str, advice: str) -> _Model:
    """``text`` as ``model``: the schema version first, so a newer file says so rather than fail field by field."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        msg = f"{what} is not JSON ({error}); {advice}"
        raise ConfigError(msg) from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != 1:
        msg = f"{what} has schema_version {version!r}, and this flakehound reads 1; {advice} with this version"
        raise ConfigError(msg)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        msg = f"{what} does not match the schema ({error.error_count()} error(s)); {advice}"
        raise ConfigError(msg) from None


def read_plan(text: str, source: str) -> ShardPlan:
    """The plan in ``text`` (read from ``source``)."""
    return _load(text, ShardPlan, f"--plan {source!r}", _PLAN_ADVICE)


def read_part(text: str, source: str) -> Report:
    """The partial report in ``text`` (read from ``source``)."""
    return _load(text, Report, f"part {source!r}", _PART_ADVICE)


def label_summary(
    summary: Summary, failures: Sequence[ClassifiedFailure], latent: Sequence[ClassifiedFailure]
) -> Summary:
    """``summary`` with the labels counted from ``failures`` and ``latent``."""
    counts = {kind: sum(1 for failure in failures if failure.classification is kind) for kind in FailureKind}
    return summary.model_copy(
        update={
            "deterministic": counts[FailureKind.DETERMINISTIC],
            "intermittent": counts[FailureKind.INTERMITTENT],
            "order_dependent": counts[FailureKind.ORDER_DEPENDENT],
            "brittle": counts[FailureKind.BRITTLE],
            "latent": len(latent),
        }
    )


def _shares(parts: Mapping[str, Report]) -> list[tuple[str, Report, ShardOf]]:
    """Every part with its share, checked to come from one commit and one plan, each shard once."""
    if not parts:
        msg = f"merge got no partial reports; {_PART_ADVICE}"
        raise ConfigError(msg)
    shares = []
    for name, part in parts.items():
        if part.shard is None:
            msg = f"report {name!r} is a whole investigation, not a shard's part; {_PART_ADVICE}"
            raise ConfigError(msg)
        shares.append((name, part, part.shard))
    first_name, first, first_share = shares[0]
    held: dict[int, str] = {}
    for name, part, share in shares:
        if part.commit != first.commit:
            msg = (
                f"part {name!r} is from commit {part.commit!r} but {first_name!r} from {first.commit!r};"
                " merge the parts of one commit"
            )
            raise ConfigError(msg)
        if share.plan_id != first_share.plan_id:
            msg = (
                f"part {name!r} belongs to plan {share.plan_id} (seed {part.settings.seed}) but {first_name!r}"
                f" to plan {first_share.plan_id} (seed {first.settings.seed}); merge the parts of one plan"
            )
            raise ConfigError(msg)
        if share.index in held:
            msg = f"overlapping shards: {held[share.index]!r} and {name!r} are both shard {share.index}; pass each once"
            raise ConfigError(msg)
        held[share.index] = name
    _check_disjoint(shares)
    missing = sorted(set(range(first_share.count)) - set(held))
    if missing:
        msg = (
            f"shard(s) {', '.join(map(str, missing))} of plan {first_share.plan_id} have no part among"
            f" {len(parts)} given; pass all {first_share.count} parts"
        )
        raise ConfigError(msg)
    return sorted(shares, key=lambda each: each[2].index)


def _check_disjoint(shares: Sequence[tuple[str, Report, ShardOf]]) -> None:
    """No failure was investigated by two parts."""
    investigated: dict[str, str] = {}
    for name, part, _ in shares:
        for failure in (*part.failures, *part.latent):
            if failure.nodeid in investigated:
                msg = (
                    f"overlapping shards: {failure.nodeid!r} was investigated in both {investigated[failure.nodeid]!r}"
                    f" and {name!r}; pass each shard's part once"
                )
                raise ConfigError(msg)
            investigated[failure.nodeid] = name


def _renumbered(reports: Sequence[Report]) -> tuple[RunRecord, ...]:
    records = [record for report in reports for record in report.runs]
    return tuple(record.model_copy(update={"id": number}) for number, record in enumerate(records, start=1))


def merge_reports(parts: Mapping[str, Report], *, command: Sequence[str]) -> Report:
    """One report from the parts of one plan (keyed by where each came from), as one machine would write it."""
    shares = _shares(parts)
    reports = [part for _, part, _ in shares]
    first, first_share = reports[0], shares[0][2]
    position = {nodeid: index for index, nodeid in enumerate(first_share.planned)}
    failures = tuple(
        sorted(
            (failure for report in reports for failure in report.failures),
            key=lambda failure: position.get(failure.nodeid, len(position)),
        )
    )
    latent = tuple(failure for report in reports for failure in report.latent)
    summary = label_summary(first.summary, failures, latent)
    interrupted = [share.index for _, part, share in shares if part.status == "interrupted"]
    stopped = first.broken_reason
    status = first.status
    if interrupted and first.status != "broken":
        status = "interrupted"
        stopped = (
            f"shard(s) {', '.join(map(str, interrupted))} were interrupted:"
            " the labels rest on partial evidence and the verdict is incomplete"
        )
    return Report(
        tool=first.tool,
        created_at=max(report.created_at for report in reports),
        command=tuple(command),
        settings=first.settings,
        status=status,
        broken_reason=first.broken_reason,
        first_errors=first.first_errors,
        summary=summary,
        failures=failures,
        latent=latent,
        skipped_investigations=tuple(nodeid for report in reports for nodeid in report.skipped_investigations),
        notes=tuple(dict.fromkeys(note for report in reports for note in report.notes)),
        runs=_renumbered(reports),
        coverage=first.coverage,
        gate=decide_gate(
            summary,
            failures,
            latent,
            min_pass_rate=first.settings.min_pass_rate,
            fail_on_latent=first.settings.fail_on_latent,
            coverage=first.coverage,
            broken_reason=stopped,
        ),
        commit=first.commit,
    )
