"""PURE. Which root-cause experiments a failure gets, in the order to try them, and what its reruns already show.

An intermittent failure gets every factor, minus the seeds when its reruns (which drew seeds of their
own) never failed again and minus the second boundary and the frozen clock when its text reads no
clock; an order-dependent one the repetition experiment when it may pollute itself; a deterministic
one the hash seed when forked reruns (one hash seed for all) may have hidden it, and the frozen clock
when its text reads one. A *watched* test (it failed in earlier runs, passed every run here) gets
every factor the machine allows but the frozen clock: with no failure seen, nothing rules one out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol, get_args

from flakehound.engine.hints import FACTOR_CATEGORY, ExperimentResult, Factor, match_signatures
from flakehound.models import FailureKind

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Set as AbstractSet
    from contextlib import AbstractContextManager

    from flakehound.engine.signatures import Catalog
    from flakehound.models import ClassifiedFailure

__all__ = ["ORDER", "Equipment", "choose_factors", "deduced", "watched_factors"]


class Equipment(Protocol):
    """What the choice reads from the lab (:class:`flakehound.engine.experiments.Lab`)."""

    @property
    def catalog(self) -> Catalog:
        """The signature catalog: what a failure's text suggests."""

    @property
    def busy(self) -> Callable[[], AbstractContextManager[object]] | None:
        """A way to load every core, if there is one."""

    @property
    def faketime(self) -> str | None:
        """Where libfaketime is, if it is installed."""

    @property
    def pinned_hash_seed(self) -> bool:
        """Whether the user pinned PYTHONHASHSEED."""

    @property
    def reruns_vary_hash_seed(self) -> bool:
        """Whether the plain reruns drew a hash seed each."""


#: Text that says a failure reads the clock (the second-boundary experiment sleeps, and a frozen clock may hang a
#: test, so they run only then).
_READS_CLOCK = re.compile(
    r"\btime\.time(_ns)?\(|\bdatetime\b|\.now\(|\.today\(|\bstrftime\b|\btimestamp\b|\btime\(\)"
    r"|\b(c|asc|local|gm)time\("
)
#: Text that shows a set being built or iterated: a deterministic failure there may follow the hash seed.
_BUILDS_SET = re.compile(r"\b(frozen)?set\(|\{\s*['\"\w][^:{}\n]*,[^:{}\n]*\}")
#: Every factor, in the order an intermittent failure tries them: the seeds first (the order of ``Factor``).
ORDER: tuple[Factor, ...] = get_args(Factor)


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


def choose_factors(failure: ClassifiedFailure, lab: Equipment, unavailable: dict[str, str]) -> list[Factor]:
    """The experiments that could change what we know about this failure, in the order to try them."""
    if failure.classification is FailureKind.ORDER_DEPENDENT:
        return ["repetition"] if _pollutes_its_siblings(failure) else []
    suggested = {match.signature.category for match in match_signatures(failure.original, lab.catalog)}
    text = _text(failure)
    reads_clock = "clock" in suggested or _READS_CLOCK.search(text) is not None
    if failure.classification is FailureKind.DETERMINISTIC:  # a test that fails whenever time passes fails every run
        hidden: list[Factor] = ["hash-seed"] if _hash_seed_hidden(lab, suggested, text) else []
        return hidden + (["frozen-clock"] if reads_clock else [])
    if failure.classification is not FailureKind.INTERMITTENT:
        return []
    factors = list(ORDER)
    if not _reproduced(failure):  # natural reruns already varied the seeds they drew and never failed again
        varied = {"random-seed", "hash-seed"} if lab.reruns_vary_hash_seed else {"random-seed"}
        factors = [factor for factor in factors if factor not in varied]
    if lab.pinned_hash_seed:
        factors = [factor for factor in factors if factor != "hash-seed"]
    if not reads_clock:  # one sleeps up to a second per run, the other may hang the test until its timeout
        factors = [factor for factor in factors if factor not in {"second-boundary", "frozen-clock"}]
    _note_unavailable(lab, unavailable)
    factors = [factor for factor in factors if factor not in unavailable]
    return sorted(factors, key=lambda factor: FACTOR_CATEGORY[factor] not in suggested)


def _note_unavailable(lab: Equipment, unavailable: dict[str, str]) -> None:
    """Note the experiments this machine cannot run, and why (the report says so once)."""
    if lab.busy is None:
        unavailable["cpu-load"] = "the CPU-load experiment was skipped: no way to load the CPU here"
    if lab.faketime is None:
        unavailable["clock"] = (
            "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)"
        )


def watched_factors(lab: Equipment, unavailable: dict[str, str]) -> list[Factor]:
    """The experiments for a test that passed every run here but failed in earlier ones, in the order to try them.

    With no failure seen, nothing rules a factor out or suggests one: every factor an intermittent failure
    gets, the seeds first (each first looks for a seed that fails), as the machine allows. The
    second-boundary experiment is among them: there is no failure text to say the test does not read a clock.
    """
    _note_unavailable(lab, unavailable)
    never = {"frozen-clock"}  # it claims only a failure that freezing fixes: a passing test never has one
    if lab.pinned_hash_seed:
        never.add("hash-seed")
    return [factor for factor in ORDER if factor not in unavailable and factor not in never]


def deduced(failure: ClassifiedFailure, lab: Equipment) -> list[ExperimentResult]:
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


def _text(failure: ClassifiedFailure) -> str:
    original = failure.original
    return "\n".join(part for part in (original.message, original.traceback) if part)


def _hash_seed_hidden(lab: Equipment, suggested: AbstractSet[str], text: str) -> bool:
    """Whether a failure that looks deterministic may have met one hash seed only, and its text shows a set.

    Forked reruns share one hash seed, so a failure that follows it fails on every one of them.
    """
    if lab.reruns_vary_hash_seed or lab.pinned_hash_seed:
        return False
    return "unordered-collection" in suggested or _BUILDS_SET.search(text) is not None
