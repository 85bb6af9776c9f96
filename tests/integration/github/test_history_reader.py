"""Reading history from the base branch's check runs, against a local HTTP server answering the REST endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flakehound.engine.history import RunRecord, TestEntry, encode_record
from flakehound.github.history import read_history
from flakehound.github.publisher import GitHubTarget, make_retry

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer

API = "/api/v3"
REPO = f"{API}/repos/o/r"
CHECK = "flakehound (3.12)"
FLIP = "tests/test_flip.py::test_flips"


def target(httpserver: HTTPServer) -> GitHubTarget:
    """The pull request's head on the local server, with our check name."""
    return GitHubTarget(repository="o/r", head_sha="f" * 40, check_name=CHECK, api_url=httpserver.url_for(API))


def record(sha: str, label: str = "intermittent") -> RunRecord:
    """A run at ``sha`` where the flipping test failed."""
    entries = {FLIP: TestEntry(label=label, failed=True, failures=2, runs=5)}
    return RunRecord(commit=sha, created_at="2026-11-30T08:00:00+00:00", tests=4, failed=1, entries=entries)


def commit(httpserver: HTTPServer, sha: str) -> dict[str, Any]:
    """The JSON of one commit in a commits list."""
    return {"sha": sha, "url": httpserver.url_for(f"{REPO}/commits/{sha}"), "commit": {"message": "m"}}


def check_runs(*texts: str | None, name: str = CHECK) -> dict[str, Any]:
    """A check-runs list of our check name with these output texts."""
    runs = [
        {"id": n, "name": name, "output": {"title": "t", "summary": "s", "text": text}} for n, text in enumerate(texts)
    ]
    return {"total_count": len(runs), "check_runs": runs}


def serve_commits(httpserver: HTTPServer, shas: list[str], per_page: int = 4) -> None:
    """The base branch's commits, newest first (a page of one more than the depth)."""
    query = {"sha": "main", "per_page": str(per_page)}
    httpserver.expect_request(f"{REPO}/commits", query_string=query).respond_with_json(
        [commit(httpserver, sha) for sha in shas]
    )


def test_records_of_the_base_branch_are_read_and_bad_ones_noted(httpserver: HTTPServer):
    """Valid records are read newest first; a corrupt one is noted; no check run, or none of ours, is skipped."""
    shas = [c * 40 for c in "abcde"]
    serve_commits(httpserver, shas, per_page=5)
    runs = {
        shas[0]: check_runs(f"## summary\n{encode_record(record(shas[0]))}"),
        shas[1]: check_runs("<!-- flakehound:history v1 bm90IGd6aXA= -->"),
        shas[2]: check_runs(),
        shas[3]: check_runs(None),
    }
    for sha, answer in runs.items():
        httpserver.expect_request(
            f"{REPO}/commits/{sha}/check-runs", query_string={"check_name": CHECK, "per_page": "5"}
        ).respond_with_json(answer)
    history = read_history(target(httpserver), "t", branch="main", depth=4)
    assert history.source == "on main"
    assert [each.commit for each in history.records] == [shas[0]]
    assert len(history.notes) == 1
    assert history.notes[0].startswith("the check run on bbbbbbb is left out: its history record does not parse: ")
    assert len(httpserver.log) == 5, "one list of commits, then one request per commit up to the depth"


def test_the_commit_under_test_is_skipped_on_a_push(httpserver: HTTPServer):
    """On a push the branch's newest commit is the one being tested: its own check run is not history."""
    shas = ["a" * 40, "b" * 40]
    serve_commits(httpserver, shas)
    httpserver.expect_request(f"{REPO}/commits/{shas[1]}/check-runs").respond_with_json(
        check_runs(encode_record(record(shas[1])))
    )
    history = read_history(target(httpserver), "t", branch="main", depth=3, skip=shas[0])
    assert [each.commit for each in history.records] == [shas[1]]


def test_a_refusal_or_the_rate_limit_stops_reading_with_a_note(httpserver: HTTPServer):
    """A 403 on a check-runs request keeps the records read so far and says where it stopped."""
    shas = ["a" * 40, "b" * 40]
    serve_commits(httpserver, shas)
    httpserver.expect_request(f"{REPO}/commits/{shas[0]}/check-runs").respond_with_json(
        check_runs(encode_record(record(shas[0])))
    )
    httpserver.expect_request(f"{REPO}/commits/{shas[1]}/check-runs").respond_with_json(
        {"message": "API rate limit exceeded for installation"}, status=403, headers={"X-RateLimit-Remaining": "0"}
    )
    retry = make_retry(sleep=lambda _: None, now=lambda: 0.0, attempts=1)
    history = read_history(target(httpserver), "t", branch="main", depth=3, retry=retry)
    assert len(history.records) == 1
    assert history.notes == (
        "history on main stopped after 1 run(s): GitHub answered 403 (rate limited, or the token may not read checks)",
    )


def test_a_branch_that_does_not_exist_is_a_note(httpserver: HTTPServer):
    """A 404 on the commits list: no history, and a note; nothing raised."""
    httpserver.expect_request(f"{REPO}/commits").respond_with_json({"message": "Not Found"}, status=404)
    history = read_history(target(httpserver), "", branch="main", depth=3)
    assert history.records == ()
    assert history.notes == ("history on main stopped after 0 run(s): GitHub answered 404 (Not Found)",)
