"""Forked or fresh, one worker or two: the sample suites get the same labels, polluters and verdict.

The planted suite is compared run by run in tests/integration/execution/test_pool.py. These are the other
sample suites that reach an investigation and whose outcomes depend neither on chance nor on the
machine's load (random_flaky and hints do; no_tests stops before any run; hang and interrupt are
about time and signals, and have their own tests).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flakehound.models import Report

FIXTURES = Path(__file__).parent.parent / "fixture_projects"

#: Every suite runs forked on one worker, forked on two and fresh on two; zoo's fresh run (about 20
#: polluter searches with a fresh interpreter per step) takes minutes, so it is compared forked only.
MODES = {
    "all_green": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "collection_error": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "mostly_failing": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "coverage": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "crash": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "segfault": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "closed_stdout": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "unruly": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "noisy": [("fork", "1"), ("fork", "2"), ("process", "2")],
    "zoo": [("fork", "1"), ("fork", "2")],
}


def _answer(tools, root: Path, suite: str, isolation: str, jobs: str):
    """What a user acts on: exit code, verdict, counts, and per failure its label, polluters and setters."""
    run_cli, sample_env_at = tools
    folder = root / f"{isolation}-{jobs}"
    project = shutil.copytree(FIXTURES / suite, folder / suite)
    state = folder / "state"
    state.mkdir()
    report_path = folder / "report.json"
    args = ["run", "--seed", "7", "--no-coverage", "--quiet", "--report", str(report_path)]
    completed = run_cli([*args, "--isolation", isolation, "--jobs", jobs], project, sample_env_at(state))
    report = Report.model_validate_json(report_path.read_text())
    failures = sorted(
        (
            failure.nodeid,
            failure.classification.value,
            [polluter.nodeids for polluter in failure.polluters],
            [setter.nodeids for setter in failure.state_setters],
        )
        for failure in (*report.failures, *report.latent)
    )
    counts = report.summary.model_dump(exclude={"pass_rate"})
    return completed.returncode, report.status, report.gate.passed, counts, failures


@pytest.mark.parametrize("suite", sorted(MODES))
def test_labels_and_polluters_do_not_depend_on_isolation_or_jobs(tmp_path, run_cli, sample_env_at, suite):
    """The same suite, seed and options give the same exit code, verdict, labels, polluters and setters."""
    answers = {mode: _answer((run_cli, sample_env_at), tmp_path, suite, *mode) for mode in MODES[suite]}
    first = answers[MODES[suite][0]]
    assert all(answer == first for answer in answers.values()), answers
