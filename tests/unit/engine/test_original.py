"""The original run's checks and counts, fed hand-made runs (the executor-driven parts are tested in integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flakehound.config import Settings
from flakehound.engine.original import broken_reason, check_original, summarize
from flakehound.errors import ConfigError, PytestCrashed
from flakehound.models import Outcome, Run, RunEnd, Summary, TestResult

SETTINGS = Settings(cwd=Path("/project"), seed=1, pytest_args=("tests", "--bogus"))


def result(nodeid: str, outcome: Outcome = Outcome.PASSED) -> TestResult:
    """One test's result."""
    return TestResult(nodeid=nodeid, outcome=outcome)


def outcomes(*marks: Outcome) -> list[TestResult]:
    """Results of tests named t0, t1, ... with these outcomes."""
    return [result(f"t{index}", outcome) for index, outcome in enumerate(marks)]


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param([], Summary(total=0, pass_rate=None), id="nothing-ran"),
        pytest.param(
            outcomes(Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.PASSED),
            Summary(total=4, passed=2, failed=1, errors=1, pass_rate=50.0),
            id="failures-and-errors-count-against",
        ),
        pytest.param(
            outcomes(Outcome.PASSED, Outcome.SKIPPED, Outcome.SKIPPED, Outcome.FAILED),
            Summary(total=4, passed=1, failed=1, skipped=2, pass_rate=50.0),
            id="skips-are-left-out-of-the-rate",
        ),
        pytest.param(
            outcomes(Outcome.SKIPPED, Outcome.SKIPPED),
            Summary(total=2, skipped=2, pass_rate=None),
            id="all-skipped",
        ),
        pytest.param(
            outcomes(Outcome.XFAILED, Outcome.XPASSED, Outcome.FAILED),
            Summary(total=3, failed=1, xfailed=1, xpassed=1, pass_rate=100.0 * 2 / 3),
            id="xfail-and-xpass-count-as-passing",
        ),
    ],
)
def test_summarize(results: list[TestResult], expected: Summary) -> None:
    """Outcomes are counted; the pass rate is the share of non-skipped tests that did not fail or error."""
    assert summarize(results) == expected


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(Run(results=(result("t"),), exit_code=0), id="green"),
        pytest.param(Run(results=(result("t", Outcome.FAILED),), exit_code=1), id="failures"),
        pytest.param(
            Run(results=(), collection_errors=(result("tests/test_x.py", Outcome.ERROR),), exit_code=2),
            id="collection-errors-only",
        ),
        pytest.param(
            Run(results=(result("t", Outcome.ERROR),), ended=RunEnd.CRASH, exit_code=-9),
            id="crash-after-a-test",
        ),
    ],
)
def test_check_original_accepts_runs_with_results(run: Run) -> None:
    """A run that produced results or collection errors is handed on, even if it crashed part way."""
    check_original(run, SETTINGS)


PYTEST_USAGE_ERROR = """\
ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]
python -m pytest: error: unrecognized arguments: --bogus
  inifile: None
  rootdir: /project
"""


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        pytest.param(PYTEST_USAGE_ERROR, "unrecognized arguments: --bogus", id="argparse-error-not-the-usage-line"),
        pytest.param(
            "\nERROR: file or directory not found: tests\n\n",
            "file or directory not found: tests",
            id="error-line",
        ),
        pytest.param("something odd\nmore\n", "something odd", id="no-error-line-first-line"),
        pytest.param("", "(no output)", id="no-output"),
    ],
)
def test_check_original_usage_error_quotes_pytest(output: str, reason: str) -> None:
    """Pytest's usage error (exit 4) becomes a ConfigError quoting its complaint, not its usage synopsis."""
    run = Run(results=(), ended=RunEnd.CRASH, exit_code=4, output_tail=output)
    with pytest.raises(ConfigError) as raised:
        check_original(run, SETTINGS)
    assert str(raised.value) == f"pytest rejected the arguments tests --bogus: {reason}; fix the arguments after --"


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(Run(results=(), exit_code=5), id="exit-5"),
        pytest.param(Run(results=(), ended=RunEnd.COMPLETED, exit_code=0), id="completed-empty"),
    ],
)
def test_check_original_no_tests(run: Run) -> None:
    """A run that collected nothing is a usage problem naming the folder and the arguments."""
    with pytest.raises(ConfigError) as raised:
        check_original(run, Settings(cwd=Path("/project"), seed=1))
    assert str(raised.value) == (
        "pytest collected no tests in /project with arguments (no arguments); point flakehound at your tests"
    )


def test_check_original_crash_before_any_test() -> None:
    """A crash before any result is PytestCrashed carrying the run's detail and output tail."""
    run = Run(
        results=(),
        ended=RunEnd.CRASH,
        exit_code=3,
        detail="pytest stopped (exit code 3)",
        output_tail="INTERNALERROR>",
    )
    with pytest.raises(PytestCrashed) as raised:
        check_original(run, SETTINGS)
    assert str(raised.value) == "pytest crashed before running any test (pytest stopped (exit code 3))"
    assert raised.value.output_tail == "INTERNALERROR>"


@pytest.mark.parametrize(
    ("run", "error", "match"),
    [
        (
            Run(results=(), exit_code=4, output_tail="ERROR: usage: bad\nmore"),
            ConfigError,
            "ERROR: usage: bad",
        ),
        (Run(results=(), exit_code=4, output_tail=""), ConfigError, r"\(no output\)"),
        (Run(results=(), exit_code=5), ConfigError, "collected no tests"),
        (
            Run(results=(), exit_code=3, ended=RunEnd.CRASH, detail="exit code 3"),
            PytestCrashed,
            "exit code 3",
        ),
    ],
    ids=["usage-error", "usage-error-silent", "no-tests", "internal-error"],
)
def test_unusable_original_run_becomes_the_right_error(run, error, match):
    """An original run without results is a usage error, an empty suite, or a crash."""
    with pytest.raises(error, match=match):
        check_original(run, Settings(cwd=Path("/project"), seed=3))


def _summary(total: int, failing: int) -> Summary:
    return Summary(total=total, passed=total - failing, failed=failing)


@pytest.mark.parametrize(
    ("total", "failing", "broken"),
    [
        pytest.param(10, 8, False, id="80-percent-is-not-broken"),
        pytest.param(10, 9, True, id="over-80-percent"),
        pytest.param(9, 9, False, id="too-few-tests-to-judge"),
        pytest.param(100, 100, True, id="all-failed"),
    ],
)
def test_broken_reason_by_share(total: int, failing: int, broken: bool) -> None:
    """Over 80% of at least ten tests failing means a broken environment, not a list of failures."""
    reason = broken_reason(Run(results=()), _summary(total, failing))
    if broken:
        assert reason == (
            f"broken environment or build: {failing} of {total} tests failed (over 80%);"
            " fix the first errors before investigating one by one"
        )
    else:
        assert reason is None


def test_broken_reason_by_collection_errors() -> None:
    """Collection errors make the run broken and name the first three modules."""
    errors = tuple(result(f"tests/test_{name}.py", Outcome.ERROR) for name in "abcd")
    reason = broken_reason(Run(results=(), collection_errors=errors), _summary(10, 0))
    assert reason == ("broken build: 4 error(s) during collection (tests/test_a.py, tests/test_b.py, tests/test_c.py)")
