"""The GitHub a Docker action meets, for the Action's end-to-end tests: a local REST stand-in and a job's variables.

``FakeGitHub`` answers the REST endpoints flakehound uses, with state (comments persist across
steps); ``Workflow`` holds one job's ``INPUT_*`` and ``GITHUB_*`` variables around a workspace and
runs ``python -m flakehound action`` there as GitHub runs the container's entry point.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from werkzeug import Request, Response

from flakehound.github.publisher import ACTIONS_BOT
from flakehound.models import Report

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer

ROOT = Path(__file__).parent.parent.parent
API = "/api/v3"
REPO = f"{API}/repos/o/r"
COMMENTS = f"{REPO}/issues/7/comments"
HEAD, BASE, MERGE = "1" * 40, "2" * 40, "3" * 40
TOKEN = "ghs_e2eToken0123456789"  # noqa: S105 - a fake token the test server accepts
RUN_URL = "https://github.com/o/r/actions/runs/99"
DEFAULTS = {
    name: spec["default"] for name, spec in YAML(typ="safe").load((ROOT / "action.yml").read_text())["inputs"].items()
}


REFUSAL = {"message": "Resource not accessible by integration"}


class FakeGitHub:
    """The REST endpoints flakehound uses, with state: comments persist across runs of the Action."""

    def __init__(
        self,
        httpserver: HTTPServer,
        *,
        refuse: dict[str, int] | None = None,
        base_commits: list[tuple[str, list[dict[str, Any]]]] | None = None,
    ) -> None:
        """Serve o/r's pull request 7; ``refuse`` maps "METHOD path" to a status answered once, first.

        ``base_commits``: main's commits, newest first, each with its check runs (name and output).
        """
        self.server = httpserver
        self.comments: list[dict[str, Any]] = []
        self.refuse = dict(refuse or {})
        self.base_commits = base_commits or []
        self.routes = {
            f"GET {API}/user": lambda _: (REFUSAL, 403),  # an installation token cannot read /user
            f"GET {COMMENTS}": lambda _: (self.comments, 200),
            f"POST {COMMENTS}": self.create_comment,
            f"POST {REPO}/check-runs": lambda _: (self.check_run(), 201),
            f"POST {REPO}/statuses/{HEAD}": lambda body: ({"id": 1, "state": body["state"]}, 201),
            f"POST {REPO}/statuses/{MERGE}": lambda body: ({"id": 1, "state": body["state"]}, 201),
            f"GET {REPO}/pulls/7": lambda _: ({"number": 7, "head": {"sha": HEAD}, "base": {"sha": BASE}}, 200),
        }
        httpserver.expect_request(re.compile(f"^{API}/.*")).respond_with_handler(self.handle)

    def check_run(self) -> dict[str, Any]:
        """GitHub's answer for check run 5."""
        url = self.server.url_for(f"{REPO}/check-runs/5")
        return {"id": 5, "html_url": "https://github.com/o/r/runs/5", "url": url}

    def create_comment(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Store a new comment written by the Actions bot."""
        number = 1000 + len(self.comments)
        self.comments.append(
            {
                "id": number,
                "body": body["body"],
                "user": {"login": ACTIONS_BOT, "type": "Bot"},
                "html_url": f"https://github.com/o/r/pull/7#issuecomment-{number}",
                "url": self.server.url_for(f"{REPO}/issues/comments/{number}"),
            }
        )
        return self.comments[-1], 201

    def edit_comment(self, number: int, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Replace the body of a stored comment."""
        [comment] = [comment for comment in self.comments if comment["id"] == number]
        comment["body"] = body["body"]
        return comment, 200

    def handle(self, request: Request) -> Response:
        """Answer one request from the route table (or refuse it once, or 404)."""
        key = f"{request.method} {request.path}"
        body = json.loads(request.get_data() or b"null")
        if key in self.refuse:
            data, status = REFUSAL, self.refuse.pop(key)
        elif key.startswith(f"PATCH {REPO}/issues/comments/"):
            data, status = self.edit_comment(int(key.rsplit("/", 1)[1]), body)
        elif key in self.routes:
            data, status = self.routes[key](body)
        elif key == f"GET {REPO}/commits" and request.args.get("sha") == "main":
            data, status = [self.commit(sha) for sha, _ in self.base_commits], 200
        elif key.startswith(f"GET {REPO}/commits/") and key.endswith("/check-runs"):
            data, status = self.check_runs(key.split("/")[-2], request.args.get("check_name")), 200
        else:
            data, status = {"message": "Not Found"}, 404
        return Response(json.dumps(data), status=status, headers={"Content-Type": "application/json"})

    def commit(self, sha: str) -> dict[str, Any]:
        """One commit of main, as the commits list gives it."""
        return {"sha": sha, "url": self.server.url_for(f"{REPO}/commits/{sha}"), "commit": {"message": "m"}}

    def check_runs(self, sha: str, name: str | None) -> dict[str, Any]:
        """The check runs on one of main's commits, of the name asked for."""
        runs = [run for commit, runs in self.base_commits if commit == sha for run in runs if run["name"] == name]
        return {"total_count": len(runs), "check_runs": runs}

    def requests(self) -> list[tuple[str, str, Any]]:
        """Every request seen: method, path, JSON body (None when empty)."""
        made = []
        for request, _ in self.server.log:
            data = request.get_data(as_text=True)
            made.append((request.method, request.path, json.loads(data) if data else None))
        return made


def pull_request_payload(*, head_repo: str = "o/r") -> dict[str, Any]:
    """A pull_request "synchronize" payload shaped like GitHub's (trimmed)."""
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "url": "https://api.github.com/repos/o/r/pulls/7",
            "number": 7,
            "state": "open",
            "title": "Make the cart faster",
            "user": {"login": "octocat", "type": "User"},
            "head": {"label": "octocat:fast", "ref": "fast", "sha": HEAD, "repo": {"full_name": head_repo}},
            "base": {"label": "o:main", "ref": "main", "sha": BASE, "repo": {"full_name": "o/r"}},
        },
        "repository": {"full_name": "o/r", "private": False},
        "sender": {"login": "octocat", "type": "User"},
    }


class Workflow:
    """One job's worth of GitHub Actions variables around a sample project copied into the workspace."""

    def __init__(self, tmp_path: Path, workspace: Path, sample_env: dict[str, str], api_url: str) -> None:
        """Set up files GitHub provides (event, outputs, summary) and the variables pointing at them."""
        self.workspace = workspace
        self.event = tmp_path / "event.json"
        self.output = tmp_path / "output.txt"
        self.summary = tmp_path / "summary.md"
        base = {k: v for k, v in sample_env.items() if not k.startswith(("GITHUB_", "INPUT_", "ACTIONS_", "RUNNER_"))}
        self.env = {
            **base,
            **{f"INPUT_{name.upper()}": value for name, value in DEFAULTS.items()},
            "INPUT_GITHUB_TOKEN": TOKEN,
            "INPUT_COVERAGE": "false",
            "INPUT_RERUNS": "1",
            "INPUT_REPLAYS": "1",
            "INPUT_ORDERS": "0",
            "INPUT_SEED": "11",
            "INPUT_HISTORY_DEPTH": "0",  # history has tests of its own (test_action_history.py)
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(self.event),
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_SHA": MERGE,
            "GITHUB_API_URL": api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "99",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        self.event.write_text(json.dumps(pull_request_payload()))

    def run(self, **inputs: str) -> subprocess.CompletedProcess[str]:
        """Run the entry point once with these inputs set (fresh output and summary files, as per step)."""
        process = self.start(**inputs)
        stdout, stderr = process.communicate(timeout=600)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def start(self, **inputs: str) -> subprocess.Popen[str]:
        """Start the entry point with these inputs set, without waiting (to cancel it, as GitHub does)."""
        self.output.write_text("")
        self.summary.write_text("")
        env = {**self.env, **{f"INPUT_{name.upper()}": value for name, value in inputs.items()}}
        return subprocess.Popen(
            [sys.executable, "-m", "flakehound", "action"],
            cwd=self.workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def outputs(self) -> dict[str, str]:
        """Parse GITHUB_OUTPUT's heredoc blocks (a name written twice keeps its last value, as GitHub does)."""
        values: dict[str, str] = {}
        lines = iter(self.output.read_text().splitlines())
        for line in lines:
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            values[name] = "\n".join(value)
        return values

    def report(self, path: str) -> Report:
        """The report the Action saved at ``path`` (relative to the workspace)."""
        return Report.model_validate_json((self.workspace / path).read_text())
