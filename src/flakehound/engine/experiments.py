"""Orchestration of root-cause experiments: flip one factor at a time and see whether the outcome follows.

Every failure whose label leaves the cause open (intermittent ones first, then order-dependent ones
that may pollute themselves, and deterministic ones that may have met one hash seed only) is run
alone in controlled comparisons (:mod:`flakehound.engine.comparison`): treatment and control runs
of the same test, the same number of each, in one seeded random order, until Fisher's exact test
finds a significant split (p < 0.001) or the runs allowed cannot; a significant split the expected
way is then replicated by fresh runs in a new order (p < 0.01) before it is claimed; an undecided
or unreplicated comparison claims nothing.

* **random seed / hash seed**: a few runs with a fresh seed each find a seed that fails and one that
  passes; the comparison is then that failing seed against that passing seed (only for failures that
  reproduced in the core's reruns, where both seeds already varied naturally); the hash seed needs
  fresh interpreters, and a tracked seed gives a reproduce command that pins it;
* **concurrency**: threads switching every microsecond (``sys.setswitchinterval``) against the default,
  each run with the machine to itself;
* **network**: outbound connections other than loopback refused (``--flakehound-no-network``) against as is;
* **second boundary**: the test body started just before a second boundary against mid-second
  (only for failures whose text reads a clock);
* **frozen clock**: the wall clock standing still through each test against running (for failures
  whose text reads a clock, deterministic ones too: failing whenever time passes fails every rerun);
  a run waiting for the wall clock to pass a deadline hits its timeout and is not counted;
* **CPU load**: busy processes on every core while the test runs, against runs with the machine to itself;
* **clock**: the clock moved to calendar edges with libfaketime, where it is installed, against the real clock;
* **repetition**: the test three times in one process: its later runs against its first.

A *watched* test (one that failed in earlier runs but passed every run here) gets every factor the
machine allows, the seeds first, after all the failures and within what the budget leaves: with no
failure seen, nothing rules a factor out.

Experiments go in an order the failure's matched signatures suggest, stop at the first one the
outcome follows, and stay within the time budget (``--budget-seconds``, by default ten times the
original run and at least a minute, counted from the start of the investigation). IO comes in as a
callable: ``trial(nodeid, conditions)`` runs the test once under each condition (independent runs,
in parallel where the executor can) and says, per run, whether each occurrence failed (None when
the run did not finish).
"""

from __future__ import annotations

import itertools
import random
import shlex
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from flakehound.engine.comparison import ALPHA, LOOKS, REPLICATE_ALPHA, REPLICATE_LOOKS, Sides, allocation
from flakehound.engine.factors import choose_factors, deduced, watched_factors
from flakehound.engine.hints import ExperimentResult, rank_hints
from flakehound.execution.runner import FakeClock, Tweaks
from flakehound.models import FailureKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from contextlib import AbstractContextManager

    from flakehound.engine.hints import Factor
    from flakehound.engine.signatures import Catalog
    from flakehound.models import ClassifiedFailure

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
#: Runs with a fresh seed each, to find a seed that fails and one that passes.
SEED_VARIED = 4
#: Occurrences of the test in one repetition run, and the looks (runs) of the repetition experiment.
REPEATS = 3
REPEAT_LOOKS = (2, 5)
#: The runs of its replication: 10/10 later runs failing against 0/5 first ones replicates (p = 0.0003).
REPEAT_REPLICATE_LOOKS = (5,)
#: The switch interval of the concurrency experiment: threads take turns every microsecond.
SWITCH_INTERVAL = 1e-6
#: Where in a second the second-boundary experiment starts the test body: 10 ms before a boundary, or mid-second.
NEAR_BOUNDARY = 0.99
MID_SECOND = 0.3
_SHOWN_SKIPS = 4


@dataclass(frozen=True)
class Condition:
    """How one experimental run differs from a plain run of the failing test alone."""

    env: Mapping[str, str] = field(default_factory=dict)
    tweaks: Tweaks = field(default_factory=Tweaks)
    busy: bool = False
    repeat: int = 1
    clock: FakeClock | None = None
    #: Run with no other run of the investigation beside it: thread scheduling, for one, changes when
    #: another run takes the second core (waiting threads wake later and ask for the GIL less often).
    solo: bool = False


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
    allows: Callable[[int], bool]

    def draw(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}:{self.failure.nodeid}")  # noqa: S311 - replayable, not secret

    def run(self, conditions: Sequence[Condition]) -> list[tuple[bool, ...] | None]:
        """Each condition once; runs with busy cores or asking for the machine go on their own, the others together."""
        outcomes: list[tuple[bool, ...] | None] = []
        for alone, group in itertools.groupby(conditions, key=lambda condition: condition.busy or condition.solo):
            batch = list(group)
            outcomes += (
                [self.trial(self.failure.nodeid, [c])[0] for c in batch]
                if alone
                else self.trial(self.failure.nodeid, batch)
            )
        return outcomes

    def sequential(
        self, step: Callable[[int], Sides], looks: Sequence[int], *, alpha: float, per_unit: tuple[int, int] = (1, 1)
    ) -> Sides:
        """``step(n)`` runs n more units (a pair, or a repetition run), in looks, until below ``alpha`` or futile.

        Every look after the first must fit the budget; a unit gives ``per_unit`` outcomes on each side.
        """
        sides = Sides()
        made = 0
        for look, size in enumerate(looks):
            more = looks[-1] - made
            worth = bool(sides.treatment and sides.control) and sides.could_decide(
                per_unit[0] * more, per_unit[1] * more, alpha
            )
            if look and (not worth or not self.allows(sum(per_unit) * (size - made))):
                break
            sides = sides.add(step(size - made))
            made = size
            if sides.p < alpha:
                break
        return sides

    def compare(self, name: str, treatment: Condition, control: Condition, *, direction: bool | None) -> Sides:
        """Treatment against control in looks of LOOKS pairs; a significant split the expected way is replicated."""
        draw = self.draw(name)

        def pairs(count: int) -> Sides:
            plan = allocation(draw, count)
            outcomes = self.run([treatment if side else control for side in plan])
            treated = tuple(o[0] for side, o in zip(plan, outcomes, strict=True) if side and o)
            controls = tuple(o[0] for side, o in zip(plan, outcomes, strict=True) if not side and o)
            return Sides(treated, controls, len(plan) - len(treated) - len(controls))

        first = self.sequential(pairs, LOOKS, alpha=ALPHA)
        if not first.significant or direction not in {None, first.treatment_fails_more}:
            return first
        return self.replicate(first, pairs, REPLICATE_LOOKS)

    def replicate(
        self, sides: Sides, step: Callable[[int], Sides], looks: Sequence[int], per_unit: tuple[int, int] = (1, 1)
    ) -> Sides:
        """``sides`` with the fresh runs that replicate its split, or with none when the budget has no room for them."""
        if not self.allows(sum(per_unit) * looks[0]):
            return sides.replicated_by(Sides())
        return sides.replicated_by(self.sequential(step, looks, alpha=REPLICATE_ALPHA, per_unit=per_unit))


def _verdict(
    factor: Factor, sides: Sides, treatment: str, control: str, *, direction: bool | None, prefix: str = ""
) -> ExperimentResult:
    """Tracks when the comparison decided (the treatment failing more, when ``direction`` is True), else no claim."""
    if not sides.treatment or not sides.control:
        evidence = f"{prefix}too few runs finished to compare: {sides.lost} did not"
        return ExperimentResult(factor, "inconclusive", evidence)
    evidence = prefix + sides.counts(treatment, control)
    if sides.decided and direction in {None, sides.treatment_fails_more}:
        return ExperimentResult(factor, "tracks", evidence, comparison=sides.comparison(factor, treatment, control))
    return ExperimentResult(factor, "no-effect", f"{evidence}: not decided in {sides.runs} runs")


def _seed_experiment(
    context: _Context,
    factor: Factor,
    varied_name: str,
    fixed_name: Callable[[int], str],
    condition: Callable[[int], Condition],
) -> ExperimentResult:
    draw = context.draw(factor)
    seeds = [draw.randrange(1, 2**32) for _ in range(SEED_VARIED)]
    varied = [
        (seed, outcome[0])
        for seed, outcome in zip(seeds, context.run([condition(seed) for seed in seeds]), strict=True)
        if outcome
    ]
    head = f"fails {sum(failed for _, failed in varied)}/{len(varied)} with {varied_name} varied"
    if len({failed for _, failed in varied}) < 2:  # noqa: PLR2004 - both outcomes needed
        lost = SEED_VARIED - len(varied)
        note = f" ({lost} run(s) did not finish and are not counted)" if lost else ""
        return ExperimentResult(factor, "inconclusive", f"{head}: no flip to compare fixed seeds against{note}")
    bad = next(seed for seed, failed in varied if failed)
    good = next(seed for seed, failed in varied if not failed)
    sides = context.compare(factor, condition(bad), condition(good), direction=True)
    result = _verdict(factor, sides, f"at {fixed_name(bad)}", f"at {fixed_name(good)}", direction=True)
    evidence = f"{result.evidence}; {head} (a fresh seed for each run)"
    return replace(result, evidence=evidence, seed=bad if result.outcome == "tracks" else None)


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


def _cpu_load(context: _Context) -> ExperimentResult:
    sides = context.compare("cpu-load", Condition(busy=True), Condition(solo=True), direction=True)
    busy = f"with every core busy ({context.lab.busy_processes} busy processes)"
    return _verdict("cpu-load", sides, busy, "on an idle machine", direction=True)


def _network(context: _Context) -> ExperimentResult:
    sides = context.compare("network", Condition(tweaks=Tweaks(no_network=True)), Condition(), direction=None)
    return _verdict("network", sides, "with outbound connections refused", "with the network as is", direction=None)


def _concurrency(context: _Context) -> ExperimentResult:
    fast_switching = Condition(tweaks=Tweaks(switch_interval=SWITCH_INTERVAL), solo=True)
    sides = context.compare("concurrency", fast_switching, Condition(solo=True), direction=True)
    fast = "with threads switching every microsecond"
    return _verdict("concurrency", sides, fast, "at the default switch interval", direction=True)


def _second_boundary(context: _Context) -> ExperimentResult:
    near, mid = (Condition(tweaks=Tweaks(clock_phase=phase)) for phase in (NEAR_BOUNDARY, MID_SECOND))
    sides = context.compare("second-boundary", near, mid, direction=True)
    return _verdict(
        "second-boundary", sides, "started 10 ms before a second boundary", "started mid-second", direction=True
    )


def _frozen_clock(context: _Context) -> ExperimentResult:
    """The clock frozen against running, claimed only when freezing fixes it (failing frozen is the freeze's fault)."""
    frozen = Condition(tweaks=Tweaks(frozen_clock=True))
    sides = context.compare("frozen clock", frozen, Condition(), direction=False)
    return _verdict("frozen-clock", sides, "with the clock frozen", "with the clock running", direction=False)


def _clock(context: _Context) -> ExperimentResult:
    """Each moment against the real clock in turn, until one decides."""
    results = []
    for moment in CLOCK_TIMES:
        condition = Condition(clock=FakeClock(library=str(context.lab.faketime), moment=moment))
        sides = context.compare(f"clock {moment}", condition, Condition(), direction=None)
        results.append(_verdict("clock", sides, f"with the clock at {moment}", "with the real clock", direction=None))
        if results[-1].outcome == "tracks":
            return results[-1]
    evidence = "; ".join(result.evidence for result in results)
    if any(result.outcome == "no-effect" for result in results):
        return ExperimentResult("clock", "no-effect", evidence)
    return ExperimentResult("clock", "inconclusive", evidence)


def _repetition(context: _Context) -> ExperimentResult:
    """Its later runs in one process against its first runs: passing first and failing after means it breaks itself."""

    def runs(count: int) -> Sides:
        outcomes = context.trial(context.failure.nodeid, [Condition(repeat=REPEATS)] * count)
        done = [occurrences for occurrences in outcomes if occurrences is not None and len(occurrences) == REPEATS]
        later = tuple(failed for occurrences in done for failed in occurrences[1:])
        return Sides(later, tuple(occurrences[0] for occurrences in done), len(outcomes) - len(done))

    per_unit = (REPEATS - 1, 1)
    sides = context.sequential(runs, REPEAT_LOOKS, alpha=ALPHA, per_unit=per_unit)
    if sides.significant and sides.treatment_fails_more:
        sides = context.replicate(sides, runs, REPEAT_REPLICATE_LOOKS, per_unit)
    return _verdict(
        "repetition",
        sides,
        "when run again in the same process",
        "the first time in each process",
        direction=True,
        prefix=f"run {REPEATS} times in one process: ",
    )


#: Each experiment's runs at its first look and its function, in the order to try them.
_EXPERIMENTS: dict[Factor, tuple[int, Callable[[_Context], ExperimentResult]]] = {
    "random-seed": (SEED_VARIED + 2 * LOOKS[0], _random_seed),
    "hash-seed": (SEED_VARIED + 2 * LOOKS[0], _hash_seed),
    "concurrency": (2 * LOOKS[0], _concurrency),
    "network": (2 * LOOKS[0], _network),
    "second-boundary": (2 * LOOKS[0], _second_boundary),
    "frozen-clock": (2 * LOOKS[0], _frozen_clock),
    "cpu-load": (2 * LOOKS[0], _cpu_load),
    "clock": (2 * LOOKS[0] * len(CLOCK_TIMES), _clock),
    "repetition": (REPEAT_LOOKS[0], _repetition),
}


def _pinned(failure: ClassifiedFailure, found: Sequence[ExperimentResult]) -> str:
    """The failure's reproduce command, pinned to the seed that made it fail when a seed experiment tracked."""
    tracked = next((result for result in found if result.outcome == "tracks" and result.seed is not None), None)
    if tracked is None:
        return failure.reproduce
    alone = shlex.join(["python", "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"])
    if tracked.factor == "hash-seed":
        return f"PYTHONHASHSEED={tracked.seed} {alone} {shlex.quote(failure.nodeid)}"
    plugin = f"-p flakehound.execution._experiment_plugin --flakehound-random-seed={tracked.seed}"
    return f"{alone} {plugin} {shlex.quote(failure.nodeid)}"


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
    watched: Sequence[ClassifiedFailure] = (),
) -> tuple[tuple[ClassifiedFailure, ...], tuple[str, ...]]:
    """Every failure with its ranked hints (and notes on what experiments ruled out), and the report's notes.

    ``watched`` are tests that passed every run here but failed in earlier runs: they get their
    experiments after every failure, within what the budget leaves, and come back after the failures.
    """
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
    planned = [(failure, choose_factors(failure, lab, unavailable)) for failure in by_label]
    planned += [(test, watched_factors(lab, unavailable)) for test in watched]
    for failure, factors in planned:
        context = _Context(failure=failure, trial=measured, lab=lab, seed=seed, allows=budget.allows)
        found = results.setdefault(failure.nodeid, deduced(failure, lab))
        for factor in factors:
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
    for failure in (*failures, *watched):
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
            "reproduce": _pinned(failure, found),
        }
        explained.append(relabelled.model_copy(update=update))
    notes = [*unavailable.values(), *([_budget_note(seconds, skipped)] if skipped else [])]
    return tuple(explained), tuple(notes)
