"""Orchestration of root-cause experiments: flip one factor at a time and see whether the outcome follows.

Every failure whose label leaves the cause open (intermittent ones first, then order-dependent ones
that may pollute themselves) is run alone under small sets of conditions:

* **random seed / hash seed**: fixed seeds, varied from run to run; if a seed that failed fails
  again and a seed that passed passes again, the outcome tracks the seed (only for failures that
  reproduced in the core's reruns, where both seeds already varied naturally);
* **network**: outbound connections other than loopback refused (``--flakehound-no-network``);
* **CPU load**: busy processes on every core while the test runs, against its idle alone runs;
* **clock**: the clock moved to calendar edges with libfaketime, where it is installed;
* **repetition**: the test three times in one process; passing once then failing means it pollutes itself.

Network, CPU load and clock compare their runs with the test's own alone failure rate. A test that
flips anyway ends several runs the same way by chance, so the outcome follows the factor only when
chance would give that many such outcomes less often than ``SIGNIFICANCE`` (a binomial tail over the
alone rate, smoothed so that 0/5 is not taken for "never"); runs that all end the unusual way but do
not prove it yet are extended up to ``MAX_RUNS``.

Experiments go in an order the failure's matched signatures suggest, stop at the first one the
outcome follows, and stay within the time budget (``--budget-seconds``, by default ten times the
original run and at least a minute, counted from the start of the investigation). IO comes in as a
callable: ``trial(nodeid, conditions)`` runs the test once under each condition (independent runs,
in parallel where the executor can) and says, per run, whether each occurrence failed (None when
the run did not finish).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flakehound.engine.hints import FACTOR_CATEGORY, ExperimentResult, match_signatures, rank_hints
from flakehound.execution.runner import FakeClock, Tweaks
from flakehound.models import FailureKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from collections.abc import Set as AbstractSet
    from contextlib import AbstractContextManager

    from flakehound.engine.hints import Factor
    from flakehound.engine.signatures import Catalog
    from flakehound.models import ClassifiedFailure, ConfigurationCount

    #: Run one test once under each condition: per run, whether each occurrence failed, or None when it did not finish.
    Trial = Callable[[str, "Sequence[Condition]"], "list[tuple[bool, ...] | None]"]

__all__ = [
    "CLOCK_TIMES",
    "Condition",
    "Lab",
    "default_budget",
    "explain",
]

#: Moments the clock experiment moves the clock to: a year end just before midnight, and a leap day.
CLOCK_TIMES = ("2025-12-31 23:59:50", "2028-02-29 12:00:00")
#: The budget is this many times the original run, and at least MIN_BUDGET seconds.
BUDGET_FACTOR = 10
MIN_BUDGET = 60.0
#: Runs per experiment.
SEED_VARIED = 4
SEED_CONFIRM = 2
LOAD_RUNS = 3
NETWORK_RUNS = 2
REPEAT_RUNS = 2
#: Occurrences of the test in one repetition run: three, so a test that flips on every run is not taken for one
#: that breaks itself (pass, fail, pass against pass, fail, fail).
REPEATS = 3
#: Runs per clock moment.
CLOCK_RUNS = 2
#: The outcome follows a factor when chance, at the test's own alone rate, gives that result less often than this.
SIGNIFICANCE = 0.05
#: Runs under one condition that all end the unusual way are extended up to this many to prove it.
MAX_RUNS = 6
_ORDER: tuple[Factor, ...] = ("random-seed", "hash-seed", "network", "cpu-load", "clock", "repetition")
_SHOWN_SKIPS = 4


@dataclass(frozen=True)
class Condition:
    """How one experimental run differs from a plain run of the failing test alone."""

    env: Mapping[str, str] = field(default_factory=dict)
    tweaks: Tweaks = field(default_factory=Tweaks)
    busy: bool = False
    repeat: int = 1
    clock: FakeClock | None = None


@dataclass(frozen=True)
class Lab:
    """What the experiments may use: the signature catalog, a clock for the budget, and this machine's equipment."""

    catalog: Catalog
    clock: Callable[[], float]
    started: float
    budget_seconds: float | None = None
    busy: Callable[[], AbstractContextManager[object]] | None = None
    busy_processes: int = 0
    faketime: str | None = None
    pinned_hash_seed: bool = False
    #: Whether the plain reruns drew a hash seed each (fresh interpreters), not one shared (forked from one server).
    reruns_vary_hash_seed: bool = True


def default_budget(original_seconds: float) -> float:
    """Ten times the original run, and at least a minute."""
    return max(MIN_BUDGET, BUDGET_FACTOR * original_seconds)


@dataclass
class _Budget:
    clock: Callable[[], float]
    deadline: float
    per_run: float
    measured: list[float] = field(default_factory=list)

    def allows(self, runs: int) -> bool:
        return self.clock() + runs * self.per_run <= self.deadline

    def record(self, seconds: float) -> None:
        self.measured.append(seconds)
        self.per_run = sum(self.measured) / len(self.measured)


@dataclass(frozen=True)
class _Context:
    failure: ClassifiedFailure
    trial: Trial
    lab: Lab
    seed: int

    def once(self, condition: Condition) -> bool | None:
        outcomes = self.trial(self.failure.nodeid, [condition])[0]
        return outcomes[0] if outcomes else None

    def runs(self, condition: Condition, count: int) -> tuple[list[bool], int]:
        """``count`` independent runs under ``condition``: the outcomes of those that finished, and how many did not."""
        outcomes = self.trial(self.failure.nodeid, [condition] * count)
        done = [occurrences[0] for occurrences in outcomes if occurrences]
        return done, count - len(done)

    def failing_chance(self) -> float:
        """The chance the test fails alone, smoothed (one imagined failure and one pass): 0/5 is not "never"."""
        alone = self.failure.evidence.alone
        return (alone.failures + 1) / (alone.runs + 2)

    def sample(self, condition: Condition, count: int, looked_for: bool | None = None) -> tuple[list[bool], int]:
        """``count`` runs, extended while they all ended the way ``looked_for`` says but do not prove it yet.

        ``looked_for``: True for failures, False for passes, None for either; extended only while that
        outcome is no likelier than not alone, up to the runs that would prove it (at most ``MAX_RUNS``).
        """
        done, lost = self.runs(condition, count)
        if done and len(set(done)) == 1 and looked_for in {None, done[0]}:
            chance = self.failing_chance() if done[0] else 1 - self.failing_chance()
            needed = min(math.ceil(math.log(SIGNIFICANCE) / math.log(chance)), MAX_RUNS)
            if chance <= 0.5 and needed > len(done):  # noqa: PLR2004 - no likelier than not
                more, more_lost = self.runs(condition, needed - len(done))
                done, lost = done + more, lost + more_lost
        return done, lost

    def alone(self) -> ConfigurationCount:
        return self.failure.evidence.alone


def _tail(hits: int, runs: int, chance: float) -> float:
    """The chance of at least ``hits`` of ``runs`` independent tries when each hits with ``chance``."""
    return sum(math.comb(runs, k) * chance**k * (1 - chance) ** (runs - k) for k in range(hits, runs + 1))


def _more_failures(done: Sequence[bool], chance: float) -> bool:
    """Whether this many failures is more than chance explains at the alone failure rate."""
    return _tail(sum(done), len(done), chance) < SIGNIFICANCE


def _fewer_failures(done: Sequence[bool], chance: float) -> bool:
    """Whether this many passes is more than chance explains at the alone failure rate."""
    return _tail(len(done) - sum(done), len(done), 1 - chance) < SIGNIFICANCE


def _lost(count: int) -> str:
    return f" ({count} run(s) did not finish and are not counted)" if count else ""


def _seed_experiment(
    context: _Context,
    factor: Factor,
    varied_name: str,
    fixed_name: Callable[[int], str],
    condition: Callable[[int], Condition],
) -> ExperimentResult:
    draw = random.Random(f"{context.seed}:{factor}:{context.failure.nodeid}")  # noqa: S311 - replayable, not secret
    varied: list[tuple[int, bool]] = []
    lost = 0
    for _ in range(SEED_VARIED):
        seed = draw.randrange(1, 2**32)
        failed = context.once(condition(seed))
        if failed is None:
            lost += 1
            continue
        varied.append((seed, failed))
        if len({failed for _, failed in varied}) == 2:  # noqa: PLR2004 - both outcomes seen
            break
    head = f"fails {sum(failed for _, failed in varied)}/{len(varied)} with {varied_name} varied"
    if len({failed for _, failed in varied}) < 2:  # noqa: PLR2004 - both outcomes needed
        return ExperimentResult(factor, "inconclusive", f"{head}: no flip to compare fixed seeds against{_lost(lost)}")
    bad = next(seed for seed, failed in varied if failed)
    good = next(seed for seed, failed in varied if not failed)
    at_bad, at_good = [True], [False]
    for seed, outcomes in ((bad, at_bad), (good, at_good)):  # not interleaved: a test that flips every other run
        for _ in range(SEED_CONFIRM):  # would otherwise fail at one seed and pass at the other
            failed = context.once(condition(seed))
            if failed is None:
                lost += 1
            else:
                outcomes.append(failed)
    tracks = all(at_bad) and not any(at_good)
    evidence = (
        f"{head}; with it fixed: fails {sum(at_bad)}/{len(at_bad)} at {fixed_name(bad)},"
        f" {sum(at_good)}/{len(at_good)} at {fixed_name(good)}{_lost(lost)}"
    )
    return ExperimentResult(factor, "tracks" if tracks else "no-effect", evidence)


def _hash_seed(context: _Context) -> ExperimentResult:
    return _seed_experiment(
        context,
        "hash-seed",
        "PYTHONHASHSEED",
        lambda seed: f"PYTHONHASHSEED={seed}",
        lambda seed: Condition(env={"PYTHONHASHSEED": str(seed)}),
    )


def _random_seed(context: _Context) -> ExperimentResult:
    return _seed_experiment(
        context,
        "random-seed",
        "the random seed",
        lambda seed: f"random.seed({seed})",
        lambda seed: Condition(tweaks=Tweaks(random_seed=seed)),
    )


def _compare(factor: Factor, done: list[bool], lost: int, text: str, *, tracks: bool) -> ExperimentResult:
    if not done:
        condition = text.split(",", maxsplit=1)[0]
        return ExperimentResult(factor, "inconclusive", f"no run finished {condition}{_lost(lost)}")
    evidence = f"fails {sum(done)}/{len(done)} {text}{_lost(lost)}"
    return ExperimentResult(factor, "tracks" if tracks else "no-effect", evidence)


def _cpu_load(context: _Context) -> ExperimentResult:
    done, lost = context.sample(Condition(busy=True), LOAD_RUNS, looked_for=True)
    alone = context.alone()
    text = (
        f"with every core busy ({context.lab.busy_processes} busy processes),"
        f" {alone.failures}/{alone.runs} alone on an idle machine"
    )
    return _compare("cpu-load", done, lost, text, tracks=_more_failures(done, context.failing_chance()))


def _network(context: _Context) -> ExperimentResult:
    done, lost = context.sample(Condition(tweaks=Tweaks(no_network=True)), NETWORK_RUNS)
    alone = context.alone()
    text = f"with outbound connections refused, {alone.failures}/{alone.runs} alone with the network as is"
    chance = context.failing_chance()
    return _compare("network", done, lost, text, tracks=_more_failures(done, chance) or _fewer_failures(done, chance))


def _clock(context: _Context) -> ExperimentResult:
    """Each moment in turn: runs that all end the usual way move on; a proven change tracks; a mix rules it out."""
    alone = context.alone()
    chance = context.failing_chance()
    usually_fails = chance > 0.5  # noqa: PLR2004 - more likely than not
    tried: list[tuple[str, list[bool]]] = []
    lost = 0
    tracks = False
    for moment in CLOCK_TIMES:
        condition = Condition(clock=FakeClock(library=str(context.lab.faketime), moment=moment))
        done, missed = context.sample(condition, CLOCK_RUNS, looked_for=not usually_fails)
        lost += missed
        if not done:
            continue
        tried.append((moment, done))
        if set(done) != {usually_fails}:  # the outcome changed at this moment: proven, or it flips anyway
            tracks = _fewer_failures(done, chance) if usually_fails else _more_failures(done, chance)
            break
    note = _lost(lost).replace("did not finish", "hung or crashed under libfaketime")
    if not tried:
        return ExperimentResult("clock", "inconclusive", f"no run finished with the clock moved{note}")
    moments = ", ".join(f"{sum(done)}/{len(done)} at {moment}" for moment, done in tried)
    evidence = f"with the clock moved, fails {moments}; {alone.failures}/{alone.runs} alone with the real clock{note}"
    return ExperimentResult("clock", "tracks" if tracks else "no-effect", evidence)


def _repetition(context: _Context) -> ExperimentResult:
    runs = context.trial(context.failure.nodeid, [Condition(repeat=REPEATS)] * REPEAT_RUNS)
    done = [outcomes for outcomes in runs if outcomes is not None and len(outcomes) == REPEATS]
    lost = len(runs) - len(done)
    if not done:
        evidence = f"no run of it {REPEATS} times in one process finished{_lost(lost)}"
        return ExperimentResult("repetition", "inconclusive", evidence)
    breaks_itself = sum(1 for first, *later in done if not first and all(later))
    evidence = (
        f"run {REPEATS} times in one process, it passes the first time and fails every later time in"
        f" {breaks_itself}/{len(done)} runs{_lost(lost)}"
    )
    return ExperimentResult("repetition", "tracks" if breaks_itself == len(done) else "no-effect", evidence)


_EXPERIMENTS: dict[str, tuple[int, Callable[[_Context], ExperimentResult]]] = {
    "hash-seed": (SEED_VARIED + 2 * SEED_CONFIRM, _hash_seed),
    "random-seed": (SEED_VARIED + 2 * SEED_CONFIRM, _random_seed),
    "network": (NETWORK_RUNS, _network),
    "cpu-load": (LOAD_RUNS, _cpu_load),
    "clock": (CLOCK_RUNS * len(CLOCK_TIMES), _clock),
    "repetition": (REPEAT_RUNS, _repetition),
}


def _reproduced(failure: ClassifiedFailure) -> bool:
    """Whether the failure came back in some rerun (the run that found it counts once)."""
    evidence = failure.evidence
    return evidence.alone.failures + evidence.original_order.failures + evidence.permuted.failures > 1


def _pollutes_its_siblings(failure: ClassifiedFailure) -> bool:
    """No polluter found, or the polluter is the same test function with other parameters."""
    if not failure.polluters:
        return True
    function = failure.nodeid.split("[", 1)[0]
    return all(nodeid.split("[", 1)[0] == function for nodeid in failure.polluters[0].nodeids)


def _factors(failure: ClassifiedFailure, lab: Lab, unavailable: dict[str, str]) -> list[Factor]:
    """The experiments that could change what we know about this failure, in the order to try them."""
    if failure.classification is FailureKind.ORDER_DEPENDENT:
        return ["repetition"] if _pollutes_its_siblings(failure) else []
    suggested = {match.signature.category for match in match_signatures(failure.original, lab.catalog)}
    if failure.classification is FailureKind.DETERMINISTIC:
        return ["hash-seed"] if _hash_seed_hidden(lab, suggested) else []
    if failure.classification is not FailureKind.INTERMITTENT:
        return []
    factors = list(_ORDER)
    if not _reproduced(failure):  # natural reruns already varied the seeds they drew and never failed again
        varied = {"random-seed", "hash-seed"} if lab.reruns_vary_hash_seed else {"random-seed"}
        factors = [factor for factor in factors if factor not in varied]
    if lab.pinned_hash_seed:
        factors = [factor for factor in factors if factor != "hash-seed"]
    if lab.busy is None:
        unavailable["cpu-load"] = "the CPU-load experiment was skipped: no way to load the CPU here"
    if lab.faketime is None:
        unavailable["clock"] = (
            "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)"
        )
    factors = [factor for factor in factors if factor not in unavailable]
    return sorted(factors, key=lambda factor: FACTOR_CATEGORY[factor] not in suggested)


def _deduced(failure: ClassifiedFailure, lab: Lab) -> list[ExperimentResult]:
    """What the reruns already show without an experiment: a flip under one hash seed rules the hash seed out.

    Forked reruns all share one hash seed; a test that failed and passed alone among them flips
    whatever decides it, and it is not the hash seed.
    """
    alone = failure.evidence.alone
    if lab.reruns_vary_hash_seed or lab.pinned_hash_seed or not 0 < alone.failures < alone.runs:
        return []
    evidence = (
        f"not run: it flipped alone ({alone.failures}/{alone.runs} failed) in forked reruns that all share one"
        " PYTHONHASHSEED, so the hash seed does not decide its outcome"
    )
    return [ExperimentResult("hash-seed", "no-effect", evidence)]


def _hash_seed_hidden(lab: Lab, suggested: AbstractSet[str]) -> bool:
    """Whether a failure that looks deterministic may have met one hash seed only, and its text blames an order.

    Forked reruns share one hash seed, so a failure that follows it fails on every one of them.
    """
    return not lab.reruns_vary_hash_seed and not lab.pinned_hash_seed and "unordered-collection" in suggested


def _relabelled(failure: ClassifiedFailure, found: Sequence[ExperimentResult]) -> ClassifiedFailure:
    """A 'deterministic' failure whose outcome follows the hash seed flips between fresh interpreters: intermittent."""
    if failure.classification is not FailureKind.DETERMINISTIC or not any(
        result.factor == "hash-seed" and result.outcome == "tracks" for result in found
    ):
        return failure
    note = (
        "it failed on every rerun only because forked reruns share one hash seed;"
        " its outcome follows PYTHONHASHSEED, so it flips between fresh interpreters: intermittent"
    )
    return failure.model_copy(update={"classification": FailureKind.INTERMITTENT, "notes": (*failure.notes, note)})


def _budget_note(seconds: float, skipped: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{factor} for {nodeid}" for nodeid, factor in skipped[:_SHOWN_SKIPS])
    more = f" and {len(skipped) - _SHOWN_SKIPS} more" if len(skipped) > _SHOWN_SKIPS else ""
    return (
        f"the investigation budget ({seconds:g} s, --budget-seconds) ran out:"
        f" {len(skipped)} experiment(s) skipped: {shown}{more}"
    )


def explain(
    failures: Sequence[ClassifiedFailure],
    trial: Trial,
    lab: Lab,
    *,
    seed: int,
    original_seconds: float,
    per_run: float,
) -> tuple[tuple[ClassifiedFailure, ...], tuple[str, ...]]:
    """Every failure with its ranked hints (and notes on what experiments ruled out), and the report's notes."""
    seconds = lab.budget_seconds if lab.budget_seconds is not None else default_budget(original_seconds)
    budget = _Budget(clock=lab.clock, deadline=lab.started + seconds, per_run=per_run)

    def measured(nodeid: str, conditions: Sequence[Condition]) -> list[tuple[bool, ...] | None]:
        started = lab.clock()
        outcomes = trial(nodeid, conditions)
        for _ in conditions:
            budget.record((lab.clock() - started) / len(conditions))
        return outcomes

    results: dict[str, list[ExperimentResult]] = {}
    run_counts: dict[str, int] = {}
    skipped: list[tuple[str, str]] = []
    unavailable: dict[str, str] = {}
    by_label = sorted(failures, key=lambda failure: failure.classification is not FailureKind.INTERMITTENT)
    for failure in by_label:
        context = _Context(failure=failure, trial=measured, lab=lab, seed=seed)
        found = results.setdefault(failure.nodeid, _deduced(failure, lab))
        for factor in _factors(failure, lab, unavailable):
            runs, experiment = _EXPERIMENTS[factor]
            if any(result.outcome == "tracks" for result in found):
                break
            if any(result.factor == factor for result in found):  # deduced from the reruns
                continue
            if not budget.allows(runs):
                skipped.append((failure.nodeid, factor))
                continue
            found.append(experiment(context))
            run_counts[failure.nodeid] = run_counts.get(failure.nodeid, 0) + 1
    explained = []
    for failure in failures:
        found = results[failure.nodeid]
        ruled_out = tuple(
            f"experiment {result.factor} ({result.outcome}): {result.evidence}"
            for result in found
            if result.outcome != "tracks"
        )
        relabelled = _relabelled(failure, found)
        hints = rank_hints(relabelled, found, lab.catalog)
        update = {
            "hints": hints,
            "notes": (*relabelled.notes, *ruled_out),
            "experiments_run": run_counts.get(failure.nodeid, 0),
        }
        explained.append(relabelled.model_copy(update=update))
    notes = [*unavailable.values(), *([_budget_note(seconds, skipped)] if skipped else [])]
    return tuple(explained), tuple(notes)
