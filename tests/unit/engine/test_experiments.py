"""The experiments' decisions, driven by a fake trial that decides each run's outcome from its condition."""

from __future__ import annotations

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
    """A short name for the factor a condition varies."""
    if "PYTHONHASHSEED" in condition.env:
        return "hash-seed"
    if condition.clock is not None:
        return "clock"
    if condition.busy:
        return "cpu-load"
    if condition.repeat > 1:
        return "repetition"
    if condition.tweaks.no_network:
        return "network"
    return "random-seed"


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


def test_hash_seed_tracked_gives_the_top_hint_with_counts(make_failure):
    """A failure whose outcome is a function of PYTHONHASHSEED is unordered-collection, with fixed-seed counts."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) % 2 == 1,) if "PYTHONHASHSEED" in condition.env else (False,)
    )
    (failure,), notes = run(bench, [intermittent(make_failure, original=SAME_ITEMS)])
    top = failure.hints[0]
    assert top.category == "unordered-collection"
    assert top.evidence.startswith("fails 1/")
    assert "with PYTHONHASHSEED varied; with it fixed: fails 3/3 at PYTHONHASHSEED=" in top.evidence
    assert ", 0/3 at PYTHONHASHSEED=" in top.evidence
    assert set(bench.factors()) == {"hash-seed"}, "the signature put the hash seed first, and it explained the failure"
    assert failure.hints[1].title == "both sides hold the same items in a different order"
    assert notes == ()


def test_random_seed_tracked_is_randomness(make_failure):
    """A failure that follows the random seed the child plugin sets is randomness; hash seeds are never tried."""
    bench = Bench(
        lambda condition, _: (seed_of(condition) > 2**31,) if describe(condition) == "random-seed" else (False,)
    )
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints[0].category == "randomness"
    assert "with the random seed varied; with it fixed: fails 3/3 at random.seed(" in failure.hints[0].evidence
    assert bench.calls[0][1].tweaks.args()[:2] == ("-p", "flakehound.execution._experiment_plugin")
    assert set(bench.factors()) == {"random-seed"}


def test_seed_that_flips_at_a_fixed_value_is_ruled_out_in_a_note(make_failure):
    """When a fixed seed both passes and fails, the seed is ruled out, and the note says how it flipped."""
    bench = Bench(lambda condition, call: (call % 2 == 0,) if describe(condition).endswith("seed") else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints == ()
    assert failure.notes[0].startswith("experiment random-seed (no-effect): fails 1/2 with the random seed varied;")
    assert any(note.startswith("experiment hash-seed (no-effect)") for note in failure.notes)
    assert [note.split(" (")[0] for note in failure.notes] == [
        "experiment random-seed",
        "experiment hash-seed",
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


def test_lost_confirmation_runs_are_left_out_of_the_fixed_counts(make_failure):
    """A confirmation run that did not finish is not counted at either fixed seed."""

    def decide(condition: Condition, call: int) -> tuple[bool, ...] | None:
        if call == 3:
            return None
        return (seed_of(condition) > 2**31,)

    bench = Bench(decide)
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.hints[0].category == "randomness"
    assert failure.hints[0].evidence.endswith("(1 run(s) did not finish and are not counted)")


def test_seed_experiments_need_a_reproduced_failure(make_failure):
    """A failure that never came back in reruns (which vary both seeds anyway) gets no seed experiments."""
    bench = Bench(lambda condition, _: (False,) if describe(condition) != "cpu-load" else (True,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))])
    assert bench.factors() == ["network", "network", "cpu-load", "cpu-load", "cpu-load"]
    assert failure.hints[0].category == "timing"
    assert (
        failure.hints[0].evidence == "fails 3/3 with every core busy (6 busy processes), 0/5 alone on an idle machine"
    )


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
    assert bench.factors() == ["network", "network"]
    assert failure.hints[0].category == "network"
    assert failure.hints[0].evidence == "fails 2/2 with outbound connections refused, 0/5 alone with the network as is"


def test_network_runs_that_never_finish_are_inconclusive(make_failure):
    """When no run with the network refused finishes, the experiment says so."""
    bench = Bench(lambda condition, _: None if describe(condition) == "network" else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0), original=REFUSED)])
    assert failure.notes[0] == (
        "experiment network (inconclusive): no run finished with outbound connections refused"
        " (2 run(s) did not finish and are not counted)"
    )


def test_clock_moved_to_a_leap_day_flips_twice(make_failure):
    """A failure that fails again and again at one moved time is clock, with counts per moment."""
    bench = Bench(lambda condition, _: (condition.clock is not None and condition.clock.moment == CLOCK_TIMES[1],))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(busy=None))
    assert failure.hints[0].category == "clock"
    assert failure.hints[0].evidence == (
        f"with the clock moved, fails 0/2 at {CLOCK_TIMES[0]}, 2/2 at {CLOCK_TIMES[1]}; 0/5 alone with the real clock"
    )
    assert bench.calls[-1][1].clock == FakeClock(library="/usr/lib/faketime/libfaketime.so.1", moment=CLOCK_TIMES[1])


def test_clock_flip_that_does_not_repeat_is_no_effect(make_failure):
    """A usually-failing test that passes once under a moved clock, then fails again there, is not clock."""
    clock_runs = iter([False, True, True])
    bench = Bench(lambda condition, _: (next(clock_runs),) if describe(condition) == "clock" else (True,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 4))], bench.lab(busy=None))
    clock_note = next(note for note in failure.notes if note.startswith("experiment clock"))
    assert clock_note == (
        f"experiment clock (no-effect): with the clock moved, fails 1/2 at {CLOCK_TIMES[0]}; 4/5 alone with the"
        " real clock"
    )


@pytest.mark.parametrize(
    ("alone", "hangs", "fails", "note"),
    [
        (
            (5, 0),
            {1},
            {2},
            (
                f"experiment clock (no-effect): with the clock moved, fails 1/2 at {CLOCK_TIMES[0]}; 0/5 alone with the"
                " real clock (1 run(s) hung or crashed under libfaketime and are not counted)"
            ),
        ),
        (
            (5, 0),
            {1, 2, 3, 4},
            set(),
            (
                "experiment clock (inconclusive): no run finished with the clock moved (4 run(s) hung or crashed under"
                " libfaketime and are not counted)"
            ),
        ),
        (
            (5, 1),
            {3},
            {1, 2},
            (
                f"experiment clock (no-effect): with the clock moved, fails 2/2 at {CLOCK_TIMES[0]}; 1/5 alone with the"
                " real clock (1 run(s) hung or crashed under libfaketime and are not counted)"
            ),
        ),
    ],
    ids=["one-hang", "all-hang", "extension-hangs"],
)
def test_clock_runs_that_hang_under_libfaketime_are_not_counted(make_failure, alone, hangs, fails, note):
    """Runs that hang under libfaketime are left out and named; the clock runs listed in ``fails`` fail.

    With 1/5 alone, two failures at a moved clock are not proof yet (a third is needed), and the
    third hangs: no effect shown.
    """
    clock_calls = []

    def decide(condition: Condition, _: int) -> tuple[bool, ...] | None:
        if describe(condition) != "clock":
            return (False,)
        clock_calls.append(condition)
        if len(clock_calls) in hangs:
            return None
        return (len(clock_calls) in fails,)

    bench = Bench(decide)
    (failure,), _ = run(bench, [intermittent(make_failure, alone=alone)], bench.lab(busy=None))
    assert note in failure.notes


def _coin_flip_under(factor: str, outcomes: list[bool]) -> Bench:
    """A test that fails 2/4 alone; the runs varying ``factor`` end as ``outcomes`` say, the others flip in turn."""
    answers = iter(outcomes)
    return Bench(lambda condition, call: (next(answers),) if describe(condition) == factor else (call % 2 == 0,))


def test_a_coin_flip_test_needs_five_failures_without_network_to_blame_it(make_failure):
    """At 2/4 alone, two failures with the network refused happen by chance a quarter of the time: five prove it."""
    bench = _coin_flip_under("network", [True] * 5)
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(4, 2), original=REFUSED)])
    assert failure.hints[0].category == "network"
    assert failure.hints[0].evidence == "fails 5/5 with outbound connections refused, 2/4 alone with the network as is"
    assert bench.batches[:2] == [2, 3], "two runs at once, then the three that can prove it at once"


def test_a_coin_flip_test_that_flips_without_network_too_is_not_network(make_failure):
    """Two failures, then a pass among the extra runs: what the test does anyway, not the network."""
    bench = _coin_flip_under("network", [True, True, True, False, True])
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(4, 2), original=REFUSED)])
    assert (
        "experiment network (no-effect): fails 4/5 with outbound connections refused, 2/4 alone with the network as is"
        in failure.notes
    )


def test_a_coin_flip_test_failing_three_times_under_load_is_not_yet_timing(make_failure):
    """Under load, 3/3 failures of a test that fails 2/4 alone are extended to five runs before they count."""
    bench = _coin_flip_under("cpu-load", [True, True, True, True, False])
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(4, 2))], bench.lab(faketime=None))
    assert bench.factors().count("cpu-load") == 5
    assert not any(hint.category == "timing" for hint in failure.hints)


def test_a_rare_failure_that_always_fails_under_load_is_timing_after_three_runs(make_failure):
    """At 0/5 alone, three failures out of three under load is far beyond chance: no extra runs."""
    bench = Bench(lambda condition, _: (describe(condition) == "cpu-load",))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(faketime=None))
    assert bench.factors().count("cpu-load") == 3
    assert failure.hints[0].category == "timing"


def test_missing_equipment_is_named_once_in_the_report_notes(make_failure):
    """Without libfaketime or a way to load the CPU, those experiments are skipped and the report says so once."""
    bench = Bench(lambda condition, _: (False,))
    failures = [intermittent(make_failure, nodeid=f"t.py::test_{n}", alone=(5, 0)) for n in "ab"]
    _, notes = run(bench, failures, bench.lab(busy=None, faketime=None))
    assert notes == (
        "the CPU-load experiment was skipped: no way to load the CPU here",
        "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)",
    )
    assert set(bench.factors()) == {"network", "repetition"}


@pytest.mark.parametrize(
    ("outcomes", "result"),
    [
        ((False, True, True), "tracks"),
        ((True, True, True), "no-effect"),
        ((False, True, False), "no-effect"),
        ((False, True), "inconclusive"),
        (None, "inconclusive"),
    ],
    ids=["pollutes-itself", "fails-every-time", "flips-every-run", "third-missing", "did-not-finish"],
)
def test_repetition_of_a_sibling_parametrization(make_failure, outcomes, result):
    """A victim of a sibling parametrization runs 3 times in one process: pass, fail, fail means it pollutes itself."""
    sibling = Polluter(nodeids=("tests/test_r.py::test_reg[csv]",), confirmed_runs=3, confirmed_failures=3)
    victim = make_failure("tests/test_r.py::test_reg[json]", FailureKind.ORDER_DEPENDENT, polluters=(sibling,))
    bench = Bench(lambda condition, _: outcomes)
    (failure,), _ = run(bench, [victim])
    assert [condition.repeat for _, condition in bench.calls] == [3, 3]
    if result == "tracks":
        assert failure.hints[0].category == "shared-state"  # decided experiment evidence ranks first
        assert failure.hints[0].evidence == (
            "run 3 times in one process, it passes the first time and fails every later time in 2/2 runs"
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
    assert bench.factors() == ["repetition", "repetition"]


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
            "the investigation budget (0 s, --budget-seconds) ran out: 12 experiment(s) skipped: random-seed for"
            " t.py::test_a, hash-seed for t.py::test_a, network for t.py::test_a, cpu-load for t.py::test_a and 8 more"
        ),
    )
    assert all(failure.hints == () for failure in explained)


def test_budget_defaults_to_ten_times_the_original_run(make_failure):
    """Without --budget-seconds the budget is ten times the original run, at least 60 s: two 25 s runs fill it."""
    bench = Bench(lambda condition, _: (False,), step=25.0)
    _, notes = run(bench, [intermittent(make_failure, alone=(5, 0))], bench.lab(budget_seconds=None), 0.25)
    assert bench.factors() == ["network", "network"]
    assert notes[0].startswith("the investigation budget (60 s, --budget-seconds) ran out: 3 experiment(s) skipped")


@pytest.mark.parametrize(
    ("seconds", "budget"), [(0.0, 60.0), (5.9, 60.0), (30.0, 300.0)], ids=["none", "short", "long"]
)
def test_default_budget(seconds, budget):
    """The default budget is ten times the original run and at least a minute."""
    assert default_budget(seconds) == budget


def test_a_test_that_flips_every_other_run_does_not_follow_the_seed(make_failure):
    """A counter-driven flip (fail, pass, fail, ...) is not mistaken for a seed: each fixed seed sees both outcomes."""
    bench = Bench(lambda condition, call: (call % 2 == 1,) if describe(condition) == "random-seed" else (False,))
    (failure,), _ = run(bench, [intermittent(make_failure)])
    assert failure.notes[0].startswith("experiment random-seed (no-effect): fails 1/2 with the random seed varied")
    assert "fails 2/3 at random.seed(" in failure.notes[0]


@pytest.mark.parametrize(
    ("vary", "tracks", "label", "factors"),
    [
        (False, True, FailureKind.INTERMITTENT, ["hash-seed"] * 6),
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
    # still deterministic (the seed decided nothing): a code-bug first, the signature naming the kind of bug below
    expected = ["unordered-collection"] if label is FailureKind.INTERMITTENT else ["code-bug", "unordered-collection"]
    assert [hint.category for hint in failure.hints][: len(expected)] == expected
    relabelled = [note for note in failure.notes if "forked reruns share one hash seed" in note]
    assert len(relabelled) == (label is FailureKind.INTERMITTENT)


def test_experiments_run_counts_only_the_experiments_actually_run(make_failure):
    """A failure records how many experiments ran on it; ones deduced from reruns or skipped by budget do not count."""
    bench = Bench(lambda condition, _: (False,))
    (failure,), _ = run(bench, [intermittent(make_failure, alone=(5, 2))], bench.lab(reruns_vary_hash_seed=False))
    assert "hash-seed" not in bench.factors()
    assert failure.experiments_run == len(set(bench.factors()))
    assert failure.experiments_run > 0
    (skipped,), _ = run(bench, [intermittent(make_failure)], bench.lab(budget_seconds=0.0))
    assert skipped.experiments_run == 0
