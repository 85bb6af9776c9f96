"""IO. Publish a report to GitHub: one pull-request comment, a check run, a commit status.

All GitHub IO lives in ``Publisher``. The shell builds it with ``Publisher.connect`` (a lazy PyGithub
client with retries) or passes in a ``Repository`` it made itself. Publishing never changes the
verdict: a read-only token (a pull request from a fork) becomes a warning through ``warn``, and
anything else GitHub refuses becomes a ``PublishError`` the shell may downgrade.

Retries: 5xx, 429 and rate-limit 403s are retried with exponential backoff, honouring
``Retry-After`` and, when ``X-RateLimit-Remaining`` is 0, ``X-RateLimit-Reset``. The wait goes
through an injected ``sleep`` so tests never wait.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededException
from github.GithubObject import NotSet
from pydantic import BaseModel, ConfigDict
from urllib3 import Retry

from flakehound.engine.gate import title_verdict
from flakehound.engine.history import encode_record, record_of
from flakehound.errors import PublishError
from flakehound.render.digest import Digest, make_marker, parse_digest
from flakehound.render.markdown import COMMENT_LIMIT

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from github.Issue import Issue
    from github.IssueComment import IssueComment
    from github.Repository import Repository
    from typing_extensions import Self
    from urllib3.response import BaseHTTPResponse

    from flakehound.models import Report

__all__ = [
    "ANNOTATIONS_PER_REQUEST",
    "CHECK_SUMMARY_LIMIT",
    "STATUS_DESCRIPTION_LIMIT",
    "Annotation",
    "CommentMode",
    "GitHubTarget",
    "Publisher",
    "collect_annotations",
]

ANNOTATIONS_PER_REQUEST = 50
"""GitHub accepts at most 50 annotations per check-run request; more are appended by updates."""

CHECK_SUMMARY_LIMIT = 65535
"""GitHub refuses a check-run output summary longer than this many characters."""

STATUS_DESCRIPTION_LIMIT = 140
"""GitHub refuses a commit-status description longer than this many characters."""

ACTIONS_BOT = "github-actions[bot]"
"""Who GITHUB_TOKEN writes as. Installation tokens cannot read ``GET /user`` (403), so we assume it."""

_TITLE_LIMIT = 255
_MESSAGE_LIMIT = 4000
_RANGE = re.compile(r"(\d+)(?:-(\d+))?$")

CommentMode = Literal["always", "on-failure", "changes", "off"]
_T = TypeVar("_T")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GitHubTarget(_Frozen):
    """Where to publish: the repository, commit, pull request and the names that keep runs apart."""

    repository: str
    head_sha: str
    pr_number: int | None = None
    check_name: str = "flakehound"
    marker_key: str = ""
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    run_id: int | None = None

    @property
    def run_url(self) -> str | None:
        """The workflow run's page, or None outside a workflow."""
        if self.run_id is None:
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def file_url(self, path: str, line: int | None) -> str:
        """Link ``path`` (and ``line``) at the head commit, for ``render_comment(file_url=...)``."""
        anchor = f"#L{line}" if line is not None else ""
        return f"{self.server_url}/{self.repository}/blob/{self.head_sha}/{quote(path)}{anchor}"


def _conclusion(report: Report) -> Literal["success", "failure", "cancelled"]:
    """A check run's conclusion: ``cancelled`` when flakehound was stopped (an interrupted report)."""
    if report.status == "interrupted":
        return "cancelled"
    return "success" if report.gate.passed else "failure"


class Annotation(_Frozen):
    """One check-run annotation on a line range of a file."""

    path: str
    start_line: int
    end_line: int
    level: Literal["notice", "warning", "failure"]
    message: str
    title: str = ""

    def as_api(self) -> dict[str, str | int]:
        """Shape this annotation as the JSON object the checks API expects."""
        data: dict[str, str | int] = {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "annotation_level": self.level,
            "message": self.message,
        }
        if self.title:
            data["title"] = self.title
        return data


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def collect_annotations(report: Report) -> tuple[Annotation, ...]:
    """Annotate each failing test's line and each uncovered changed line range."""
    annotations = []
    for failure, level in [
        *((f, "failure") for f in report.failures),
        *((f, "warning") for f in report.latent),
    ]:
        original = failure.original
        if original.path is None or original.line is None:
            continue
        label = "latent" if level == "warning" else failure.classification.value
        first = (original.message or original.exception or original.outcome.value).strip().splitlines()
        message = (first[0] if first else original.outcome.value) + f"\n\nReproduce: {failure.reproduce}"
        annotations.append(
            Annotation(
                path=original.path,
                start_line=original.line,
                end_line=original.line,
                level="failure" if level == "failure" else "warning",
                title=_shorten(f"{failure.nodeid} is {label}", _TITLE_LIMIT),
                message=_shorten(message, _MESSAGE_LIMIT),
            )
        )
    diff = report.coverage.diff if report.coverage is not None else None
    for uncovered in diff.uncovered if diff is not None else ():
        for text in uncovered.ranges:
            match = _RANGE.match(text.strip())
            if match is None:
                continue
            start = int(match.group(1))
            end = int(match.group(2) or start)
            lines = f"Line {start} is" if start == end else f"Lines {start}-{end} are"
            annotations.append(
                Annotation(
                    path=uncovered.path,
                    start_line=start,
                    end_line=end,
                    level="warning",
                    title="Not covered by tests",
                    message=f"{lines} changed in this pull request but no test runs them.",
                )
            )
    return tuple(annotations)


class _Retry(GithubRetry):
    """PyGithub's retry (rate-limit 403s included) with an injected sleep, honouring 429 headers too."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        max_wait: float = 300.0,
        **kwargs: Any,  # noqa: ANN401 - urllib3.Retry's own keyword arguments, passed through by new()
    ) -> None:
        self.sleep_function = sleep
        self.now_function = now
        self.max_wait = max_wait
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> Self:  # noqa: ANN401 - see __init__
        """Carry the injected clock through urllib3's copy-on-increment."""
        kw.update(sleep=self.sleep_function, now=self.now_function, max_wait=self.max_wait)
        return super().new(**kw)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Wait the longest of the backoff, ``Retry-After`` and the rate-limit reset, capped."""
        delay = self.get_backoff_time()
        if response is not None:
            retry_after = self.get_retry_after(response)
            reset = response.headers.get("X-RateLimit-Reset", "")
            if retry_after is not None:
                delay = max(delay, retry_after)
            elif response.headers.get("X-RateLimit-Remaining") == "0" and reset.isdigit():
                delay = max(delay, int(reset) - self.now_function() + 1)
        delay = min(delay, self.max_wait)
        if delay > 0:
            self.sleep_function(delay)


def make_retry(
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
    attempts: int = 5,
    backoff: float = 1.0,
    max_wait: float = 300.0,
) -> Retry:
    """Build the retry policy: 5xx, 429 and rate-limit 403s, for every method we use, then give up."""
    return _Retry(
        sleep=sleep,
        now=now,
        max_wait=max_wait,
        total=attempts - 1,
        backoff_factor=backoff,
        status_forcelist=[429, *range(500, 600)],
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
        raise_on_status=False,
        secondary_rate_wait=60.0,
    )


class Publisher:
    """Every write flakehound makes to GitHub, for one target."""

    def __init__(self, repo: Repository, target: GitHubTarget, *, gh: Github, warn: Callable[[str], None]) -> None:
        """Publish to ``repo`` as the user behind ``gh``; ``warn`` receives non-fatal refusals."""
        self._repo = repo
        self._target = target
        self._gh = gh
        self._warn = warn

    @classmethod
    def connect(
        cls,
        target: GitHubTarget,
        token: str,
        *,
        warn: Callable[[str], None],
        retry: Retry | None = None,
        seconds_between_writes: float | None = 1.0,
    ) -> Publisher:
        """Build a lazy client for ``target.api_url`` (no request is made until something is published)."""
        gh = Github(
            auth=Auth.Token(token),
            base_url=target.api_url,
            retry=retry if retry is not None else make_retry(),
            seconds_between_requests=None,
            seconds_between_writes=seconds_between_writes,
            lazy=True,
        )
        return cls(gh.get_repo(target.repository), target, gh=gh, warn=warn)

    def _attempt(self, what: str, action: Callable[[], _T]) -> _T | None:
        """Run one publishing step; a read-only token warns, any other refusal is a PublishError."""
        try:
            return action()
        except GithubException as error:
            message = error.message or (error.data or {}).get("message") or "no message"
            if error.status == 403 and not isinstance(error, RateLimitExceededException):  # noqa: PLR2004
                self._warn(
                    f"GitHub refused to {what} (403: {message}); a pull request from a fork gets a read-only"
                    " token, so the report is only in the job summary"
                )
                return None
            msg = f"could not {what}: GitHub answered {error.status} ({message}); see the workflow log"
            raise PublishError(msg) from error
        except requests.RequestException as error:
            msg = f"could not {what}: {error}; check that {self._target.api_url!r} is reachable"
            raise PublishError(msg) from error

    def _own_login(self) -> str:
        """Ask who the token belongs to; installation tokens (GITHUB_TOKEN) cannot: they are the bot."""
        try:
            return self._gh.get_user().login
        except GithubException as error:
            if error.status == 403:  # noqa: PLR2004 - "Resource not accessible by integration"
                return ACTIONS_BOT
            raise

    def _find_comment(self, issue: Issue) -> IssueComment | None:
        """Our earlier comment: written by our user and starting with our marker, on any page."""
        login = self._own_login()
        marker = make_marker(self._target.marker_key)
        for comment in issue.get_comments():
            if comment.user.login == login and comment.body.startswith(marker):
                return comment
        return None

    def upsert_comment(
        self,
        body: str | Callable[[Digest | None], str],
        *,
        mode: CommentMode,
        gate_passed: bool,
    ) -> str | None:
        """Create or edit our one comment on the pull request; return its URL, or None if none was written.

        ``body`` may be a function of the previous comment's digest, so "what changed since the last
        push" needs only one listing. ``on-failure`` creates a comment only when the gate failed but
        keeps an existing one current; ``changes`` edits only when the verdict digest differs.
        """
        number = self._target.pr_number
        if mode == "off" or number is None:
            return None

        def upsert() -> str | None:
            issue = self._repo.get_issue(number)
            existing = self._find_comment(issue)
            previous = parse_digest(existing.body) if existing is not None else None
            text = body(previous) if callable(body) else body
            if len(text) > COMMENT_LIMIT:
                msg = (
                    f"the comment is {len(text)} characters, over GitHub's {COMMENT_LIMIT};"
                    " render it with render_comment(limit=...) so it is trimmed"
                )
                raise PublishError(msg)
            if existing is None:
                if mode == "on-failure" and gate_passed:
                    return None
                return issue.create_comment(text).html_url
            if mode == "changes" and previous is not None and previous == parse_digest(text):
                return existing.html_url
            existing.edit(text)
            return existing.html_url

        return self._attempt("write the pull-request comment", upsert)

    def create_check_run(self, report: Report, summary_md: str, annotations: Sequence[Annotation] = ()) -> str | None:
        """Create a completed check run (success, failure, or cancelled) with every annotation; return its URL."""
        if len(summary_md) > CHECK_SUMMARY_LIMIT:
            msg = (
                f"the check-run summary is {len(summary_md)} characters, over GitHub's {CHECK_SUMMARY_LIMIT};"
                " render it with render_summary(limit=65535)"
            )
            raise PublishError(msg)
        title = _shorten(title_verdict(report), _TITLE_LIMIT)
        batches = [
            [annotation.as_api() for annotation in annotations[start : start + ANNOTATIONS_PER_REQUEST]]
            for start in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ]

        record = encode_record(record_of(report))  # the next runs' history

        def output(batch: list[dict[str, str | int]]) -> dict[str, Any]:
            data: dict[str, Any] = {"title": title, "summary": summary_md, "text": record}
            if batch:
                data["annotations"] = batch
            return data

        def create() -> str:
            check_run = self._repo.create_check_run(
                name=self._target.check_name,
                head_sha=self._target.head_sha,
                status="completed",
                conclusion=_conclusion(report),
                output=output(batches[0] if batches else []),
                details_url=self._target.run_url or NotSet,
            )
            for batch in batches[1:]:
                check_run.edit(output=output(batch))
            return check_run.html_url

        return self._attempt("create the check run", create)

    def create_status(
        self,
        state: Literal["error", "failure", "pending", "success"],
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set the commit status whose context is the check name (so reruns replace it)."""

        def create() -> None:
            self._repo.get_commit(self._target.head_sha).create_status(
                state=state,
                description=_shorten(description, STATUS_DESCRIPTION_LIMIT),
                context=self._target.check_name,
                target_url=target_url or NotSet,
            )

        self._attempt("set the commit status", create)
