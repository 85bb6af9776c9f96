"""The polluter and state-setter search, driven by small pure probes over sets."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.engine.bisect import SearchResult, Tally, find_polluters, find_state_setters, to_polluter
from flakehound.errors import ConfigError
from flakehound.models import Polluter, StateChange

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

V = "tests/test_v.py::test_victim"


def names(count: int) -> list[str]:
    """Make ``count`` distinct node ids."""
    return [f"tests/test_a.py::test_{index}" for index in range(count)]


class CountingProbe:
    """A probe over sets: ``fails(victim, tests_before_it)`` decides; every call is one 'run'."""

    def __init__(self, fails: Callable[[str, frozenset[str]], bool], victims: Sequence[str] = (V,)) -> None:
        """Decide failures with ``fails``; report only ``victims``."""
        self.fails = fails
        self.victims = set(victims)
        self.orders: list[tuple[str, ...]] = []

    def __call__(self, order: Sequence[str]) -> Mapping[str, bool]:
        """Record the order and say which victims failed in it."""
        self.orders.append(tuple(order))
        return {
            nodeid: self.fails(nodeid, frozenset(order[:index]))
            for index, nodeid in enumerate(order)
            if nodeid in self.victims
        }

    @property
    def runs(self) -> int:
        """Count the runs made so far."""
        return len(self.orders)


def after(*polluters: str) -> Callable[[str, frozenset[str]], bool]:
    """Fail the victim iff all of ``polluters`` ran before it."""
    return lambda _victim, before: set(polluters) <= before


def bound(count: int) -> int:
    """Give the most runs a single deterministic polluter among ``count`` tests may cost: two per level."""
    return 2 * math.ceil(math.log2(count)) + 4 if count > 1 else 4


def candidates_run(probe: CountingProbe, victims: int = 1) -> int:
    """Count the candidate tests the probe's runs ran (the victims at their ends left out)."""
    return sum(len(order) - victims for order in probe.orders)


@pytest.mark.parametrize("count", [1, 2, 3, 10, 150, 1000], ids=lambda n: f"n={n}")
def test_single_polluter_within_log_bound_at_every_position(count):
    """One deterministic polluter among n tests is found and confirmed in at most 2 ceil(log2 n) + 4 runs.

    The runs are more than one half per level would make, but they run fewer tests: at most the
    candidates and the confirmations, and on average (over the polluter's positions) no more
    than 85% of that.
    """
    prefix = names(count)
    ran = []
    for polluter in prefix:
        probe = CountingProbe(after(polluter))
        result = find_polluters([V], prefix, probe)[V]
        assert result.nodeids == (polluter,)
        assert result.is_confirmed
        assert probe.runs <= bound(count)
        assert result.search_runs == probe.runs
        assert result.after == Tally(runs=3, failures=3)
        assert result.alone == Tally(runs=1, failures=0)
        ran.append(candidates_run(probe))
        assert ran[-1] <= count + 3
    assert sum(ran) <= 0.85 * len(ran) * (count + 3) or count < 10


@given(count=st.integers(min_value=1, max_value=400), data=st.data())
def test_random_polluter_position_found_within_bound(count, data):
    """Wherever the single polluter sits in the prefix, the search finds exactly it within the bound."""
    prefix = names(count)
    polluter = data.draw(st.sampled_from(prefix))
    probe = CountingProbe(after(polluter))
    result = find_polluters([V], prefix, probe)[V]
    assert result.nodeids == (polluter,)
    assert probe.runs <= bound(count)


class Flaky:
    """A victim that fails with probability ``rate`` after its polluter (seeded), never without it."""

    def __init__(self, polluter: str, rate: float, seed: int) -> None:
        """Draw from ``random.Random(seed)``."""
        self.polluter = polluter
        self.rate = rate
        self.rng = random.Random(seed)

    def __call__(self, _victim: str, before: frozenset[str]) -> bool:
        """Fail at the rate after the polluter, else pass."""
        return self.polluter in before and self.rng.random() < self.rate


@pytest.mark.parametrize("count", [20, 150], ids=lambda n: f"n={n}")
def test_victim_failing_30_percent_after_polluter_found_in_9_of_10_seeds(count):
    """A victim failing 30% of the time after its polluter, never alone, has it found for >= 9 of 10 seeds."""
    prefix = names(count)
    found = 0
    for seed in range(10):
        polluter = prefix[random.Random(seed + 100).randrange(count)]
        probe = CountingProbe(Flaky(polluter, 0.3, seed))
        result = find_polluters([V], prefix, probe)[V]
        if result.nodeids == (polluter,) and result.is_confirmed:
            # It failed in all three confirmations (a 2.7% chance at 30%): true, and never without it.
            assert result.after == Tally(runs=3, failures=3)
            assert result.alone == Tally(runs=1, failures=0)
            found += 1
        elif result.nodeids == (polluter,):
            found += 1
            assert result.alone.failures == 0
            assert result.alone.runs == 10
            assert 0 < result.after.failures < result.after.runs == 10
            assert not result.is_confirmed
            assert result.reason is not None
            assert "flaky" in result.reason
    assert found >= 9


@pytest.mark.parametrize(
    ("count", "polluters"),
    [
        (8, (1, 6)),
        (16, (0, 15)),
        (100, (10, 70)),
        (100, (3, 4)),
        (37, (2, 20, 30)),
    ],
    ids=["pair-split-8", "pair-ends-16", "pair-split-100", "pair-same-half", "triple"],
)
def test_polluters_that_pollute_only_together_are_found_as_a_set(count, polluters):
    """When no single test pollutes, ddmin probes both halves and narrows to the minimal set together."""
    prefix = names(count)
    wanted = tuple(prefix[index] for index in polluters)
    probe = CountingProbe(after(*wanted))
    result = find_polluters([V], prefix, probe)[V]
    assert result.nodeids == wanted
    assert result.is_confirmed
    assert result.search_runs == probe.runs


def test_victim_that_passes_after_its_whole_prefix_gets_a_reason_not_an_assertion():
    """A victim the prefix never breaks yields no polluter and says why, after a bounded number of runs."""
    probe = CountingProbe(lambda _victim, _before: False)
    result = find_polluters([V], names(10), probe, max_repeats=5)[V]
    assert result.nodeids is None
    assert result.reason == "the victim passed after its whole prefix in 5 runs: there is nothing to find"
    assert not result.is_confirmed
    assert probe.runs == result.search_runs


@pytest.mark.parametrize(
    ("finder", "fails", "reason"),
    [
        (find_polluters, True, "the victim failed with nothing before it: no test before it is needed"),
        (find_state_setters, False, "the victim passed with nothing before it: no test before it is needed"),
    ],
    ids=["polluter-fails-alone", "setter-passes-alone"],
)
def test_victim_that_flips_with_nothing_before_it_stops_after_one_run(finder, fails, reason):
    """A victim already in the flipped state alone needs no search: one run and a reason."""
    probe = CountingProbe(lambda _victim, _before: fails)
    result = finder([V], names(10), probe)[V]
    assert result.nodeids is None
    assert result.reason == reason
    assert probe.runs == 1


def test_empty_prefix_needs_no_run():
    """With nothing before the victim there is nothing to search and no run is made."""
    probe = CountingProbe(after("x"))
    result = find_polluters([V], [], probe)[V]
    assert result.nodeids is None
    assert result.reason == "nothing ran before the victim: there is nothing to search"
    assert probe.runs == 0


def test_budget_exhaustion_is_reported_with_the_narrowed_set():
    """A search out of budget never goes over it, and names the smallest set seen to flip.

    Alone, then the first level's two quarters: three runs; the next level's two would make five.
    """
    prefix = names(100)
    probe = CountingProbe(after(prefix[3]))
    result = find_polluters([V], prefix, probe, budget=4)[V]
    assert probe.runs == 3
    assert result.is_budget_exhausted
    assert result.nodeids is None
    assert result.reason == "the budget of 4 runs ran out before the search ended"
    assert result.narrowed_to == tuple(prefix[:25])


def test_zero_budget_reports_every_victim_of_a_group_as_exhausted():
    """With no budget at all, every victim of a group says the budget ran out; nothing is run."""
    victims = ["t::v1", "t::v2"]
    probe = CountingProbe(after("t::p"), victims)
    results = find_polluters(victims, ["t::p", "t::q"], probe, budget=0)
    assert probe.runs == 0
    assert all(result.is_budget_exhausted for result in results.values())


def test_victims_with_one_polluter_share_the_bisection():
    """Several victims failing in one order after one polluter share every bisection run."""
    prefix = names(100)
    victims = ["t::v1", "t::v2", "t::v3"]
    probe = CountingProbe(lambda _victim, before: prefix[61] in before, victims)
    results = find_polluters(victims, prefix, probe)
    assert {result.nodeids for result in results.values()} == {(prefix[61],)}
    first, *others = (results[victim] for victim in victims)
    # the victims-only run, then one full search: alone, four levels of two quarters and one of a half
    # (25 of 100, 12 of 25, 6 of 12, 2 of 6, 1 of 2), and three confirmations
    assert first.search_runs == 1 + 1 + 4 * 2 + 1 + 3
    for result in others:
        assert result.search_runs == 4  # its own alone run and three confirmations
        assert result.shared_runs >= 1 + math.ceil(math.log2(100))
    assert probe.runs == sum(result.search_runs for result in results.values())
    separate = 0
    for victim in victims:
        alone = CountingProbe(lambda _victim, before: prefix[61] in before, [victim])
        find_polluters([victim], prefix, alone)
        separate += alone.runs
    assert probe.runs < separate - 2 * math.ceil(math.log2(100)) + 3


def test_victims_with_different_polluters_in_one_order_each_get_their_own():
    """Victims of different polluters in one group are each traced to their own polluter."""
    prefix = names(40)
    culprits = {"t::v1": prefix[5], "t::v2": prefix[33]}
    probe = CountingProbe(lambda victim, before: culprits[victim] in before, list(culprits))
    results = find_polluters(list(culprits), prefix, probe)
    assert {victim: result.nodeids for victim, result in results.items()} == {
        victim: (culprit,) for victim, culprit in culprits.items()
    }
    assert all(result.is_confirmed for result in results.values())


def test_victim_polluted_by_an_earlier_victim_is_searched_among_the_victims_too():
    """A victim failing after the other victims alone is searched among the prefix and earlier victims."""
    victims = ["t::v1", "t::v2"]
    probe = CountingProbe(lambda victim, before: victim == "t::v2" and "t::v1" in before, victims)
    results = find_polluters(victims, names(10), probe)
    assert results["t::v1"].reason == "the victim passed after its whole prefix in 30 runs: there is nothing to find"
    assert results["t::v2"].nodeids == ("t::v1",)
    assert results["t::v2"].is_confirmed


def test_group_only_polluter_is_not_reported_when_it_does_not_flip_the_victim_alone():
    """A set that breaks a victim only alongside the other victims is not reported as its polluter."""
    victims = ["t::v1", "t::v2"]
    prefix = names(8)
    probe = CountingProbe(lambda victim, before: victim == "t::v2" and {prefix[2], "t::v1"} <= before, victims)
    result = find_polluters(victims, prefix, probe)["t::v2"]
    assert result.nodeids is None
    assert result.reason == "the smallest set found did not flip the victim on its own in 10 runs"
    assert result.narrowed_to == (prefix[2],)


class Script:
    """A victim whose failures after its polluter follow a fixed script, so flakiness is exact."""

    def __init__(self, polluter: str, script: Sequence[bool]) -> None:
        """Follow ``script`` (cycled) on runs where ``polluter`` ran before the victim."""
        self.polluter = polluter
        self.script = list(script)
        self.index = 0

    def __call__(self, _victim: str, before: frozenset[str]) -> bool:
        """Return the next scripted outcome after the polluter, else pass."""
        if self.polluter not in before:
            return False
        failed = self.script[self.index % len(self.script)]
        self.index += 1
        return failed


def test_polluter_found_by_fast_path_but_victim_flaky_reports_both_rates():
    """A polluter whose victim sometimes passes after it is reported with the rates after vs alone."""
    prefix = names(2)
    probe = CountingProbe(Script(prefix[0], [True, True, False]))
    result = find_polluters([V], prefix, probe)[V]
    assert result.nodeids == (prefix[0],)
    assert not result.is_confirmed
    assert result.after.runs == 10
    assert result.after.failures == 7
    assert result.alone == Tally(runs=10, failures=0)
    assert result.after.rate == 0.7
    assert result.alone.rate == 0.0


def test_flaky_pair_of_polluters_is_found_with_repeats():
    """A pair that breaks the victim only together, and only half the time, is still found as the pair."""
    prefix = names(12)
    script = Script(prefix[2], [True, False])
    probe = CountingProbe(lambda victim, before: prefix[9] in before and script(victim, before))
    result = find_polluters([V], prefix, probe)[V]
    assert result.nodeids == (prefix[2], prefix[9])
    assert result.after == Tally(runs=10, failures=5)


def test_missing_victim_counts_as_failed():
    """A run that never reached the victim (a crash) counts as a failure of the victim."""
    prefix = names(6)

    def probe(order: Sequence[str]) -> Mapping[str, bool]:
        return {} if prefix[4] in order else {V: False}

    result = find_polluters([V], prefix, probe)[V]
    assert result.nodeids == (prefix[4],)


@pytest.mark.parametrize(
    ("count", "setters"),
    [(1, (0,)), (10, (7,)), (150, (149,)), (30, (4, 25))],
    ids=["one", "single-of-10", "last-of-150", "pair"],
)
def test_state_setters_are_the_minimal_set_that_makes_a_brittle_victim_pass(count, setters):
    """A brittle victim that passes only after some tests gets exactly those tests as its state-setters."""
    prefix = names(count)
    wanted = tuple(prefix[index] for index in setters)
    probe = CountingProbe(lambda _victim, before: not set(wanted) <= before)
    result = find_state_setters([V], prefix, probe)[V]
    assert result.role == "state-setter"
    assert result.nodeids == wanted
    assert result.is_confirmed
    assert result.after == Tally(runs=3, failures=0)
    assert result.alone == Tally(runs=1, failures=1)
    if len(setters) == 1:
        assert probe.runs <= bound(count)


@pytest.mark.parametrize(
    ("result", "confirmed"),
    [
        (SearchResult(V, "polluter", ("a",), after=Tally(3, 3), alone=Tally(1, 0)), True),
        (SearchResult(V, "polluter", ("a",), after=Tally(3, 3), alone=Tally(1, 1)), False),
        (SearchResult(V, "polluter", ("a",), after=Tally(3, 2), alone=Tally(1, 0)), False),
        (SearchResult(V, "polluter", ("a",), after=Tally(0, 0), alone=Tally(1, 0)), False),
        (SearchResult(V, "polluter", ("a",), after=Tally(3, 3)), False),
        (SearchResult(V, "polluter", None, after=Tally(3, 3), alone=Tally(1, 0)), False),
        (SearchResult(V, "state-setter", ("a",), after=Tally(3, 0), alone=Tally(1, 1)), True),
        (SearchResult(V, "state-setter", ("a",), after=Tally(3, 0), alone=Tally(2, 1)), False),
    ],
    ids=[
        "polluter",
        "fails-alone",
        "flaky-after",
        "no-after-runs",
        "no-alone-runs",
        "nothing",
        "setter",
        "setter-flaky",
    ],
)
def test_is_confirmed_needs_every_run_to_flip_and_none_alone(result, confirmed):
    """A finding is confirmed only if every run after it flipped the victim and no run alone did."""
    assert result.is_confirmed is confirmed


def test_tally_rate_is_none_without_runs():
    """A tally without runs has no rate; otherwise the rate is failures over runs."""
    assert Tally().rate is None
    assert Tally(runs=4, failures=1).rate == 0.25


def test_to_polluter_copies_counts_and_state_changes():
    """A finding becomes a report Polluter with its confirmation, alone counts, runs and state changes."""
    change = StateChange(kind="env", name="K", before=None, after="'1'")
    result = SearchResult(V, "polluter", ("a", "b"), after=Tally(3, 3), alone=Tally(1, 0), search_runs=9)
    assert to_polluter(result, [change]) == Polluter(
        nodeids=("a", "b"),
        confirmed_runs=3,
        confirmed_failures=3,
        search_runs=9,
        alone_runs=1,
        alone_failures=0,
        state_changes=(change,),
    )
    assert to_polluter(SearchResult(V, "polluter", None)) is None


@pytest.mark.parametrize(
    ("victims", "prefix", "options", "message"),
    [
        ([], ["a"], {}, "victims is empty; pass the node ids of the tests whose outcome flipped"),
        (["v", "v"], ["a"], {}, "victims ['v', 'v'] repeats a node id; pass each victim once"),
        (
            ["v"],
            ["a", "v"],
            {},
            "victims ['v'] are also among the tests before them; pass only the tests that ran earlier",
        ),
        (["v"], ["a"], {"repeats": 0}, "repeats must be at least 1, got 0; pass a positive number of runs"),
        (["v"], ["a"], {"confirm": 0}, "confirm must be at least 1, got 0; pass a positive number of runs"),
        (["v"], ["a"], {"max_repeats": 2}, "max_repeats 2 is below repeats 3; raise max_repeats"),
        (["v"], ["a"], {"budget": -1}, "budget must be 0 or more runs, got -1; pass the most runs to spend"),
    ],
    ids=[
        "no-victims",
        "duplicate-victim",
        "victim-in-prefix",
        "repeats",
        "confirm",
        "max-below-min",
        "budget",
    ],
)
def test_bad_arguments_raise_config_error_naming_the_input(victims, prefix, options, message):
    """Bad search arguments raise ConfigError naming the input and showing its value."""
    probe = CountingProbe(after("a"))
    with pytest.raises(ConfigError) as caught:
        find_polluters(victims, prefix, probe, **options)
    assert str(caught.value) == message
    assert probe.runs == 0


def test_the_two_quarters_of_a_level_go_together_and_change_nothing():
    """With a probe that runs orders side by side, each level's two quarters go in one call; the runs are the same."""
    prefix = names(150)
    alone = CountingProbe(after(prefix[100]))
    expected = find_polluters([V], prefix, alone)[V]
    probe = CountingProbe(after(prefix[100]))
    batches: list[int] = []

    def probe_many(orders):
        batches.append(len(orders))
        return [probe(order) for order in orders]

    result = find_polluters([V], prefix, probe, probe_many=probe_many)[V]
    assert result == expected
    assert probe.orders == alone.orders
    assert batches == [2, 2, 2]  # 150 -> 37 -> 9 -> 2 in quarters; the last half and the confirmations alone
