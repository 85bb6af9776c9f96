"""History across runs from the command line: `run --history DIR` and `flakehound history DIR` on real reports."""

from __future__ import annotations

from flakehound import cli
from flakehound.models import Report

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
