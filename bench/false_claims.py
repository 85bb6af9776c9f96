"""How often the root-cause experiments blame a factor that is not involved, and how often they find one that is.

    python bench/false_claims.py                # 20,000 investigations per flipping test, 500 per effect size
    python bench/false_claims.py --seeds 2000 --power-seeds 200

No test runs: each investigation is flakehound's own experiment code (``engine.experiments.explain``)
driving a simulated test, with a fresh investigation seed each time.

* **false claims**: a test whose outcome has nothing to do with any factor, under every experiment
  a failure that reads the clock gets (nine comparisons): one that fails on every other run (a
  counter outside the project) and one that fails at random half the time. Any experiment hint
  is a wrong causal claim.
* **power**: a test that fails only with the network refused, on a share of such runs (1.0 is a
  test that always fails refused). The share of investigations whose top hint is the network,
  with its comparison counted, is how often a real factor is found.

It prints a markdown table; the figures are reported, never asserted.
"""
# ruff: noqa: INP001 - a script run by path, not a package module

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext

from flakehound.engine.experiments import Condition, Lab, explain
from flakehound.engine.signatures import load_catalog
from flakehound.engine.stats import wilson_interval
from flakehound.models import ClassifiedFailure, ConfigurationCount, Evidence, FailureKind, Original, Outcome

#: A failure whose text reads the clock (so the clock experiments run too) or names a refused connection.
READS_CLOCK = Original(
    outcome=Outcome.FAILED,
    exception="AssertionError",
    message="assert 1796548630 == 1796548629",
    traceback=">       assert int(time.time()) == started",
)
REFUSED = Original(outcome=Outcome.FAILED, exception="ConnectionRefusedError", message="[Errno 111] Connection refused")
EFFECTS = (1.0, 0.9, 0.8, 0.7)
#: The coin-flip test fails on this share of its runs.
HALF = 0.5

#: Answers one run: its condition and the number of the run in this investigation -> each occurrence failed?
Outcomes = Callable[[Condition, int], "tuple[bool, ...]"]


def _failure(original: Original) -> ClassifiedFailure:
    return ClassifiedFailure(
        nodeid="tests/test_sim.py::test_sim",
        classification=FailureKind.INTERMITTENT,
        original=original,
        evidence=Evidence(
            alone=ConfigurationCount(runs=5, failures=2), original_order=ConfigurationCount(runs=1, failures=1)
        ),
        reproduce="python -m pytest tests/test_sim.py::test_sim",
    )


def investigate(outcomes: Outcomes, original: Original, seed: int) -> tuple[ClassifiedFailure, int]:
    """One investigation of the simulated test: the explained failure and how many runs it made."""
    calls = 0
    now = 0.0

    def trial(_nodeid: str, conditions: Sequence[Condition]) -> list[tuple[bool, ...] | None]:
        nonlocal calls, now
        answers: list[tuple[bool, ...] | None] = []
        for condition in conditions:
            calls += 1
            now += 1.0
            answers.append(outcomes(condition, calls))
        return answers

    lab = Lab(
        catalog=load_catalog(),
        clock=lambda: now,
        started=0.0,
        budget_seconds=10_000.0,
        busy=nullcontext,
        busy_processes=2,
        faketime="/usr/lib/faketime/libfaketime.so.1",
    )
    (explained,), _ = explain([_failure(original)], trial, lab, seed=seed, original_seconds=1.0, per_run=1.0)
    return explained, calls


def _claimed(failure: ClassifiedFailure) -> bool:
    return any(hint.comparison is not None for hint in failure.hints)


def false_claims(kind: str, seeds: int) -> tuple[int, float]:
    """Investigations (of ``seeds``) that blamed a factor on a test that flips on its own, and the mean runs."""
    claims = runs = 0
    for seed in range(seeds):
        coin = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        if kind == "coin":
            outcomes: Outcomes = lambda condition, _, coin=coin: tuple(  # noqa: E731
                coin.random() < HALF for _ in range(condition.repeat)
            )
        else:
            outcomes = lambda condition, call: tuple((call + n) % 2 == 0 for n in range(condition.repeat))  # noqa: E731
        explained, made = investigate(outcomes, READS_CLOCK, seed)
        claims += _claimed(explained)
        runs += made
    return claims, runs / seeds


def power(effect: float, seeds: int) -> tuple[int, float]:
    """Investigations (of ``seeds``) whose top hint is the network, for a test failing refused at rate ``effect``."""
    found = runs = 0
    for seed in range(seeds):
        coin = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        outcomes: Outcomes = lambda condition, _, coin=coin: (  # noqa: E731
            condition.tweaks.no_network and coin.random() < effect,
        )
        explained, made = investigate(outcomes, REFUSED, seed)
        top = explained.hints[0] if explained.hints else None
        found += top is not None and top.category == "network" and top.comparison is not None
        runs += made
    return found, runs / seeds


def _rate(count: int, total: int) -> str:
    low, high = wilson_interval(count, total)
    return f"{count:,}/{total:,} ({100 * count / total:.3g}%; 95% CI {100 * low:.3g}-{100 * high:.3g}%)"


def render(seeds: int, power_seeds: int) -> str:
    """The markdown table of both measurements."""
    lines = ["| simulated test | what counts | investigations | runs each (mean) |", "|---|---|---|---|"]
    for kind, label in (("alternating", "fails every other run"), ("coin", "fails at random, half the runs")):
        claims, runs = false_claims(kind, seeds)
        lines.append(f"| {label} | a factor claimed (wrong) | {_rate(claims, seeds)} | {runs:.0f} |")
    for effect in EFFECTS:
        found, runs = power(effect, power_seeds)
        label = f"fails {effect:.0%} of runs with the network refused, never open"
        lines.append(f"| {label} | network found (right) | {_rate(found, power_seeds)} | {runs:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20_000, help="investigations per flipping test (default 20000)")
    parser.add_argument("--power-seeds", type=int, default=500, help="investigations per effect size (default 500)")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.seeds, args.power_seeds) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
