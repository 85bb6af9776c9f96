"""`flakehound action` with ``mode: plan | shard | merge``, run as a job matrix's steps would run it.

Each step starts ``python -m flakehound action`` in one workspace with nothing but environment
variables (every action.yml input at its default, as GitHub passes them) and a pull_request event
file, against a local stand-in for the REST API that records every request.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from actionkit import API, COMMENTS, HEAD, MERGE, REPO, ROOT, FakeGitHub, Workflow

from flakehound.errors import ExitCode

if TYPE_CHECKING:
    from flakehound.models import Report

FIXTURES = ROOT / "tests" / "fixture_projects"
# The investigation's inputs, the same in every step (the plan fixes them for the shards).
INVESTIGATION = {"reruns": "2", "replays": "1", "orders": "1", "seed": "7", "status": "both"}


def sample_workflow(root: Path, sample: str, sample_env: dict[str, str], api_url: str) -> Workflow:
    """A job's variables around a copy of ``sample`` in ``root``, with a counter folder of its own."""
    root.mkdir(exist_ok=True)
    workspace = Path(shutil.copytree(FIXTURES / sample, root / sample))
    state = root / "counters"
    state.mkdir()
    return Workflow(root, workspace, {**sample_env, "FLAKEHOUND_SAMPLE_STATE": str(state)}, api_url)


@pytest.fixture
def github(httpserver):
    """A fresh stand-in for GitHub's REST API."""
    return FakeGitHub(httpserver)


def verdict(report: Report):
    """What must not depend on how the work was split: labels, polluters, latent tests, summary, gate."""

    def finding(failure):
        return failure.classification, [polluter.nodeids for polluter in failure.polluters]

    return (
        {failure.nodeid: finding(failure) for failure in report.failures},
        {failure.nodeid: finding(failure) for failure in report.latent},
        report.summary,
        report.gate,
    )


def test_plan_two_shards_then_merge_publish_once_and_gate_like_one_run(tmp_path, sample_env, httpserver, github):
    """Plan (2 shards), two shard steps, merge: one comment, one check run, the verdict and exit code of mode run."""
    sharded = sample_workflow(tmp_path / "sharded", "planted", sample_env, httpserver.url_for(API))

    plan = sharded.run(mode="plan", shards="2", setup="touch setup-ran-in-plan", **INVESTIGATION)
    assert plan.returncode == ExitCode.OK, plan.stdout + plan.stderr
    assert sharded.outputs() == {"matrix": '{"shard":[0,1]}', "shards": "2"}
    assert (sharded.workspace / "setup-ran-in-plan").exists()
    assert "plan " in plan.stdout
    assert json.loads((sharded.workspace / "flakehound-plan.json").read_text())["commit"] == MERGE
    assert sharded.summary.read_text() == ""

    part_paths = {0: "flakehound-part-0.json", 1: "parts/part-1.json"}
    for index in json.loads(sharded.outputs()["matrix"])["shard"]:
        report_input = {} if index == 0 else {"report": part_paths[index]}
        shard = sharded.run(mode="shard", shard=str(index), **report_input, **INVESTIGATION)
        assert shard.returncode == ExitCode.OK, shard.stdout + shard.stderr
        assert sharded.outputs() == {"report": part_paths[index]}
        part = sharded.report(part_paths[index])
        assert (part.shard.index, part.shard.count, part.commit) == (index, 2, MERGE)
        assert sharded.summary.read_text() == ""
    assert github.requests() == []

    # No setup and no pytest: a setup that leaves a mark, and an interpreter that does not exist.
    merged = sharded.run(
        mode="merge",
        parts="flakehound-part-*.json parts/*.json",
        setup="touch setup-ran-in-merge",
        python=str(tmp_path / "no-python"),
        **INVESTIGATION,
    )
    assert not (sharded.workspace / "setup-ran-in-merge").exists()
    made = github.requests()
    assert [(method, path) for method, path, _ in made] == [
        ("GET", f"{API}/user"),
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("POST", f"{REPO}/check-runs"),
        ("POST", f"{REPO}/statuses/{HEAD}"),
    ]
    assert made[3][2]["conclusion"] == "failure"
    assert made[4][2]["state"] == "failure"
    outputs = sharded.outputs()
    report = sharded.report(outputs["report"])
    assert (report.command, report.shard, report.settings.seed) == (("flakehound", "action"), None, 7)
    assert outputs["verdict"] == "fail"
    assert outputs["comment_url"] == "https://github.com/o/r/pull/7#issuecomment-1000"
    assert outputs["check_url"] == "https://github.com/o/r/runs/5"
    assert "Blocked" in sharded.summary.read_text()

    github.server.clear_log()
    github.comments.clear()
    whole = sample_workflow(tmp_path / "whole", "planted", sample_env, httpserver.url_for(API))
    run = whole.run(**INVESTIGATION)
    assert merged.returncode == run.returncode == ExitCode.GATE_FAILED, merged.stdout + run.stdout
    assert verdict(report) == verdict(whole.report("flakehound-report.json"))
    assert [path for _, path, _ in github.requests()] == [path for _, path, _ in made]
    assert {k: v for k, v in whole.outputs().items() if k != "report"} == {
        k: v for k, v in outputs.items() if k != "report"
    }


BAD_INPUTS = {
    "unknown-mode": (
        {"mode": "split"},
        "INPUT_MODE input should be 'run', 'plan', 'shard' or 'merge', got 'split'",
    ),
    "no-shard-in-shard-mode": (
        {"mode": "shard"},
        "INPUT_SHARD is empty, but mode is shard; pass the job's matrix value (shard: ${{ matrix.shard }})",
    ),
    "negative-shard": ({"mode": "shard", "shard": "-1"}, "INPUT_SHARD input should be greater than or equal to 0"),
    "no-shards": ({"mode": "plan", "shards": "0"}, "INPUT_SHARDS input should be greater than or equal to 1"),
    "no-plan-file": ({"mode": "shard", "shard": "0"}, "INPUT_PLAN '{workspace}/flakehound-plan.json' cannot be read"),
    "no-parts": (
        {"mode": "merge", "parts": "parts/*.json"},
        "INPUT_PARTS 'parts/*.json' matches no file in '{workspace}'; download every shard's part there first",
    ),
}


@pytest.mark.parametrize(("inputs", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_mode_inputs_exit_2_naming_them(tmp_path, sample_env, httpserver, github, inputs, message):
    """A wrong mode, shard, shards, plan or parts input: exit 2, one ::error:: naming it, nothing run or published."""
    workflow = sample_workflow(tmp_path, "all_green", sample_env, httpserver.url_for(API))
    completed = workflow.run(setup="touch setup-ran", **inputs)
    assert completed.returncode == ExitCode.USAGE, completed.stdout + completed.stderr
    [error] = [line for line in completed.stdout.splitlines() if line.startswith("::error")]
    assert error.startswith("::error title=flakehound::" + message.replace("{workspace}", str(workflow.workspace)))
    assert workflow.output.read_text() == ""
    assert github.requests() == []
    assert not (workflow.workspace / "flakehound-report.json").exists()


def test_readme_action_example_of_the_job_matrix_is_a_valid_workflow(tmp_path):
    """The Action example in README's job-matrix section validates against GitHub's workflow schema."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Split one investigation across a job matrix", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert all(f"mode: {mode}" in example for mode in ("plan", "shard", "merge"))
    path = tmp_path / "sharded.yml"
    path.write_text(example, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
