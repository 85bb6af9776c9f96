"""The other commands: demo, report, schema, and how errors reach the user."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flakehound import __version__
from flakehound.__main__ import main as dispatch
from flakehound.cli import main
from flakehound.errors import ExitCode
from flakehound.models import FailureKind, Report

DEMO_LABELS = {
    "tests/test_cart.py::test_total_with_discount": FailureKind.DETERMINISTIC,
    "tests/test_cart.py::test_receipt": FailureKind.DETERMINISTIC,
    "tests/test_clock.py::test_sync_is_fast": FailureKind.INTERMITTENT,
    "tests/test_settings.py::test_default_region": FailureKind.ORDER_DEPENDENT,
    "tests/test_cache.py::test_cache_is_warm": FailureKind.BRITTLE,
}


def test_demo_gives_the_same_labels_ten_times(run_cli, tmp_path, sample_env):
    """Ten demo runs in a row label every planted failure the same way, latent test included.

    The labels come before the root-cause experiments, so these runs leave the experiments out.
    """

    def demo(index: int) -> tuple[int, Report]:
        path = tmp_path / f"demo-{index}.json"
        completed = run_cli(["demo", "--budget-seconds", "0", "--report", str(path)], tmp_path, sample_env)
        return completed.returncode, Report.model_validate_json(path.read_text())

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(demo, range(10)))
    for returncode, report in outcomes:
        assert returncode == ExitCode.OK
        assert {failure.nodeid: failure.classification for failure in report.failures} == DEMO_LABELS
        assert [(latent.nodeid, latent.classification) for latent in report.latent] == [
            ("tests/test_zones.py::test_utc_default", FailureKind.ORDER_DEPENDENT)
        ]


def test_demo_prints_the_verdict(run_cli, tmp_path, sample_env):
    """The demo explains what it did, with hints, and what the gate would say on a pull request."""
    path = tmp_path / "demo.json"
    completed = run_cli(["demo", "--report", str(path)], tmp_path, sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert "order-dependent" in completed.stdout
    assert "this gate would block the merge" in completed.stdout
    failures = {failure.nodeid: failure for failure in Report.model_validate_json(path.read_text()).failures}
    top = failures["tests/test_settings.py::test_default_region"].hints[0]
    assert (top.category, top.evidence) == (
        "shared-state",
        "fails 3/3 right after tests/test_admin.py::test_switch_region, fails 0/5 alone",
    )
    assert failures["tests/test_cart.py::test_receipt"].hints[0].category == "network"


def test_demo_without_budget_skips_the_experiments_and_says_so(run_cli, tmp_path, sample_env):
    """`demo --budget-seconds 0` labels as usual and names the experiments it left out."""
    path = tmp_path / "demo.json"
    completed = run_cli(["demo", "--budget-seconds", "0", "--report", str(path)], tmp_path, sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    report = Report.model_validate_json(path.read_text())
    assert not [run for run in report.runs if run.purpose.value == "experiment"]
    assert any("budget" in note for note in report.notes), report.notes


def test_demo_states_the_unseen_chance_of_its_latent_test(run_cli, tmp_path, sample_env):
    """A latent test, which a plain run misses, states its chance of going unseen."""
    path = tmp_path / "demo.json"
    run_cli(["demo", "--budget-seconds", "0", "--report", str(path)], tmp_path, sample_env)
    (latent,) = Report.model_validate_json(path.read_text()).latent
    assert latent.strength is not None
    assert "chance of going unseen" in latent.strength.sentence


@pytest.fixture
def saved_report(run_cli, tmp_path, copy_project, sample_env):
    """A real report of the all-green sample suite."""
    path = tmp_path / "r.json"
    completed = run_cli(["run", "--seed", "5", "--report", str(path)], copy_project("all_green"), sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    return path


def test_report_renders_a_saved_report_again(saved_report, capsys):
    """`flakehound report` prints the terminal view, and `--format json` the same document."""
    assert main(["report", str(saved_report)]) == ExitCode.OK
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(saved_report), "--format", "json"]) == ExitCode.OK
    again = Report.model_validate_json(capsys.readouterr().out)
    assert again == Report.model_validate_json(saved_report.read_text())


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), ('{"schema_version": 1}', "schema error(s)")],
    ids=["missing", "not-a-report"],
)
def test_report_rejects_what_is_not_a_report(tmp_path, capsys, content, reason):
    """A missing or foreign file is named in one line with exit 2."""
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"flakehound: error: report '{path}' is not a flakehound report")
    assert reason in err


def test_schema_is_the_report_json_schema(capsys):
    """`flakehound schema` prints the Report model's JSON Schema."""
    assert main(["schema"]) == ExitCode.OK
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Report"
    assert "failures" in schema["properties"]


def test_version(capsys):
    """`--version` prints the installed version."""
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"flakehound {__version__}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "the following arguments are required: command"),
        (["run", "--quiet", "--verbose"], "not allowed with"),
    ],
    ids=["no-command", "quiet-and-verbose"],
)
def test_usage_errors_are_one_line(capsys, argv, expected):
    """Argparse's usage errors become one line and exit 2."""
    assert main(argv) == ExitCode.USAGE
    assert expected in capsys.readouterr().err


def test_action_takes_no_arguments(capsys):
    """`flakehound action` reads its settings from the environment; an argument after it is named, exit 2."""
    assert dispatch(["action", "--seed", "7"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "unrecognized arguments: --seed 7" in err
    assert len(err.strip().splitlines()) == 1


def test_the_cli_sends_action_to_the_dispatcher(capsys):
    """The CLI's own entry point called with `action` names the two commands that run the Action, exit 2."""
    assert main(["action"]) == ExitCode.USAGE
    assert "'action' runs as 'flakehound action' or 'python -m flakehound action'" in capsys.readouterr().err


def test_the_dispatcher_hands_every_other_command_to_the_cli(capsys):
    """`flakehound schema` through the console script's entry point is the CLI's `schema`."""
    assert dispatch(["schema"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["title"] == "Report"


def test_pytest_internal_error_exits_3_with_saved_details(run_cli, copy_project, sample_env):
    """Pytest's INTERNALERROR is exit 3, one line naming the error and where the details are."""
    completed = run_cli(["run"], copy_project("internal_error"), sample_env)
    assert completed.returncode == ExitCode.INTERNAL
    line = completed.stderr.strip()
    assert "RuntimeError: a broken conftest hook" in line
    saved = line.rsplit("details saved to ", 1)[1]
    assert "INTERNALERROR" in Path(saved).read_text(encoding="utf-8")


def test_unwritable_report_path_is_bad_input(run_cli, copy_project, sample_env, tmp_path):
    """A --report path that cannot be written is named, exit 2."""
    (tmp_path / "file").write_text("")
    completed = run_cli(["run", "--report", str(tmp_path / "file" / "r.json")], copy_project("all_green"), sample_env)
    assert completed.returncode == ExitCode.USAGE
    assert "cannot be written" in completed.stderr


def test_quiet_and_verbose_output(run_cli, copy_project, sample_env, tmp_path):
    """--quiet prints only the verdict; --verbose also lists every run."""
    project = copy_project("all_green")
    quiet = run_cli(["run", "-q", "--seed", "1", "--report", str(tmp_path / "a.json")], project, sample_env)
    assert quiet.stdout.startswith("PASS: ok")
    verbose = run_cli(["run", "-v", "--seed", "1", "--report", str(tmp_path / "b.json")], project, sample_env)
    assert "run 1: original 2 tests" in verbose.stdout


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_bisect_finds_the_polluter_and_names_its_leftover(run_cli, copy_project, sample_env, isolation):
    """`flakehound bisect --victim` finds the polluter, prints what it leaves behind and the minimal replay.

    The same answer from forked children (the workers collecting side by side) and from fresh processes.
    """
    victim = "tests/test_h_victim.py::test_default_mode"
    args = ["bisect", "--victim", victim, "--isolation", isolation]
    completed = run_cli(args, copy_project("planted"), sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert f"{victim} fails only after tests/test_a_polluter.py::test_configure_test_mode" in completed.stdout
    assert "; that test changes pkg.state.MODE from 'production' to 'test'" in completed.stdout
    assert completed.stdout.strip().endswith(f"tests/test_a_polluter.py::test_configure_test_mode {victim}")


def test_bisect_follows_an_order_file(run_cli, copy_project, sample_env, tmp_path):
    """With --order-file the polluter is searched in that order; also-changed state is listed."""
    project = copy_project("planted")
    order = tmp_path / "order.txt"
    order.write_text(
        "tests/test_e_setter.py::test_make_ready\ntests/test_a_polluter.py::test_configure_test_mode\n"
        "tests/test_h_victim.py::test_default_mode\n"
    )
    args = ["bisect", "--victim", "tests/test_h_victim.py::test_default_mode", "--order-file", str(order)]
    completed = run_cli(args, project, sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert "fails only after tests/test_a_polluter.py::test_configure_test_mode (found in" in completed.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--victim", "tests/nope.py::test_x"], "is not among the 48 tests pytest collects"),
        (["--victim", "tests/test_h_victim.py::test_default_mode", "--order-file", "missing.txt"], "cannot be read"),
        (["--victim", "x", "--cwd", "missing-folder"], "--cwd 'missing-folder' is not a folder"),
        (["--victim", "x", "--", "--definitely-not-an-option"], "pytest rejected the arguments"),
    ],
    ids=["unknown-node-id", "missing-order-file", "bad-cwd", "pytest-usage"],
)
def test_bisect_bad_input_is_one_line_and_exit_2(run_cli, copy_project, sample_env, args, expected):
    """An unknown node id, a bad order file, a bad folder or pytest options: one sentence, exit 2."""
    completed = run_cli(["bisect", *args], copy_project("planted"), sample_env)
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    assert expected in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_bisect_with_a_seed_uses_that_shuffled_order(run_cli, copy_project, sample_env):
    """--seed rebuilds the shuffled order a report names; where the victim passes, exit 1 says what to try."""
    completed = run_cli(
        ["bisect", "--victim", "tests/test_g_lockfile.py::test_takes_lock", "--seed", "5"],
        copy_project("planted"),
        sample_env,
    )
    assert completed.returncode == ExitCode.NOTHING_FOUND
    assert "error" not in completed.stdout + completed.stderr
    assert completed.stdout.strip() == (
        "tests/test_g_lockfile.py::test_takes_lock: nothing found: it passed in all 3 runs alone and in the order"
        " of --seed 5: no test before it makes it fail there; leave out --order-file and --seed to let bisect try"
        " shuffled orders"
    )


@pytest.mark.parametrize(
    ("victim", "ending"),
    [("tests/test_c_bug.py::test_add", "failed"), ("tests/test_b_fillers.py::test_filler[3]", "passed")],
    ids=["fails-everywhere", "passes-everywhere"],
)
def test_bisect_that_finds_nothing_exits_1_and_says_what_it_tried(run_cli, copy_project, sample_env, victim, ending):
    """Without an order, bisect tries pytest's and ten shuffled ones; finding nothing is exit 1, no error line."""
    completed = run_cli(["bisect", "--victim", victim], copy_project("planted"), sample_env)
    assert completed.returncode == ExitCode.NOTHING_FOUND, completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.startswith(
        f"{victim}: nothing found: it {ending} in all 3 runs alone and in 11 orders (pytest's order,"
        " the order of --seed 1, …, the order of --seed 10)"
    )


def test_bisect_finds_the_state_setter_a_brittle_test_needs(run_cli, copy_project, sample_env):
    """A test that fails alone and in pytest's order is searched in a shuffled order where it passes."""
    victim = "tests/test_d_brittle.py::test_needs_ready"
    completed = run_cli(["bisect", "--victim", victim], copy_project("planted"), sample_env)
    assert completed.returncode == ExitCode.OK, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0].startswith(f"{victim} passes only after tests/test_e_setter.py::test_make_ready (found in")
    assert lines[0].endswith("; that test changes pkg.state.READY from False to True")
    assert lines[1].startswith("searched in the order of --seed ")
    assert lines[1].endswith("the victim passed there and failed 3 of 3 runs alone (4 orders tried)")
    assert lines[2].endswith(f"tests/test_e_setter.py::test_make_ready {victim}")


def test_report_renders_markdown(saved_report, capsys):
    """`flakehound report --format markdown` prints the PR comment's markdown with its marker."""
    assert main(["report", str(saved_report), "--format", "markdown"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("<!-- flakehound:report -->")
    assert "Passed" in out


def test_bisect_finds_a_pair_that_pollutes_only_together(run_cli, copy_project, sample_env):
    """Two tests that break the victim only together are found as a pair; every change they leave is listed."""
    completed = run_cli(
        ["bisect", "--victim", "tests/test_c_victims.py::test_pair_victim"], copy_project("zoo"), sample_env
    )
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert "fails only after tests/test_a_polluters.py::test_pair_a, tests/test_a_polluters.py::test_pair_b" in (
        completed.stdout
    )
    assert "  it also changes zoo.state.PAIR_" in completed.stdout


HASHING_TEST = """
import os


def test_records_its_hash():
    with open(os.environ["HASHES"], "a") as handle:
        handle.write(str(hash("flakehound")) + "\\n")
    assert False, "planted: fails on every run"
"""


def _hashes_of_a_run(run_cli, root: Path, env: dict[str, str], seed: str) -> list[str]:
    """Every hash the failing test recorded over one `flakehound run --seed SEED` (original and reruns)."""
    project = root / f"project-{len(list(root.glob('project-*')))}"
    project.mkdir()
    (project / "test_hashing.py").write_text(HASHING_TEST)
    hashes = project.parent / f"{project.name}.txt"
    completed = run_cli(
        ["run", "--seed", seed, "--no-coverage", "--budget-seconds", "0", "--report", str(project / "r.json")],
        project,
        {**env, "HASHES": str(hashes)},
    )
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stderr
    return hashes.read_text().split()


def test_every_run_shares_one_hash_seed_drawn_from_the_seed_or_the_users(run_cli, tmp_path, sample_env):
    """Forked and fresh runs of one investigation hash alike; --seed replays the hash seed; a pinned one is kept."""
    env = {key: value for key, value in sample_env.items() if key != "PYTHONHASHSEED"}
    first = _hashes_of_a_run(run_cli, tmp_path, env, "5")
    again = _hashes_of_a_run(run_cli, tmp_path, env, "5")
    pinned = _hashes_of_a_run(run_cli, tmp_path, {**env, "PYTHONHASHSEED": "0"}, "5")
    assert len(first) > 3
    assert len(set(first)) == 1
    assert first == again
    assert set(pinned) == {str(hash_under_seed_zero())}
    assert pinned[0] != first[0]


def hash_under_seed_zero() -> int:
    """hash('flakehound') in an interpreter started with PYTHONHASHSEED=0."""
    completed = subprocess.run(
        [sys.executable, "-c", "print(hash('flakehound'))"],
        env={"PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(completed.stdout)
