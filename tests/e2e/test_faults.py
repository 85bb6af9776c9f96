"""Tests that misbehave in ways that outlive them, and a hostile --junit file, through the real CLI."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from flakehound.errors import ExitCode
from flakehound.inputs.sources import MAX_JUNIT_BYTES
from flakehound.models import FailureKind, Report, RunEnd

ISOLATIONS = pytest.mark.parametrize("isolation", ["fork", "process"], ids=["fork", "process"])
#: Small investigations: two reruns alone, one replay of the original order, the reversed order.
SMALL = ["--seed", "1", "--reruns", "2", "--replays", "1", "--orders", "0", "--timeout", "300"]


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process: it exists and is not a zombie waiting for its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(FileNotFoundError):  # gone between the two looks
        return stat.read_text().rpartition(")")[2].split()[0] not in {"Z", "X"}
    return False


def wait_until_gone(pids: list[int]) -> list[int]:
    """Poll (at most 30 s, as SIGKILL is delivered asynchronously) and return the pids still running."""
    for _ in range(300):
        running = [pid for pid in pids if is_running(pid)]
        if not running:
            break
        time.sleep(0.1)
    return running


def investigate(run_cli, project: Path, env: dict[str, str], report: Path, *args: str) -> Report:
    """Run ``flakehound run`` and check it ended as a gate verdict, not a traceback; return the report."""
    completed = run_cli(["run", *SMALL, *args, "--report", str(report)], project, env)
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    assert "Traceback" not in completed.stderr
    return Report.model_validate_json(report.read_text(encoding="utf-8"))


@ISOLATIONS
def test_forked_survivors_are_killed_and_threads_do_not_hold_the_run(
    run_cli, copy_project, sample_env, tmp_path, isolation
):
    """Children a test forks die with every run; a never-ending thread neither hangs a run nor loses results."""
    project = copy_project("unruly")
    report = investigate(run_cli, project, sample_env, tmp_path / "r.json", "--isolation", isolation)
    survivors = [
        int(pid) for pid in (Path(sample_env["FLAKEHOUND_SAMPLE_STATE"]) / "survivors.txt").read_text().split()
    ]
    runs_with_the_fork = [run for run in report.runs if "tests/test_unruly.py::test_forks_a_survivor" in run.outcomes]
    assert len(survivors) == len(runs_with_the_fork) >= 4  # original, two alone, replay, reversed
    assert wait_until_gone(survivors) == []
    assert {run.ended for run in report.runs} == {RunEnd.COMPLETED}  # the 300 s timeout never struck
    assert (report.summary.total, report.summary.passed, report.summary.failed) == (4, 2, 2)
    messages = {failure.nodeid.rpartition("::")[2]: failure.original.message for failure in report.failures}
    assert messages == {
        "test_forks_a_survivor": "left a child behind\nassert False",
        "test_leaves_a_thread": "left a thread running\nassert False",
    }
    assert {failure.classification for failure in report.failures} == {FailureKind.DETERMINISTIC}
    assert report.coverage is not None  # the original run's coverage data outlived the thread


@ISOLATIONS
def test_closed_stdout_is_a_failure_and_its_victims_are_traced(run_cli, copy_project, sample_env, tmp_path, isolation):
    """Closing fd 1 or sys.stdout fails that test; a test broken by the closed stdout is traced back to it."""
    project = copy_project("closed_stdout")
    args = ("--isolation", isolation, "--no-coverage")
    report = investigate(run_cli, project, sample_env, tmp_path / "r.json", *args)
    assert {run.ended for run in report.runs} == {RunEnd.COMPLETED}
    # every test has its result, before and after the closing: fd 1 is pytest's to restore, sys.stdout is not
    assert (report.summary.total, report.summary.passed, report.summary.failed, report.summary.errors) == (4, 1, 2, 1)
    kinds = {failure.nodeid.rpartition("::")[2]: failure.classification for failure in report.failures}
    assert kinds == {
        "test_closes_fd_1": FailureKind.DETERMINISTIC,
        "test_closes_sys_stdout": FailureKind.DETERMINISTIC,
        "test_z_green": FailureKind.ORDER_DEPENDENT,
    }
    victim = report.failures[-1]
    assert [polluter.nodeids for polluter in victim.polluters] == [
        ("tests/test_closed_stdout.py::test_closes_sys_stdout",)
    ]


def write_huge_junit(path: Path, size: int) -> None:
    """Stream ``size`` bytes (and a few more) of passing testcases into ``path``, one MiB at a time."""
    chunk = '<testcase classname="tests.test_random" name="test_coin_flip" time="0.001" />\n' * 13_000
    with path.open("w", encoding="utf-8") as file:
        file.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="pytest">\n')
        written = 0
        while written < size:
            written += file.write(chunk)
        file.write("</testsuite></testsuites>\n")


def test_huge_junit_is_refused_in_one_line(run_cli, copy_project, sample_env):
    """A 100 MB --junit file is refused with one line naming it and exit 2, before any run starts."""
    project = copy_project("random_flaky")
    write_huge_junit(project / "huge.xml", 100 * 1024 * 1024)
    completed = run_cli(["run", "--junit", "huge.xml", "--orders", "0"], project, sample_env)
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    assert completed.stderr == (
        f"flakehound: error: --junit file {str(project / 'huge.xml')!r} is larger than {MAX_JUNIT_BYTES:,} bytes, "
        "the most flakehound reads; pass a smaller report: split the suite over several --junitxml files "
        "or drop captured output (pytest -o junit_logging=no)\n"
    )


@ISOLATIONS
def test_segfault_is_attributed_to_the_crashing_test(run_cli, copy_project, sample_env, tmp_path, isolation):
    """A real SIGSEGV inside a test is reported as that test's crash, with the signal, and reruns go on."""
    args = ("--isolation", isolation, "--no-coverage")
    report = investigate(run_cli, copy_project("segfault"), sample_env, tmp_path / "r.json", *args)
    (failure,) = report.failures
    assert failure.nodeid == "tests/test_segfault.py::test_segfaults"
    assert failure.original.exception == "flakehound.Crash"
    assert "killed by signal 11" in (failure.original.message or "")
    assert failure.classification is FailureKind.DETERMINISTIC
    assert failure.evidence.alone.runs == 2  # each rerun crashed on its own and the next one still ran


def test_broken_conftest_is_one_line_and_exit_2(run_cli, copy_project, sample_env):
    """A conftest.py that cannot be imported stops flakehound with one line naming it and exit 2."""
    project = copy_project("all_green")
    (project / "tests" / "conftest.py").write_text("raise ImportError('broken conftest')\n")
    completed = run_cli(["run", "--seed", "1"], project, sample_env)
    assert completed.returncode == ExitCode.USAGE
    assert completed.stderr.startswith("flakehound: error: ")
    assert f"ImportError while loading conftest '{project / 'tests' / 'conftest.py'}'" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
