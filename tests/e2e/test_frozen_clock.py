"""The real `flakehound run` on fixture_projects/frozen_clock: failures a frozen wall clock fixes get the clock hint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flakehound import cli
from flakehound.models import FailureKind, Report, RunPurpose

FIXTURES = Path(__file__).parents[1] / "fixture_projects"
#: Both tests of the project: a session that expires during the test, and two stamps expected equal.
PLANTED = (
    "tests/test_cache.py::test_session_is_still_cached_after_rendering",
    "tests/test_records.py::test_a_new_record_is_saved_unchanged",
)


@pytest.fixture(scope="session")
def frozen_clock(tmp_path_factory, run_cli, sample_env_at):
    """One investigation of the frozen_clock project (seed 1, two reruns, one replay, no shuffled orders)."""
    root = tmp_path_factory.mktemp("frozen-clock")
    project = root / "frozen_clock"
    shutil.copytree(FIXTURES / "frozen_clock", project)
    (root / "state").mkdir()
    report_path = root / "report.json"
    args = ["run", "--seed", "1", "--reruns", "2", "--replays", "1", "--orders", "0", "--no-coverage"]
    args += ["--budget-seconds", "900", "--report", str(report_path)]
    completed = run_cli(args, project, sample_env_at(root / "state"))
    assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr
    return completed, Report.model_validate_json(report_path.read_text())


@pytest.mark.parametrize("nodeid", PLANTED, ids=["expired-cache-entry", "two-stamps-expected-equal"])
def test_a_failure_the_frozen_clock_fixes_has_the_clock_as_its_top_hint(frozen_clock, nodeid):
    """It fails on every run with the clock running and passes frozen: clock first, both sides counted."""
    _, report = frozen_clock
    failure = next(failure for failure in report.failures if failure.nodeid == nodeid)
    assert failure.classification is FailureKind.DETERMINISTIC
    top = failure.hints[0]
    assert (top.category, top.confidence) == ("clock", "high"), failure.hints
    assert top.title.startswith("passes with the clock frozen, fails with it running")
    assert re.fullmatch(
        r"fails 0/7 with the clock frozen vs 7/7 with the clock running \(p = 0\.0006\)"
        r"; replicated in fresh runs: fails 0/5 vs 5/5 \(p = 0\.008\)",
        top.evidence,
    )
    assert failure.experiments_run == 1


def test_no_hint_claims_another_factor_and_the_runs_are_recorded(frozen_clock):
    """No high or medium hint names anything but the clock, and the experiment's runs are in the report."""
    completed, report = frozen_clock
    claims = {
        failure.nodeid: {hint.category for hint in failure.hints if hint.confidence in {"high", "medium"}}
        for failure in report.failures
    }
    assert claims == {nodeid: {"clock"} for nodeid in PLANTED}
    assert [run.purpose for run in report.runs].count(RunPurpose.EXPERIMENT) == 2 * (14 + 10), "decided, replicated"
    assert "passes with the clock frozen" in completed.stdout
