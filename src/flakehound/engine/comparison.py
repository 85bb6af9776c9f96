"""PURE. A controlled comparison: the failing test run under a treatment and under a control, side by side.

Both sides run the same test in the same way, the same number of times, in one seeded random
order (a completely randomized design), so a test that flips on a schedule of its own (every other
run, a counter outside the project, a second boundary) cannot line up with one side. Fisher's exact
test then asks how likely a split of the failures at least this uneven is when the side makes no
difference; under that design it is an exact randomization test, whatever the test's own history.

A factor is claimed only when that chance is below ``ALPHA``, one in a thousand: a test is
investigated under up to nine factors, each compared at two looks, so a test that flips on its own
would otherwise, now and then, be blamed on one of them. Seven failures against none reach it;
so do eight of ten against none. Comparisons are made in looks of
growing size (``LOOKS`` pairs); after each look the comparison stops when it is significant, or when
even the most uneven outcome of the runs still allowed could not make it so ("futile"); a
comparison that reached its last look undecided claims nothing: "not decided in N runs".

A significant split is then **replicated**: fresh runs in a fresh random order (``REPLICATE_LOOKS``
pairs) must split the same way on their own, below ``REPLICATE_ALPHA``. Across nine factors and
their looks, a test that flips on its own still reaches one significant split now and then (about
9 in 1,000 investigations of a test that fails every other run); it must then do so twice, in
independent allocations, which none of 20,000 simulated investigations did (``bench/false_claims.py``).
A factor that decides the outcome replicates at once (5/5 against 0/5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from flakehound.models import Comparison, Split

if TYPE_CHECKING:
    import random

__all__ = [
    "ALPHA",
    "LOOKS",
    "REPLICATE_ALPHA",
    "REPLICATE_LOOKS",
    "Sides",
    "allocation",
    "fisher_p",
]

#: A factor is claimed only when chance would split the failures this unevenly less often than this.
ALPHA = 0.001
#: Pairs of runs (one treatment, one control) after each look: 7/7 against 0/7 is the first significant split.
LOOKS = (3, 7, 10)
#: A significant split is claimed only when fresh runs split the same way below this on their own.
REPLICATE_ALPHA = 0.01
#: Pairs of the replication after each look: 5/5 against 0/5 replicates (p = 0.008), so do 8/10 against 1/10.
REPLICATE_LOOKS = (5, 10)


def _hypergeometric(k: int, draws: int, successes: int, total: int) -> float:
    return math.comb(successes, k) * math.comb(total - successes, draws - k) / math.comb(total, draws)


def fisher_p(treatment_failures: int, treatment_runs: int, control_failures: int, control_runs: int) -> float:
    """Two-sided Fisher's exact test: the chance of a table no likelier than this one when the side does not matter."""
    total = treatment_runs + control_runs
    failures = treatment_failures + control_failures
    if total == 0:
        return 1.0
    low, high = max(0, failures - control_runs), min(failures, treatment_runs)
    chances = [_hypergeometric(k, treatment_runs, failures, total) for k in range(low, high + 1)]
    observed = chances[treatment_failures - low]
    return min(1.0, sum(chance for chance in chances if chance <= observed * (1 + 1e-9)))


def allocation(draw: random.Random, pairs: int) -> list[bool]:
    """``pairs`` treatment runs (True) and as many control runs (False), in a random order."""
    sides = [True, False] * pairs
    draw.shuffle(sides)
    return sides


@dataclass(frozen=True)
class Sides:
    """The outcomes (failed or not) of the finished treatment and control runs, the lost runs, and the replication.

    ``replicate`` is None until a significant split is replicated; an empty one means there was no
    time left for the fresh runs.
    """

    treatment: tuple[bool, ...] = ()
    control: tuple[bool, ...] = ()
    lost: int = 0
    replicate: Sides | None = None

    def add(self, more: Sides) -> Sides:
        """These sides with the runs of ``more``."""
        return Sides(self.treatment + more.treatment, self.control + more.control, self.lost + more.lost)

    def replicated_by(self, replicate: Sides) -> Sides:
        """These sides with the fresh runs that replicate them (or fail to)."""
        return replace(self, replicate=replicate)

    @property
    def p(self) -> float:
        """Fisher's exact p-value of the split so far (the replication aside)."""
        return fisher_p(sum(self.treatment), len(self.treatment), sum(self.control), len(self.control))

    @property
    def runs(self) -> int:
        """The finished runs on either side, the replication's included."""
        own = len(self.treatment) + len(self.control)
        return own + (self.replicate.runs if self.replicate else 0)

    @property
    def significant(self) -> bool:
        """Whether the difference between the sides is beyond chance (before replication)."""
        return self.p < ALPHA

    @property
    def decided(self) -> bool:
        """Significant, and replicated the same way by fresh runs."""
        replicate = self.replicate
        return (
            self.significant
            and replicate is not None
            and replicate.p < REPLICATE_ALPHA
            and replicate.treatment_fails_more == self.treatment_fails_more
        )

    @property
    def treatment_fails_more(self) -> bool:
        """Whether the treatment's failure rate is the higher one."""
        return sum(self.treatment) * len(self.control) > sum(self.control) * len(self.treatment)

    def could_decide(self, more_treatment: int, more_control: int, alpha: float = ALPHA) -> bool:
        """Whether that many more runs on each side could still get below ``alpha``, if all went the most uneven way."""
        t_fail, t_runs = sum(self.treatment), len(self.treatment) + more_treatment
        c_fail, c_runs = sum(self.control), len(self.control) + more_control
        return (
            fisher_p(t_fail + more_treatment, t_runs, c_fail, c_runs) < alpha
            or fisher_p(t_fail, t_runs, c_fail + more_control, c_runs) < alpha
        )

    def counts(self, treatment: str, control: str) -> str:
        """Both sides counted: 'fails 7/7 with X vs 0/7 with Y (p = 0.0006)', then the replication's own counts."""
        head = (
            f"fails {sum(self.treatment)}/{len(self.treatment)} {treatment}"
            f" vs {sum(self.control)}/{len(self.control)} {control}"
        )
        return f"{head} (p = {_p_text(self.p)}){_lost(self)}{self._replication()}"

    def split(self) -> Split:
        """The counts of these sides (the replication aside), for the report."""
        return Split(
            treatment_failures=sum(self.treatment),
            treatment_runs=len(self.treatment),
            control_failures=sum(self.control),
            control_runs=len(self.control),
            p=self.p,
            lost=self.lost,
        )

    def comparison(self, factor: str, treatment: str, control: str) -> Comparison:
        """The report's record of this decided comparison: both sides and the replication's, counted."""
        if self.replicate is None or not self.decided:
            msg = "only a decided comparison, replicated, is recorded"
            raise ValueError(msg)
        return Comparison(
            factor=factor, treatment=treatment, control=control, split=self.split(), replication=self.replicate.split()
        )

    def _replication(self) -> str:
        replicate = self.replicate
        if replicate is None:
            return ""
        if not replicate.treatment or not replicate.control:
            return "; not replicated: the budget (--budget-seconds) left no time for fresh runs"
        split = (
            f"fails {sum(replicate.treatment)}/{len(replicate.treatment)}"
            f" vs {sum(replicate.control)}/{len(replicate.control)} (p = {_p_text(replicate.p)}){_lost(replicate)}"
        )
        verdict = "replicated" if self.decided else "not replicated"
        return f"; {verdict} in fresh runs: {split}"


def _lost(sides: Sides) -> str:
    return f"; {sides.lost} run(s) did not finish and are not counted" if sides.lost else ""


def _p_text(p: float) -> str:
    if p >= 0.1:  # noqa: PLR2004 - two digits are enough for a chance that large
        return f"{p:.2f}"
    return f"{p:.1g}" if p < 0.001 else f"{p:.3f}"  # noqa: PLR2004 - one significant digit below a thousandth
