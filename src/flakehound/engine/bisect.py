"""PURE. Find the tests that flip a victim's outcome: polluters (make it fail), state-setters (make it pass).

The executor comes in as a :data:`Probe`: it runs one order of node ids (candidates first, victims
last) and says, for every victim in the order, whether it FAILED. One call is one executor run, so
the number of calls is the cost this module keeps low.

The search for one victim, in four steps:

1. **Alone.** The victim runs with nothing before it. A polluter search stops here if it fails
   anyway (a state-setter search if it passes): then nothing before it is needed to explain it.
2. **Fast bisection, two quarters per level.** Cut the candidates in four and run the first and
   the third quarter before the victim, side by side where the probe can. Keep the first that
   flips the victim; if neither does, keep the second and fourth quarters *without running them*:
   their own quarters are run at the next level, and the single test the levels end on is run by
   the confirmation. Nothing is assumed (detect-test-pollution asserts the unrun half and crashes
   when it is wrong): a kept set is always proven by a run of it or of a subset of it, and a chain
   that ends on a test that does not flip the victim sends the search to step 4. A level runs half
   the candidates, as one half would, but keeps a quarter half the time: about four fifths of the
   tests run in all, and a level's two runs take the time of one side by side. One deterministic
   polluter among ``n`` tests costs at most ``2 ceil(log2 n) + 4`` runs this way.
3. **Confirm.** The found tests, then the victim, ``confirm`` times: every run must flip it.
4. **Careful search.** Delta debugging (ddmin) from the smallest set seen to flip the victim (the
   whole prefix, run until it flips, if none was): both halves are run, then quarters and their
   complements, so a pair of tests that pollute only together is found as a pair. Once the victim is
   seen to be flaky (one order both flipped and did not), every probe is repeated round-robin over
   the sets of a step and stops at the first flip; the number of rounds comes from the flip rate
   measured so far, so a 30% victim is not mistaken for a clean half. Flaky findings get
   ``rate_runs`` runs after the found tests and alone, to report the two rates side by side.

Several victims that failed in one order share the work: every probe runs a subset of the prefix
followed by all of them, and one run answers for each (runs are cached by order and attempt, so a
second victim with the same polluter retraces the first one's bisection for free). A victim that
already fails after the other victims alone is searched on its own, among the prefix and the
victims before it. ``budget`` caps the executor runs of one call; a search that hits it says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from flakehound.errors import ConfigError
from flakehound.models import Polluter

if TYPE_CHECKING:
    from flakehound.models import StateChange

__all__ = [
    "Probe",
    "ProbeMany",
    "SearchResult",
    "Tally",
    "find_polluters",
    "find_state_setters",
    "to_polluter",
]

Probe: TypeAlias = Callable[[Sequence[str]], Mapping[str, bool]]
"""Runs one order and returns ``{victim: failed}`` for the victims in it. A victim the run never
reached (a crash, a timeout) may be left out: it counts as failed."""
ProbeMany: TypeAlias = Callable[[Sequence[Sequence[str]]], Sequence[Mapping[str, bool]]]
"""Runs independent orders, side by side where it can, and returns what :data:`Probe` would for each.
The runs asked for together are the same whether or not they go side by side."""

#: Chance, per careful-search step, of reading a set that does flip a flaky victim as clean.
MISS_CHANCE = 0.01
#: The fast bisection's cut: two of these parts are run per level.
_QUARTERS = 4

Role = Literal["polluter", "state-setter"]
Order = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tally:
    """How often the victim failed in some runs of one order."""

    runs: int = 0
    failures: int = 0

    @property
    def rate(self) -> float | None:
        """The failure rate, or None without runs."""
        return self.failures / self.runs if self.runs else None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What one search found for one victim, and what it cost."""

    victim: str
    role: Role
    nodeids: tuple[str, ...] | None
    reason: str | None = None
    after: Tally = field(default_factory=Tally)
    alone: Tally = field(default_factory=Tally)
    search_runs: int = 0
    shared_runs: int = 0
    is_budget_exhausted: bool = False
    narrowed_to: tuple[str, ...] | None = None

    @property
    def is_confirmed(self) -> bool:
        """Whether the found tests flipped the victim on every run and it never flipped alone."""
        if self.nodeids is None or not self.after.runs or not self.alone.runs:
            return False
        if self.role == "polluter":
            return self.after.failures == self.after.runs and self.alone.failures == 0
        return self.after.failures == 0 and self.alone.failures == self.alone.runs


class _BudgetSpentError(Exception):
    """The next run would go over the budget."""


class _Ledger:
    """Every run made through one probe, by order; attempt ``k`` of an order is run at most once."""

    def __init__(self, probe: Probe, budget: int, probe_many: ProbeMany | None = None) -> None:
        self._probe = probe
        self._probe_many = probe_many
        self.budget = budget
        self._results: dict[Order, list[Mapping[str, bool]]] = {}
        self.runs = 0

    def results(self, wanted: Sequence[tuple[Order, int]]) -> list[tuple[Mapping[str, bool], bool]]:
        """Return the ``attempt``-th run of each order, and whether it was new; the new runs go together.

        ``wanted`` names distinct orders, each at most one attempt past its runs so far.
        """
        new = [order for order, attempt in wanted if attempt >= len(self._results.setdefault(order, []))]
        if self.runs + len(new) > self.budget:
            raise _BudgetSpentError
        if self._probe_many is not None and len(new) > 1:
            made = list(self._probe_many([list(order) for order in new]))
        else:
            made = [self._probe(list(order)) for order in new]
        self.runs += len(new)
        for order, result in zip(new, made, strict=True):
            self._results[order].append(dict(result))
        return [(self._results[order][attempt], order in new) for order, attempt in wanted]


@dataclass(frozen=True, slots=True)
class _Settings:
    role: Role
    repeats: int
    max_repeats: int
    confirm: int
    rate_runs: int


class _Search:
    """The search for one victim's flipping set among ``candidates``, probed in front of ``group``."""

    def __init__(self, victim: str, candidates: Order, group: Order, ledger: _Ledger, settings: _Settings) -> None:
        self.victim = victim
        self.candidates = candidates
        self.group = group
        self.solo: Order = (victim,)
        self.ledger = ledger
        self.settings = settings
        self.samples: dict[tuple[Order, Order], list[bool]] = {}
        self.new_runs = 0
        self.shared_runs = 0

    # -- probing ---------------------------------------------------------------------------------

    def flips(self, subset: Order, context: Order) -> bool:
        """Run ``subset`` then ``context`` once more; whether the victim flipped."""
        return self.flips_each([subset], context)[0]

    def flips_each(self, subsets: Sequence[Order], context: Order) -> list[bool]:
        """Run each of ``subsets`` (distinct) then ``context`` once more, together; whether each flipped the victim."""
        seen = [self.samples.setdefault((subset, context), []) for subset in subsets]
        made = self.ledger.results([(subset + context, len(each)) for subset, each in zip(subsets, seen, strict=True)])
        flipped = []
        for each, (result, is_new) in zip(seen, made, strict=True):
            if is_new:
                self.new_runs += 1
            else:
                self.shared_runs += 1
            each.append(result.get(self.victim, True) == (self.settings.role == "polluter"))
            flipped.append(each[-1])
        return flipped

    def sample(self, subset: Order, context: Order, runs: int, *, stop_on_miss: bool) -> None:
        """Make sure ``subset`` then ``context`` has ``runs`` samples (fewer if one misses)."""
        seen = self.samples.setdefault((subset, context), [])
        while len(seen) < runs and not (stop_on_miss and not all(seen)):
            self.flips(subset, context)

    def tally(self, subset: Order) -> Tally:
        """Count the victim's failures in the solo runs after ``subset``."""
        seen = self.samples.get((subset, self.solo), [])
        flips = sum(seen)
        failures = flips if self.settings.role == "polluter" else len(seen) - flips
        return Tally(runs=len(seen), failures=failures)

    def is_flaky(self) -> bool:
        """Whether some order both flipped the victim and did not."""
        return any(any(seen) and not all(seen) for seen in self.samples.values())

    def tries(self) -> int:
        """Count round-robin rounds per careful step: 1 for a steady victim, else from the flip rate."""
        if not self.is_flaky():
            return 1
        flipping = [seen for seen in self.samples.values() if any(seen)]
        flips = sum(sum(seen) for seen in flipping)
        runs = sum(len(seen) for seen in flipping)
        rate = _wilson_low(flips, runs)
        needed = math.ceil(math.log(MISS_CHANCE) / math.log1p(-rate))  # 0 < rate < 1: flips, and misses
        return min(max(needed, self.settings.repeats), self.settings.max_repeats)

    def is_settled(self, subset: Order) -> bool:
        """Whether a ddmin step in which no part of ``subset`` flipped the victim can be trusted.

        It can once the victim is known to be flaky (the step was probed with repeats). Otherwise
        ``subset`` is run until it has flipped the victim ``repeats`` times in a row: a run that does
        not flip it shows the victim is flaky, and the step must be probed again with repeats.
        """
        if self.is_flaky():
            return True
        self.sample(subset, self.group, self.settings.repeats, stop_on_miss=True)
        return not self.is_flaky()

    def first_flipping(self, subsets: Sequence[Order], tries: int) -> Order | None:
        """Return the first of ``subsets`` to flip the victim, probed round-robin for ``tries`` rounds."""
        for attempt in range(tries):
            for subset in subsets:
                seen = self.samples.get((subset, self.group), [])
                if seen[attempt] if attempt < len(seen) else self.flips(subset, self.group):
                    return subset
        return None

    def smallest_proven(self) -> Order | None:
        """Return the smallest subset seen to flip the victim in front of the group."""
        proven = [subset for (subset, context), seen in self.samples.items() if context == self.group and any(seen)]
        return min(proven, key=len) if proven else None

    # -- the search ------------------------------------------------------------------------------

    def run(self) -> SearchResult:
        """Search, and say how it ended."""
        try:
            return self.search()
        except _BudgetSpentError:
            return self.result(
                None,
                f"the budget of {self.ledger.budget} runs ran out before the search ended",
                is_budget_exhausted=True,
                narrowed_to=self.smallest_proven(),
            )

    def search(self) -> SearchResult:
        """Alone, fast bisection, confirmation, then the careful search if the fast one failed."""
        is_polluter = self.settings.role == "polluter"
        if not self.candidates:
            return self.result(None, "nothing ran before the victim: there is nothing to search")
        if self.flips((), self.solo):
            state = "failed" if is_polluter else "passed"
            return self.result(None, f"the victim {state} with nothing before it: no test before it is needed")
        found = self.bisect_fast()
        self.sample(found, self.solo, self.settings.confirm, stop_on_miss=True)
        if all(self.samples[found, self.solo]):
            return self.result(found)
        if any(self.samples[found, self.solo]):
            return self.finish(found)
        start = self.smallest_proven()
        if start is None:
            start = self.first_flipping([self.candidates], self.settings.max_repeats)
        if start is None:
            runs = len(self.samples[self.candidates, self.group])
            state = "passed" if is_polluter else "failed"
            return self.result(
                None, f"the victim {state} after its whole prefix in {runs} runs: there is nothing to find"
            )
        return self.finish(self.ddmin(start))

    def bisect_fast(self) -> Order:
        """Two quarters per level, together: keep the first or third that flips the victim, else the other two.

        Below four candidates, one half per level: the first if it flips the victim, else the second.
        """
        current = self.candidates
        while len(current) > 1:
            if len(current) < _QUARTERS:
                half = len(current) // 2
                current = current[:half] if self.flips(current[:half], self.group) else current[half:]
                continue
            first, second, third, fourth = _split(current, _QUARTERS)
            flipped_first, flipped_third = self.flips_each([first, third], self.group)
            current = first if flipped_first else third if flipped_third else second + fourth
        return current

    def ddmin(self, start: Order) -> Order:
        """Zeller's ddmin: shrink a flipping set to one whose every subset and complement was clean."""
        current, granularity = start, 2
        while len(current) > 1:
            parts = _split(current, granularity)
            found = self.first_flipping(parts, self.tries())
            if found is not None:
                current, granularity = found, 2
                continue
            if granularity > 2:  # noqa: PLR2004 - with two parts the complements are the parts
                complements = [_without(current, part) for part in parts]
                found = self.first_flipping(complements, self.tries())
                if found is not None:
                    current, granularity = found, max(granularity - 1, 2)
                    continue
            if not self.is_settled(current):
                continue  # the victim turned out flaky: probe this granularity again, with repeats
            if granularity >= len(current):
                break
            granularity = min(granularity * 2, len(current))
        return current

    def finish(self, found: Order) -> SearchResult:
        """Confirm a careful finding; measure both rates when the victim is flaky."""
        settings = self.settings
        self.sample(found, self.solo, settings.confirm, stop_on_miss=False)
        if all(self.samples[found, self.solo]):
            return self.result(found)
        self.sample(found, self.solo, settings.rate_runs, stop_on_miss=False)
        self.sample((), self.solo, settings.rate_runs, stop_on_miss=False)
        after = self.samples[found, self.solo]
        if not any(after):
            return self.result(
                None,
                f"the smallest set found did not flip the victim on its own in {len(after)} runs",
                narrowed_to=found,
            )
        return self.result(found, "the victim is flaky even after these tests: compare the two rates")

    def result(
        self,
        nodeids: Order | None,
        reason: str | None = None,
        *,
        is_budget_exhausted: bool = False,
        narrowed_to: Order | None = None,
    ) -> SearchResult:
        """Build the result with the rates and run counts gathered so far."""
        return SearchResult(
            victim=self.victim,
            role=self.settings.role,
            nodeids=nodeids,
            reason=reason,
            after=self.tally(nodeids) if nodeids is not None else Tally(),
            alone=self.tally(()),
            search_runs=self.new_runs,
            shared_runs=self.shared_runs,
            is_budget_exhausted=is_budget_exhausted,
            narrowed_to=narrowed_to,
        )


def _split(items: Order, parts: int) -> list[Order]:
    """``items`` cut into ``parts`` contiguous pieces whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    pieces, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append(items[start:end])
        start = end
    return pieces


def _without(items: Order, part: Order) -> Order:
    removed = set(part)
    return tuple(item for item in items if item not in removed)


def _wilson_low(hits: int, runs: int, z: float = 1.0) -> float:
    """Return the low end of the Wilson interval for ``hits`` out of ``runs`` (one standard error)."""
    share = hits / runs
    spread = z * math.sqrt(share * (1 - share) / runs + z * z / (4 * runs * runs))
    return (share + z * z / (2 * runs) - spread) / (1 + z * z / runs)


def _check(
    victims: Sequence[str],
    candidates: Sequence[str],
    *,
    repeats: int,
    max_repeats: int,
    confirm: int,
    budget: int,
) -> None:
    if not victims:
        msg = "victims is empty; pass the node ids of the tests whose outcome flipped"
        raise ConfigError(msg)
    if len(set(victims)) != len(victims):
        raise ConfigError(f"victims {list(victims)!r} repeats a node id; pass each victim once")
    overlap = sorted(set(victims) & set(candidates))
    if overlap:
        raise ConfigError(
            f"victims {overlap!r} are also among the tests before them; pass only the tests that ran earlier"
        )
    for name, value in (("repeats", repeats), ("confirm", confirm), ("max_repeats", max_repeats)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value!r}; pass a positive number of runs")
    if max_repeats < repeats:
        raise ConfigError(f"max_repeats {max_repeats!r} is below repeats {repeats!r}; raise max_repeats")
    if budget < 0:
        raise ConfigError(f"budget must be 0 or more runs, got {budget!r}; pass the most runs to spend")


def _search_all(
    victims: Sequence[str],
    candidates: Sequence[str],
    probe: Probe,
    settings: _Settings,
    budget: int,
    probe_many: ProbeMany | None = None,
) -> dict[str, SearchResult]:
    _check(
        victims,
        candidates,
        repeats=settings.repeats,
        max_repeats=settings.max_repeats,
        confirm=settings.confirm,
        budget=budget,
    )
    ledger = _Ledger(probe, budget, probe_many)
    group, prefix = tuple(victims), tuple(candidates)
    results: dict[str, SearchResult] = {}
    for index, victim in enumerate(group):
        search = _Search(victim, prefix, group, ledger, settings)
        if len(group) > 1:
            try:
                is_alone_in_group = not search.flips((), group)
            except _BudgetSpentError:
                results[victim] = search.run()  # reports the spent budget
                continue
            if not is_alone_in_group:  # the victims before it already flip it: search among them too
                search = _Search(victim, prefix + group[:index], (victim,), ledger, settings)
        results[victim] = search.run()
    return results


def find_polluters(
    victims: Sequence[str],
    prefix: Sequence[str],
    probe: Probe,
    *,
    repeats: int = 3,
    max_repeats: int = 30,
    confirm: int = 3,
    rate_runs: int = 10,
    budget: int = 200,
    probe_many: ProbeMany | None = None,
) -> dict[str, SearchResult]:
    """For each victim that failed after ``prefix``, the minimal set of those tests that makes it fail.

    ``repeats`` is the least number of runs a probe gets once a victim is seen to be flaky, and
    ``max_repeats`` the most; ``confirm`` runs of the found tests then the victim must all fail;
    ``rate_runs`` runs measure the rates of a flaky finding; ``budget`` caps the runs of this call.
    With ``probe_many``, the runs of one step that do not wait for each other go together.
    """
    settings = _Settings("polluter", repeats, max_repeats, confirm, rate_runs)
    return _search_all(victims, prefix, probe, settings, budget, probe_many)


def find_state_setters(
    victims: Sequence[str],
    candidates: Sequence[str],
    probe: Probe,
    *,
    repeats: int = 3,
    max_repeats: int = 30,
    confirm: int = 3,
    rate_runs: int = 10,
    budget: int = 200,
    probe_many: ProbeMany | None = None,
) -> dict[str, SearchResult]:
    """For each brittle victim that passed after ``candidates``, the minimal set that makes it pass.

    The mirror of :func:`find_polluters`: a victim that fails alone is searched in a passing order
    for the tests whose presence before it makes it pass; the options mean the same.
    """
    settings = _Settings("state-setter", repeats, max_repeats, confirm, rate_runs)
    return _search_all(victims, candidates, probe, settings, budget, probe_many)


def to_polluter(result: SearchResult, state_changes: Sequence[StateChange] = ()) -> Polluter | None:
    """Turn a search that found something into the report's :class:`~flakehound.models.Polluter`."""
    if result.nodeids is None:
        return None
    return Polluter(
        nodeids=result.nodeids,
        confirmed_runs=result.after.runs,
        confirmed_failures=result.after.failures,
        search_runs=result.search_runs,
        alone_runs=result.alone.runs,
        alone_failures=result.alone.failures,
        state_changes=tuple(state_changes),
    )
