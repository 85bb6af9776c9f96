"""The experiments' decisions, driven by a fake trial that decides each run's outcome from its condition.

Every experiment compares treatment runs with control runs of the same test (a plain run, or the
other seed); the fake trial answers each from its condition and the number of the call.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import pytest

from flakehound.engine.experiments import CLOCK_TIMES, Condition, Lab, default_budget, explain
from flakehound.engine.signatures import load_catalog
from flakehound.execution.runner import FakeClock
from flakehound.models import ConfigurationCount, Evidence, FailureKind, Original, Outcome, Polluter

CATALOG = load_catalog()
NODEID = "tests/test_x.py::test_y"
#: What a decisive comparison adds: five fresh pairs in a new random order that split the same way.
REPLICATED = "; replicated in fresh runs: fails 5/5 vs 0/5 (p = 0.008)"
REPLICATED_PASSING = "; replicated in fresh runs: fails 0/5 vs 5/5 (p = 0.008)"
SAME_ITEMS = Original(outcome=Outcome.FAILED, exception="AssertionError", message="assert ['b', 'a'] == ['a', 'b']")
REFUSED = Original(outcome=Outcome.FAILED, exception="ConnectionRefusedError", message="[Errno 111] Connection refused")

Decide = Callable[[Condition, int], "tuple[bool, ...] | None"]


@dataclass
class Bench:
    """A fake trial and clock: ``decide(condition, call_number)`` answers each run; each run takes ``step`` s."""

    decide: Decide
    calls: list[tuple[str, Condition]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    now: float = 0.0
    step: float = 1.0

    def trial(self, nodeid: str, conditions: Sequence[Condition]) -> list[tuple[bool, ...] | None]:
        """Record each run, answer it, and remember how the runs came in batches."""
        self.batches.append(len(conditions))
        answers = []
        for condition in conditions:
            self.calls.append((nodeid, condition))
            self.now += self.step
            answers.append(self.decide(condition, len(self.calls)))
        return answers

    def clock(self) -> float:
        """Seconds since the investigation began."""
        return self.now

    def lab(self, **fields) -> Lab:
        """A lab with every piece of equipment and a generous budget, unless the fields say otherwise."""
        values = {
            "catalog": CATALOG,
            "clock": self.clock,
            "started": 0.0,
            "budget_seconds": 1000.0,
            "busy": nullcontext,
            "busy_processes": 6,
            "faketime": "/usr/lib/faketime/libfaketime.so.1",
            **fields,
        }
        return Lab(**values)

    def factors(self) -> list[str]:
        """Which factor each run varied, in order."""
        return [describe(condition) for _, condition in self.calls]


def describe(condition: Condition) -> str:
    """A short name for the factor a condition varies ("control" for a plain run)."""
    tweaks = condition.tweaks
    named = [
        ("hash-seed", "PYTHONHASHSEED" in condition.env),
        ("clock", condition.clock is not None),
        ("cpu-load", condition.busy),
        ("repetition", condition.repeat > 1),
        ("network", tweaks.no_network),
        ("concurrency", tweaks.switch_interval is not None),
        ("second-boundary", tweaks.clock_phase is not None),
        ("frozen-clock", tweaks.frozen_clock),
        ("random-seed", tweaks.random_seed is not None),
    ]
    return next((name for name, varied in named if varied), "control")


def seed_of(condition: Condition) -> int:
    """The hash seed or random seed a condition fixes."""
    if "PYTHONHASHSEED" in condition.env:
        return int(condition.env["PYTHONHASHSEED"])
    assert condition.tweaks.random_seed is not None
    return condition.tweaks.random_seed


def intermittent(make_failure, alone=(5, 2), original=None, kind=FailureKind.INTERMITTENT, nodeid=NODEID, **fields):
    """A failure that failed ``alone[1]`` of ``alone[0]`` runs alone and once in the original run."""
    evidence = Evidence(
        alone=ConfigurationCount(runs=alone[0], failures=alone[1]),
        original_order=ConfigurationCount(runs=1, failures=1),
    )
    values = {"evidence": evidence, **fields}
    if original is not None:
        values["original"] = original
    return make_failure(nodeid, kind, **values)


def run(bench: Bench, failures, lab: Lab | None = None, original_seconds: float = 1.0):
    """Explain the failures on the bench with seed 7."""
    return explain(failures, bench.trial, lab or bench.lab(), seed=7, original_seconds=original_seconds, per_run=1.0)


def test_hash_seed_tracked_gives_the_top_hint_both_sides_counted_and_a_pinned_reproduce(make_failure):
    """A failure whose outcome is a function of PYTHONHASHSEED is unordered-collection; the failing seed is pinned."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) % 2 == 1,) if "PYTHONHASHSEED" in condition.env else (False,)
    )
    (failure,), notes = run(bench, [intermittent(make_failure, original=SAME_ITEMS)])
    top = failure.hints[0]
    assert top.category == "unordered-collection"
    bad = re.search(r"fails 7/7 at PYTHONHASHSEED=(\d+) vs 0/7 at PYTHONHASHSEED=\d+ \(p = 0\.0006\)", top.evidence)
    assert bad is not None, top.evidence
    varied = "; fails 2/4 with PYTHONHASHSEED varied (a fresh seed for each run)"
    assert top.evidence.endswith(f"(p = 0.0006){REPLICATED}{varied}")
    assert (
        failure.reproduce
        == f"PYTHONHASHSEED={bad.group(1)} python -m pytest -p no:randomly -p no:cacheprovider {NODEID}"
    )
    assert set(bench.factors()) == {"hash-seed"}, "the signature put the hash seed first, and it explained the failure"
    assert bench.batches == [4, 6, 8, 10], "four seeds at once, three pairs, four more that decide, five that replicate"
    assert notes == ()


def test_random_seed_tracked_is_randomness_with_a_command_that_pins_the_seed(make_failure):
    """A failure that follows the random seed the child plugin sets is randomness; hash seeds are never tried."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) > 2**31,) if describe(condition) == "random-seed" else (False,)
    )
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints[0].category == "randomness"
    assert re.search(r"fails 7/7 at random\.seed\(\d+\) vs 0/7 at random\.seed\(\d+\)", failure.hints[0].evidence)
    assert bench.calls[0][1].tweaks.args()[:2] == ("-p", "flakehound.execution._experiment_plugin")
    assert set(bench.factors()) == {"random-seed"}
    assert " -p flakehound.execution._experiment_plugin --flakehound-random-seed=" in failure.reproduce
    assert failure.reproduce.endswith(f" {NODEID}")


def test_seed_that_flips_at_a_fixed_value_is_not_decided(make_failure):
    """When a fixed seed both passes and fails as often as the other seed, nothing is claimed, and the note says so."""
    bench = Bench(lambda condition, call: (call % 2 == 0,) if describe(condition).endswith("seed") else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints == ()
    assert failure.notes[0].startswith("experiment random-seed (no-effect): fails ")
    assert re.search(
        r"\(p = [\d.]+\): not decided in \d+ runs; fails \d/4 with the random seed varied", failure.notes[0]
    )
    assert failure.reproduce == intermittent(make_failure).reproduce, "no seed to pin"
    assert [note.split(" (")[0] for note in failure.notes] == [
        "experiment random-seed",
        "experiment hash-seed",
        "experiment concurrency",
        "experiment network",
        "experiment cpu-load",
        "experiment clock",
        "experiment repetition",
    ]


def test_seed_that_never_fails_is_inconclusive_and_lost_runs_are_counted(make_failure):
    """Varied seeds that never flip leave nothing to compare; runs that did not finish are named, not counted."""
    bench = Bench(lambda condition, call: None if call == 1 else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.notes[0] == (
        "experiment random-seed (inconclusive): fails 0/3 with the random seed varied: no flip to compare fixed seeds"
        " against (1 run(s) did not finish and are not counted)"
    )


def test_lost_comparison_runs_are_left_out_of_both_sides(make_failure):
    """A comparison run that did not finish is not counted on either side, and the evidence says so."""

    def decide(condition: Condition, call: int) -> tuple[bool, ...] | None:
        if call == 6:
            return None
        return (seed_of(condition) > 2**31,) if describe(condition) == "random-seed" else (False,)

    bench = Bench(decide)
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints[0].category == "randomness"
    lost = "; 1 run(s) did not finish and are not counted"
    assert f"(p = 0.0006){lost}{REPLICATED}; fails 2/4" in failure.hints[0].evidence


def test_a_comparison_where_every_run_is_lost_claims_nothing(make_failure):
    """No finished run on one side: too few to compare."""
    bench = Bench(lambda condition, _: None if describe(condition) == "network" else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=REFUSED)])
    assert failure.notes[0] == "experiment network (inconclusive): too few runs finished to compare: 3 did not"


def test_seed_experiments_need_a_reproduced_failure(make_failure):
    """A failure that never came back in reruns (which vary both seeds anyway) gets no seed experiments."""
    bench = Bench(lambda condition, _: (condition.busy,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))])
    assert not {"random-seed", "hash-seed"} & set(bench.factors())
    assert failure.hints[0].category == "timing"
    assert failure.hints[0].evidence == (
        f"fails 7/7 with every core busy (6 busy processes) vs 0/7 on an idle machine (p = 0.0006){REPLICATED}"
    )


def test_busy_runs_and_their_idle_controls_go_one_at_a_time(make_failure):
    """The busy cores are on for a busy run only, and "an idle machine" is true of its control: both go alone."""
    bench = Bench(lambda condition, _: (condition.busy,))
    run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(faketime=None))
    cpu = [index for index, (_, condition) in enumerate(bench.calls) if condition.busy]
    assert len(cpu) == 12
    assert bench.batches[-24:] == [1] * 24, "twelve busy runs and twelve idle ones, each on its own"


def test_thread_switching_runs_have_the_machine_to_themselves(make_failure):
    """A run beside another switches threads less often: both sides of the concurrency comparison go alone.

    The network comparison before it (a refused connection suggests the network first) has no such
    need, so its runs go together.
    """
    bench = Bench(lambda condition, _: (condition.tweaks.switch_interval is not None,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=REFUSED)], bench.lab(faketime=None))
    assert failure.hints[0].category == "concurrency"
    concurrency = [condition for _, condition in bench.calls if condition.solo]
    assert len(concurrency) == 24
    assert {describe(condition) for condition in concurrency} == {"concurrency", "control"}
    assert bench.batches[0] > 1, "the network runs went together"
    assert bench.batches[-24:] == [1] * 24


def test_forked_reruns_share_a_hash_seed_so_it_is_still_varied(make_failure):
    """Reruns forked from one server all had one hash seed: a failure that never came back still gets it varied."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) % 2 == 0,) if describe(condition) == "hash-seed" else (False,)
    )
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(reruns_vary_hash_seed=False))
    assert bench.factors()[0] == "hash-seed"
    assert "random-seed" not in bench.factors()
    assert failure.hints[0].category == "unordered-collection"


def test_a_flip_among_forked_reruns_rules_the_hash_seed_out_without_a_run(make_failure):
    """Forked reruns share one hash seed: failing and passing alone among them proves it is not the cause."""
    bench = Bench(lambda condition, _: (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 2))], bench.lab(reruns_vary_hash_seed=False))
    assert "hash-seed" not in bench.factors()
    assert "random-seed" in bench.factors()
    assert (
        "experiment hash-seed (no-effect): not run: it flipped alone (2/5 failed) in forked reruns that all share"
        " one PYTHONHASHSEED, so the hash seed does not decide its outcome" in failure.notes
    )


def test_a_flip_among_fresh_reruns_says_nothing_about_the_hash_seed(make_failure):
    """Fresh interpreters draw a hash seed each, so a flip among them leaves the hash seed to the experiment."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) % 2 == 0,) if describe(condition) == "hash-seed" else (False,)
    )
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 2))], bench.lab(reruns_vary_hash_seed=True))
    assert "hash-seed" in bench.factors()
    assert failure.hints[0].category == "unordered-collection"


def test_pinned_hash_seed_is_not_varied(make_failure):
    """When the environment pins PYTHONHASHSEED, the hash seed cannot be the cause and is not tried."""
    bench = Bench(lambda condition, _: (False,))
    run(bench, [intermittent(make_failure)], bench.lab(pinned_hash_seed=True))
    assert "hash-seed" not in bench.factors()


def test_network_refused_changes_the_outcome(make_failure):
    """A failure that comes back whenever the network is refused is network, first because its text says so."""
    bench = Bench(lambda condition, _: (condition.tweaks.no_network,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=REFUSED)])
    assert set(bench.factors()) == {"network", "control"}
    assert bench.batches == [6, 8, 10], "three pairs, then the four that can decide, then five fresh ones"
    assert failure.hints[0].category == "network"
    assert failure.hints[0].evidence == (
        f"fails 7/7 with outbound connections refused vs 0/7 with the network as is (p = 0.0006){REPLICATED}"
    )
    comparison = failure.hints[0].comparison
    assert comparison is not None, "the report records the comparison that decided the hint, counted"
    assert (comparison.factor, comparison.treatment, comparison.control) == (
        "network",
        "with outbound connections refused",
        "with the network as is",
    )
    split, replication = comparison.split, comparison.replication
    assert (split.treatment_failures, split.treatment_runs, split.control_failures, split.control_runs) == (7, 7, 0, 7)
    assert round(split.p, 4) == 0.0006
    assert (replication.treatment_failures, replication.treatment_runs) == (5, 5)
    assert (replication.control_failures, replication.control_runs, round(replication.p, 3)) == (0, 5, 0.008)


def test_a_network_flip_that_passes_when_refused_is_network_too(make_failure):
    """Either direction counts for the network: a test that passes only when refused depends on it as well."""
    bench = Bench(lambda condition, _: (not condition.tweaks.no_network,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 4), original=REFUSED)])
    assert failure.hints[0].category == "network"
    assert failure.hints[0].evidence.startswith("fails 0/7 with outbound connections refused vs 7/7")


def test_a_significant_split_that_fresh_runs_do_not_repeat_claims_nothing(make_failure):
    """The network's first fourteen runs split 7/7 against 0/7, then every run passes: not replicated, no claim."""
    bench = Bench(lambda condition, call: (condition.tweaks.no_network and call <= 14,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=REFUSED)], bench.lab(faketime=None))
    assert all(hint.comparison is None and "(p = " not in hint.evidence for hint in failure.hints)
    note = next(note for note in failure.notes if note.startswith("experiment network"))
    assert note == (
        "experiment network (no-effect): fails 7/7 with outbound connections refused vs 0/7 with the network as is"
        " (p = 0.0006); not replicated in fresh runs: fails 0/5 vs 0/5 (p = 1.00): not decided in 24 runs"
    )
    network = [condition for _, condition in bench.calls[:24]]
    assert {describe(condition) for condition in network} == {"network", "control"}
    assert len(bench.calls) > 24, "the experiments after it ran: the network decided nothing"


def test_a_significant_split_with_no_budget_left_to_replicate_claims_nothing(make_failure):
    """Fourteen runs fit the budget and the five fresh pairs do not: the split is not claimed, and the note says why."""
    bench = Bench(lambda condition, _: (condition.tweaks.no_network,))
    failing = intermittent(make_failure, alone=(5, 0), original=REFUSED)
    (failure,), _ = run(bench, [failing], bench.lab(budget_seconds=20))
    assert all(hint.comparison is None and "(p = " not in hint.evidence for hint in failure.hints)
    assert (
        "experiment network (no-effect): fails 7/7 with outbound connections refused vs 0/7 with the network as is"
        " (p = 0.0006); not replicated: the budget (--budget-seconds) left no time for fresh runs:"
        " not decided in 14 runs"
    ) in failure.notes
    assert [describe(condition) for _, condition in bench.calls].count("network") == 7
    assert bench.now <= 20, "no run beyond the budget"


def test_a_test_failing_more_when_idle_is_not_timing(make_failure):
    """A decided difference the wrong way round (fails idle, passes busy) is not the CPU load."""
    bench = Bench(lambda condition, _: (not condition.busy,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(faketime=None))
    assert not any(hint.category == "timing" for hint in failure.hints)
    assert any(
        note.startswith("experiment cpu-load (no-effect): fails 0/7 with every core busy") for note in failure.notes
    )


def test_concurrency_tracks_when_fast_switching_makes_it_fail(make_failure):
    """A race between threads is lost far more often when threads switch every microsecond."""
    bench = Bench(lambda condition, _: (condition.tweaks.switch_interval is not None,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))])
    assert failure.hints[0].category == "concurrency"
    assert failure.hints[0].evidence == (
        "fails 7/7 with threads switching every microsecond vs 0/7 at the default switch interval (p = 0.0006)"
        + REPLICATED
    )
    assert {condition.tweaks.switch_interval for _, condition in bench.calls} == {1e-6, None}


TWO_READINGS = Original(
    outcome=Outcome.FAILED,
    exception="AssertionError",
    message="assert 1796548630 == 1796548629",
    traceback=">       assert int(time.time()) == started",
)


def test_second_boundary_runs_only_for_failures_that_read_the_clock(make_failure):
    """A test whose text reads the clock is started just before a second boundary against mid-second."""
    bench = Bench(lambda condition, _: (condition.tweaks.clock_phase == 0.99,))
    (failure,), _ = run(
        bench, [intermittent(make_failure, alone=(5, 0), original=TWO_READINGS)], bench.lab(faketime=None)
    )
    assert failure.hints[0].category == "clock"
    assert failure.hints[0].evidence == (
        f"fails 7/7 started 10 ms before a second boundary vs 0/7 started mid-second (p = 0.0006){REPLICATED}"
    )
    assert {0.99, 0.3} <= {condition.tweaks.clock_phase for _, condition in bench.calls}
    silent = Bench(lambda condition, _: (False,))
    run(silent, [intermittent(make_failure, alone=(5, 0))], silent.lab(faketime=None))
    assert not {"second-boundary", "frozen-clock"} & set(silent.factors())


#: A cache entry with a short time to live, read back after some work: it expired while the clock ran.
EXPIRED = Original(
    outcome=Outcome.FAILED,
    exception="AssertionError",
    message="assert None == 'token'",
    traceback=">       assert cache.get('session') == 'token'\nE  where stored = time.time() - 0.012",
)


def frozen_fixes_it(condition: Condition, _: int) -> tuple[bool, ...]:
    """Fails whenever the clock runs, whatever else the condition varies."""
    return (not condition.tweaks.frozen_clock,)


def test_frozen_clock_tracks_when_freezing_the_clock_fixes_an_intermittent_failure(make_failure):
    """A failure that reads the clock passes every time frozen and fails running: clock, both sides counted.

    The second-boundary experiment, run before it, does not decide (it fails at either phase).
    """
    bench = Bench(frozen_fixes_it)
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 3), original=EXPIRED)], bench.lab(faketime=None))
    top = failure.hints[0]
    assert (top.category, top.confidence) == ("clock", "high")
    assert top.title.startswith("passes with the clock frozen, fails with it running")
    frozen = "fails 0/7 with the clock frozen vs 7/7 with the clock running (p = 0.0006)"
    assert top.evidence == frozen + REPLICATED_PASSING
    boundary = "experiment second-boundary (no-effect): fails 3/3 started 10 ms before a second boundary vs 3/3"
    assert any(note.startswith(boundary) for note in failure.notes)
    assert bench.factors().count("frozen-clock") == 12
    assert bench.factors()[-1] in {"frozen-clock", "control"}, "the first factor that decides ends the experiments"


def test_a_deterministic_failure_that_reads_the_clock_gets_the_frozen_clock_tried(make_failure):
    """Failing whenever time passes fails every rerun: the frozen clock is tried, and its hint outranks code-bug."""
    bench = Bench(frozen_fixes_it)
    deterministic = make_failure(NODEID, FailureKind.DETERMINISTIC, original=EXPIRED)
    (failure,), _ = run(bench, [deterministic])
    assert set(bench.factors()) == {"frozen-clock", "control"}
    assert failure.classification is FailureKind.DETERMINISTIC
    assert failure.hints[0].category == "clock"
    assert failure.hints[0].evidence == (
        f"fails 0/7 with the clock frozen vs 7/7 with the clock running (p = 0.0006){REPLICATED_PASSING}"
    )
    assert "code-bug" not in {hint.category for hint in failure.hints}


@pytest.mark.parametrize(
    "line",
    [
        "stamp = time.ctime()",
        "stamp = time.asctime()",
        "now = time.localtime()",
        "at = time.time_ns()",
        "d = date.today()",
    ],
)
def test_every_clock_reading_the_frozen_clock_covers_makes_the_failure_read_the_clock(make_failure, line):
    """A deterministic failure whose traceback reads the clock any way the freeze covers gets the frozen clock tried."""
    bench = Bench(lambda condition, _: (not condition.tweaks.frozen_clock,))
    original = Original(outcome=Outcome.FAILED, exception="AssertionError", message="assert 1 == 2", traceback=line)
    (failure,), _ = run(bench, [make_failure(NODEID, FailureKind.DETERMINISTIC, original=original)])
    assert set(bench.factors()) == {"frozen-clock", "control"}
    assert failure.hints[0].category == "clock"


def test_a_deterministic_failure_that_reads_no_clock_gets_no_clock_experiment(make_failure):
    """Nothing in the text reads the clock: the frozen clock is not tried, and the code-bug hint leads."""
    bench = Bench(lambda condition, _: (True,))
    original = Original(
        outcome=Outcome.FAILED, exception="AssertionError", message="assert 1 == 2", traceback="x = f()"
    )
    (failure,), _ = run(bench, [make_failure(NODEID, FailureKind.DETERMINISTIC, original=original)])
    assert bench.calls == []
    assert failure.hints[0].category == "code-bug"


def test_a_deterministic_failure_the_frozen_clock_does_not_fix_stays_a_code_bug(make_failure):
    """Failing frozen and running alike, the comparison stops after its first look and the code-bug hint leads."""
    bench = Bench(lambda condition, _: (True,))
    (failure,), _ = run(bench, [make_failure(NODEID, FailureKind.DETERMINISTIC, original=EXPIRED)])
    assert bench.factors().count("frozen-clock") == 3
    assert failure.hints[0].category == "code-bug"
    assert (
        "experiment frozen-clock (no-effect): fails 3/3 with the clock frozen vs 3/3 with the clock running"
        " (p = 1.00): not decided in 6 runs" in failure.notes
    )


def test_a_test_that_fails_only_frozen_is_not_blamed_on_the_clock(make_failure):
    """Freezing the clock can break a test (ids made from it collide); that is the freeze's fault: no claim."""
    bench = Bench(lambda condition, _: (condition.tweaks.frozen_clock,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=EXPIRED)], bench.lab(faketime=None))
    assert not any(hint.category == "clock" for hint in failure.hints)
    note = next(note for note in failure.notes if note.startswith("experiment frozen-clock"))
    assert note == (
        "experiment frozen-clock (no-effect): fails 7/7 with the clock frozen vs 0/7 with the clock running"
        " (p = 0.0006): not decided in 14 runs"
    )


def test_frozen_runs_that_hang_until_their_timeout_are_not_counted(make_failure):
    """A wait for the wall clock to pass a deadline never ends frozen: those runs are lost, not failures."""
    bench = Bench(lambda condition, _: None if condition.tweaks.frozen_clock else (True,))
    (failure,), _ = run(bench, [make_failure(NODEID, FailureKind.DETERMINISTIC, original=EXPIRED)])
    assert failure.hints[0].category == "code-bug"
    assert "experiment frozen-clock (inconclusive): too few runs finished to compare: 3 did not" in failure.notes
    assert not any("(p = " in hint.evidence for hint in failure.hints)


def test_clock_moved_to_a_leap_day_tracks_against_the_real_clock(make_failure):
    """A failure that fails at one moved time and passes with the real clock is clock, both sides counted."""
    bench = Bench(lambda condition, _: (condition.clock is not None and condition.clock.moment == CLOCK_TIMES[1],))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(busy=None))
    assert failure.hints[0].category == "clock"
    assert failure.hints[0].evidence == (
        f"fails 7/7 with the clock at {CLOCK_TIMES[1]} vs 0/7 with the real clock (p = 0.0006){REPLICATED}"
    )
    leap_day = FakeClock(library="/usr/lib/faketime/libfaketime.so.1", moment=CLOCK_TIMES[1])
    assert [condition.clock for _, condition in bench.calls].count(leap_day) == 12
    assert not any(note.startswith("experiment clock") for note in failure.notes), "the tracked moment is the hint"


def test_clock_runs_that_all_hang_are_inconclusive(make_failure):
    """Runs that hang under libfaketime are left out; with none finished there is nothing to compare."""
    bench = Bench(lambda condition, _: None if condition.clock is not None else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(busy=None))
    note = next(note for note in failure.notes if note.startswith("experiment clock"))
    assert note == (
        "experiment clock (inconclusive): too few runs finished to compare: 3 did not;"
        " too few runs finished to compare: 3 did not"
    )


def test_clock_that_changes_nothing_is_not_decided_at_either_moment(make_failure):
    """Both moments compared with the real clock, neither decided: one note with both comparisons."""
    bench = Bench(lambda condition, _: (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(busy=None))
    note = next(note for note in failure.notes if note.startswith("experiment clock"))
    assert note.startswith(f"experiment clock (no-effect): fails 0/3 with the clock at {CLOCK_TIMES[0]} vs 0/3")
    assert f"; fails 0/3 with the clock at {CLOCK_TIMES[1]} vs 0/3 with the real clock (p = 1.00)" in note


def test_a_flipping_control_stops_the_comparison_after_the_first_look(make_failure):
    """When both sides flip alike in the first three pairs, no later look could decide: the comparison stops."""
    bench = Bench(
        lambda condition, call: (call % 2 == 0,) if describe(condition) in {"network", "control"} else (False,)
    )
    (failure,), _ = run(
        bench, [intermittent(make_failure, alone=(5, 2), original=REFUSED)], bench.lab(busy=None, faketime=None)
    )
    network = [index for index, (_, condition) in enumerate(bench.calls) if describe(condition) == "network"]
    assert len(network) == 3
    assert not any("(p = " in hint.evidence for hint in failure.hints), "only the text's network signature"


@pytest.mark.parametrize("flips", ["every-other-run", "coin"])
def test_a_test_that_flips_on_its_own_never_gets_a_factor_claimed(make_failure, flips):
    """Across many investigation seeds, a test flipping on a schedule or at random gets no experiment hint.

    The sides run in one random order per look, so a test that fails on every other run cannot
    line up with one side; a coin-flip test splits its failures evenly between the sides. Now and
    then one comparison splits significantly all the same (about 9 in 1,000 investigations of the
    every-other-run test, 2 in 1,000 of the coin); fresh runs in a new order then fail to replicate it.
    """
    claims = []
    for seed in range(400):
        coin = random.Random(seed)
        if flips == "coin":
            bench = Bench(lambda condition, _, coin=coin: tuple(coin.random() < 0.5 for _ in range(condition.repeat)))
        else:
            bench = Bench(lambda condition, call: tuple((call + n) % 2 == 0 for n in range(condition.repeat)))
        failure = intermittent(make_failure, alone=(5, 2), original=TWO_READINGS)
        (explained,), _ = explain([failure], bench.trial, bench.lab(), seed=seed, original_seconds=1.0, per_run=1.0)
        claims += [hint.title for hint in explained.hints if "(p = " in hint.evidence]
        assert len(bench.calls) > 20, "every experiment ran"
    assert claims == []


def test_missing_equipment_is_named_once_in_the_report_notes(make_failure):
    """Without libfaketime or a way to load the CPU, those experiments are skipped and the report says so once."""
    bench = Bench(lambda condition, _: (False,))
    failures = [intermittent(make_failure, nodeid=f"t.py::test_{n}", alone=(5, 0)) for n in "ab"]
    _, notes = run(bench, failures, bench.lab(busy=None, faketime=None))
    assert notes == (
        "the CPU-load experiment was skipped: no way to load the CPU here",
        "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)",
    )
    assert set(bench.factors()) == {"network", "concurrency", "control", "repetition"}


@pytest.mark.parametrize(
    ("outcomes", "result", "runs"),
    [
        ((False, True, True), "tracks", 10),
        ((True, True, True), "no-effect", 2),
        ((False, True, False), "no-effect", 2),
        ((False, True), "inconclusive", 2),
        (None, "inconclusive", 2),
    ],
    ids=["pollutes-itself", "fails-every-time", "flips-every-run", "third-missing", "did-not-finish"],
)
def test_repetition_of_a_sibling_parametrization(make_failure, outcomes, result, runs):
    """A victim of a sibling parametrization runs 3 times in one process: its later runs against its first ones."""
    sibling = Polluter(nodeids=("tests/test_r.py::test_reg[csv]",), confirmed_runs=3, confirmed_failures=3)
    victim = make_failure("tests/test_r.py::test_reg[json]", FailureKind.ORDER_DEPENDENT, polluters=(sibling,))
    bench = Bench(lambda condition, _: outcomes)
    (failure,), _ = run(bench, [victim])
    assert [condition.repeat for _, condition in bench.calls] == [3] * runs
    if result == "tracks":
        hint = next(hint for hint in failure.hints if "(p = " in hint.evidence)
        assert hint.category == "shared-state"
        assert hint.evidence == (
            "run 3 times in one process: fails 10/10 when run again in the same process vs 0/5 the first time in each"
            " process (p = 0.0003); replicated in fresh runs: fails 10/10 vs 0/5 (p = 0.0003)"
        )
    else:
        assert failure.notes[-1].startswith(f"experiment repetition ({result})")


def test_order_dependent_with_another_polluter_gets_no_experiment(make_failure):
    """A polluter that is another test already explains the failure: no experiment runs."""
    other = Polluter(nodeids=("tests/test_a.py::test_a",), confirmed_runs=3, confirmed_failures=3)
    bench = Bench(lambda condition, _: (True,))
    (failure,), _ = run(bench, [make_failure(NODEID, FailureKind.ORDER_DEPENDENT, polluters=(other,))])
    assert bench.calls == []
    assert failure.hints[0].title == "fails after tests/test_a.py::test_a"


def test_order_dependent_without_a_polluter_is_repeated(make_failure):
    """When bisection found no polluter, the test is run several times in one process to see if it pollutes itself."""
    bench = Bench(lambda condition, _: (False, True, True))
    run(bench, [make_failure(NODEID, FailureKind.ORDER_DEPENDENT)])
    assert bench.factors() == ["repetition"] * 10, "five runs decide, five fresh ones replicate"


@pytest.mark.parametrize("kind", [FailureKind.DETERMINISTIC, FailureKind.BRITTLE])
def test_settled_labels_get_hints_without_experiments(make_failure, kind):
    """Deterministic and brittle failures get their hints from the label and the text alone."""
    bench = Bench(lambda condition, _: (True,))
    (failure,), notes = run(bench, [make_failure(NODEID, kind)])
    assert bench.calls == []
    assert notes == ()
    assert [hint.category for hint in failure.hints] == (["code-bug"] if kind is FailureKind.DETERMINISTIC else [])


def test_intermittent_failures_are_explained_first_and_returned_in_order(make_failure):
    """Experiments start with intermittent failures; the failures come back in the order they were given."""
    bench = Bench(lambda condition, _: (False, True, True) if condition.repeat > 1 else (False,))
    order_dependent = make_failure("t.py::test_od", FailureKind.ORDER_DEPENDENT)
    flaky = intermittent(make_failure, nodeid="t.py::test_flaky", alone=(5, 0))
    explained, _ = run(bench, [order_dependent, flaky])
    assert [failure.nodeid for failure in explained] == ["t.py::test_od", "t.py::test_flaky"]
    assert bench.calls[0][0] == "t.py::test_flaky"


def test_budget_skips_experiments_and_says_which(make_failure):
    """With no time left, every experiment is skipped, and the report names them (the first few)."""
    bench = Bench(lambda condition, _: (False,))
    failures = [intermittent(make_failure, nodeid=f"t.py::test_{n}") for n in "ab"]
    explained, notes = run(bench, failures, bench.lab(budget_seconds=0.0))
    assert bench.calls == []
    assert notes == (
        (
            "the investigation budget (0 s, --budget-seconds) ran out: 14 experiment(s) skipped: random-seed for"
            " t.py::test_a, hash-seed for t.py::test_a, concurrency for t.py::test_a, network for t.py::test_a and 10"
            " more"
        ),
    )
    assert all(failure.hints == () for failure in explained)


def test_budget_defaults_to_ten_times_the_original_run(make_failure):
    """Without --budget-seconds the budget is ten times the original run, at least 60 s: six 9 s runs fill it."""
    bench = Bench(lambda condition, _: (False,), step=9.0)
    _, notes = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(budget_seconds=None), 0.25)
    assert len(bench.calls) == 6
    assert notes[0].startswith(
        "the investigation budget (60 s, --budget-seconds) ran out: 4 experiment(s) skipped: network for"
    )


def test_a_comparison_stops_its_looks_when_the_budget_ends(make_failure):
    """A comparison that would need another look stops when the budget has no room for it; nothing is claimed."""
    bench = Bench(lambda condition, _: (condition.tweaks.switch_interval is not None,), step=9.0)
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(budget_seconds=60.0))
    assert len(bench.calls) == 6
    assert failure.hints == ()
    assert failure.notes[0] == (
        "experiment concurrency (no-effect): fails 3/3 with threads switching every microsecond vs 0/3 at the default"
        " switch interval (p = 0.10): not decided in 6 runs"
    )


@pytest.mark.parametrize(
    ("seconds", "budget"), [(0.0, 60.0), (5.9, 60.0), (30.0, 300.0)], ids=["none", "short", "long"]
)
def test_default_budget(seconds, budget):
    """The default budget is ten times the original run and at least a minute."""
    assert default_budget(seconds) == budget


@pytest.mark.parametrize(
    ("vary", "tracks", "label", "factors"),
    [
        (False, True, FailureKind.INTERMITTENT, ["hash-seed"] * 28),
        (False, False, FailureKind.DETERMINISTIC, ["hash-seed"] * 4),
        (True, True, FailureKind.DETERMINISTIC, []),
    ],
    ids=["forked-and-follows-the-seed", "forked-and-does-not", "fresh-reruns-saw-many-seeds"],
)
def test_deterministic_order_mismatch_after_forked_reruns_gets_the_hash_seed_tried(
    make_failure, vary, tracks, label, factors
):
    """Forked reruns share one hash seed: a failure blaming an order is tried under varied seeds and relabelled."""
    bench = Bench(
        lambda condition, _: (
            (tracks and seed_of(condition) % 2 == 1,) if describe(condition) == "hash-seed" else (True,)
        )
    )
    deterministic = make_failure(NODEID, FailureKind.DETERMINISTIC, original=SAME_ITEMS)
    (failure,), _ = run(bench, [deterministic], bench.lab(reruns_vary_hash_seed=vary))
    assert bench.factors() == factors
    assert failure.classification is label
    assert failure.hints[0].category == "unordered-collection", "the same items in another order, a strong signature"
    relabelled = [note for note in failure.notes if "forked reruns share one hash seed" in note]
    assert len(relabelled) == (label is FailureKind.INTERMITTENT)


def test_experiments_run_counts_only_the_experiments_actually_run(make_failure):
    """A failure records how many experiments ran on it; ones deduced from reruns or skipped by budget do not count."""
    bench = Bench(lambda condition, _: (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 2))], bench.lab(reruns_vary_hash_seed=False))
    assert "hash-seed" not in bench.factors()
    assert failure.experiments_run == len(set(bench.factors()) - {"control"})
    assert failure.experiments_run > 0
    (skipped,), _ = run(bench, [intermittent(make_failure)], bench.lab(budget_seconds=0.0))
    assert skipped.experiments_run == 0


def test_a_watched_test_gets_every_factor_the_machine_allows_seeds_first_after_the_failures(make_failure):
    """A test that passed every run here (watched): seeds first, a pinned hash seed and missing equipment left out.

    Never the frozen clock: freezing can only fix a failure, and this test has none. It comes back
    after the failures, with each experiment's evidence in its notes.
    """
    bench = Bench(lambda condition, call: (False,))
    passing = Evidence(alone=ConfigurationCount(runs=3), original_order=ConfigurationCount(runs=1))
    watched = make_failure(
        "tests/test_w.py::test_w", FailureKind.INTERMITTENT, evidence=passing, original=Original(outcome=Outcome.PASSED)
    )
    failure = intermittent(make_failure)
    lab = bench.lab(pinned_hash_seed=True, busy=None, faketime=None)
    explained, notes = explain(
        [failure], bench.trial, lab, seed=7, original_seconds=1.0, per_run=1.0, watched=[watched]
    )
    assert [each.nodeid for each in explained] == [NODEID, "tests/test_w.py::test_w"]
    varied = {describe(condition) for nodeid, condition in bench.calls if nodeid == watched.nodeid}
    assert varied == {"random-seed", "concurrency", "network", "second-boundary", "repetition", "control"}
    first_watched = next(index for index, (nodeid, _) in enumerate(bench.calls) if nodeid == watched.nodeid)
    assert all(nodeid == watched.nodeid for nodeid, _ in bench.calls[first_watched:])
    assert [note.split(" (", 1)[0] for note in explained[1].notes] == [
        "experiment random-seed",
        "experiment concurrency",
        "experiment network",
        "experiment second-boundary",
        "experiment repetition",
    ]
    assert explained[1].experiments_run == 5
    assert len(notes) == 2, "the missing load and clock are named once"
