"""`flakehound plan`, `investigate --plan --shard` and `merge`, run as a job matrix would run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flakehound.cli import main
from flakehound.engine.shards import read_plan
from flakehound.errors import ExitCode
from flakehound.models import Report

FIXTURES = Path(__file__).parent.parent / "fixture_projects"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _environment(state: Path, **more: str) -> dict[str, str]:
    """A sample-suite environment (as conftest's), on the commit SHA, with a counter folder of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "GITHUB_"))}
    return {**env, "FLAKEHOUND_SAMPLE_STATE": str(state), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **more}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, run_cli):
    """The planted suite (seed 7) planned into 3 shards, each investigated by its own process, then merged."""
    root = tmp_path_factory.mktemp("sharded")
    project = shutil.copytree(FIXTURES / "planted", root / "planted")
    (root / "state").mkdir()
    output = root / "github-output"
    env = _environment(root / "state", GITHUB_SHA=SHA)
    plan = run_cli(
        ["plan", "--seed", "7", "--shards", "3", "--out", str(root / "plan.json")],
        project,
        {**env, "GITHUB_OUTPUT": str(output)},
    )
    assert plan.returncode == ExitCode.OK, plan.stderr
    parts = []
    for index in range(3):
        part = root / f"part-{index}.json"
        args = ["investigate", "--plan", str(root / "plan.json"), "--shard", str(index), "--report", str(part)]
        completed = run_cli([*args, "--budget-seconds", "0", "--quiet"], project, env)
        assert completed.returncode == ExitCode.OK, completed.stderr
        parts.append(part)
    merged = run_cli(["merge", *map(str, parts), "--report", str(root / "merged.json")], project, env)
    return {
        "root": root,
        "plan": plan,
        "output": output.read_text(),
        "parts": parts,
        "merged": merged,
        "report": Report.model_validate_json((root / "merged.json").read_text()),
    }


def _verdict(report: Report):
    """What must not depend on how the work was split: labels, polluters, setters, latent tests, summary, gate."""

    def finding(failure):
        return (
            failure.classification,
            [polluter.nodeids for polluter in failure.polluters],
            [setter.nodeids for setter in failure.state_setters],
        )

    return (
        {failure.nodeid: finding(failure) for failure in report.failures},
        {failure.nodeid: finding(failure) for failure in report.latent},
        report.summary,
        report.gate,
    )


def test_three_shards_merged_give_the_verdict_of_one_run(planted, sharded):
    """A 3-shard plan run as three processes and merged labels, blames and gates exactly as one `run --seed 7`."""
    completed, whole = planted
    merged = sharded["report"]
    assert _verdict(merged) == _verdict(whole)
    assert sharded["merged"].returncode == completed.returncode == ExitCode.GATE_FAILED
    assert "BLOCKED" in sharded["merged"].stdout
    assert [failure.nodeid for failure in merged.failures] == [failure.nodeid for failure in whole.failures]
    assert (merged.commit, merged.shard, merged.settings.seed) == (SHA, None, 7)


def test_the_plan_prints_the_matrix_and_sets_the_step_output(sharded):
    """`plan` prints the matrix as one JSON line and writes it, with the shard count, to GITHUB_OUTPUT."""
    assert sharded["plan"].stdout == '{"shard":[0,1,2]}\n'
    assert sharded["output"] == 'matrix={"shard":[0,1,2]}\nshards=3\n'
    assert "plan " in sharded["plan"].stderr
    plan = read_plan((sharded["root"] / "plan.json").read_text(), "plan.json")
    assert (plan.commit, plan.settings.seed, len(plan.original)) == (SHA, 7, 48)
    assert sorted(nodeid for shard in plan.shards for nodeid in shard.failures) == sorted(
        result.nodeid for result in plan.original if result.outcome.is_failure
    )


def _edited(source: Path, destination: Path, **changes: object) -> Path:
    raw = json.loads(source.read_text())
    raw.update(changes)
    destination.write_text(json.dumps(raw))
    return destination


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("commit", "is from commit 'fedcba' but"),
        ("schema", "has schema_version 2, and this flakehound reads 1"),
        ("overlap", "overlapping shards:"),
        ("missing", "shard(s) 2 of plan"),
    ],
    ids=["different-commit", "different-schema-version", "overlapping-shards", "missing-shard"],
)
def test_merge_refuses_parts_that_do_not_belong_together(sharded, tmp_path, capsys, change, expected):
    """`merge` refuses other commits, other schema versions, overlapping and missing shards: one line, exit 2."""
    parts = [str(path) for path in sharded["parts"]]
    if change == "commit":
        parts[1] = str(_edited(sharded["parts"][1], tmp_path / "other.json", commit="fedcba"))
    elif change == "schema":
        parts[1] = str(_edited(sharded["parts"][1], tmp_path / "newer.json", schema_version=2))
    elif change == "overlap":
        parts.append(str(shutil.copy(sharded["parts"][1], tmp_path / "again.json")))
    else:
        parts.pop()
    assert main(["merge", *parts, "--report", str(tmp_path / "m.json")]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("flakehound: error: ")
    assert expected in err
    assert err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_merge_names_a_part_it_cannot_read(tmp_path, capsys):
    """A missing part file is named in one line with exit 2."""
    assert main(["merge", str(tmp_path / "nope.json")]) == ExitCode.USAGE
    assert "part '" in capsys.readouterr().err


def _junit_project(tmp_path: Path) -> Path:
    """A project whose original run is a JUnit file: two failures in two modules, one pass."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    for name in ("a", "b"):
        (project / "tests" / f"test_{name}.py").write_text("def test_it():\n    assert False\n")
    cases = "".join(
        f'<testcase classname="tests.test_{name}" name="test_it" time="{time}">{inner}</testcase>'
        for name, time, inner in [("a", "0.5", '<failure message="no"/>'), ("b", "1.5", '<failure message="no"/>')]
    )
    (project / "results.xml").write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>')
    return project


def _plan_in_process(tmp_path: Path, environ: dict[str, str], *more: str):
    project = _junit_project(tmp_path)
    out = tmp_path / "plan.json"
    argv = ["plan", "--cwd", str(project), "--junit", "results.xml", "--no-coverage", "--seed", "3"]
    code = main([*argv, "--shards", "2", "--out", str(out), *more], environ)
    return code, out


def test_plan_reads_the_original_run_from_junit(tmp_path, capsys):
    """`plan --junit` needs no pytest run: the plan holds the results, the seed and one shard per failure."""
    code, out = _plan_in_process(tmp_path, {"GITHUB_SHA": "abc"}, "--", "tests")
    assert code == ExitCode.OK
    assert capsys.readouterr().out == '{"shard":[0,1]}\n'
    plan = read_plan(out.read_text(), "plan.json")
    assert [shard.failures for shard in plan.shards] == [("tests/test_b.py::test_it",), ("tests/test_a.py::test_it",)]
    assert (plan.commit, plan.settings.seed, plan.settings.pytest_args, plan.coverage) == ("abc", 3, ("tests",), None)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)  # noqa: S607 - git from the PATH


@pytest.mark.parametrize("where", ["git-repository", "no-repository", "no-git"])
def test_the_commit_comes_from_git_when_not_from_github(tmp_path, capsys, where):
    """Without GITHUB_SHA the plan records git's HEAD, or no commit when there is no repository or no git."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    project = _junit_project(tmp_path)
    expected = None
    if where == "git-repository":
        _git(project, "init", "-q")
        _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
        expected = subprocess.run(
            [git, "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
    environ = {"PATH": "" if where == "no-git" else str(Path(git).parent)}
    argv = ["plan", "--cwd", str(project), "--junit", "results.xml", "--no-coverage", "--shards", "1"]
    assert main([*argv, "--out", str(tmp_path / "plan.json")], environ) == ExitCode.OK
    capsys.readouterr()
    assert read_plan((tmp_path / "plan.json").read_text(), "p").commit == expected


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["--shard", "5"], {}, "--shard must be one of the plan's shards 0 to 1, got 5; "),
        (["--shard", "0"], {"GITHUB_SHA": "def"}, "was made for commit abc, but this checkout is def; "),
    ],
    ids=["shard-outside-the-plan", "other-commit"],
)
def test_investigate_refuses_a_shard_it_cannot_run(tmp_path, capsys, argv, environ, expected):
    """A shard outside the plan, or a checkout of another commit, is one line with exit 2."""
    code, out = _plan_in_process(tmp_path, {"GITHUB_SHA": "abc"})
    assert code == ExitCode.OK
    capsys.readouterr()
    assert main(["investigate", "--plan", str(out), *argv], environ) == ExitCode.USAGE
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--plan", "{tmp}/missing.json", "--shard", "0"], "--plan '{tmp}/missing.json' cannot be read ("),
        (["--plan", "{tmp}/plan.json"], "the following arguments are required: --shard"),
    ],
    ids=["missing-plan", "no-shard"],
)
def test_investigate_usage_errors(tmp_path, capsys, argv, expected):
    """A plan that cannot be read, or no --shard, is one line with exit 2."""
    assert main(["investigate", *(arg.format(tmp=tmp_path) for arg in argv)], {}) == ExitCode.USAGE
    expected = expected.format(tmp=tmp_path)
    assert expected in capsys.readouterr().err


def test_plan_refuses_an_unwritable_out(tmp_path, capsys):
    """A plan that cannot be saved is named in one line with exit 2."""
    (tmp_path / "file").write_text("")
    code, _ = _plan_in_process(tmp_path, {}, "--out", str(tmp_path / "file" / "plan.json"))
    assert code == ExitCode.USAGE
    assert "--out '" in capsys.readouterr().err
