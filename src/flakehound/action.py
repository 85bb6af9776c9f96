"""SHELL. ``flakehound action`` (the GitHub Action's entry point) and ``flakehound publish``.

The Action reads only ``INPUT_*`` variables, a few ``GITHUB_*`` ones and the event payload they point
at. ``from_env`` turns them into the same ``Settings`` the CLI builds, plus a ``GitHubTarget``. Then
``main``:

1. masks the token and refuses ``pull_request_target`` unless the workflow allows it;
2. runs the ``setup`` input (the one place a shell is used) and the investigation, with workflow
   commands stopped in the log so the tested project's output cannot issue any;
3. writes the report, the job summary and the step outputs before any network call;
4. publishes the comment, the check run and the commit status, except on a dry run or a pull
   request from a fork (read-only token): then the comment is saved beside the report, for
   ``flakehound publish`` to post from a ``workflow_run`` workflow;
5. exits with the gate's code. Publishing problems are warnings, or exit 3 with ``fail_on_publish_error``.

The ``mode`` input splits one investigation across a job matrix, as ``flakehound plan``,
``investigate`` and ``merge`` do: ``plan`` runs ``setup`` and the suite once and saves the plan
(step outputs ``matrix`` and ``shards``); ``shard`` runs ``setup`` and one shard's share into a
partial report; neither publishes. ``merge`` merges the parts (no ``setup``, no pytest) and then
does steps 3 to 5 exactly as ``run`` does.
"""

from __future__ import annotations

import glob
import json
import random
import secrets
import shlex
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar

import requests
from github import Auth, Github, GithubException
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from rich.console import Console

from flakehound.cli import ExitCode, describe_plan, investigate, investigate_shard, make_plan, merge_parts
from flakehound.config import Settings, build_model, build_settings
from flakehound.errors import ConfigError, FlakehoundError, PublishError
from flakehound.gate import format_percent
from flakehound.github import CHECK_SUMMARY_LIMIT, CommentMode, GitHubTarget, Publisher, collect_annotations, make_retry
from flakehound.markdown import render_comment, render_summary
from flakehound.models import Report
from flakehound.runner import child_environment
from flakehound.terminal import render_terminal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "ACTION_INPUTS",
    "ActionConfig",
    "ActionMode",
    "ActionOptions",
    "StatusMode",
    "escape_data",
    "escape_property",
    "format_outputs",
    "from_env",
    "main",
    "publish_report",
    "report_outputs",
    "workflow_command",
]

StatusMode = Literal["check-run", "commit-status", "both", "none"]
ActionMode = Literal["run", "plan", "shard", "merge"]

COMMENT_FILE = "flakehound-comment.md"
"""Where the comment is saved, beside the report, when it is not posted (fork, dry run)."""

EVENT_FILE = "flakehound-event.json"
"""Where a fork pull request's event payload is saved, beside the report, for ``flakehound publish``."""

_READ_ONLY_ACTORS = frozenset({"dependabot[bot]"})
_PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
_DEFAULT_CHECK_NAME = "flakehound"
_DEFAULT_REPORT = "flakehound-report.json"
_DEFAULT_PLAN = "flakehound-plan.json"
_DEFAULT_PARTS = "flakehound-part-*.json"
_COMMAND = ("flakehound", "action")
_T = TypeVar("_T")

# Inputs that are Settings fields under the same name.
_SETTINGS_INPUTS = (
    "python",
    "reruns",
    "replays",
    "orders",
    "seed",
    "max_failures",
    "min_pass_rate",
    "fail_on_latent",
    "timeout",
    "min_coverage",
    "min_diff_coverage",
)
_SETTINGS_NAMES = {
    **{field: f"INPUT_{field.upper()}" for field in _SETTINGS_INPUTS},
    "cwd": "INPUT_WORKING_DIRECTORY",
    "pytest_args": "INPUT_PYTEST_ARGS",
    "junit": "INPUT_JUNIT",
    "coverage_files": "INPUT_COVERAGE_FILE",
    "measure_coverage": "INPUT_COVERAGE",
    "base": "INPUT_BASE",
    "report": "INPUT_REPORT",
}
_OPTION_INPUTS = (
    "setup",
    "comment_mode",
    "check_name",
    "status",
    "github_token",
    "fail_on_publish_error",
    "dry_run",
    "allow_pull_request_target",
    "mode",
    "shards",
    "plan",
    "shard",
    "parts",
)
# Inputs that become Settings fields of another name or shape.
_RESHAPED_INPUTS = ("working_directory", "pytest_args", "junit", "coverage_file", "coverage", "base", "report")

ACTION_INPUTS = frozenset({*_SETTINGS_INPUTS, *_RESHAPED_INPUTS, *_OPTION_INPUTS})
"""Every input ``from_env`` reads; action.yml declares exactly these."""

_TARGET_NAMES = {
    "repository": "GITHUB_REPOSITORY",
    "head_sha": "GITHUB_SHA",
    "check_name": "INPUT_CHECK_NAME",
    "server_url": "GITHUB_SERVER_URL",
    "api_url": "GITHUB_API_URL",
    "run_id": "GITHUB_RUN_ID",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionOptions(_Frozen):
    """The inputs that steer the Action itself rather than the investigation."""

    setup: str = ""
    comment_mode: CommentMode = "always"
    check_name: str = Field(default=_DEFAULT_CHECK_NAME, min_length=1)
    status: StatusMode = "check-run"
    github_token: SecretStr = SecretStr("")
    fail_on_publish_error: bool = False
    dry_run: bool = False
    allow_pull_request_target: bool = False
    mode: ActionMode = "run"
    shards: int = Field(default=2, ge=1)
    plan: str = Field(default=_DEFAULT_PLAN, min_length=1)
    shard: int | None = Field(default=None, ge=0)
    parts: str = Field(default=_DEFAULT_PARTS, min_length=1)


class ActionConfig(_Frozen):
    """Everything one Action run needs, read from the environment once."""

    settings: Settings
    target: GitHubTarget
    options: ActionOptions
    event_name: str
    workspace: Path
    output_file: Path
    summary_file: Path
    fork_event: Path | None = None


# --- the event payload -------------------------------------------------------------------------------


class _Payload(BaseModel):
    """Parts of a webhook payload flakehound reads; everything else is ignored."""

    model_config = ConfigDict(frozen=True)


class _Repo(_Payload):
    full_name: str


class _Ref(_Payload):
    sha: str
    repo: _Repo | None = None


class _Pull(_Payload):
    number: int
    head: _Ref
    base: _Ref


class _User(_Payload):
    login: str


class _PullRequestEvent(_Payload):
    pull_request: _Pull
    sender: _User | None = None


def _load_object(path: Path, label: str) -> dict[str, Any]:
    """Read a JSON object from ``path``; ``label`` names where the path came from."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        reason = error.strerror
    except ValueError as error:
        reason = f"not JSON: {error}"
    else:
        if isinstance(data, dict):
            return data
        reason = "not a JSON object"
    msg = f"{label} {str(path)!r} cannot be read as an event payload ({reason}); pass the file GitHub wrote"
    raise ConfigError(msg)


def _pull_request_event(payload: Mapping[str, Any], path: Path, label: str) -> _PullRequestEvent:
    try:
        return _PullRequestEvent.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        msg = f"{label} {str(path)!r} is not a pull request event ({where}: {first['msg']}); pass its payload"
        raise ConfigError(msg) from None


# --- configuration -----------------------------------------------------------------------------------


def _input(environ: Mapping[str, str], name: str) -> str | None:
    """The input's value, or None when it is empty (GitHub passes declared but unset inputs as "")."""
    value = environ.get(f"INPUT_{name.upper()}", "").strip()
    return value or None


def _settings(environ: Mapping[str, str], workspace: Path, base: str | None) -> Settings:
    values: dict[str, Any] = {
        field: value for field in _SETTINGS_INPUTS if (value := _input(environ, field)) is not None
    }
    if "seed" not in values:
        values["seed"] = random.SystemRandom().randrange(2**32)
    folder = _input(environ, "working_directory") or "."
    cwd = (workspace / folder).resolve()
    if not cwd.is_dir():
        msg = f"INPUT_WORKING_DIRECTORY {folder!r} is not a folder in {str(workspace)!r}; pass a path in the repository"
        raise ConfigError(msg)
    values["cwd"] = cwd
    pytest_args = _input(environ, "pytest_args") or ""
    try:
        values["pytest_args"] = tuple(shlex.split(pytest_args))
    except ValueError as error:
        msg = f"INPUT_PYTEST_ARGS {pytest_args!r} cannot be split like a shell line ({error}); close its quotes"
        raise ConfigError(msg) from None
    values["junit"] = tuple((_input(environ, "junit") or "").split())
    values["coverage_files"] = tuple((_input(environ, "coverage_file") or "").split())
    values["measure_coverage"] = _input(environ, "coverage") or "true"
    values["base"] = _input(environ, "base") or base
    values["report"] = workspace / (_input(environ, "report") or _DEFAULT_REPORT)
    return build_settings(values, _SETTINGS_NAMES)


def _options(values: Mapping[str, str | None], names: Mapping[str, str]) -> ActionOptions:
    return build_model(ActionOptions, {name: value for name, value in values.items() if value is not None}, names)


def _target(values: Mapping[str, str | int | None]) -> GitHubTarget:
    return build_model(GitHubTarget, {name: value for name, value in values.items() if value}, _TARGET_NAMES)


def _required(environ: Mapping[str, str], names: tuple[str, ...], hint: str) -> None:
    for name in names:
        if not environ.get(name):
            msg = f"{name} is not set; {hint}"
            raise ConfigError(msg)


def from_env(environ: Mapping[str, str]) -> ActionConfig:
    """Read the Action's inputs, the workflow's variables and the event payload into one config.

    Errors name the variable (``INPUT_RERUNS``, ``GITHUB_EVENT_PATH``), show the value and say what
    was expected. An ``INPUT_*`` name flakehound does not know is refused: GitHub passes every key of
    the step's ``with:`` (only warning about undeclared ones), so a typo or a hyphenated name
    (``INPUT_MIN-COVERAGE``) would otherwise be silently ignored.
    """
    _required(
        environ,
        ("GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"),
        "'flakehound action' runs inside GitHub Actions (use 'flakehound run' elsewhere)",
    )
    unknown = sorted(name for name in environ if name.startswith("INPUT_") and name[6:].lower() not in ACTION_INPUTS)
    if unknown:
        msg = (
            f"{unknown[0]} is not an input of flakehound (input names use underscores, not hyphens);"
            f" its inputs are {', '.join(sorted(ACTION_INPUTS))}"
        )
        raise ConfigError(msg)
    options = _options(
        {name: _input(environ, name) for name in _OPTION_INPUTS},
        {name: f"INPUT_{name.upper()}" for name in _OPTION_INPUTS},
    )
    repository = environ["GITHUB_REPOSITORY"]
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    event_path = Path(environ["GITHUB_EVENT_PATH"]) if environ.get("GITHUB_EVENT_PATH") else None
    payload = _load_object(event_path, "GITHUB_EVENT_PATH") if event_path is not None else {}
    pull = None
    fork_event = None
    if event_name in _PULL_REQUEST_EVENTS:
        if event_path is None:
            msg = f"GITHUB_EVENT_PATH is not set on a {event_name} event; run inside GitHub Actions"
            raise ConfigError(msg)
        event = _pull_request_event(payload, event_path, "GITHUB_EVENT_PATH")
        pull = event.pull_request
        head_repo = pull.head.repo.full_name if pull.head.repo is not None else None
        sender = event.sender.login if event.sender is not None else ""
        read_only = head_repo != repository or sender in _READ_ONLY_ACTORS
        fork_event = event_path if event_name == "pull_request" and read_only else None
    workspace = Path(environ.get("GITHUB_WORKSPACE") or ".").resolve()
    settings = _settings(environ, workspace, pull.base.sha if pull is not None else None)
    target = _target(
        {
            "repository": repository,
            "head_sha": pull.head.sha if pull is not None else environ["GITHUB_SHA"],
            "pr_number": pull.number if pull is not None else None,
            "check_name": options.check_name,
            "marker_key": "" if options.check_name == _DEFAULT_CHECK_NAME else options.check_name,
            "server_url": environ.get("GITHUB_SERVER_URL"),
            "api_url": environ.get("GITHUB_API_URL"),
            "run_id": environ.get("GITHUB_RUN_ID"),
        }
    )
    return ActionConfig(
        settings=settings,
        target=target,
        options=options,
        event_name=event_name,
        workspace=workspace,
        fork_event=fork_event,
        output_file=Path(environ["GITHUB_OUTPUT"]),
        summary_file=Path(environ["GITHUB_STEP_SUMMARY"]),
    )


# --- workflow commands and step outputs --------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a workflow command's message so it stays one command (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (the message escapes plus ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: str) -> str:
    """One ``::name key=value::message`` line, every part escaped."""
    shown = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + shown if shown else ''}::{escape_data(message)}"


def format_outputs(values: Mapping[str, str], new_delimiter: Callable[[], str]) -> str:
    """Step outputs in GITHUB_OUTPUT's heredoc form, each with a fresh delimiter its value does not contain."""
    lines = []
    for name, value in values.items():
        delimiter = new_delimiter()
        while delimiter in value:
            delimiter = new_delimiter()
        lines += [f"{name}<<{delimiter}", value, delimiter]
    return "\n".join(lines) + "\n"


def _random_delimiter() -> str:
    return f"ghadelimiter_{secrets.token_hex(16)}"


def _number(value: float) -> str:
    return format_percent(value).removesuffix("%")


def report_outputs(report: Report, report_path: str) -> dict[str, str]:
    """The step outputs a report gives: verdict, rates, counts per label and the report's path."""
    coverage = report.coverage
    diff = coverage.diff if coverage is not None else None
    summary = report.summary
    return {
        "verdict": "pass" if report.gate.passed else "fail",
        "pass_rate": _number(summary.pass_rate),
        "coverage": _number(coverage.total_percent) if coverage is not None else "",
        "diff_coverage": _number(diff.percent) if diff is not None and diff.percent is not None else "",
        "deterministic": str(summary.deterministic),
        "intermittent": str(summary.intermittent),
        "order_dependent": str(summary.order_dependent),
        "brittle": str(summary.brittle),
        "latent": str(summary.latent),
        "report": report_path,
    }


class _Log:
    """The Actions log: plain lines, workflow commands, and stretches where commands are stopped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def command(self, name: str, message: str = "", **properties: str) -> None:
        self.stream.write(workflow_command(name, message, **properties) + "\n")
        self.stream.flush()

    @contextmanager
    def commands_stopped(self) -> Iterator[None]:
        """Stop workflow commands with a random token, so echoed test output cannot issue any."""
        token = secrets.token_hex(16)
        self.command("stop-commands", token)
        try:
            yield
        finally:
            self.stream.flush()
            self.command(token)


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def _shown_path(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace when inside it: the same on the runner and in the container."""
    try:
        return path.resolve().relative_to(workspace).as_posix()
    except ValueError:
        return str(path)


# --- the run ---------------------------------------------------------------------------------------


def _run_setup(command: str, cwd: Path, environ: Mapping[str, str], stream: TextIO) -> None:
    """Run the ``setup`` input with ``sh`` in the project folder, without the token or any input."""
    stream.flush()
    # The setup input is a shell command by contract; its environment carries no token and no input.
    completed = subprocess.run(  # noqa: S602
        command,
        shell=True,
        cwd=cwd,
        env=child_environment(environ),
        stdout=stream,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if completed.returncode != 0:
        msg = f"INPUT_SETUP {command!r} exited with {completed.returncode}; see its output above and fix the command"
        raise ConfigError(msg)


def _attempt(warn: Callable[[str], None], step: Callable[[], _T]) -> _T | None:
    try:
        return step()
    except PublishError as error:
        warn(str(error))
        return None


def _publish(
    report: Report, target: GitHubTarget, options: ActionOptions, log: _Log
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
            lambda previous: render_comment(
                report,
                marker_key=target.marker_key,
                run_url=target.run_url,
                file_url=target.file_url,
                previous_digest=previous,
            ),
            mode=options.comment_mode,
            gate_passed=report.gate.passed,
        ),
    )
    check_url = None
    if options.status in {"check-run", "both"}:
        summary = render_summary(report, run_url=target.run_url, file_url=target.file_url, limit=CHECK_SUMMARY_LIMIT)
        check_url = _attempt(warn, lambda: publisher.create_check_run(report, summary, collect_annotations(report)))
    if options.status in {"commit-status", "both"}:
        passed = report.gate.passed
        description = "No blocking failures" if passed else "Blocked: " + "; ".join(report.gate.reasons)
        _attempt(
            warn,
            lambda: publisher.create_status(
                "success" if passed else "failure", description, target_url=check_url or target.run_url
            ),
        )
    return comment_url, check_url, bool(problems)


def _save_comment(report: Report, config: ActionConfig, log: _Log) -> None:
    """Keep the comment beside the report (and a fork's event payload) when nothing is posted."""
    target = config.target
    folder = config.settings.report.parent
    comment = folder / COMMENT_FILE
    body = render_comment(report, marker_key=target.marker_key, run_url=target.run_url, file_url=target.file_url)
    comment.write_text(body, encoding="utf-8")
    shown = _shown_path(comment, config.workspace)
    if config.fork_event is None:
        log.command("notice", f"dry_run: nothing was published; the comment is in {shown}")
        return
    event = folder / EVENT_FILE
    shutil.copyfile(config.fork_event, event)
    log.command(
        "notice",
        f"This pull request comes from a fork (or Dependabot), whose token cannot write, so nothing was posted."
        f" The comment is in {shown} and the event in {_shown_path(event, config.workspace)}: upload them with"
        " the report as an artifact, and 'flakehound publish --report R --event-file E' in a workflow_run"
        " workflow posts them.",
        title="flakehound",
    )


def _run_setup_input(config: ActionConfig, environ: Mapping[str, str], log: _Log) -> None:
    if config.options.setup:
        _run_setup(config.options.setup, config.settings.cwd, environ, log.stream)


def _console(log: _Log) -> Console:
    return Console(file=log.stream, highlight=False)


def _investigate(config: ActionConfig, environ: Mapping[str, str], log: _Log) -> Report:
    """Mode run: ``setup``, then the whole investigation."""
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        return investigate(config.settings, environ=environ, console=_console(log), command=_COMMAND)


def _plan(config: ActionConfig, environ: Mapping[str, str], log: _Log) -> int:
    """Mode plan: ``setup``, the suite once, the plan saved; step outputs ``matrix`` and ``shards``."""
    out = config.workspace / config.options.plan
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        plan = make_plan(config.settings, count=config.options.shards, out=out, environ=environ, out_name="INPUT_PLAN")
    for line in describe_plan(plan, _shown_path(out, config.workspace)):
        log.stream.write(line + "\n")
    outputs = {"matrix": json.dumps(plan.matrix, separators=(",", ":")), "shards": str(len(plan.shards))}
    _append(config.output_file, format_outputs(outputs, _random_delimiter))
    return ExitCode.OK


def _shard(config: ActionConfig, environ: Mapping[str, str], log: _Log) -> int:
    """Mode shard: ``setup``, then one shard of the plan into a partial report; step output ``report``."""
    index, settings = config.options.shard, config.settings
    if index is None:
        msg = "INPUT_SHARD is empty, but mode is shard; pass the job's matrix value (shard: ${{ matrix.shard }})"
        raise ConfigError(msg)
    part = settings.report
    if part == config.workspace / _DEFAULT_REPORT:
        part = config.workspace / f"flakehound-part-{index}.json"
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        investigate_shard(
            config.workspace / config.options.plan,
            index,
            cwd=settings.cwd,
            python=settings.python,
            pytest_args=settings.pytest_args,
            report=part,
            environ=environ,
            console=_console(log),
            command=_COMMAND,
            names={**_SETTINGS_NAMES, "plan": "INPUT_PLAN", "shard": "INPUT_SHARD"},
        )
    _append(config.output_file, format_outputs({"report": _shown_path(part, config.workspace)}, _random_delimiter))
    return ExitCode.OK


def _merge(config: ActionConfig, log: _Log) -> Report:
    """Mode merge: the parts matching ``parts`` (globs under the workspace) merged into one report."""
    workspace, parts = config.workspace, config.options.parts
    # Path.glob takes no absolute pattern, and a workflow may download the parts anywhere.
    matches = {match for pattern in parts.split() for match in glob.glob(pattern, root_dir=workspace)}  # noqa: PTH207
    paths = sorted(workspace / match for match in matches)
    if not paths:
        msg = (
            f"INPUT_PARTS {parts!r} matches no file in {str(workspace)!r}; download every shard's part there first"
            " (actions/download-artifact with merge-multiple: true)"
        )
        raise ConfigError(msg)
    report = merge_parts(paths, report=config.settings.report, command=_COMMAND, report_name="INPUT_REPORT")
    with log.commands_stopped():
        _console(log).print(render_terminal(report))
    return report


def _conclude(report: Report, config: ActionConfig, log: _Log) -> int:
    """After the investigation: summary and outputs, then publishing (or saving the comment); the gate's code."""
    options, target = config.options, config.target
    _append(config.summary_file, render_summary(report, run_url=target.run_url, file_url=target.file_url))
    outputs = report_outputs(report, _shown_path(config.settings.report, config.workspace))
    _append(config.output_file, format_outputs(outputs, _random_delimiter))
    comment_url = check_url = None
    failed = False
    if options.dry_run or config.fork_event is not None:
        _save_comment(report, config, log)
    else:
        comment_url, check_url, failed = _publish(report, target, options, log)
    urls = {"comment_url": comment_url or "", "check_url": check_url or ""}
    _append(config.output_file, format_outputs(urls, _random_delimiter))
    if failed and options.fail_on_publish_error:
        return ExitCode.INTERNAL
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _act(config: ActionConfig, environ: Mapping[str, str], log: _Log) -> int:
    options = config.options
    if config.event_name == "pull_request_target" and not options.allow_pull_request_target:
        msg = (
            "this workflow runs on pull_request_target, where the pull request's code (possibly from a fork)"
            " would run with a write token; run flakehound on pull_request (forks publish through"
            " 'flakehound publish' in a workflow_run workflow), or set allow_pull_request_target: true"
            " only if the checked-out code is trusted"
        )
        raise ConfigError(msg)
    if options.mode == "plan":
        return _plan(config, environ, log)
    if options.mode == "shard":
        return _shard(config, environ, log)
    report = _merge(config, log) if options.mode == "merge" else _investigate(config, environ, log)
    return _conclude(report, config, log)


def main(environ: Mapping[str, str], out: TextIO) -> int:
    """Run the Action: investigate, write outputs and summary, publish; return the exit code."""
    log = _Log(out)
    token = environ.get("INPUT_GITHUB_TOKEN", "").strip()
    if token:
        log.command("add-mask", token)
    try:
        return _act(from_env(environ), environ, log)
    except ConfigError as error:
        log.command("error", str(error), title="flakehound")
        return ExitCode.USAGE
    except FlakehoundError as error:
        log.command("error", str(error), title="flakehound")
        return ExitCode.INTERNAL


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
    payload = _load_object(Path(environ["GITHUB_EVENT_PATH"]), "GITHUB_EVENT_PATH")
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
    report_path: Path, event_file: Path, environ: Mapping[str, str], choices: Mapping[str, str], log: _Log
) -> int:
    _required(
        environ,
        ("GITHUB_REPOSITORY", "GITHUB_TOKEN"),
        "set it in the step's env (GITHUB_TOKEN: ${{ github.token }}, with pull-requests: write)",
    )
    report = _read_report(report_path)
    pull = _pull_request_event(_load_object(event_file, "--event-file"), event_file, "--event-file").pull_request
    run_id = _trusted_run(environ, pull.head.sha)
    options = _options(
        {**choices, "github_token": environ["GITHUB_TOKEN"]},
        {name: "--" + name.replace("_", "-") for name in choices},
    )
    target = _target(
        {
            "repository": environ["GITHUB_REPOSITORY"],
            "head_sha": pull.head.sha,
            "pr_number": pull.number,
            "check_name": options.check_name,
            "marker_key": "" if options.check_name == _DEFAULT_CHECK_NAME else options.check_name,
            "server_url": environ.get("GITHUB_SERVER_URL"),
            "api_url": environ.get("GITHUB_API_URL"),
            "run_id": run_id,
        }
    )
    _check_pull_head(target, environ["GITHUB_TOKEN"], pull.number)
    comment_url, check_url, failed = _publish(report, target, options, log)
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
    check_name: str = _DEFAULT_CHECK_NAME,
    status: str = "check-run",
) -> int:
    """Post a saved report to the pull request named in a saved event (``workflow_run`` fork flow).

    The token, repository and API URL come from ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and
    ``GITHUB_API_URL``. The saved event is untrusted (it comes from the fork's run): its head commit
    must match the ``workflow_run`` that produced it and the pull request's current head.
    """
    log = _Log(out)
    token = environ.get("GITHUB_TOKEN", "")
    if token:
        log.command("add-mask", token)
    choices = {"comment_mode": comment_mode, "check_name": check_name, "status": status}
    try:
        return _publish_saved(report_path, event_file, environ, choices, log)
    except ConfigError as error:
        log.command("error", str(error), title="flakehound publish")
        return ExitCode.USAGE
    except FlakehoundError as error:
        log.command("error", str(error), title="flakehound publish")
        return ExitCode.INTERNAL
