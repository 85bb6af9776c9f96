"""IO. History from what GitHub already keeps: the run records in flakehound's own check runs on the base branch.

Every check run flakehound writes carries its run record, hidden in the run's ``output.text`` (see
:mod:`flakehound.engine.history`). On a pull request, :func:`read_history` lists the last ``depth``
commits of the base branch (``GET /repos/{owner}/{repo}/commits?sha=BRANCH``, one page of up to 100)
and reads the check run of our name on each (``GET .../commits/{sha}/check-runs?check_name=NAME``):
at most ``depth + 1`` requests, all reads, so a fork's read-only token is enough. A commit without
our check run is skipped; a record that does not parse is left out with a note. A refusal (403,
404) or the rate limit ends the reading with a note and keeps what was read: history only explains,
so it never stops a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from github import Auth, Github, GithubException

from flakehound.engine.history import History, decode_record
from flakehound.github.publisher import make_retry

if TYPE_CHECKING:
    from urllib3.util.retry import Retry

    from flakehound.engine.history import RunRecord
    from flakehound.github.publisher import GitHubTarget

__all__ = ["read_history"]

_PAGE = 100
_REFUSED = frozenset({403, 429})
_SHORT = 7


def _client(target: GitHubTarget, token: str, depth: int, retry: Retry | None) -> Github:
    return Github(
        auth=Auth.Token(token) if token else None,
        base_url=target.api_url,
        # history is optional: one retry, and no waiting out a rate limit
        retry=retry if retry is not None else make_retry(attempts=2, max_wait=5.0),
        per_page=min(depth + 1, _PAGE),
        seconds_between_requests=None,
        lazy=True,
    )


def read_history(
    target: GitHubTarget, token: str, *, branch: str, depth: int, skip: str | None = None, retry: Retry | None = None
) -> History:
    """The records of the last ``depth`` commits of ``branch`` (``skip``: the commit under test, on a push)."""
    source = f"on {branch}"
    records: list[RunRecord] = []
    notes: list[str] = []
    try:
        repo = _client(target, token, depth, retry).get_repo(target.repository)
        commits = [commit for commit in repo.get_commits(sha=branch).get_page(0) if commit.sha != skip][:depth]
        for commit in commits:
            for check_run in commit.get_check_runs(check_name=target.check_name).get_page(0)[:1]:
                try:
                    record = decode_record(check_run.output.text or "")
                except ValueError as error:
                    notes.append(f"the check run on {commit.sha[:_SHORT]} is left out: {error}")
                    continue
                if record is not None:
                    records.append(record)
    except GithubException as error:
        refused = "rate limited, or the token may not read checks" if error.status in _REFUSED else "no message"
        message = error.message or (error.data or {}).get("message") or refused
        notes.append(
            f"history {source} stopped after {len(records)} run(s): GitHub answered {error.status} ({message})"
        )
    return History(source=source, records=tuple(records), notes=tuple(notes))
