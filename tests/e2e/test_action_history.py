"""The Action's history: the base branch's flakehound check runs read before the run, a record left in our own.

``python -m flakehound action`` runs on a pull request against a local stand-in for GitHub whose
``main`` has commits with check runs: records that parse, a corrupt one, one of another check's
name and one beyond the depth. The run must read exactly the depth, rerun a test that failed on main
though it passes now, and leave its own record in its check run for the next pull request.
"""

from __future__ import annotations

import json

import pytest
from actionkit import API, COMMENTS, REPO, FakeGitHub, Workflow

from flakehound.engine.history import RunRecord, TestEntry, decode_record, encode_record
from flakehound.errors import ExitCode

ONE = "tests/test_green.py::test_one"
SHAS = [c * 40 for c in "abcdef"]


def check_run(name: str, text: str | None) -> dict[str, object]:
    """One check run as GitHub lists it: name and output."""
    return {"id": 1, "name": name, "output": {"title": "t", "summary": "s", "text": text}}


def record(sha: str, *failed: str) -> str:
    """The hidden record of a run at ``sha`` where these tests failed as intermittent."""
    entries = {nodeid: TestEntry(label="intermittent", failed=True, failures=1, runs=4) for nodeid in failed}
    made = RunRecord(commit=sha, created_at=f"2026-11-2{SHAS.index(sha)}T09:00:00+00:00", tests=2, failed=len(failed))
    return encode_record(made.model_copy(update={"entries": entries}))


@pytest.fixture
def workflow(tmp_path, copy_project, sample_env, httpserver):
    """The Action's environment around a copy of the all-green sample suite, history on (depth 4)."""
    made = Workflow(tmp_path, copy_project("all_green"), sample_env, httpserver.url_for(API))
    made.env["INPUT_HISTORY_DEPTH"] = "4"
    return made


def main_with_history(httpserver) -> FakeGitHub:
    """main: test_one failed in two of the last four runs; a corrupt record, another check, one too old."""
    return FakeGitHub(
        httpserver,
        base_commits=[
            (SHAS[0], [check_run("flakehound", record(SHAS[0], ONE)), check_run("lint", record(SHAS[0], "x::y"))]),
            (SHAS[1], [check_run("flakehound", "<!-- flakehound:history v1 bm90IGd6aXA= -->")]),
            (SHAS[2], []),
            (SHAS[3], [check_run("flakehound", record(SHAS[3], ONE))]),
            (SHAS[4], [check_run("flakehound", record(SHAS[4], ONE, "tests/test_green.py::test_two"))]),
        ],
    )


def test_a_pull_request_reads_mains_history_reruns_what_failed_there_and_leaves_its_record(workflow, httpserver):
    """Depth 4: four commits read, the corrupt record noted; test_one is watched; our check run carries a record.

    test_one passed its reruns alone, the shuffled order and the experiments; the comment lists them.
    """
    github = main_with_history(httpserver)
    completed = workflow.run()
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    made = github.requests()
    reads = [path for method, path, _ in made if method == "GET" and path.startswith(f"{REPO}/commits")]
    assert reads == [f"{REPO}/commits", *(f"{REPO}/commits/{sha}/check-runs" for sha in SHAS[:4])]
    report = workflow.report("flakehound-report.json")
    assert report.history is not None
    assert (report.history.source, report.history.runs) == ("on main", 2)
    assert report.history.notes[0].startswith("the check run on bbbbbbb is left out: its history record does not")
    (watched,) = report.watched
    assert watched.nodeid == ONE
    assert (watched.history.runs, watched.history.failures) == (2, 2)
    assert watched.alone.failures == 0
    assert watched.alone.runs >= 1
    [check] = [body for method, path, body in made if (method, path) == ("POST", f"{REPO}/check-runs")]
    left = decode_record(check["output"]["text"])
    assert left is not None
    runs = watched.alone.runs + watched.shuffled.runs
    assert left.entries == {ONE: TestEntry(label="passed", failed=False, runs=runs)}, "its plain runs: alone, shuffled"
    assert (left.tests, left.failed) == (2, 0)
    comment = next(body["body"] for method, path, body in made if (method, path) == ("POST", COMMENTS))
    assert "From 2 earlier runs on main: 0 new in this change, 0 already failed there." in comment
    alone, shuffled, experiments = watched.alone.runs, watched.shuffled.runs, len(watched.experiments)
    assert experiments, "test_one passed its reruns, so it got the experiments too"
    assert (
        f"| `{ONE}` | on main: failed in 2 of the last 2 runs (first seen at ddddddd, 2026-11-23), labelled"
        f" intermittent each time | passed {alone}/{alone} alone here; passed {shuffled}/{shuffled} in shuffled"
        f" orders; {experiments} experiments (below) |"
    ) in comment
    assert f"- {watched.experiments[0]}" in comment


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_history_leaves_the_run_and_its_verdict_intact(workflow, httpserver, status):
    """GitHub refusing the commits list (or rate limiting it) is a note; the run and its verdict are the same."""
    github = FakeGitHub(httpserver, refuse={f"GET {REPO}/commits": status})
    completed = workflow.run()
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    report = workflow.report("flakehound-report.json")
    assert report.gate.passed
    assert report.history is not None
    assert report.history.runs == 0
    assert report.history.notes == (
        f"history on main stopped after 0 run(s): GitHub answered {status} (Resource not accessible by integration)",
    )
    assert ("POST", f"{REPO}/check-runs") in [(method, path) for method, path, _ in github.requests()]


def test_history_depth_zero_reads_nothing(workflow, httpserver):
    """history_depth: 0 turns history off: no read, no history in the report."""
    github = main_with_history(httpserver)
    completed = workflow.run(history_depth="0")
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    assert not [path for method, path, _ in github.requests() if path.startswith(f"{REPO}/commits")]
    assert workflow.report("flakehound-report.json").history is None
    assert json.loads((workflow.workspace / "flakehound-report.json").read_text())["watched"] == []
