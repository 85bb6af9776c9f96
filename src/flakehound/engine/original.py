"""The original run: run the suite once (or take the results an earlier step wrote), check and count it.

A run that produced no usable results becomes the error the user needs (:func:`check_original`); a run
with results is counted (:func:`summarize`) and may be too broken to investigate one failure at a
time (:func:`broken_reason`).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT
from flakehound.errors import ConfigError, PytestCrashed
from flakehound.execution.runner import RunRequest
from flakehound.models import Outcome, Run, RunEnd, Summary

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from flakehound.config import Settings
    from flakehound.execution.runner import Executor
    from flakehound.models import TestResult

__all__ = [
    "BROKEN_MIN_TESTS",
    "BROKEN_SHARE",
    "broken_reason",
    "check_original",
    "junit_run",
    "run_original",
    "summarize",
]

#: Over this share of failing tests the run is a broken environment or build, not a set of failures.
BROKEN_SHARE = 0.8
#: The share rule needs at least this many tests to mean anything.
BROKEN_MIN_TESTS = 10
_PYTEST_USAGE_ERROR = 4
_PYTEST_NO_TESTS = 5


def summarize(results: Sequence[TestResult]) -> Summary:
    """Counts and the pass rate (passed, xfailed and skipped tests do not count against it)."""
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        counts[result.outcome] += 1
    failing = counts[Outcome.FAILED] + counts[Outcome.ERROR]
    ran = len(results) - counts[Outcome.SKIPPED]
    pass_rate = None if ran == 0 else 100.0 * (ran - failing) / ran
    return Summary(
        total=len(results),
        passed=counts[Outcome.PASSED],
        failed=counts[Outcome.FAILED],
        errors=counts[Outcome.ERROR],
        skipped=counts[Outcome.SKIPPED],
        xfailed=counts[Outcome.XFAILED],
        xpassed=counts[Outcome.XPASSED],
        pass_rate=pass_rate,
    )


def _usage_complaint(text: str) -> str:
    """Quote what pytest objected to: argparse's ``prog: error: ...`` or an ``ERROR:`` line, not the usage."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    argparse_errors = [line.partition(": error: ")[2] for line in lines if ": error: " in line]
    tagged = [
        line.removeprefix("ERROR:").strip()
        for line in lines
        if line.startswith("ERROR:") and not line.startswith("ERROR: usage:")
    ]
    return (argparse_errors or tagged or lines or ["(no output)"])[0]


def check_original(run: Run, settings: Settings) -> None:
    """Turn a run that produced no usable results into the error the user needs."""
    args = shlex.join(settings.pytest_args) or "(no arguments)"
    if run.exit_code == _PYTEST_USAGE_ERROR:
        reason = _usage_complaint(run.output_tail)
        msg = f"pytest rejected the arguments {args}: {reason}; fix the arguments after --"
        raise ConfigError(msg)
    if run.exit_code == _PYTEST_NO_TESTS or (
        run.ended is RunEnd.COMPLETED and not run.results and not run.collection_errors
    ):
        msg = f"pytest collected no tests in {settings.cwd} with arguments {args}; point flakehound at your tests"
        raise ConfigError(msg)
    if not run.results and not run.collection_errors:
        errors = [
            line.removeprefix("INTERNALERROR>").strip() for line in run.output_tail.splitlines() if "Error" in line
        ]
        msg = f"pytest crashed before running any test ({run.detail})" + "".join(f": {line}" for line in errors[-1:])
        raise PytestCrashed(msg, run.output_tail)


def junit_run(results: Sequence[TestResult]) -> Run:
    """The original run as an earlier step reported it in JUnit XML (no process, no exit code)."""
    return Run(results=tuple(results), duration=sum(result.duration for result in results))


def run_original(
    settings: Settings, executor: Executor, *, argv_prefix: Sequence[str] = (), drop_env: Iterable[str] = ()
) -> Run:
    """Run the whole suite once, as the project runs it (under coverage when given its argv prefix).

    Fails loudly when pytest could not run at all.
    """
    timeout = settings.timeout or DEFAULT_ORIGINAL_TIMEOUT
    request = RunRequest(order=None, timeout=timeout, argv_prefix=tuple(argv_prefix), drop_env=frozenset(drop_env))
    run = executor.run(request)
    check_original(run, settings)
    return run


def broken_reason(run: Run, summary: Summary) -> str | None:
    """Why the run is too broken to investigate failure by failure (collection errors, most tests failing), or None."""
    if run.collection_errors:
        where = ", ".join(error.nodeid for error in run.collection_errors[:3])
        return f"broken build: {len(run.collection_errors)} error(s) during collection ({where})"
    failing = summary.failed + summary.errors
    if summary.total >= BROKEN_MIN_TESTS and failing > BROKEN_SHARE * summary.total:
        return (
            f"broken environment or build: {failing} of {summary.total} tests failed"
            f" (over {BROKEN_SHARE:.0%}); fix the first errors before investigating one by one"
        )
    return None
