"""The Action's configuration from environment variables, workflow commands and step outputs, in process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from flakehound.action import main
from flakehound.errors import ConfigError, ExitCode
from flakehound.github.commands import escape_data, escape_property, format_outputs, report_outputs, workflow_command
from flakehound.github.environment import ActionOptions, from_env
from flakehound.github.publisher import GitHubTarget
from flakehound.models import CoverageSummary, DiffCoverage, Summary

HEAD, BASE, MERGE = "a" * 40, "b" * 40, "c" * 40


def pull_request_payload(*, head_repo: str | None = "o/r", sender: str = "octocat") -> dict:
    """A pull_request payload shaped like GitHub's, trimmed to what matters plus some noise."""
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "state": "open",
            "title": "Fix the cart",
            "user": {"login": sender},
            "head": {
                "ref": "fix",
                "sha": HEAD,
                "repo": None if head_repo is None else {"full_name": head_repo, "fork": head_repo != "o/r"},
            },
            "base": {"ref": "main", "sha": BASE, "repo": {"full_name": "o/r", "fork": False}},
        },
        "repository": {"full_name": "o/r"},
        "sender": {"login": sender, "type": "Bot" if sender.endswith("[bot]") else "User"},
    }


@pytest.fixture
def environ(tmp_path):
    """The variables of a push event in a workspace holding an empty project folder."""
    (tmp_path / "project").mkdir()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": MERGE}))
    return {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SHA": MERGE,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_SEED": "7",
    }


def with_event(environ: dict[str, str], name: str, payload: object) -> dict[str, str]:
    """The same variables with another event written to the event file."""
    Path(environ["GITHUB_EVENT_PATH"]).write_text(json.dumps(payload))
    return {**environ, "GITHUB_EVENT_NAME": name}


def test_push_event_defaults(environ, tmp_path):
    """A push with no inputs: the workspace is the project, the head is GITHUB_SHA, no pull request, no base."""
    config = from_env(environ)
    assert config.settings.cwd == tmp_path
    assert config.settings.seed == 7
    assert config.settings.measure_coverage is True
    assert config.settings.base is None
    assert config.settings.report == tmp_path / "flakehound-report.json"
    assert config.target == GitHubTarget(repository="o/r", head_sha=MERGE)
    assert config.options == ActionOptions()
    assert (config.event_name, config.fork_event) == ("push", None)
    assert (config.output_file, config.summary_file) == (tmp_path / "output.txt", tmp_path / "summary.md")


@pytest.mark.parametrize("name", ["INPUT_MIN-COVERAGE", "INPUT_RERUN", "INPUT_"], ids=["hyphen", "typo", "empty"])
def test_unknown_input_is_refused_naming_it(environ, name):
    """An input flakehound does not declare (a typo, a hyphen) is one error naming it, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        from_env({**environ, name: "5"})
    message = str(caught.value)
    assert message.startswith(f"{name} is not an input of flakehound (input names use underscores, not hyphens);")
    assert "min_coverage" in message
    assert "\n" not in message


def test_inputs_become_settings_and_target(environ, tmp_path):
    """Each input lands in its field: shell-split pytest args, space/newline lists, paths under the workspace."""
    config = from_env(
        {
            **environ,
            "INPUT_WORKING_DIRECTORY": "project",
            "INPUT_PYTEST_ARGS": "tests -m 'not slow'",
            "INPUT_JUNIT": "a.xml\nreports/*.xml b.xml",
            "INPUT_COVERAGE_FILE": ".coverage.1 .coverage.2",
            "INPUT_COVERAGE": "False",
            "INPUT_BASE": "origin/main",
            "INPUT_REPORT": "out/r.json",
            "INPUT_RERUNS": " 9 ",
            "INPUT_ORDERS": "",
            "INPUT_CHECK_NAME": "flakehound (3.12)",
            "INPUT_STATUS": "both",
            "INPUT_GITHUB_TOKEN": "ghs_x",
            "GITHUB_RUN_ID": "99",
            "GITHUB_API_URL": "https://ghe.test/api/v3",
            "GITHUB_SERVER_URL": "https://ghe.test",
        }
    )
    settings = config.settings
    assert settings.cwd == tmp_path / "project"
    assert settings.pytest_args == ("tests", "-m", "not slow")
    assert settings.junit == ("a.xml", "reports/*.xml", "b.xml")
    assert settings.coverage_files == (".coverage.1", ".coverage.2")
    assert (settings.measure_coverage, settings.base, settings.reruns, settings.orders) == (
        False,
        "origin/main",
        9,
        None,
    )
    assert settings.report == tmp_path / "out" / "r.json"
    assert config.target.run_url == "https://ghe.test/o/r/actions/runs/99"
    assert (config.target.api_url, config.target.check_name, config.target.marker_key) == (
        "https://ghe.test/api/v3",
        "flakehound (3.12)",
        "flakehound (3.12)",
    )
    assert config.options.status == "both"
    assert config.options.github_token.get_secret_value() == "ghs_x"
    assert "ghs_x" not in repr(config)


def test_pull_request_reads_head_base_and_number(environ):
    """On a pull request the head is the PR's head commit (not the merge), and the base feeds changed-line coverage."""
    config = from_env(with_event(environ, "pull_request", pull_request_payload()))
    assert (config.target.head_sha, config.target.pr_number, config.settings.base) == (HEAD, 7, BASE)
    assert config.fork_event is None


@pytest.mark.parametrize(
    ("event", "variables", "expected"),
    [
        ("push", {"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}, ("main", MERGE)),
        ("push", {"GITHUB_REF_NAME": "v1.0", "GITHUB_REF_TYPE": "tag"}, (None, None)),
        ("push", {}, (None, None)),
        ("workflow_dispatch", {"GITHUB_REF_NAME": "main"}, (None, None)),
    ],
    ids=["branch-push", "tag-push", "no-ref-name", "not-a-push"],
)
def test_history_on_a_push_is_the_branch_without_its_new_commit(environ, event, variables, expected):
    """A push to a branch reads that branch's earlier runs, skipping the commit just pushed; a tag has none."""
    config = from_env({**with_event(environ, event, {"ref": "refs/heads/main"}), **variables})
    assert (config.history_branch, config.history_skip) == expected


@pytest.mark.parametrize(
    ("event", "payload", "is_fork"),
    [
        ("pull_request", pull_request_payload(head_repo="mallory/r"), True),
        ("pull_request", pull_request_payload(head_repo=None), True),
        ("pull_request", pull_request_payload(sender="dependabot[bot]"), True),
        ("pull_request", pull_request_payload(), False),
        ("pull_request_target", pull_request_payload(head_repo="mallory/r"), False),
    ],
    ids=["other-repo", "deleted-fork", "dependabot", "same-repo", "target-has-a-write-token"],
)
def test_read_only_pull_requests_are_detected(environ, event, payload, is_fork):
    """A fork's (or Dependabot's) pull_request has a read-only token; pull_request_target does not."""
    config = from_env(with_event(environ, event, payload))
    assert (config.fork_event is not None) == is_fork


def test_input_base_wins_over_the_pull_requests(environ):
    """An explicit base input is used instead of the pull request's base commit."""
    config = from_env({**with_event(environ, "pull_request", pull_request_payload()), "INPUT_BASE": "v1.0"})
    assert config.settings.base == "v1.0"


def test_a_random_seed_when_none_is_given(environ):
    """Without a seed input a seed is drawn (and so printed and saved in the report)."""
    environ.pop("INPUT_SEED")
    assert 0 <= from_env(environ).settings.seed < 2**32


BAD_INPUTS = {
    "reruns-not-a-number": (
        {"INPUT_RERUNS": "abc"},
        "INPUT_RERUNS input should be a valid integer, unable to parse string as an integer, got 'abc'",
    ),
    "coverage-over-100": (
        {"INPUT_MIN_COVERAGE": "101"},
        "INPUT_MIN_COVERAGE input should be less than or equal to 100, got '101'",
    ),
    "coverage-not-a-boolean": (
        {"INPUT_COVERAGE": "maybe"},
        "INPUT_COVERAGE input should be a valid boolean, unable to interpret input, got 'maybe'",
    ),
    "comment-mode": (
        {"INPUT_COMMENT_MODE": "sometimes"},
        "INPUT_COMMENT_MODE input should be 'always', 'on-failure', 'changes' or 'off', got 'sometimes'",
    ),
    "status": (
        {"INPUT_STATUS": "check"},
        "INPUT_STATUS input should be 'check-run', 'commit-status', 'both' or 'none', got 'check'",
    ),
    "dry-run": (
        {"INPUT_DRY_RUN": "perhaps"},
        "INPUT_DRY_RUN input should be a valid boolean, unable to interpret input, got 'perhaps'",
    ),
    "unclosed-quote": (
        {"INPUT_PYTEST_ARGS": "-k 'oops"},
        'INPUT_PYTEST_ARGS "-k \'oops" cannot be split like a shell line (No closing quotation); close its quotes',
    ),
    "missing-folder": (
        {"INPUT_WORKING_DIRECTORY": "nowhere"},
        "INPUT_WORKING_DIRECTORY 'nowhere' is not a folder in",
    ),
    "run-id": (
        {"GITHUB_RUN_ID": "x1"},
        "GITHUB_RUN_ID input should be a valid integer, unable to parse string as an integer, got 'x1'",
    ),
    "no-repository": (
        {"GITHUB_REPOSITORY": ""},
        "GITHUB_REPOSITORY is not set; 'flakehound action' runs inside GitHub Actions (use 'flakehound run' elsewhere)",
    ),
    "no-output-file": ({"GITHUB_OUTPUT": ""}, "GITHUB_OUTPUT is not set; 'flakehound action' runs inside"),
    "missing-event-file": ({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "GITHUB_EVENT_PATH '/nonexistent"),
    "pull-request-without-event": (
        {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": ""},
        "GITHUB_EVENT_PATH is not set on a pull_request event; run inside GitHub Actions",
    ),
    "pull-request-without-pull-request": (
        {"GITHUB_EVENT_NAME": "pull_request"},
        "is not a pull request event (pull_request: Field required); pass its payload",
    ),
}


@pytest.mark.parametrize(("updates", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_naming_it(environ, updates, message):
    """A wrong input exits 2 with one ::error:: line that names the variable and shows the value."""
    out = io.StringIO()
    assert main({**environ, **updates}, out) == ExitCode.USAGE
    [line] = out.getvalue().splitlines()
    assert line.startswith("::error title=flakehound::")
    assert message in line


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{not json", "not JSON: "), ("[1, 2]", "not a JSON object")],
    ids=["not-json", "not-an-object"],
)
def test_unreadable_event_payload(environ, content, reason):
    """An event file that is not a JSON object is named with the reason."""
    Path(environ["GITHUB_EVENT_PATH"]).write_text(content)
    out = io.StringIO()
    assert main(environ, out) == ExitCode.USAGE
    assert f"cannot be read as an event payload ({reason}" in out.getvalue()


def test_pull_request_target_is_refused_unless_allowed(environ):
    """On pull_request_target nothing runs: a fork's code would get a write token; the error says what to do."""
    out = io.StringIO()
    env = {**with_event(environ, "pull_request_target", pull_request_payload()), "INPUT_GITHUB_TOKEN": "ghs_t"}
    assert main(env, out) == ExitCode.USAGE
    mask, error = out.getvalue().splitlines()
    assert mask == "::add-mask::ghs_t"
    assert error.startswith("::error title=flakehound::this workflow runs on pull_request_target, where")
    assert "write token" in error
    assert "allow_pull_request_target: true" in error
    assert not (Path(environ["GITHUB_WORKSPACE"]) / "flakehound-report.json").exists()


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100% done", "100%25 done", "100%25 done"),
        ("a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"),
        ("key: a, b", "key: a, b", "key%3A a%2C b"),
        ("%0A", "%250A", "%250A"),
    ],
    ids=["plain", "percent", "newlines", "colon-comma", "already-escaped"],
)
def test_escaping(text, data, prop):
    """Messages escape %, CR and LF; property values also escape : and ,; escaping is not undone by GitHub twice."""
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_workflow_command_forms():
    """Commands with and without properties, every part escaped, so injected newlines cannot start a command."""
    assert workflow_command("add-mask", "s3cret") == "::add-mask::s3cret"
    assert workflow_command("warning", "x\n::error::y") == "::warning::x%0A::error::y"
    assert workflow_command("error", "m", title="a,b", file="c:d") == "::error title=a%2Cb,file=c%3Ad::m"


def test_outputs_use_fresh_delimiters_not_in_the_value():
    """Each output gets its own delimiter; one that occurs in the value is replaced by another."""
    delimiters = iter(["D1", "D2", "D3"])
    text = format_outputs({"a": "x", "b": "has D2 inside\nand a newline"}, lambda: next(delimiters))
    assert text == "a<<D1\nx\nD1\nb<<D3\nhas D2 inside\nand a newline\nD3\n"


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        (None, ("", "")),
        (CoverageSummary(total_percent=99.999, line_percent=99.0), ("99.99", "")),
        (
            CoverageSummary(
                total_percent=80.0, line_percent=80.0, diff=DiffCoverage(base="b", percent=None, changed_lines=0)
            ),
            ("80.00", ""),
        ),
        (
            CoverageSummary(
                total_percent=80.0, line_percent=80.0, diff=DiffCoverage(base="b", percent=66.666, changed_lines=3)
            ),
            ("80.00", "66.66"),
        ),
    ],
    ids=["no-coverage", "total-only", "no-changed-lines", "changed-lines"],
)
def test_report_outputs(make_report, make_failure, coverage, expected):
    """Outputs carry the verdict, truncated percentages (never rounded up to a threshold) and the counts."""
    report = make_report([make_failure()], coverage=coverage)
    outputs = report_outputs(report, "flakehound-report.json")
    assert (outputs["coverage"], outputs["diff_coverage"]) == expected
    assert outputs == {
        "verdict": "fail",
        "pass_rate": "90.00",
        "coverage": expected[0],
        "diff_coverage": expected[1],
        "deterministic": "0",
        "intermittent": "0",
        "order_dependent": "0",
        "brittle": "0",
        "latent": "0",
        "report": "flakehound-report.json",
    }
    assert report_outputs(make_report(), "r.json")["verdict"] == "pass"


def test_report_outputs_leave_the_pass_rate_empty_when_no_test_ran(make_report):
    """A broken build has no pass rate: the output is empty, never a made-up 100."""
    report = make_report(summary=Summary(total=0, pass_rate=None), status="broken", broken_reason="broken build")
    assert report_outputs(report, "flakehound-report.json")["pass_rate"] == ""
