"""The GitHub publisher against a real local HTTP server (pytest-httpserver) standing in for the REST API."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from werkzeug import Request, Response

from flakehound.engine.history import decode_record, encode_record, record_of
from flakehound.errors import PublishError
from flakehound.github.publisher import (
    ACTIONS_BOT,
    Annotation,
    CommentMode,
    GitHubTarget,
    Publisher,
    collect_annotations,
    make_retry,
)
from flakehound.models import (
    ClassifiedFailure,
    CoverageSummary,
    DiffCoverage,
    Evidence,
    FailureKind,
    GateResult,
    Original,
    Outcome,
    Report,
    ReportSettings,
    Summary,
    Tool,
    UncoveredFile,
)
from flakehound.render.digest import Digest, make_marker
from flakehound.render.markdown import render_comment

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer

API = "/api/v3"
REPO = f"{API}/repos/o/r"
COMMENTS = f"{REPO}/issues/7/comments"
SHA = "0123abc"
OWN = "flakehound-bot"
MARKER = make_marker()


def make_report(*, passed: bool = False, failures: tuple[ClassifiedFailure, ...] = ()) -> Report:
    """Build a small report with the given verdict and failures."""
    return Report(
        tool=Tool(version="0.1.0"),
        created_at="2024-05-01T12:00:00Z",
        command=("flakehound", "run"),
        settings=ReportSettings(
            seed=1, reruns=3, replays=3, orders=5, max_failures=20, min_pass_rate=100.0, timeout=60.0, cwd="."
        ),
        summary=Summary(total=3, passed=2, failed=1, pass_rate=66.66),
        failures=failures,
        gate=GateResult(passed=passed, reasons=() if passed else ("pass rate 66.66% < 100.00%",)),
    )


def failure(nodeid: str = "tests/t.py::test_a", line: int | None = 3, **original: Any) -> ClassifiedFailure:
    """Build a deterministic failure at ``tests/t.py:line``."""
    return ClassifiedFailure(
        nodeid=nodeid,
        classification=FailureKind.DETERMINISTIC,
        original=Original(outcome=Outcome.FAILED, path="tests/t.py", line=line, **original),
        evidence=Evidence(),
        reproduce=f"pytest {nodeid}",
    )


class Recorder:
    """Collects warnings and sleeps the publisher reports, in place of the shell and time.sleep."""

    def __init__(self) -> None:
        """Start with nothing recorded."""
        self.warnings: list[str] = []
        self.sleeps: list[float] = []


@pytest.fixture
def recorder() -> Recorder:
    """Give each test its own recorder."""
    return Recorder()


def connect(
    httpserver: HTTPServer,
    recorder: Recorder,
    *,
    pr_number: int | None = 7,
    marker_key: str = "",
    now: float = 0.0,
) -> Publisher:
    """Build the production client against the local server, with recorded sleeps and no write spacing."""
    target = GitHubTarget(
        repository="o/r",
        head_sha=SHA,
        pr_number=pr_number,
        check_name="flakehound (3.12)",
        marker_key=marker_key,
        api_url=httpserver.url_for(API),
        run_id=99,
    )
    retry = make_retry(sleep=recorder.sleeps.append, now=lambda: now, attempts=3, backoff=0.5)
    return Publisher.connect(target, "t", warn=recorder.warnings.append, retry=retry, seconds_between_writes=None)


def comment(httpserver: HTTPServer, number: int, login: str, body: str) -> dict[str, Any]:
    """Build the JSON GitHub returns for one issue comment."""
    return {
        "id": number,
        "body": body,
        "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
        "html_url": f"https://github.com/o/r/pull/7#issuecomment-{number}",
        "url": httpserver.url_for(f"{REPO}/issues/comments/{number}"),
    }


def serve_user(httpserver: HTTPServer, login: str = OWN) -> None:
    """Answer GET /user as a personal token would, or with the 403 installation tokens get."""
    if login == ACTIONS_BOT:
        httpserver.expect_request(f"{API}/user").respond_with_json(
            {"message": "Resource not accessible by integration"}, status=403
        )
    else:
        httpserver.expect_request(f"{API}/user").respond_with_json({"login": login})


def serve_comments(httpserver: HTTPServer, comments: list[dict[str, Any]], per_page: int = 30) -> None:
    """Serve the pull request's comments in pages linked by a ``Link: rel="next"`` header, as GitHub does."""

    def handler(request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        chunk = comments[(page - 1) * per_page : page * per_page]
        headers = {"Content-Type": "application/json"}
        if page * per_page < len(comments):
            headers["Link"] = f'<{httpserver.url_for(COMMENTS)}?page={page + 1}>; rel="next"'
        return Response(json.dumps(chunk), headers=headers)

    httpserver.expect_request(COMMENTS, method="GET").respond_with_handler(handler)


def serve_writes(httpserver: HTTPServer) -> None:
    """Accept comment creation and edits, echoing GitHub's answers."""

    def create(request: Request) -> Response:
        body = json.loads(request.get_data())["body"]
        return Response(json.dumps(comment(httpserver, 1001, OWN, body)), status=201)

    def edit(request: Request) -> Response:
        number = int(request.path.rsplit("/", 1)[1])
        body = json.loads(request.get_data())["body"]
        return Response(json.dumps(comment(httpserver, number, OWN, body)))

    httpserver.expect_request(COMMENTS, method="POST").respond_with_handler(create)
    httpserver.expect_request(f"{REPO}/issues/comments/42", method="PATCH").respond_with_handler(edit)


def requests_made(httpserver: HTTPServer) -> list[tuple[str, str, Any]]:
    """Every request the server saw: method, path with query, and JSON body (None when empty)."""
    made = []
    for request, _ in httpserver.log:
        data = request.get_data(as_text=True)
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        made.append((request.method, request.path + query, json.loads(data) if data else None))
    return made


def test_first_run_posts_a_comment(httpserver: HTTPServer, recorder: Recorder) -> None:
    """With no earlier comment the publisher POSTs one and returns its URL."""
    serve_user(httpserver)
    serve_comments(httpserver, [])
    serve_writes(httpserver)
    body = f"{MARKER}\nhello"
    url = connect(httpserver, recorder).upsert_comment(body, mode="always", gate_passed=False)
    assert url == "https://github.com/o/r/pull/7#issuecomment-1001"
    assert requests_made(httpserver) == [
        ("GET", f"{API}/user", None),
        ("GET", COMMENTS, None),
        ("POST", COMMENTS, {"body": body}),
    ]


def test_second_run_patches_the_same_comment(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A second run PATCHes comment 42 rather than POSTing a new one."""
    serve_user(httpserver)
    serve_comments(httpserver, [comment(httpserver, 42, OWN, f"{MARKER}\nold")])
    serve_writes(httpserver)
    url = connect(httpserver, recorder).upsert_comment(f"{MARKER}\nnew", mode="always", gate_passed=True)
    assert url == "https://github.com/o/r/pull/7#issuecomment-42"
    assert requests_made(httpserver)[-1] == (
        "PATCH",
        f"{REPO}/issues/comments/42",
        {"body": f"{MARKER}\nnew"},
    )
    assert [method for method, _, _ in requests_made(httpserver)] == ["GET", "GET", "PATCH"]


@pytest.mark.parametrize("login", [OWN, ACTIONS_BOT], ids=["personal-token", "installation-token"])
def test_finds_our_comment_on_page_three_past_a_forged_one(
    httpserver: HTTPServer, recorder: Recorder, login: str
) -> None:
    """Among 150 comments, another user's copy of the marker is skipped and ours on page 3 is edited."""
    comments = [comment(httpserver, n, "someone", f"comment {n}") for n in range(1, 151)]
    comments[4] = comment(httpserver, 5, "mallory", f"{MARKER}\nforged")
    comments[10] = comment(httpserver, 11, login, "> quoting\n" + MARKER)
    comments[70] = comment(httpserver, 42, login, f"{MARKER}\nold")
    serve_user(httpserver, login)
    serve_comments(httpserver, comments)
    serve_writes(httpserver)
    connect(httpserver, recorder).upsert_comment(f"{MARKER}\nnew", mode="always", gate_passed=False)
    assert requests_made(httpserver) == [
        ("GET", f"{API}/user", None),
        ("GET", COMMENTS, None),
        ("GET", f"{COMMENTS}?page=2", None),
        ("GET", f"{COMMENTS}?page=3", None),
        ("PATCH", f"{REPO}/issues/comments/42", {"body": f"{MARKER}\nnew"}),
    ]
    assert recorder.warnings == []


def test_marker_key_keeps_matrix_jobs_apart(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A comment carrying another matrix job's marker is left alone and a new one is created."""
    serve_user(httpserver)
    serve_comments(httpserver, [comment(httpserver, 42, OWN, f"{make_marker('py3.11')}\nold")])
    serve_writes(httpserver)
    body = f"{make_marker('py3.12')}\nnew"
    connect(httpserver, recorder, marker_key="py3.12").upsert_comment(body, mode="always", gate_passed=True)
    assert requests_made(httpserver)[-1] == ("POST", COMMENTS, {"body": body})


def digest_comment(*, passed: bool) -> str:
    """Render a comment whose digest carries ``passed`` and one failure."""
    return render_comment(make_report(passed=passed, failures=(failure(),)))


RED = digest_comment(passed=False)
GREEN = digest_comment(passed=True)


class ModeCase(NamedTuple):
    """One comment-mode scenario: what exists, what we send, which writes we expect."""

    mode: CommentMode
    gate_passed: bool
    existing: str | None
    new_body: str
    writes: list[str]


MODE_CASES = {
    "off": ModeCase("off", gate_passed=False, existing=None, new_body=RED, writes=[]),
    "on-failure-green-new": ModeCase("on-failure", gate_passed=True, existing=None, new_body=GREEN, writes=[]),
    "on-failure-red-new": ModeCase("on-failure", gate_passed=False, existing=None, new_body=RED, writes=["POST"]),
    "on-failure-updates-existing": ModeCase(
        "on-failure", gate_passed=True, existing=RED, new_body=GREEN, writes=["PATCH"]
    ),
    "changes-same-digest": ModeCase("changes", gate_passed=False, existing=RED, new_body=RED + "\nmore", writes=[]),
    "changes-new-digest": ModeCase("changes", gate_passed=True, existing=RED, new_body=GREEN, writes=["PATCH"]),
    "changes-old-comment-without-digest": ModeCase(
        "changes", gate_passed=True, existing=f"{MARKER}\nno digest", new_body=GREEN, writes=["PATCH"]
    ),
    "changes-first-comment": ModeCase("changes", gate_passed=False, existing=None, new_body=RED, writes=["POST"]),
    "always-same-digest": ModeCase("always", gate_passed=False, existing=RED, new_body=RED, writes=["PATCH"]),
}


@pytest.mark.parametrize("case", MODE_CASES.values(), ids=MODE_CASES.keys())
def test_comment_modes(httpserver: HTTPServer, recorder: Recorder, case: ModeCase) -> None:
    """Each comment mode writes only when it should, and never a second comment."""
    serve_user(httpserver)
    serve_comments(httpserver, [comment(httpserver, 42, OWN, case.existing)] if case.existing is not None else [])
    serve_writes(httpserver)
    url = connect(httpserver, recorder).upsert_comment(case.new_body, mode=case.mode, gate_passed=case.gate_passed)
    assert [method for method, _, _ in requests_made(httpserver) if method != "GET"] == case.writes
    wrote_or_kept = case.mode != "off" and (case.existing is not None or case.writes)
    assert (url is not None) == bool(wrote_or_kept)


def test_body_is_rendered_with_the_previous_digest(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A callable body receives the digest of the comment it replaces, read from the same listing."""
    old = RED
    serve_user(httpserver)
    serve_comments(httpserver, [comment(httpserver, 42, OWN, old)])
    serve_writes(httpserver)
    seen: list[Digest | None] = []

    def render(previous: Digest | None) -> str:
        seen.append(previous)
        return render_comment(make_report(passed=True), previous_digest=previous)

    connect(httpserver, recorder).upsert_comment(render, mode="always", gate_passed=True)
    assert seen == [Digest(passed=False, status="investigated", labels={"tests/t.py::test_a": "deterministic"})]
    patched = requests_made(httpserver)[-1][2]["body"]
    assert "- Fixed (1): `tests/t.py::test_a`" in patched


def test_no_pull_request_means_no_comment(httpserver: HTTPServer, recorder: Recorder) -> None:
    """On a push (no pull request) no comment request is made."""
    assert connect(httpserver, recorder, pr_number=None).upsert_comment("x", mode="always", gate_passed=False) is None
    assert httpserver.log == []


def test_comment_over_the_limit_is_not_sent(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A body over GitHub's 65536 characters raises PublishError before any write."""
    serve_user(httpserver)
    serve_comments(httpserver, [])
    serve_writes(httpserver)
    with pytest.raises(PublishError, match=r"the comment is 65537 characters, over GitHub's 65536"):
        connect(httpserver, recorder).upsert_comment("x" * 65537, mode="always", gate_passed=False)
    assert [method for method, _, _ in requests_made(httpserver)] == ["GET", "GET"]


def serve_check_runs(httpserver: HTTPServer) -> None:
    """Accept check-run creation and updates for check run 5."""
    answer = {
        "id": 5,
        "html_url": "https://github.com/o/r/runs/5",
        "url": httpserver.url_for(f"{REPO}/check-runs/5"),
    }
    httpserver.expect_request(f"{REPO}/check-runs", method="POST").respond_with_json(answer, status=201)
    httpserver.expect_request(f"{REPO}/check-runs/5", method="PATCH").respond_with_json(answer)


def test_check_run_sends_annotations_in_batches_of_fifty(httpserver: HTTPServer, recorder: Recorder) -> None:
    """120 annotations go as a create with 50, then updates with 50 and 20, each repeating the output."""
    serve_check_runs(httpserver)
    annotations = [
        Annotation(path="src/a.py", start_line=n, end_line=n, level="warning", message=f"m{n}", title="t" * (n % 2))
        for n in range(120)
    ]
    report = make_report()
    url = connect(httpserver, recorder).create_check_run(report, "summary", annotations)
    assert url == "https://github.com/o/r/runs/5"
    made = requests_made(httpserver)
    assert [(method, path) for method, path, _ in made] == [
        ("POST", f"{REPO}/check-runs"),
        ("PATCH", f"{REPO}/check-runs/5"),
        ("PATCH", f"{REPO}/check-runs/5"),
    ]
    output = {"title": "Blocked: 1 failing test", "summary": "summary", "text": encode_record(record_of(report))}
    assert made[0][2] == {
        "name": "flakehound (3.12)",
        "head_sha": SHA,
        "details_url": "https://github.com/o/r/actions/runs/99",
        "status": "completed",
        "conclusion": "failure",
        "output": {**output, "annotations": [a.as_api() for a in annotations[:50]]},
    }
    assert made[0][2]["output"]["annotations"][:2] == [
        {"path": "src/a.py", "start_line": 0, "end_line": 0, "annotation_level": "warning", "message": "m0"},
        {
            "path": "src/a.py",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "warning",
            "message": "m1",
            "title": "t",
        },
    ]
    assert made[1][2] == {"output": {**output, "annotations": [a.as_api() for a in annotations[50:100]]}}
    assert made[2][2] == {"output": {**output, "annotations": [a.as_api() for a in annotations[100:]]}}


def test_green_check_run_without_annotations(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A passing report makes one successful check run with no annotations key."""
    serve_check_runs(httpserver)
    report = make_report(passed=True)
    connect(httpserver, recorder).create_check_run(report, "all good")
    [(method, _, data)] = requests_made(httpserver)
    assert method == "POST"
    assert data["conclusion"] == "success"
    assert data["output"] == {
        "title": "Passed: 3 tests, 1 failing test within the minimum pass rate",
        "summary": "all good",
        "text": encode_record(record_of(report)),  # the run's record, for the history of later runs
    }
    assert decode_record(data["output"]["text"]) == record_of(report)


def test_check_run_summary_over_the_limit_is_not_sent(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A check-run summary over 65535 characters raises PublishError without a request."""
    with pytest.raises(PublishError, match="over GitHub's 65535"):
        connect(httpserver, recorder).create_check_run(make_report(), "x" * 65536)
    assert httpserver.log == []


def test_status_uses_the_check_name_as_context(httpserver: HTTPServer, recorder: Recorder) -> None:
    """The commit status has a stable context (the check name) and a description cut to 140 characters."""
    httpserver.expect_request(f"{REPO}/statuses/{SHA}", method="POST").respond_with_json({"id": 1}, status=201)
    connect(httpserver, recorder).create_status("failure", "d" * 200, "https://example.test/run")
    assert requests_made(httpserver) == [
        (
            "POST",
            f"{REPO}/statuses/{SHA}",
            {
                "state": "failure",
                "target_url": "https://example.test/run",
                "description": "d" * 139 + "\N{HORIZONTAL ELLIPSIS}",
                "context": "flakehound (3.12)",
            },
        )
    ]


def test_server_errors_are_retried_with_backoff(httpserver: HTTPServer, recorder: Recorder) -> None:
    """Two 502s then success: the status is retried, sleeping the exponential backoff in between."""
    path = f"{REPO}/statuses/{SHA}"
    httpserver.expect_ordered_request(path, method="POST").respond_with_json({"message": "bad gateway"}, status=502)
    httpserver.expect_ordered_request(path, method="POST").respond_with_json({"message": "oops"}, status=500)
    httpserver.expect_ordered_request(path, method="POST").respond_with_json({"id": 1}, status=201)
    connect(httpserver, recorder).create_status("success", "ok")
    assert [status.status_code for _, status in httpserver.log] == [502, 500, 201]
    assert recorder.sleeps == [1.0]
    assert recorder.warnings == []


class RateCase(NamedTuple):
    """A rate-limited answer and the wait it should cause."""

    status: int
    message: str
    headers: dict[str, str]
    sleep: float


RATE_CASES = {
    "429-retry-after": RateCase(429, "slow down", {"Retry-After": "7"}, 7.0),
    "429-ratelimit-reset": RateCase(
        429, "slow down", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"}, 31.0
    ),
    "403-secondary-retry-after": RateCase(403, "You have exceeded a secondary rate limit.", {"Retry-After": "3"}, 3.0),
}


@pytest.mark.parametrize("case", RATE_CASES.values(), ids=RATE_CASES.keys())
def test_rate_limits_wait_as_told(httpserver: HTTPServer, recorder: Recorder, case: RateCase) -> None:
    """A rate-limited request waits for Retry-After or the rate-limit reset, then succeeds."""
    httpserver.expect_oneshot_request(f"{REPO}/check-runs", method="POST").respond_with_json(
        {"message": case.message}, status=case.status, headers=case.headers
    )
    serve_check_runs(httpserver)
    url = connect(httpserver, recorder, now=1000.0).create_check_run(make_report(), "s")
    assert url == "https://github.com/o/r/runs/5"
    assert recorder.sleeps == [case.sleep]


def test_persistent_server_error_is_a_publish_error(httpserver: HTTPServer, recorder: Recorder) -> None:
    """After the last attempt a 500 becomes a PublishError naming the status and GitHub's message."""
    httpserver.expect_request(f"{REPO}/statuses/{SHA}").respond_with_json({"message": "boom"}, status=500)
    with pytest.raises(PublishError, match=r"could not set the commit status: GitHub answered 500 \(boom\)"):
        connect(httpserver, recorder).create_status("success", "ok")
    assert len(httpserver.log) == 3


def test_validation_error_is_a_publish_error(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A 422 on comment creation is not retried and becomes a PublishError."""
    serve_user(httpserver)
    serve_comments(httpserver, [])
    httpserver.expect_request(COMMENTS, method="POST").respond_with_json({"message": "Validation Failed"}, status=422)
    with pytest.raises(PublishError, match=r"GitHub answered 422 \(Validation Failed\)"):
        connect(httpserver, recorder).upsert_comment(MARKER, mode="always", gate_passed=False)
    assert len(httpserver.log) == 3


def test_unreadable_user_is_a_publish_error(httpserver: HTTPServer, recorder: Recorder) -> None:
    """If GET /user fails for a reason other than an installation token, the comment is not guessed at."""
    httpserver.expect_request(f"{API}/user").respond_with_json({"message": "Bad credentials"}, status=401)
    with pytest.raises(PublishError, match=r"GitHub answered 401 \(Bad credentials\)"):
        connect(httpserver, recorder).upsert_comment(MARKER, mode="always", gate_passed=False)


FORK_REFUSAL = {"message": "Resource not accessible by integration"}


def test_fork_token_comment_is_a_warning(httpserver: HTTPServer, recorder: Recorder) -> None:
    """A 403 from a fork's read-only token is a warning and no URL, not a crash or a retry loop."""
    serve_user(httpserver, ACTIONS_BOT)
    serve_comments(httpserver, [])
    httpserver.expect_request(COMMENTS, method="POST").respond_with_json(FORK_REFUSAL, status=403)
    url = connect(httpserver, recorder).upsert_comment(MARKER, mode="always", gate_passed=False)
    assert url is None
    assert recorder.warnings == [
        (
            "GitHub refused to write the pull-request comment (403: Resource not accessible by integration);"
            " a pull request from a fork gets a read-only token, so the report is only in the job summary"
        )
    ]
    assert [method for method, _, _ in requests_made(httpserver)] == ["GET", "GET", "POST"]


def test_fork_token_check_run_and_status_are_warnings(httpserver: HTTPServer, recorder: Recorder) -> None:
    """Check run and status refused with 403 each produce one warning and no exception."""
    httpserver.expect_request(f"{REPO}/check-runs").respond_with_json(FORK_REFUSAL, status=403)
    httpserver.expect_request(f"{REPO}/statuses/{SHA}").respond_with_json({}, status=403)
    publisher = connect(httpserver, recorder)
    assert publisher.create_check_run(make_report(), "s") is None
    publisher.create_status("failure", "blocked")
    assert [warning.split(" (")[0] for warning in recorder.warnings] == [
        "GitHub refused to create the check run",
        "GitHub refused to set the commit status",
    ]
    assert "(403: no message)" in recorder.warnings[1]


def test_unreachable_api_is_a_publish_error(recorder: Recorder) -> None:
    """A closed port is retried and then reported as a PublishError naming the API URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = GitHubTarget(repository="o/r", head_sha=SHA, api_url=f"http://127.0.0.1:{port}/api/v3")
    retry = make_retry(sleep=recorder.sleeps.append, attempts=2, backoff=0.5)
    publisher = Publisher.connect(target, "t", warn=recorder.warnings.append, retry=retry)
    with pytest.raises(PublishError, match=rf"check that 'http://127.0.0.1:{port}/api/v3' is reachable"):
        publisher.create_status("success", "ok")


def test_default_retry_policy() -> None:
    """The default policy makes five attempts for GET, POST and PATCH on 429 and 5xx."""
    retry = make_retry()
    assert retry.total == 4
    assert {"GET", "POST", "PATCH"} <= set(retry.allowed_methods or ())
    assert {429, 500, 502, 503} <= set(retry.status_forcelist or ())


def test_target_urls() -> None:
    """The target links the workflow run and files at the head commit, quoting odd paths."""
    target = GitHubTarget(repository="o/r", head_sha=SHA, run_id=5)
    assert target.run_url == "https://github.com/o/r/actions/runs/5"
    assert target.file_url("src/a b.py", 3) == f"https://github.com/o/r/blob/{SHA}/src/a%20b.py#L3"
    assert target.file_url("src/a.py", None) == f"https://github.com/o/r/blob/{SHA}/src/a.py"
    assert GitHubTarget(repository="o/r", head_sha=SHA).run_url is None


def test_annotations_for_failures_and_uncovered_lines() -> None:
    """Located failing tests and uncovered changed ranges become annotations; the rest are skipped."""
    report = make_report(
        failures=(
            failure(message="assert 1 == 2\nmore"),
            failure("tests/t.py::test_nowhere", line=None),
            failure("tests/t.py::test_blank", line=9, message="\n"),
        )
    ).model_copy(
        update={
            "latent": (failure("tests/t.py::test_latent", line=20, exception="KeyError"),),
            "coverage": CoverageSummary(
                total_percent=90.0,
                line_percent=90.0,
                diff=DiffCoverage(
                    base="main",
                    percent=50.0,
                    changed_lines=4,
                    uncovered=(UncoveredFile(path="src/a.py", ranges=("3-5", "9", "7->8")),),
                ),
            ),
        }
    )
    assert [annotation.model_dump() for annotation in collect_annotations(report)] == [
        {
            "path": "tests/t.py",
            "start_line": 3,
            "end_line": 3,
            "level": "failure",
            "title": "tests/t.py::test_a is deterministic",
            "message": "assert 1 == 2\n\nReproduce: pytest tests/t.py::test_a",
        },
        {
            "path": "tests/t.py",
            "start_line": 9,
            "end_line": 9,
            "level": "failure",
            "title": "tests/t.py::test_blank is deterministic",
            "message": "failed\n\nReproduce: pytest tests/t.py::test_blank",
        },
        {
            "path": "tests/t.py",
            "start_line": 20,
            "end_line": 20,
            "level": "warning",
            "title": "tests/t.py::test_latent is latent",
            "message": "KeyError\n\nReproduce: pytest tests/t.py::test_latent",
        },
        {
            "path": "src/a.py",
            "start_line": 3,
            "end_line": 5,
            "level": "warning",
            "title": "Not covered by tests",
            "message": "Lines 3-5 are changed in this pull request but no test runs them.",
        },
        {
            "path": "src/a.py",
            "start_line": 9,
            "end_line": 9,
            "level": "warning",
            "title": "Not covered by tests",
            "message": "Line 9 is changed in this pull request but no test runs them.",
        },
    ]
    assert collect_annotations(make_report()) == ()


def test_long_names_are_cut_to_the_title_limit() -> None:
    """An annotation title stays within GitHub's 255 characters however long the test id is."""
    nodeid = "tests/t.py::test_" + "x" * 300
    [annotation] = collect_annotations(make_report(failures=(failure(nodeid),)))
    assert len(annotation.title) == 255
    assert annotation.title.endswith("x\N{HORIZONTAL ELLIPSIS}")
