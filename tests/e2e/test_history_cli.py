"""History across runs from the command line: `run --history DIR` and `flakehound history DIR` on real reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakehound import cli
from flakehound.models import (
    ClassifiedFailure,
    ConfigurationCount,
    Evidence,
    FailureKind,
    GateResult,
    Original,
    Outcome,
    Report,
    ReportSettings,
    RunPurpose,
    Summary,
    Tool,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

FLIP = "tests/test_flip.py::test_flips_every_other_run"
RUN = ["run", "--no-coverage", "--reruns", "3", "--replays", "1", "--orders", "0"]


def test_earlier_reports_give_each_failure_its_history_and_a_passing_flaky_test_is_rerun(
    copy_project, sample_env, run_cli, tmp_path
):
    """Three runs where the flipping test failed, then one where its original run passed: followed all the same.

    It fails again in the reversed order, so it is a latent failure of this run, with its history.
    """
    project = copy_project("history")
    counter = tmp_path / "state" / "counter"
    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / "notes.json").write_text("{}", encoding="utf-8")  # not a report: left out with a note
    for run in range(3):
        counter.write_text("0", encoding="utf-8")  # the original run's call is the first: it fails
        completed = run_cli(
            [*RUN, "--seed", str(run), "--report", str(folder / f"run-{run}.json")], project, sample_env
        )
        assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr

    counter.write_text("1", encoding="utf-8")  # now the original run passes it
    report_path = tmp_path / "now.json"
    args = [*RUN, "--seed", "9", "--history", str(folder), "--report", str(report_path)]
    completed = run_cli(args, project, sample_env)
    assert completed.returncode == cli.ExitCode.OK, completed.stdout + completed.stderr
    report = Report.model_validate_json(report_path.read_text(encoding="utf-8"))
    assert report.history is not None
    assert (report.history.runs, report.history.source) == (3, f"in the reports in {folder}")
    assert report.history.notes[0].startswith("notes.json is left out of the history: not a flakehound report (")
    (latent,) = report.latent
    assert latent.nodeid == FLIP
    assert latent.history is not None
    assert (latent.history.runs, latent.history.failures) == (3, 3)
    assert latent.history.labels == {"intermittent": 3}
    assert report.watched == ()

    shown = run_cli(["history", str(folder)], project, {**sample_env, "COLUMNS": "200"})
    assert shown.returncode == cli.ExitCode.OK, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"3 run(s) in the reports in {folder}"
    row = next(line for line in lines if FLIP in line)
    assert "3/3" in row
    assert "100% (44%-100%)" in row
    assert "intermittent 3x" in row
    assert lines[-1].startswith("note: notes.json is left out of the history")


def test_history_of_a_folder_without_failures_or_reports(tmp_path, capsys):
    """An empty folder has no report to read; a missing one is a usage error naming it."""
    assert cli.main(["history", str(tmp_path)], environ={}) == cli.ExitCode.OK
    assert capsys.readouterr().out.splitlines() == [f"0 run(s) in the reports in {tmp_path}", "no report to read"]
    missing = tmp_path / "missing"
    assert cli.main(["history", str(missing)], environ={}) == cli.ExitCode.USAGE
    err = capsys.readouterr().err
    assert err == (
        f"flakehound: error: --history {str(missing)!r} is not a folder: expected a folder of flakehound report files\n"
    )


EVERY_THIRD = "tests/test_watched.py::test_every_third_call"
SWITCHING = "tests/test_watched.py::test_breaks_under_fast_thread_switching"
STEADY = "tests/test_watched.py::test_steady"


def earlier_report(day: int, failed: Sequence[str]) -> Report:
    """A report of an earlier run on main in which ``failed`` failed (intermittent), as `--report` writes one."""
    failures = tuple(
        ClassifiedFailure(
            nodeid=nodeid,
            classification=FailureKind.INTERMITTENT,
            original=Original(outcome=Outcome.FAILED),
            evidence=Evidence(alone=ConfigurationCount(runs=3, failures=1)),
            reproduce=f"python -m pytest {nodeid}",
        )
        for nodeid in failed
    )
    return Report(
        tool=Tool(version="0"),
        created_at=f"2026-11-{day:02}T00:00:00+00:00",
        command=("flakehound", "run"),
        settings=ReportSettings(
            seed=day, reruns=3, replays=1, orders=0, max_failures=10, min_pass_rate=100.0, timeout=60.0, cwd="."
        ),
        summary=Summary(total=3, passed=3 - len(failed), failed=len(failed), pass_rate=100.0 * (3 - len(failed)) / 3),
        failures=failures,
        gate=GateResult(passed=False, reasons=("pass rate below 100.00%",)),
        commit=f"{day:x}" * 20,
    )


def test_tests_that_failed_earlier_are_investigated_here_and_promoted_when_they_fail_or_listed_when_not(
    copy_project, sample_env, run_cli, tmp_path
):
    """Three tests failed on main and pass in this run's original run; each is investigated all the same.

    The every-third-call test fails in its second rerun alone and the fast-switching one under the concurrency
    experiment: both are latent failures now, with their evidence. The steady one passes everything and is listed
    with what was run on it, with the same counts in the JSON, the terminal and the markdown.
    """
    project = copy_project("watched")
    folder = tmp_path / "earlier"
    folder.mkdir()
    for day, failed in ((20, (EVERY_THIRD, STEADY)), (21, (SWITCHING,))):
        report = earlier_report(day, failed)
        (folder / f"run-{day}.json").write_text(report.model_dump_json(), encoding="utf-8")
    report_path = tmp_path / "now.json"
    args = [*RUN, "--seed", "5", "--history", str(folder), "--report", str(report_path)]
    completed = run_cli(args, project, {**sample_env, "COLUMNS": "400"})
    assert completed.returncode == cli.ExitCode.OK, completed.stdout + completed.stderr
    report = Report.model_validate_json(report_path.read_text(encoding="utf-8"))
    assert report.failures == ()
    latent = {failure.nodeid: failure for failure in report.latent}
    assert set(latent) == {EVERY_THIRD, SWITCHING}

    third = latent[EVERY_THIRD]
    assert third.found_in.purpose is RunPurpose.ALONE
    assert third.classification is FailureKind.INTERMITTENT
    assert third.notes[0] == (
        "passed in the original run and 1 shuffled order; failed 1/2 alone here (followed because it failed in"
        " earlier runs)"
    )
    assert third.history is not None
    assert (third.history.runs, third.history.failures) == (2, 1)

    switching = latent[SWITCHING]
    assert switching.found_in.purpose is RunPurpose.EXPERIMENT
    assert switching.hints[0].category == "concurrency"
    assert switching.hints[0].evidence.startswith("fails 7/7 with threads switching every microsecond vs 0/7")
    assert switching.notes[0].startswith("passed in the original run, 3 reruns alone and 1 shuffled order; failed")
    assert report.summary.latent == 2

    (watched,) = report.watched
    assert watched.nodeid == STEADY
    assert (watched.alone.runs, watched.alone.failures, watched.shuffled.runs) == (3, 0, 1)
    factors = [experiment.split(" ", 1)[0] for experiment in watched.experiments]
    assert factors[:3] == ["random-seed", "hash-seed", "concurrency"], "the seeds are tried first"
    assert all(" (inconclusive): " in each or " (no-effect): " in each for each in watched.experiments)

    assert (
        f"{STEADY} passed here (rerun alone: 0/3 failed; in shuffled orders: 0/1 failed); in the reports in {folder}:"
        " failed in 1 of the last 2 runs" in completed.stdout
    )
    assert f"  experiment {watched.experiments[2]}" in completed.stdout
    shown = run_cli(["report", str(report_path), "--format", "markdown"], project, sample_env)
    assert shown.returncode == cli.ExitCode.OK, shown.stderr
    here = f"passed 3/3 alone here; passed 1/1 in shuffled orders; {len(watched.experiments)} experiments (below) |"
    assert here in shown.stdout
    assert f"- {watched.experiments[2]}" in shown.stdout
