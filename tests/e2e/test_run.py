"""The real `flakehound run` on the planted sample suites, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flakehound.engine.cancellation import CANCELLED_REASON
from flakehound.errors import ExitCode
from flakehound.models import FailureKind, Outcome, Report, RunEnd, RunPurpose


@pytest.mark.parametrize(
    ("nodeid", "kind"),
    [
        ("tests/test_c_bug.py::test_add", FailureKind.DETERMINISTIC),
        ("tests/test_c_bug.py::test_query", FailureKind.DETERMINISTIC),
        ("tests/test_f_counter.py::test_flips_every_other_run", FailureKind.INTERMITTENT),
        ("tests/test_h_victim.py::test_default_mode", FailureKind.ORDER_DEPENDENT),
        ("tests/test_d_brittle.py::test_needs_ready", FailureKind.BRITTLE),
    ],
    ids=["plain-bug", "errored-fixture", "counter-intermittent", "order-dependent", "brittle"],
)
def test_planted_failure_gets_its_label(planted, nodeid, kind):
    """Every planted failure is labelled as planted."""
    _, report = planted
    labels = {failure.nodeid: failure.classification for failure in report.failures}
    assert labels[nodeid] is kind


@pytest.mark.parametrize(
    ("nodeid", "has_unseen_chance"),
    [
        ("tests/test_c_bug.py::test_add", False),
        ("tests/test_h_victim.py::test_default_mode", False),
        ("tests/test_f_counter.py::test_flips_every_other_run", True),
    ],
    ids=["deterministic", "order-dependent", "intermittent"],
)
def test_unseen_chance_is_stated_only_where_a_plain_run_can_miss_the_failure(planted, nodeid, has_unseen_chance):
    """The 'chance of going unseen' line appears for intermittent failures only, never for ones every run shows."""
    _, report = planted
    failure = next(failure for failure in report.failures if failure.nodeid == nodeid)
    assert failure.strength is not None
    assert ("chance of going unseen" in failure.strength.sentence) is has_unseen_chance


def test_exit_code_and_gate(planted):
    """Failures block the merge: exit 1, the pass rate counts the intermittent test once, with no second reason."""
    completed, report = planted
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    assert not report.gate.passed
    assert report.gate.reasons[0].startswith("pass rate 89.58% < 100.00%: 5 of 48 tests failed")
    assert report.summary.intermittent == 1
    assert not any("intermittent" in reason for reason in report.gate.reasons)
    assert "BLOCKED  5 failing tests" in completed.stdout
    assert "seed 7" in completed.stdout


def test_coverage_is_measured_on_the_original_run(planted):
    """The original run is measured: the project's own files only, with the missed lines named."""
    _, report = planted
    coverage = report.coverage
    assert coverage is not None
    assert coverage.source == "measured"
    assert coverage.branch_percent is not None
    assert not any("flakehound" in file.path for file in coverage.files)
    assert any(reason.startswith("coverage ") for reason in report.gate.reasons) == (coverage.total_percent < 100)


def test_summary_counts(planted):
    """The summary counts the original run and the labels."""
    _, report = planted
    summary = report.summary
    assert (summary.total, summary.passed, summary.failed, summary.errors) == (48, 43, 4, 1)
    assert (summary.deterministic, summary.intermittent, summary.order_dependent, summary.brittle) == (
        2,
        1,
        1,
        1,
    )


def test_deterministic_evidence_counts(planted):
    """A plain bug fails every rerun alone and every replay of its original order."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_c_bug.py::test_add")
    assert (failure.evidence.alone.runs, failure.evidence.alone.failures) == (5, 5)
    assert (failure.evidence.original_order.runs, failure.evidence.original_order.failures) == (4, 4)
    assert failure.original.exception == "AssertionError"
    assert failure.original.line == 14
    assert failure.reproduce.endswith("-m pytest -p no:randomly -p no:cacheprovider tests/test_c_bug.py::test_add")


def test_errored_fixture_is_reported_as_setup_error(planted):
    """A fixture that raises is an error in the setup phase, with its exception type."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_c_bug.py::test_query")
    assert (failure.original.outcome, failure.original.phase.value) == (Outcome.ERROR, "setup")
    assert failure.original.exception == "ConnectionRefusedError"


def test_order_dependent_passes_alone_fails_in_original_order(planted):
    """The victim passes every time alone and fails every time after its original prefix."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_h_victim.py::test_default_mode")
    assert failure.evidence.alone.failures == 0
    assert failure.evidence.alone.runs == 5
    assert failure.evidence.original_order.failures == failure.evidence.original_order.runs == 4
    assert "original order" in failure.evidence.failing_orders


def test_brittle_passes_in_reversed_order(planted):
    """The brittle test fails alone and passes once its state-setter runs first (reversed order)."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_d_brittle.py::test_needs_ready")
    assert failure.evidence.alone.failures == failure.evidence.alone.runs == 5
    assert "reversed" in failure.evidence.passing_orders


def test_intermittent_stops_early_with_a_rate(planted):
    """The counter test flips alone within two reruns, so no more reruns are spent on it."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_f_counter.py::test_flips_every_other_run")
    assert failure.evidence.alone.runs == 2
    assert failure.evidence.alone.failures == 1
    assert failure.failure_rate is not None
    assert failure.failure_rate.low < failure.failure_rate.estimate < failure.failure_rate.high


def test_project_is_restored_between_runs(planted):
    """The lock-file test passes in every run because flakehound removes what each run left behind."""
    _, report = planted
    assert "tests/test_g_lockfile.py::test_takes_lock" not in {f.nodeid for f in report.failures}
    assert not report.latent
    whole_suite = [run for run in report.runs if run.tests > 40]
    assert len(whole_suite) >= 8
    assert all("run.lock" in run.restored for run in whole_suite)


def test_runs_are_recorded_with_purpose_and_seed(planted):
    """Every executor run is in the report: original, three seeded orders, reversed, alone and replays."""
    _, report = planted
    purposes = [run.purpose for run in report.runs]
    assert purposes[0] is RunPurpose.ORIGINAL
    assert purposes.count(RunPurpose.PERMUTED) == 3
    assert purposes.count(RunPurpose.REVERSED) == 1
    assert all(run.seed is not None for run in report.runs if run.purpose is RunPurpose.PERMUTED)
    assert report.settings.seed == 7


def test_green_suite_passes_and_still_shuffles(run_cli, copy_project, sample_env, tmp_path):
    """A green suite exits 0, and two shuffled orders plus the reversed one still look for latent failures."""
    project = copy_project("all_green")
    completed = run_cli(["run", "--seed", "1", "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert report.gate.passed
    assert [run.purpose for run in report.runs].count(RunPurpose.PERMUTED) == 2
    assert report.summary.pass_rate == 100.0
    assert "PASS" in completed.stdout


def test_runs_leave_no_pytest_cache_in_the_project(run_cli, copy_project, sample_env, tmp_path):
    """A project without a .pytest_cache has none after reruns, shuffles and a fork server."""
    project = copy_project("random_flaky")
    assert not (project / ".pytest_cache").exists()
    completed = run_cli(["run", "--seed", "1", "--report", str(tmp_path / "r.json")], project, sample_env)
    assert completed.returncode in {ExitCode.OK, ExitCode.GATE_FAILED}, completed.stderr
    assert not (project / ".pytest_cache").exists()


def test_collection_error_is_a_broken_build(run_cli, copy_project, sample_env, tmp_path):
    """A module that fails to import makes the run a broken build with the first errors, not 1 failure."""
    project = copy_project("collection_error")
    completed = run_cli(["run", "--seed", "1", "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.GATE_FAILED
    assert report.status == "broken"
    assert report.first_errors[0].nodeid == "tests/test_broken_import.py"
    assert "ModuleNotFoundError" in (report.first_errors[0].exception or "")
    assert "broken build" in completed.stdout
    assert report.summary.pass_rate is None
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["pass_rate"] is None
    assert report.coverage is None
    assert "coverage not measured: the suite did not run" in report.notes
    assert "BLOCKED  the suite is broken\n  0 tests, 0 failed, 0 errors, no tests ran\n" in completed.stdout
    assert "100.00%" not in completed.stdout


def test_mostly_failing_suite_is_a_broken_environment(run_cli, copy_project, sample_env, tmp_path):
    """Nine of ten tests failing is reported as a broken environment, without investigating each."""
    project = copy_project("mostly_failing")
    completed = run_cli(["run", "--seed", "1", "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.GATE_FAILED
    assert report.status == "broken"
    assert "9 of 10 tests failed" in (report.broken_reason or "")
    assert len(report.runs) == 0


def test_hang_is_killed_and_attributed(run_cli, copy_project, sample_env, tmp_path):
    """A test that hangs past --timeout is killed with its process group and labelled, and the run goes on."""
    project = copy_project("hang")
    args = ["run", "--seed", "1", "--timeout", "10", "--reruns", "2", "--replays", "1", "--orders", "0"]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.GATE_FAILED
    (failure,) = report.failures
    assert failure.nodeid == "tests/test_hang.py::test_hangs"
    assert failure.original.exception == "flakehound.Timeout"
    assert failure.classification is FailureKind.DETERMINISTIC
    assert report.runs[0].ended.value == "timeout"
    assert any("did not run" in note for note in report.notes)
    assert "coverage was not measured: the original run ended early (timeout)" in report.notes
    assert report.coverage is None


def test_crash_is_attributed_to_the_running_test(run_cli, copy_project, sample_env, tmp_path):
    """A test that kills the interpreter is reported as the crashing test, with the exit code."""
    project = copy_project("crash")
    args = ["run", "--seed", "1", "--reruns", "2", "--replays", "1", "--orders", "1"]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.GATE_FAILED
    (failure,) = report.failures
    assert failure.nodeid == "tests/test_crash.py::test_exits_hard"
    assert failure.original.exception == "flakehound.Crash"
    assert "exit code 3" in (failure.original.message or "")
    assert failure.classification is FailureKind.DETERMINISTIC


@pytest.mark.parametrize(
    ("project", "args", "expected"),
    [
        ("no_tests", [], "pytest collected no tests"),
        (
            "all_green",
            ["--", "--definitely-not-an-option"],
            "pytest rejected the arguments --definitely-not-an-option",
        ),
        (
            "all_green",
            ["--reruns", "zero"],
            "--reruns input should be a valid integer, unable to parse string as an integer, got 'zero'",
        ),
        ("all_green", ["--cwd", "missing-folder"], "--cwd 'missing-folder' is not a folder"),
    ],
    ids=["no-tests", "pytest-usage-error", "bad-reruns", "bad-cwd"],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, copy_project, sample_env, project, args, expected):
    """Bad input gets one line naming the input and exit 2, never a traceback."""
    completed = run_cli(["run", *args], copy_project(project), sample_env)
    assert completed.returncode == ExitCode.USAGE
    assert completed.stderr.startswith("flakehound: error: ")
    assert expected in completed.stderr
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_missing_pytest_is_a_clear_error(run_cli, copy_project, sample_env, tmp_path):
    """An interpreter without pytest gets a sentence saying so and exit 2."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    completed = run_cli(["run", "--python", str(venv / "bin" / "python")], copy_project("all_green"), sample_env)
    assert completed.returncode == ExitCode.USAGE
    assert "pytest is not installed for" in completed.stderr


RANDOM_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2" failures="1" errors="0" skipped="0">
<testcase classname="tests.test_random" name="test_coin_flip" time="0.01">
<failure message="assert 1 == 0">tests/test_random.py:6: AssertionError</failure></testcase>
<testcase classname="tests.test_random" name="test_steady" time="0.01"/>
</testsuite></testsuites>
"""


def test_truly_random_failure_from_junit_is_intermittent(run_cli, copy_project, sample_env, tmp_path):
    """A coin-flip test reported failing by an earlier step is labelled intermittent after its reruns.

    With 12 alone and 8 replayed runs, all of them failing (the only way to mislabel it) has a
    chance of 2**-20 per investigation.
    """
    project = copy_project("random_flaky")
    (project / "results.xml").write_text(RANDOM_JUNIT)
    args = ["run", "--junit", "results.xml", "--reruns", "12", "--replays", "8", "--orders", "0", "--seed", "1"]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], project, sample_env)
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    (failure,) = report.failures
    assert failure.nodeid == "tests/test_random.py::test_coin_flip"
    assert failure.classification is FailureKind.INTERMITTENT
    assert report.settings.junit == ("results.xml",)
    assert all(run.purpose is not RunPurpose.ORIGINAL for run in report.runs)


def test_junit_out_carries_reruns_and_labels(copy_project, sample_env, run_cli, tmp_path):
    """--junit-out writes Surefire-style rerun elements and the label as a property."""
    project = copy_project("planted")
    out = tmp_path / "out.xml"
    args = ["run", "--seed", "7", "--orders", "0", "--reruns", "2", "--replays", "1", "--junit-out", str(out)]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], project, sample_env)
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    xml = out.read_text()
    assert "<rerunFailure" in xml
    assert 'name="flakehound.classification" value="deterministic"' in xml
    assert xml.count("<testcase") == report.summary.total


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "--junit pattern 'results.xml' matched no file"),
        ("", "results.xml"),
        ("not xml at all", "results.xml"),
        ('<testsuites><testsuite name="x"><testcase classname="a" name="b">', "results.xml"),
        (
            RANDOM_JUNIT.replace("test_coin_flip", "test_deleted"),
            "test 'tests/test_random.py::test_deleted' no longer exists",
        ),
    ],
    ids=["missing", "empty", "not-xml", "truncated", "stale-node-id"],
)
def test_bad_junit_is_one_line_and_exit_2(run_cli, copy_project, sample_env, content, expected):
    """A --junit file that is missing, empty, not XML, truncated or names a deleted test: one line, exit 2."""
    project = copy_project("random_flaky")
    if content is not None:
        (project / "results.xml").write_text(content)
    completed = run_cli(["run", "--junit", "results.xml", "--orders", "0"], project, sample_env)
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    assert expected in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_polluter_far_earlier_in_another_module_is_found_and_explained(planted):
    """The victim's polluter, 41 tests earlier in another module, is found, confirmed and its leftover named."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_h_victim.py::test_default_mode")
    (polluter,) = failure.polluters
    assert polluter.nodeids == ("tests/test_a_polluter.py::test_configure_test_mode",)
    assert (polluter.confirmed_runs, polluter.confirmed_failures) == (3, 3)
    assert polluter.search_runs <= 6 + 4  # ceil(log2 45) + 4
    change = polluter.state_changes[0]
    assert (change.kind, change.name) == ("module-attribute", "pkg.state.MODE")
    assert (change.before, change.after) == ("'production'", "'test'")
    assert failure.reproduce == (
        "python -m pytest -p no:randomly -p no:cacheprovider tests/test_a_polluter.py::test_configure_test_mode"
        " tests/test_h_victim.py::test_default_mode"
    )
    assert report.settings.python == sys.executable  # the interpreter that ran it, kept apart from the command


def test_brittle_state_setter_is_found(planted):
    """The brittle test's state-setter is found in the passing (reversed) order."""
    _, report = planted
    failure = next(f for f in report.failures if f.nodeid == "tests/test_d_brittle.py::test_needs_ready")
    (setter,) = failure.state_setters
    assert setter.nodeids == ("tests/test_e_setter.py::test_make_ready",)
    assert setter.confirmed_failures == 0
    assert any(change.name == "pkg.state.READY" for change in setter.state_changes)


def test_story_names_the_polluter_and_its_leftover(planted):
    """The terminal says which test breaks the victim and what it leaves behind."""
    completed, _ = planted
    flat = " ".join(completed.stdout.split())
    assert "fails only after tests/test_a_polluter.py::test_configure_test_mode" in flat
    assert "that test changes pkg.state.MODE from 'production' to 'test'" in flat


def wait_for_pid_file(pid_file: Path) -> None:
    """Poll (at most a minute) until a hanging test has written its pid."""
    for _ in range(600):
        if pid_file.exists() and pid_file.read_text():
            return
        time.sleep(0.1)


def test_sigterm_writes_a_partial_report_and_stops_the_children(copy_project, sample_env, tmp_path):
    """A cancelled workflow (SIGTERM) stops the running child, saves the partial report and exits 1."""
    project = copy_project("interrupt")
    state = Path(sample_env["FLAKEHOUND_SAMPLE_STATE"])
    report_path = tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "flakehound", "run", "--seed", "1", "--orders", "0", "--report", str(report_path)],
        cwd=project,
        env=sample_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = state / "sleeper.pid"
    wait_for_pid_file(pid_file)  # the rerun writes its pid as soon as it starts hanging
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.GATE_FAILED, stderr
    report = Report.model_validate_json(report_path.read_text())
    assert report.status == "interrupted"
    assert [failure.nodeid for failure in report.failures] == ["tests/test_slow_rerun.py::test_fails_then_hangs"]
    assert "interrupted" in report.gate.reasons[0]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="measured-fresh-process"),
        pytest.param(["--no-coverage", "--isolation", "fork"], id="forked"),
    ],
)
def test_sigterm_during_the_original_run_writes_what_ran_and_exits_130(copy_project, sample_env, tmp_path, options):
    """SIGTERM while the original run goes on: the child stops, the report keeps the finished results, exit 130."""
    project = copy_project("hang")
    (project / "tests" / "test_a_fails.py").write_text("def test_fails():\n    assert 1 == 2\n")  # runs first
    pid_file = Path(sample_env["FLAKEHOUND_SAMPLE_STATE"]) / "hang.pid"
    report_path = tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "flakehound", "run", "--seed", "1", "--report", str(report_path), *options],
        cwd=project,
        env=sample_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pid_file(pid_file)  # test_fails and test_before have finished, test_hangs is running
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    report = Report.model_validate_json(report_path.read_text())
    assert report.status == "interrupted"
    assert report.gate.reasons == (CANCELLED_REASON,)
    [record] = report.runs
    assert (record.purpose, record.ended) == (RunPurpose.ORIGINAL, RunEnd.CANCELLED)
    assert record.outcomes == {  # not the test cut short
        "tests/test_a_fails.py::test_fails": Outcome.FAILED,
        "tests/test_hang.py::test_before": Outcome.PASSED,
    }
    assert (report.summary.total, report.summary.passed, report.summary.failed) == (2, 1, 1)
    assert [error.nodeid for error in report.first_errors] == ["tests/test_a_fails.py::test_fails"]
    assert report.failures == ()  # one run decides no label
    assert report.notes == (
        (
            "cancelled during the original run: 2 of 4 test(s) had finished (1 failed) when flakehound was stopped;"
            " no test was rerun"
        ),
    )
    assert "cancelled during the original run" in " ".join(stdout.split())
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_misbehaving_tests_are_reported_not_fatal(run_cli, copy_project, sample_env, tmp_path):
    """Output floods, bad bytes, recursion, SystemExit and KeyboardInterrupt in tests are labelled failures."""
    args = ["run", "--seed", "1", "--orders", "1", "--reruns", "2", "--replays", "1"]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], copy_project("noisy"), sample_env)
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    report = Report.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    exceptions = {failure.nodeid.rsplit("::", 1)[1]: failure.original.exception for failure in report.failures}
    assert exceptions == {
        "test_megabytes": "AssertionError",
        "test_bad_bytes": "AssertionError",
        "test_recursion": "RecursionError",
        "test_system_exit": "SystemExit",
        "test_keyboard_interrupt": "flakehound.Crash",
    }
    noisy = report.failures[0]
    assert len(noisy.original.output or "") <= 2001
    bad = next(failure for failure in report.failures if failure.nodeid.endswith("test_bad_bytes"))
    assert "\\udcff" in (bad.original.message or "")
    assert "the original run ended early (crash): 1 collected test(s) did not run" in report.notes


ZOO = {
    "test_env_victim": (("test_sets_env",), ("env", "ZOO_MODE")),
    "test_file_victim": (("test_writes_cache_file",), ("file", "zoo.cache")),
    "test_sqlite_victim": (("test_inserts_user",), ("database", "zoo.db:users")),
    "test_clock_victim": (("test_patches_clock",), ("module-attribute", "zoo.clock.now")),
    "test_loop_victim": (("test_first_client",), ("event-loop-binding", "zoo.client._CLIENT")),
    "test_pair_victim": (("test_pair_a", "test_pair_b"), ("module-attribute", "zoo.state.PAIR_A")),
    "test_far_victim": (("test_sets_far",), ("module-attribute", "zoo.state.FAR")),
    "test_country_victim[nyc]": (("test_sets_country",), ("module-attribute", "zoo.state.COUNTRY")),
    "test_country_victim[sf]": (("test_sets_country",), ("module-attribute", "zoo.state.COUNTRY")),
    "test_country_victim[la]": (("test_sets_country",), ("module-attribute", "zoo.state.COUNTRY")),
}


def test_every_planted_polluter_is_found_confirmed_and_explained(run_cli, copy_project, sample_env, tmp_path):
    """Each planted polluter kind is found, confirmed 3/3, and the state it leaves behind is named."""
    args = ["run", "--seed", "3", "--reruns", "2", "--replays", "1", "--orders", "1", "--no-coverage"]
    completed = run_cli([*args, "--report", str(tmp_path / "r.json")], copy_project("zoo"), sample_env)
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    found = {}
    for failure in report.failures:
        assert failure.classification is FailureKind.ORDER_DEPENDENT, failure.nodeid
        (polluter,) = failure.polluters
        assert (polluter.confirmed_runs, polluter.confirmed_failures) == (3, 3)
        if len(polluter.nodeids) == 1:
            assert polluter.search_runs <= 12  # ceil(log2 168) + 4 for a single polluter
        kinds_and_names = {(change.kind, change.name.rsplit("/", 1)[-1]) for change in polluter.state_changes}
        victim = failure.nodeid.split("::")[1]
        assert ZOO[victim][1] in kinds_and_names, (victim, kinds_and_names)
        found[victim] = tuple(nodeid.split("::")[1] for nodeid in polluter.nodeids)
    assert found == {victim: polluters for victim, (polluters, _) in ZOO.items()}
    loop = next(failure for failure in report.failures if "loop" in failure.nodeid)
    assert (loop.original.exception, loop.original.message) == ("RuntimeError", "Event loop is closed")


def test_coverage_file_from_an_earlier_step_is_gated(run_cli, copy_project, sample_env, tmp_path):
    """--coverage-file reads an earlier step's data instead of measuring; --min-coverage sets the gate."""
    project = copy_project("all_green")
    (project / "app.py").write_text("def used():\n    return 1\n\n\ndef unused():\n    return 2\n")
    (project / "tests" / "test_app.py").write_text(
        "from app import used\n\n\ndef test_used():\n    assert used() == 1\n"
    )
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--data-file=earlier.cov", "-m", "pytest", "-q"],
        cwd=project,
        env={**sample_env, "PYTHONPATH": str(project)},
        check=True,
        capture_output=True,
    )
    args = ["run", "--seed", "1", "--coverage-file", "earlier.cov", "--min-coverage", "80"]
    completed = run_cli(
        [*args, "--report", str(tmp_path / "r.json")], project, {**sample_env, "PYTHONPATH": str(project)}
    )
    report = Report.model_validate_json((tmp_path / "r.json").read_text())
    assert report.coverage is not None
    assert report.coverage.source == "coverage-data"
    assert report.coverage.threshold == 80.0
    assert report.settings.coverage == "files"
    assert completed.returncode == (ExitCode.OK if report.coverage.total_percent >= 80 else ExitCode.GATE_FAILED)
    assert any(file.path == "app.py" and file.missing == ("6",) for file in report.coverage.files)


def test_sigterm_before_any_test_ran_writes_an_empty_cancelled_report(copy_project, sample_env, tmp_path):
    """SIGTERM while the fork server still collects: a report that says so, with no results, and exit 130."""
    project = copy_project("all_green")
    pid_file = Path(sample_env["FLAKEHOUND_SAMPLE_STATE"]) / "collecting.pid"
    (project / "conftest.py").write_text(
        f"import os, pathlib, time\n\npathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\ntime.sleep(600)\n"
    )
    report_path = tmp_path / "r.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flakehound",
            "run",
            "--no-coverage",
            "--isolation",
            "fork",
            "--report",
            str(report_path),
        ],
        cwd=project,
        env=sample_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pid_file(pid_file)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    report = Report.model_validate_json(report_path.read_text())
    assert (report.status, report.summary.total, report.runs[0].outcomes) == ("interrupted", 0, {})
    assert report.notes[0].startswith("cancelled during the original run: 0 test(s) had finished")
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_sigterm_during_bisect_exits_130_with_one_line(copy_project, sample_env):
    """A bisect writes no report: SIGTERM while it runs stops the child and exits 130 saying so, in one line."""
    project = copy_project("hang")
    pid_file = Path(sample_env["FLAKEHOUND_SAMPLE_STATE"]) / "hang.pid"
    process = subprocess.Popen(
        [sys.executable, "-m", "flakehound", "bisect", "--victim", "tests/test_hang.py::test_after"],
        cwd=project,
        env=sample_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pid_file(pid_file)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED
    assert stderr.strip() == "flakehound: interrupted before a report could be written"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
