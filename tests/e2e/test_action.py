"""`flakehound action` run as GitHub runs the container's entry point, against a local stand-in for the REST API.

Each test starts ``python -m flakehound action`` in a copy of a sample suite with nothing but
environment variables (every action.yml input at its default, as GitHub passes them) and a
pull_request event payload file, and checks the exact requests the local server saw.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from actionkit import API, BASE, COMMENTS, HEAD, MERGE, REPO, RUN_URL, TOKEN, FakeGitHub, Workflow, pull_request_payload

from flakehound.engine.cancellation import CANCELLED_REASON
from flakehound.errors import ExitCode
from flakehound.github.publishing import publish_report
from flakehound.models import Outcome, Report
from flakehound.render.digest import make_marker

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer


@pytest.fixture
def github(httpserver):
    """A fresh stand-in for GitHub's REST API."""
    return FakeGitHub(httpserver)


@pytest.fixture
def workflow(tmp_path, copy_project, sample_env, httpserver):
    """The Action's environment around a copy of the all-green sample suite."""
    return Workflow(tmp_path, copy_project("all_green"), sample_env, httpserver.url_for(API))


def commands_outside_stopped_stretches(stdout: str) -> list[str]:
    """The workflow commands GitHub would act on: none between ::stop-commands::T and ::T::."""
    active, token = [], None
    for line in stdout.splitlines():
        if token is not None:
            if line == f"::{token}::":
                token = None
            continue
        if line.startswith("::stop-commands::"):
            token = line.removeprefix("::stop-commands::")
        elif line.startswith("::"):
            active.append(line)
    assert token is None, "commands were never resumed"
    return active


def test_pull_request_comment_check_and_status_then_the_same_comment_is_edited(workflow, github):
    """A green pull request gets one comment, a successful check run and status; a rerun edits that comment."""
    first = workflow.run(status="both")
    assert first.returncode == ExitCode.OK, first.stdout + first.stderr
    made = github.requests()
    assert [(method, path) for method, path, _ in made] == [
        ("GET", f"{API}/user"),
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("POST", f"{REPO}/check-runs"),
        ("POST", f"{REPO}/statuses/{HEAD}"),
    ]
    comment = made[2][2]["body"]
    assert comment.startswith(make_marker() + "\n")
    assert "Passed" in comment
    check = made[3][2]
    assert {key: check[key] for key in ("name", "head_sha", "status", "conclusion", "details_url")} == {
        "name": "flakehound",
        "head_sha": HEAD,
        "status": "completed",
        "conclusion": "success",
        "details_url": RUN_URL,
    }
    assert re.fullmatch(r"Passed: \d+ tests", check["output"]["title"])
    assert "annotations" not in check["output"]
    assert made[4][2] == {
        "state": "success",
        "description": check["output"]["title"],
        "context": "flakehound",
        "target_url": "https://github.com/o/r/runs/5",
    }
    outputs = workflow.outputs()
    assert outputs == {
        "verdict": "pass",
        "pass_rate": "100.00",
        "coverage": "",
        "diff_coverage": "",
        "deterministic": "0",
        "intermittent": "0",
        "order_dependent": "0",
        "brittle": "0",
        "latent": "0",
        "report": "flakehound-report.json",
        "comment_url": "https://github.com/o/r/pull/7#issuecomment-1000",
        "check_url": "https://github.com/o/r/runs/5",
    }
    report = Report.model_validate_json((workflow.workspace / outputs["report"]).read_text())
    assert report.command == ("flakehound", "action")
    assert report.settings.seed == 11
    summary = workflow.summary.read_text()
    assert summary.startswith(f"## flakehound @ {HEAD[:7]}\n")
    assert make_marker() not in summary
    assert commands_outside_stopped_stretches(first.stdout) == [f"::add-mask::{TOKEN}"]
    assert first.stdout.count(TOKEN) == 1

    github.server.clear_log()
    second = workflow.run(status="both")
    assert second.returncode == ExitCode.OK, second.stdout + second.stderr
    made = github.requests()
    assert [(method, path) for method, path, _ in made][:3] == [
        ("GET", f"{API}/user"),
        ("GET", COMMENTS),
        ("PATCH", f"{REPO}/issues/comments/1000"),
    ]
    assert len(github.comments) == 1
    assert workflow.outputs()["comment_url"] == "https://github.com/o/r/pull/7#issuecomment-1000"


def test_blocked_change_fails_the_check_with_annotations(tmp_path, copy_project, sample_env, httpserver, github):
    """Planted failures: exit 1, a failed check run annotating failing lines, a failure status, counts as outputs."""
    workflow = Workflow(tmp_path, copy_project("planted"), sample_env, httpserver.url_for(API))
    completed = workflow.run(status="both", reruns="2", orders="1", seed="7")
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stdout + completed.stderr
    made = {(method, path): body for method, path, body in github.requests()}
    check = made["POST", f"{REPO}/check-runs"]
    assert check["conclusion"] == "failure"
    assert re.fullmatch(r"Blocked: \d+ failing tests", check["output"]["title"])
    failing = {a["path"] for a in check["output"]["annotations"] if a["annotation_level"] == "failure"}
    assert "tests/test_c_bug.py" in failing
    status = made["POST", f"{REPO}/statuses/{HEAD}"]
    assert status["state"] == "failure"
    assert status["description"] == check["output"]["title"]
    report = Report.model_validate_json((workflow.workspace / "flakehound-report.json").read_text())
    outputs = workflow.outputs()
    assert outputs["verdict"] == "fail"
    assert outputs["deterministic"] == str(report.summary.deterministic) != "0"
    assert outputs["intermittent"] == str(report.summary.intermittent)
    assert outputs["order_dependent"] == str(report.summary.order_dependent)
    assert "Blocked" in workflow.summary.read_text()
    assert commands_outside_stopped_stretches(completed.stdout) == [f"::add-mask::{TOKEN}"]
    assert_token_kept_secret(workflow, completed)


def assert_token_kept_secret(workflow: Workflow, completed: subprocess.CompletedProcess[str]) -> None:
    """The token is in the log once (the add-mask command) and nowhere else: report, summary, outputs, stderr."""
    assert completed.stdout.count(TOKEN) == 1
    assert TOKEN not in completed.stderr
    written = [workflow.workspace / "flakehound-report.json", workflow.summary, workflow.output]
    assert [path for path in written if TOKEN in path.read_text()] == []


def run_publish(workflow: Workflow, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    """`flakehound publish` of the report and event the fork's run saved in the workspace, as a user runs it."""
    argv = ["publish", "--report", "flakehound-report.json", "--event-file", "flakehound-event.json", *options]
    return subprocess.run(
        [sys.executable, "-m", "flakehound", *argv],
        cwd=workflow.workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fork_publishes_nothing_and_flakehound_publish_posts_it_later(workflow, github, tmp_path):
    """A fork's run makes no request and saves comment and event; `flakehound publish` then posts them."""
    payload = pull_request_payload(head_repo="mallory/r")
    workflow.event.write_text(json.dumps(payload))
    completed = workflow.run()
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    assert github.requests() == []
    saved_comment = workflow.workspace / "flakehound-comment.md"
    saved_event = workflow.workspace / "flakehound-event.json"
    assert saved_comment.read_text().startswith(make_marker())
    assert json.loads(saved_event.read_text()) == payload
    [notice] = [line for line in completed.stdout.splitlines() if line.startswith("::notice")]
    assert notice.startswith("::notice title=flakehound::This pull request comes from a fork")
    assert "flakehound publish --report R --event-file E" in notice
    assert workflow.outputs()["comment_url"] == ""

    trusted = tmp_path / "workflow_run.json"
    trusted.write_text(
        json.dumps({"action": "completed", "workflow_run": {"id": 99, "head_sha": HEAD, "pull_requests": []}})
    )
    env = {
        **{k: v for k, v in workflow.env.items() if not k.startswith("INPUT_")},
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(trusted),
    }
    published = run_publish(workflow, env)
    assert published.returncode == ExitCode.OK, published.stdout + published.stderr
    assert [(method, path) for method, path, _ in github.requests()] == [
        ("GET", f"{REPO}/pulls/7"),
        ("GET", f"{API}/user"),
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("POST", f"{REPO}/check-runs"),
    ]
    assert github.comments[0]["body"] == saved_comment.read_text()
    assert published.stdout.splitlines()[1:] == [
        "comment: https://github.com/o/r/pull/7#issuecomment-1000",
        "check run: https://github.com/o/r/runs/5",
    ]


@pytest.mark.parametrize(
    ("status", "inputs", "warning", "exit_code"),
    [
        (403, {}, "::warning::GitHub refused to create the check run (403: Resource not accessible", ExitCode.OK),
        (422, {}, "::warning::could not create the check run: GitHub answered 422", ExitCode.OK),
        (422, {"fail_on_publish_error": "true"}, "::warning::could not create the check run", ExitCode.INTERNAL),
    ],
    ids=["read-only-token", "refused", "refused-and-required"],
)
def test_publishing_failures_are_warnings(workflow, httpserver, status, inputs, warning, exit_code):
    """A refused check run is a warning and the exit code stays the gate's, unless publishing is required (3)."""
    FakeGitHub(httpserver, refuse={f"POST {REPO}/check-runs": status})
    completed = workflow.run(**inputs)
    assert completed.returncode == exit_code, completed.stdout + completed.stderr
    assert [line for line in completed.stdout.splitlines() if line.startswith("::warning")] == [
        line for line in completed.stdout.splitlines() if line.startswith(warning)
    ]
    assert any(line.startswith(warning) for line in completed.stdout.splitlines())
    outputs = workflow.outputs()
    assert (outputs["verdict"], outputs["check_url"]) == ("pass", "")
    assert outputs["comment_url"] == "https://github.com/o/r/pull/7#issuecomment-1000"
    assert_token_kept_secret(workflow, completed)  # GitHub's refusal, and our error about it, carry no token


def test_server_error_is_retried(workflow, httpserver):
    """A 500 on the comment is retried once and the comment is written; no warning."""
    github = FakeGitHub(httpserver, refuse={f"POST {COMMENTS}": 500})
    completed = workflow.run(status="none")
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    assert [(method, path) for method, path, _ in github.requests()] == [
        ("GET", f"{API}/user"),
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("POST", COMMENTS),
    ]
    assert [response.status_code for _, response in httpserver.log][-2:] == [500, 201]
    assert "::warning" not in completed.stdout
    assert workflow.outputs()["comment_url"] == "https://github.com/o/r/pull/7#issuecomment-1000"


@pytest.mark.parametrize(
    ("inputs", "exit_code"),
    [({}, ExitCode.OK), ({"fail_on_publish_error": "true"}, ExitCode.INTERNAL)],
    ids=["warning", "required"],
)
def test_missing_token_publishes_nothing(workflow, github, inputs, exit_code):
    """An empty github_token: no request, a warning saying what to pass, outputs still written."""
    completed = workflow.run(github_token="", **inputs)
    assert completed.returncode == exit_code, completed.stdout + completed.stderr
    assert github.requests() == []
    assert "::add-mask::" not in completed.stdout
    assert "::warning::github_token is empty, so nothing was published" in completed.stdout
    assert workflow.outputs()["verdict"] == "pass"


def test_push_has_no_comment_but_a_check_and_a_status(workflow, github):
    """On a push there is no pull request: no comment requests, but a check run and a status on GITHUB_SHA."""
    workflow.event.write_text(json.dumps({"ref": "refs/heads/main", "before": BASE, "after": MERGE}))
    workflow.env["GITHUB_EVENT_NAME"] = "push"
    completed = workflow.run(status="both")
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    made = github.requests()
    assert [(method, path) for method, path, _ in made] == [
        ("POST", f"{REPO}/check-runs"),
        ("POST", f"{REPO}/statuses/{MERGE}"),
    ]
    assert made[0][2]["head_sha"] == MERGE
    assert workflow.outputs()["comment_url"] == ""


def test_bad_input_exits_2_naming_it(workflow, github):
    """INPUT_RERUNS=abc: exit 2, one ::error:: naming INPUT_RERUNS, nothing run, written or requested."""
    completed = workflow.run(reruns="abc")
    assert completed.returncode == ExitCode.USAGE
    assert completed.stdout.splitlines() == [
        f"::add-mask::{TOKEN}",
        (
            "::error title=flakehound::INPUT_RERUNS input should be a valid integer,"
            " unable to parse string as an integer, got 'abc'"
        ),
    ]
    assert workflow.output.read_text() == ""
    assert not (workflow.workspace / "flakehound-report.json").exists()
    assert github.requests() == []


def test_setup_runs_without_the_token_and_cannot_issue_commands(workflow, github, tmp_path):
    """The setup command runs in the project without token or inputs; what it prints cannot act as a command."""
    outside = tmp_path / "reports" / "r.json"
    completed = workflow.run(
        setup="env > setup-env.txt; echo '::warning::from setup'; echo '::set-env name=X::1' >&2",
        dry_run="true",
        report=str(outside),
    )
    assert completed.returncode == ExitCode.OK, completed.stdout + completed.stderr
    seen = (workflow.workspace / "setup-env.txt").read_text()
    assert "FLAKEHOUND_SAMPLE_STATE=" in seen
    assert TOKEN not in seen
    assert "INPUT_" not in seen
    assert "::warning::from setup" in completed.stdout
    assert "::set-env name=X::1" in completed.stdout
    assert commands_outside_stopped_stretches(completed.stdout) == [
        f"::add-mask::{TOKEN}",
        f"::notice::dry_run: nothing was published; the comment is in {outside.parent / 'flakehound-comment.md'}",
    ]
    assert github.requests() == []
    assert workflow.outputs()["report"] == str(outside)


def test_failing_setup_exits_2(workflow):
    """A setup command that fails stops the run with exit 2 naming INPUT_SETUP and its exit status."""
    completed = workflow.run(setup="echo installing; exit 7")
    assert completed.returncode == ExitCode.USAGE
    assert "installing" in completed.stdout
    assert "::error title=flakehound::INPUT_SETUP 'echo installing; exit 7' exited with 7" in completed.stdout


def test_pytest_crash_exits_3(tmp_path, copy_project, sample_env, httpserver, github):
    """When pytest itself crashes the step exits 3 with an ::error:: and publishes nothing."""
    workflow = Workflow(tmp_path, copy_project("internal_error"), sample_env, httpserver.url_for(API))
    completed = workflow.run()
    assert completed.returncode == ExitCode.INTERNAL
    assert "::error title=flakehound::pytest crashed before running any test" in completed.stdout
    assert github.requests() == []


# --- flakehound publish, in process (argument and trust checks) ---------------------------------------


@pytest.fixture
def saved(tmp_path):
    """A saved report and fork event, as the fork's run leaves them."""
    report = tmp_path / "flakehound-report.json"
    report.write_text(
        json.dumps(
            {
                "tool": {"version": "0.1.0"},
                "created_at": "2026-01-01T00:00:00Z",
                "command": ["flakehound", "action"],
                "settings": {
                    "seed": 1,
                    "reruns": 1,
                    "replays": 1,
                    "orders": 0,
                    "max_failures": 50,
                    "min_pass_rate": 100,
                    "timeout": 60,
                    "cwd": ".",
                },
                "summary": {"total": 1, "passed": 1},
                "gate": {"passed": True},
            }
        )
    )
    event = tmp_path / "flakehound-event.json"
    event.write_text(json.dumps(pull_request_payload(head_repo="mallory/r")))
    return report, event


def publish_env(httpserver: HTTPServer, **extra: str) -> dict[str, str]:
    """The variables of a workflow_run job that publishes."""
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_API_URL": httpserver.url_for(API),
        **extra,
    }


def test_publish_without_a_trusted_event_checks_the_pull_request_head(saved, httpserver, github):
    """Outside workflow_run the pull request's head is still checked; with status none only the comment is posted."""
    out = io.StringIO()
    assert publish_report(*saved, publish_env(httpserver), out, status="none") == ExitCode.OK
    assert github.requests()[0][:2] == ("GET", f"{REPO}/pulls/7")
    assert out.getvalue().splitlines()[1:] == ["comment: https://github.com/o/r/pull/7#issuecomment-1000"]


PUBLISH_ERRORS = {
    "no-token": ({"GITHUB_TOKEN": ""}, None, "always", "GITHUB_TOKEN is not set; set it in the step's env"),
    "other-commit": (
        {"GITHUB_EVENT_NAME": "workflow_run"},
        {"workflow_run": {"head_sha": BASE}},
        "always",
        f"--event-file names head commit '{HEAD}', but the workflow run that produced it ran on '{BASE}'",
    ),
    "not-a-workflow-run": (
        {"GITHUB_EVENT_NAME": "workflow_run"},
        {"workflow_run": "?"},
        "always",
        "ran on None; refusing to post",
    ),
    "bad-choice": ({}, None, "loud", "--comment-mode input should be 'always', 'on-failure', 'changes' or 'off'"),
}


@pytest.mark.parametrize(("env", "trusted", "mode", "message"), PUBLISH_ERRORS.values(), ids=PUBLISH_ERRORS.keys())
def test_publish_refuses(saved, httpserver, github, tmp_path, env, trusted, mode, message):
    """Publish exits 2 without a token, for another commit than the workflow run's, or with a bad option."""
    if trusted is not None:
        path = tmp_path / "trusted.json"
        path.write_text(json.dumps(trusted))
        env = {**env, "GITHUB_EVENT_PATH": str(path)}
    out = io.StringIO()
    assert publish_report(*saved, publish_env(httpserver, **env), out, comment_mode=mode) == ExitCode.USAGE
    assert message in out.getvalue()
    assert github.requests() == []


def test_publish_refuses_a_pull_request_whose_head_moved(saved, httpserver):
    """If the pull request named in the saved event has another head now, nothing is posted."""
    github = FakeGitHub(httpserver)
    event = json.loads(saved[1].read_text())
    event["pull_request"]["head"]["sha"] = "9" * 40
    saved[1].write_text(json.dumps(event))
    out = io.StringIO()
    assert publish_report(*saved, publish_env(httpserver), out) == ExitCode.USAGE
    assert f"its head is now '{HEAD}'" in out.getvalue()
    assert [method for method, _, _ in github.requests()] == ["GET"]


def test_publish_reports_an_unreadable_pull_request(saved, httpserver):
    """A pull request GitHub will not show (404) is an exit-3 error naming it."""
    FakeGitHub(httpserver, refuse={f"GET {REPO}/pulls/7": 404})
    out = io.StringIO()
    assert publish_report(*saved, publish_env(httpserver), out) == ExitCode.INTERNAL
    assert "could not read pull request #7 of o/r" in out.getvalue()


def test_publish_rejects_what_is_not_a_report(saved, httpserver, tmp_path):
    """A report file that is not a flakehound report is named with exit 2."""
    missing = tmp_path / "nope.json"
    out = io.StringIO()
    assert publish_report(missing, saved[1], publish_env(httpserver), out) == ExitCode.USAGE
    assert f"--report '{missing}' is not a flakehound report (No such file or directory)" in out.getvalue()
    saved[0].write_text("{}")
    assert publish_report(*saved, publish_env(httpserver), out) == ExitCode.USAGE
    assert "schema error(s)" in out.getvalue()


def test_a_nested_working_directory_gives_github_repository_paths(
    tmp_path, copy_project, sample_env, httpserver, github
):
    """With working_directory, annotations, 'Failed at' and coverage links name files from the repository's root."""
    project = copy_project("coverage/half")  # tmp_path/coverage/half: the workspace (repository) is tmp_path
    (project / "tests" / "test_broken.py").write_text(
        "import half_pkg\n\n\ndef test_broken():\n    assert half_pkg.used() == 2\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    module = project / "half_pkg" / "__init__.py"
    module.write_text(module.read_text() + "\n\ndef added():  # noqa: D103\n    return 2\n")  # line 15 never runs
    workflow = Workflow(tmp_path, tmp_path, sample_env, httpserver.url_for(API))
    inputs = {"working_directory": "coverage/half", "coverage": "true", "min_coverage": "0", "base": "main"}
    completed = workflow.run(**inputs, min_diff_coverage="0")
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stdout + completed.stderr
    made = {(method, path): body for method, path, body in github.requests()}
    annotations = made["POST", f"{REPO}/check-runs"]["output"]["annotations"]
    assert [(a["path"], a["start_line"]) for a in annotations] == [
        ("coverage/half/tests/test_broken.py", 5),
        ("coverage/half/half_pkg/__init__.py", 15),  # changed lines: from git, repository-relative already
    ]
    blob = f"https://github.com/o/r/blob/{HEAD}/coverage/half"
    [comment] = github.comments
    for body in (comment["body"], workflow.summary.read_text()):
        assert f"]({blob}/tests/test_broken.py#L5)" in body
        assert f"]({blob}/half_pkg/__init__.py)" in body
        assert "cd coverage/half && python -m pytest" in body
    report = workflow.report("flakehound-report.json")
    assert report.failures[0].original.path == "tests/test_broken.py"  # the JSON keeps the project's paths


def test_publish_with_the_working_directory_posts_what_the_fork_run_saved(
    tmp_path, copy_project, sample_env, httpserver, github
):
    """A fork's run in a subfolder saves a comment; `flakehound publish --working-directory` posts that same text."""
    project = copy_project("coverage/half")  # the workspace (repository) is tmp_path
    (project / "tests" / "test_broken.py").write_text(
        "import half_pkg\n\n\ndef test_broken():\n    assert half_pkg.used() == 2\n"
    )
    workflow = Workflow(tmp_path, tmp_path, sample_env, httpserver.url_for(API))
    workflow.event.write_text(json.dumps(pull_request_payload(head_repo="mallory/r")))
    completed = workflow.run(working_directory="coverage/half", report="flakehound-report.json")
    assert completed.returncode == ExitCode.GATE_FAILED, completed.stdout + completed.stderr
    saved = (workflow.workspace / "flakehound-comment.md").read_text()
    assert "cd coverage/half && python -m pytest" in saved
    trusted = tmp_path / "workflow_run.json"  # the workflow_run that publishes: run 99, as the fork's run was
    trusted.write_text(json.dumps({"action": "completed", "workflow_run": {"id": 99, "head_sha": HEAD}}))
    env = {key: value for key, value in workflow.env.items() if not key.startswith("INPUT_")}
    env |= {"GITHUB_TOKEN": TOKEN, "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(trusted)}
    published = [
        run_publish(workflow, env, "--status", "none", "--working-directory", folder)
        for folder in ("./coverage/half/", "../elsewhere")
    ]
    assert published[0].returncode == ExitCode.OK, published[0].stdout + published[0].stderr
    assert [comment["body"] for comment in github.comments] == [saved]
    assert published[1].returncode == ExitCode.USAGE
    assert published[1].stdout.splitlines()[-1] == (
        "::error title=flakehound publish::--working-directory '../elsewhere' must be a folder inside the"
        " repository, relative to its root (as working_directory)"
    )


def wait_for(path: Path) -> None:
    """Poll (at most a minute) until ``path`` exists and has content: the run reached the point to cancel it at."""
    for _ in range(600):
        if path.exists() and path.read_text():
            return
        time.sleep(0.1)


def test_a_cancelled_run_still_writes_the_summary_and_posts_a_cancelled_check(
    tmp_path, copy_project, sample_env, httpserver, github
):
    """SIGTERM during the original run (a cancelled workflow): summary, comment and a 'cancelled' check; exit 130."""
    workflow = Workflow(tmp_path, copy_project("hang"), sample_env, httpserver.url_for(API))
    process = workflow.start()
    wait_for(Path(sample_env["FLAKEHOUND_SAMPLE_STATE"]) / "hang.pid")  # test_before done, test_hangs running
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, stdout + stderr
    made = {(method, path): body for method, path, body in github.requests()}
    check = made["POST", f"{REPO}/check-runs"]
    assert check["conclusion"] == "cancelled"
    assert check["output"]["title"] == "Blocked: the investigation was interrupted"
    assert CANCELLED_REASON in check["output"]["summary"]
    [comment] = github.comments
    for body in (comment["body"], workflow.summary.read_text()):
        assert "cancelled during the original run: 1 of 3 test(s) had finished" in body
    report = workflow.report("flakehound-report.json")
    assert report.runs[0].outcomes == {"tests/test_hang.py::test_before": Outcome.PASSED}


def test_a_cancelled_setup_exits_130_saying_no_report_was_written(workflow, github, tmp_path):
    """SIGTERM while the setup input runs: nothing ran yet, so one error line, exit 130, nothing published."""
    ready = tmp_path / "setup-started"
    process = workflow.start(setup=f"echo started > {ready} && exec sleep 600")
    wait_for(ready)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED
    assert "::error title=flakehound::cancelled before a report could be written" in stdout
    assert github.requests() == []
