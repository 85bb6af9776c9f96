"""Publishing a report: the comment, the check run and the commit status, or the comment saved for later.

``publish_report`` is the entry of ``flakehound publish`` (the ``workflow_run`` flow of fork pull
requests): it checks the untrusted saved event against GitHub before posting anything, and like the
Action it speaks to the runner in workflow commands and returns an exit code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

import requests
from github import Auth, Github, GithubException
from pydantic import ValidationError

from flakehound.engine.gate import title_verdict
from flakehound.errors import ConfigError, ExitCode, FlakehoundError, PublishError
from flakehound.github.commands import Log, shown_path
from flakehound.github.environment import (
    DEFAULT_CHECK_NAME,
    build_options,
    build_target,
    load_object,
    read_pull_request_event,
    require_variables,
)
from flakehound.github.publisher import CHECK_SUMMARY_LIMIT, Publisher, collect_annotations, make_retry
from flakehound.github.repository import given_folder, in_repository
from flakehound.models import Report
from flakehound.render.markdown import SUMMARY_LIMIT, render_comment, render_summary

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flakehound.github.environment import ActionConfig, ActionOptions
    from flakehound.github.publisher import GitHubTarget
    from flakehound.render.digest import Digest

__all__ = [
    "COMMENT_FILE",
    "EVENT_FILE",
    "publish",
    "publish_report",
    "save_comment",
    "target_comment",
    "target_summary",
]

COMMENT_FILE = "flakehound-comment.md"
"""Where the comment is saved, beside the report, when it is not posted (fork, dry run)."""

EVENT_FILE = "flakehound-event.json"
"""Where a fork pull request's event payload is saved, beside the report, for ``flakehound publish``."""

_T = TypeVar("_T")


def _attempt(warn: Callable[[str], None], step: Callable[[], _T]) -> _T | None:
    try:
        return step()
    except PublishError as error:
        warn(str(error))
        return None


def target_comment(report: Report, target: GitHubTarget, previous: Digest | None = None) -> str:
    """The pull-request comment for ``target``: its marker, check name, commit, run and file links."""
    return render_comment(
        report,
        marker_key=target.marker_key,
        check_name=target.check_name,
        commit=target.head_sha,
        run_url=target.run_url,
        file_url=target.file_url,
        previous_digest=previous,
    )


def target_summary(report: Report, target: GitHubTarget, limit: int = SUMMARY_LIMIT) -> str:
    """The job summary (or, with the check run's ``limit``, its summary) for ``target``."""
    return render_summary(
        report,
        check_name=target.check_name,
        commit=target.head_sha,
        run_url=target.run_url,
        file_url=target.file_url,
        limit=limit,
    )


def publish(
    report: Report, target: GitHubTarget, options: ActionOptions, log: Log
) -> tuple[str | None, str | None, bool]:
    """Post the comment, the check run and the status; return their URLs and whether anything went wrong."""
    token = options.github_token.get_secret_value()
    if not token:
        log.command(
            "warning",
            "github_token is empty, so nothing was published; leave it at its default (${{ github.token }})"
            " or pass a token that can write",
        )
        return None, None, True
    problems: list[str] = []

    def warn(message: str) -> None:
        problems.append(message)
        log.command("warning", message)

    publisher = Publisher.connect(target, token, warn=warn)
    comment_url = _attempt(
        warn,
        lambda: publisher.upsert_comment(
            lambda previous: target_comment(report, target, previous),
            mode=options.comment_mode,
            gate_passed=report.gate.passed,
        ),
    )
    check_url = None
    if options.status in {"check-run", "both"}:
        summary = target_summary(report, target, limit=CHECK_SUMMARY_LIMIT)
        check_url = _attempt(warn, lambda: publisher.create_check_run(report, summary, collect_annotations(report)))
    if options.status in {"commit-status", "both"}:
        passed = report.gate.passed
        description = title_verdict(report)
        _attempt(
            warn,
            lambda: publisher.create_status(
                "success" if passed else "failure", description, target_url=check_url or target.run_url
            ),
        )
    return comment_url, check_url, bool(problems)


def save_comment(report: Report, config: ActionConfig, log: Log) -> None:
    """Keep the comment beside the report (and a fork's event payload) when nothing is posted."""
    target = config.target
    folder = config.settings.report.parent
    comment = folder / COMMENT_FILE
    comment.write_text(target_comment(report, target), encoding="utf-8")
    shown = shown_path(comment, config.workspace)
    if config.fork_event is None:
        log.command("notice", f"dry_run: nothing was published; the comment is in {shown}")
        return
    event = folder / EVENT_FILE
    shutil.copyfile(config.fork_event, event)
    log.command(
        "notice",
        f"This pull request comes from a fork (or Dependabot), whose token cannot write, so nothing was posted."
        f" The comment is in {shown} and the event in {shown_path(event, config.workspace)}: upload them with"
        " the report as an artifact, and 'flakehound publish --report R --event-file E' in a workflow_run"
        " workflow posts them.",
        title="flakehound",
    )


# --- flakehound publish ------------------------------------------------------------------------------


def _read_report(path: Path) -> Report:
    try:
        return Report.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"{error.error_count()} schema error(s)"
        msg = f"--report {str(path)!r} is not a flakehound report ({reason}); pass the JSON file the Action wrote"
        raise ConfigError(msg) from None


def _trusted_run(environ: Mapping[str, str], saved_sha: str) -> str | None:
    """In a workflow_run workflow, the id of the run that saved the event, which must be about its commit."""
    if environ.get("GITHUB_EVENT_NAME") != "workflow_run" or not environ.get("GITHUB_EVENT_PATH"):
        return None
    payload = load_object(Path(environ["GITHUB_EVENT_PATH"]), "GITHUB_EVENT_PATH")
    run = payload.get("workflow_run")
    run = run if isinstance(run, dict) else {}
    if run.get("head_sha") != saved_sha:
        msg = (
            f"--event-file names head commit {saved_sha!r}, but the workflow run that produced it ran on"
            f" {run.get('head_sha')!r}; refusing to post: pass the event file saved by that run"
        )
        raise ConfigError(msg)
    return str(run.get("id", ""))


def _check_pull_head(target: GitHubTarget, token: str, number: int) -> None:
    """The pull request named in the (untrusted) saved event must really have that head commit."""
    gh = Github(auth=Auth.Token(token), base_url=target.api_url, retry=make_retry(), lazy=True)
    try:
        head = gh.get_repo(target.repository).get_pull(number).head.sha
    except (GithubException, requests.RequestException) as error:
        msg = f"could not read pull request #{number} of {target.repository}: {error}; check the token's permissions"
        raise PublishError(msg) from error
    if head != target.head_sha:
        msg = (
            f"--event-file names pull request #{number} at {target.head_sha!r}, but its head is now {head!r};"
            " refusing to post an outdated or mismatched report"
        )
        raise ConfigError(msg)


def _publish_saved(
    report_path: Path,
    event_file: Path,
    environ: Mapping[str, str],
    choices: Mapping[str, str],
    folder: str,
    log: Log,
) -> int:
    require_variables(
        environ,
        ("GITHUB_REPOSITORY", "GITHUB_TOKEN"),
        "set it in the step's env (GITHUB_TOKEN: ${{ github.token }}, with pull-requests: write)",
    )
    report = in_repository(_read_report(report_path), given_folder(folder, "--working-directory"))
    pull = read_pull_request_event(load_object(event_file, "--event-file"), event_file, "--event-file").pull_request
    run_id = _trusted_run(environ, pull.head.sha)
    options = build_options(
        {**choices, "github_token": environ["GITHUB_TOKEN"]},
        {name: "--" + name.replace("_", "-") for name in choices},
    )
    target = build_target(
        {
            "repository": environ["GITHUB_REPOSITORY"],
            "head_sha": pull.head.sha,
            "pr_number": pull.number,
            "check_name": options.check_name,
            "marker_key": "" if options.check_name == DEFAULT_CHECK_NAME else options.check_name,
            "server_url": environ.get("GITHUB_SERVER_URL"),
            "api_url": environ.get("GITHUB_API_URL"),
            "run_id": run_id,
        }
    )
    _check_pull_head(target, environ["GITHUB_TOKEN"], pull.number)
    comment_url, check_url, failed = publish(report, target, options, log)
    for label, url in (("comment", comment_url), ("check run", check_url)):
        if url is not None:
            log.stream.write(f"{label}: {url}\n")
    return ExitCode.INTERNAL if failed else ExitCode.OK


def publish_report(
    report_path: Path,
    event_file: Path,
    environ: Mapping[str, str],
    out: TextIO,
    *,
    comment_mode: str = "always",
    check_name: str = DEFAULT_CHECK_NAME,
    status: str = "check-run",
    working_directory: str = "",
) -> int:
    """Post a saved report to the pull request named in a saved event (``workflow_run`` fork flow).

    ``working_directory`` is the project folder the Action ran in (its input of that name): paths and
    reproduce commands are shown from the repository's root, as the Action shows them.

    The token, repository and API URL come from ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and
    ``GITHUB_API_URL``. The saved event is untrusted (it comes from the fork's run): its head commit
    must match the ``workflow_run`` that produced it and the pull request's current head.
    """
    log = Log(out)
    token = environ.get("GITHUB_TOKEN", "")
    if token:
        log.command("add-mask", token)
    choices = {"comment_mode": comment_mode, "check_name": check_name, "status": status}
    try:
        return _publish_saved(report_path, event_file, environ, choices, working_directory, log)
    except ConfigError as error:
        log.command("error", str(error), title="flakehound publish")
        return ExitCode.USAGE
    except FlakehoundError as error:
        log.command("error", str(error), title="flakehound publish")
        return ExitCode.INTERNAL
