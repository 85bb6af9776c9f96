"""PURE. Decide whether the change may merge: pass rate, labels, coverage.

Comparisons are exact. Shown numbers are truncated, never rounded up, so a message can never read
as if the threshold were met ("coverage 99.99% < 100.00%", not "100.00% < 100.00%").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from flakehound.engine.wording import plural, short_sha
from flakehound.models import GateResult, RunPurpose

if TYPE_CHECKING:
    from flakehound.models import ClassifiedFailure, CoverageSummary, Report, Summary

__all__ = [
    "coverage_reasons",
    "decide_gate",
    "describe_pass_rate",
    "describe_verdict",
    "format_percent",
    "is_found_in_a_rerun",
    "title_verdict",
]

#: Where a watched test (one that failed in earlier runs) can be found failing besides a shuffled order.
_RERUNS = frozenset({RunPurpose.ALONE, RunPurpose.EXPERIMENT})


def is_found_in_a_rerun(failure: ClassifiedFailure) -> bool:
    """Whether a latent failure was found in a rerun alone or an experiment (a watched test), not a shuffled order."""
    return failure.found_in.purpose in _RERUNS


def format_percent(value: float) -> str:
    """Two decimals, truncated toward zero so 99.995 shows as 99.99."""
    return f"{math.floor(round(value * 100, 6)) / 100:.2f}%"


def coverage_reasons(coverage: CoverageSummary | None) -> list[str]:
    """Sentences for each coverage threshold that is not met (the fix is more tests, not another input)."""
    if coverage is None:
        return []
    reasons = []
    if coverage.total_percent < coverage.threshold:
        reasons.append(f"coverage {format_percent(coverage.total_percent)} < {format_percent(coverage.threshold)}")
    diff = coverage.diff
    if diff is not None and diff.percent is not None and diff.percent < coverage.diff_threshold:
        reasons.append(
            f"changed-line coverage {format_percent(diff.percent)} < {format_percent(coverage.diff_threshold)}"
            f" against {short_sha(diff.base)}"
        )
    return reasons


def describe_pass_rate(summary: Summary) -> str:
    """``pass rate 90.00%``, or ``no tests ran`` when there is no rate to give."""
    return "no tests ran" if summary.pass_rate is None else f"pass rate {format_percent(summary.pass_rate)}"


def decide_gate(
    summary: Summary,
    failures: tuple[ClassifiedFailure, ...],
    latent: tuple[ClassifiedFailure, ...],
    *,
    min_pass_rate: float,
    fail_on_latent: bool,
    coverage: CoverageSummary | None = None,
    broken_reason: str | None = None,
) -> GateResult:
    """The verdict: every reason the change is blocked, or none."""
    reasons: list[str] = []
    if broken_reason is not None:
        reasons.append(broken_reason)
    blocked_by_rate = summary.pass_rate is not None and summary.pass_rate < min_pass_rate
    if summary.pass_rate is None and broken_reason is None:
        reasons.append(f"no tests ran ({summary.total} collected, all skipped): there is no pass rate")
    if summary.pass_rate is not None and blocked_by_rate:
        reasons.append(
            f"pass rate {format_percent(summary.pass_rate)} < {format_percent(min_pass_rate)}"
            f": {summary.failed + summary.errors} of {plural(summary.total, 'test')} failed"
        )
    intermittent = [failure.nodeid for failure in failures if failure.classification.value == "intermittent"]
    if intermittent and not blocked_by_rate:
        # Counted in the pass rate already when that blocks; said on its own only when the rate is met.
        reasons.append(
            f"{plural(len(intermittent), 'intermittent test')} {'blocks' if len(intermittent) == 1 else 'block'}"
            " although the pass rate is met: a test that flips under identical conditions is a bug, not noise"
        )
    rerun = [failure for failure in latent if is_found_in_a_rerun(failure)]
    shuffled = len(latent) - len(rerun)
    if shuffled and fail_on_latent:
        reasons.append(f"{plural(shuffled, 'test')} {'fails' if shuffled == 1 else 'fail'} only in a shuffled order")
    if rerun and fail_on_latent:
        reasons.append(
            f"{plural(len(rerun), 'test')} that failed in earlier runs {'fails' if len(rerun) == 1 else 'fail'}"
            " here in a rerun alone or an experiment, though not in the original run"
        )
    reasons.extend(coverage_reasons(coverage))
    return GateResult(passed=not reasons, reasons=tuple(reasons))


def describe_verdict(report: Report) -> str:
    """The verdict's headline: ``5 failing tests, coverage 98.03% < 100.00%`` or ``120 tests, coverage 100.00%``.

    The reasons themselves (``report.gate.reasons``) follow it, one per line, in the comment and the terminal.
    """
    summary, coverage = report.summary, report.coverage
    if report.status != "investigated":
        return {
            "broken": "the suite is broken",
            "interrupted": "the investigation was interrupted",
        }.get(report.status, "pytest crashed")
    if report.gate.passed:
        parts = [plural(summary.total, "test")]
        if summary.failed + summary.errors:
            parts.append(f"{plural(summary.failed + summary.errors, 'failing test')} within the minimum pass rate")
        if coverage is not None:
            parts.append(f"coverage {format_percent(coverage.total_percent)}")
        return ", ".join(parts)
    parts = []
    failing = summary.failed + summary.errors
    if failing:
        parts.append(plural(failing, "failing test"))
    if coverage is not None and coverage.total_percent < coverage.threshold:
        parts.append(f"coverage {format_percent(coverage.total_percent)} < {format_percent(coverage.threshold)}")
    if parts:
        return ", ".join(parts)
    return report.gate.reasons[0] if report.gate.reasons else "blocked"


def title_verdict(report: Report) -> str:
    """The check run's title and the commit status: ``Blocked: 5 failing tests`` or ``Passed: 120 tests``."""
    return f"{'Passed' if report.gate.passed else 'Blocked'}: {describe_verdict(report)}"
