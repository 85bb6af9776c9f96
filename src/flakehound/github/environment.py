"""The Action's environment: ``INPUT_*`` and ``GITHUB_*`` variables and the event payload, read into one config.

``from_env`` turns them into the same ``Settings`` the CLI builds, plus a ``GitHubTarget`` and the
inputs that steer the Action itself. Errors name the variable, show the value and say what to do.
"""

from __future__ import annotations

import json
import random
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from flakehound.config import Settings, build_model, build_settings
from flakehound.errors import ConfigError
from flakehound.github.publisher import CommentMode, GitHubTarget

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACTION_INPUTS",
    "DEFAULT_CHECK_NAME",
    "DEFAULT_REPORT",
    "SETTINGS_NAMES",
    "ActionConfig",
    "ActionMode",
    "ActionOptions",
    "StatusMode",
    "build_options",
    "build_target",
    "from_env",
    "load_object",
    "read_pull_request_event",
    "require_variables",
]

StatusMode = Literal["check-run", "commit-status", "both", "none"]
ActionMode = Literal["run", "plan", "shard", "merge"]

_READ_ONLY_ACTORS = frozenset({"dependabot[bot]"})
_PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
DEFAULT_CHECK_NAME = "flakehound"
DEFAULT_REPORT = "flakehound-report.json"
_DEFAULT_PLAN = "flakehound-plan.json"
_DEFAULT_PARTS = "flakehound-part-*.json"

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
SETTINGS_NAMES = {
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
    "history_depth",
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
    #: Commits of the base branch whose flakehound check runs are read for history (0: none).
    history_depth: int = Field(default=30, ge=0, le=100)
    comment_mode: CommentMode = "always"
    check_name: str = Field(default=DEFAULT_CHECK_NAME, min_length=1)
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
    #: The branch whose earlier runs are history (a pull request's base, a push's own), and a commit to skip.
    history_branch: str | None = None
    history_skip: str | None = None


# --- the event payload -------------------------------------------------------------------------------


class _Payload(BaseModel):
    """Parts of a webhook payload flakehound reads; everything else is ignored."""

    model_config = ConfigDict(frozen=True)


class _Repo(_Payload):
    full_name: str


class _Ref(_Payload):
    sha: str
    ref: str = ""
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


def load_object(path: Path, label: str) -> dict[str, Any]:
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


def read_pull_request_event(payload: Mapping[str, Any], path: Path, label: str) -> _PullRequestEvent:
    """The pull request event in ``payload`` (read from ``path``, named ``label`` in errors)."""
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
    values["report"] = workspace / (_input(environ, "report") or DEFAULT_REPORT)
    return build_settings(values, SETTINGS_NAMES)


def build_options(values: Mapping[str, str | None], names: Mapping[str, str]) -> ActionOptions:
    """The Action's own options from the values given (None: the default); ``names`` spells them in errors."""
    return build_model(ActionOptions, {name: value for name, value in values.items() if value is not None}, names)


def build_target(values: Mapping[str, str | int | None]) -> GitHubTarget:
    """Where to publish, from the values given (empty: the default)."""
    return build_model(GitHubTarget, {name: value for name, value in values.items() if value}, _TARGET_NAMES)


def require_variables(environ: Mapping[str, str], names: tuple[str, ...], hint: str) -> None:
    """Refuse with ``hint`` when one of ``names`` is not set."""
    for name in names:
        if not environ.get(name):
            msg = f"{name} is not set; {hint}"
            raise ConfigError(msg)


def _history_branch(event_name: str, pull: _Pull | None, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Whose earlier runs are history: a pull request's base branch; on a push, the branch without its new commit."""
    if pull is not None:
        return pull.base.ref or None, None
    if event_name == "push" and environ.get("GITHUB_REF_TYPE", "branch") == "branch" and environ.get("GITHUB_REF_NAME"):
        return environ["GITHUB_REF_NAME"], environ["GITHUB_SHA"]
    return None, None


def from_env(environ: Mapping[str, str]) -> ActionConfig:
    """Read the Action's inputs, the workflow's variables and the event payload into one config.

    Errors name the variable (``INPUT_RERUNS``, ``GITHUB_EVENT_PATH``), show the value and say what
    was expected. An ``INPUT_*`` name flakehound does not know is refused: GitHub passes every key of
    the step's ``with:`` (only warning about undeclared ones), so a typo or a hyphenated name
    (``INPUT_MIN-COVERAGE``) would otherwise be silently ignored.
    """
    require_variables(
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
    options = build_options(
        {name: _input(environ, name) for name in _OPTION_INPUTS},
        {name: f"INPUT_{name.upper()}" for name in _OPTION_INPUTS},
    )
    repository = environ["GITHUB_REPOSITORY"]
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    event_path = Path(environ["GITHUB_EVENT_PATH"]) if environ.get("GITHUB_EVENT_PATH") else None
    payload = load_object(event_path, "GITHUB_EVENT_PATH") if event_path is not None else {}
    pull = None
    fork_event = None
    if event_name in _PULL_REQUEST_EVENTS:
        if event_path is None:
            msg = f"GITHUB_EVENT_PATH is not set on a {event_name} event; run inside GitHub Actions"
            raise ConfigError(msg)
        event = read_pull_request_event(payload, event_path, "GITHUB_EVENT_PATH")
        pull = event.pull_request
        head_repo = pull.head.repo.full_name if pull.head.repo is not None else None
        sender = event.sender.login if event.sender is not None else ""
        read_only = head_repo != repository or sender in _READ_ONLY_ACTORS
        fork_event = event_path if event_name == "pull_request" and read_only else None
    workspace = Path(environ.get("GITHUB_WORKSPACE") or ".").resolve()
    settings = _settings(environ, workspace, pull.base.sha if pull is not None else None)
    target = build_target(
        {
            "repository": repository,
            "head_sha": pull.head.sha if pull is not None else environ["GITHUB_SHA"],
            "pr_number": pull.number if pull is not None else None,
            "check_name": options.check_name,
            "marker_key": "" if options.check_name == DEFAULT_CHECK_NAME else options.check_name,
            "server_url": environ.get("GITHUB_SERVER_URL"),
            "api_url": environ.get("GITHUB_API_URL"),
            "run_id": environ.get("GITHUB_RUN_ID"),
        }
    )
    history_branch, history_skip = _history_branch(event_name, pull, environ)
    return ActionConfig(
        settings=settings,
        target=target,
        options=options,
        event_name=event_name,
        workspace=workspace,
        fork_event=fork_event,
        history_branch=history_branch,
        history_skip=history_skip,
        output_file=Path(environ["GITHUB_OUTPUT"]),
        summary_file=Path(environ["GITHUB_STEP_SUMMARY"]),
    )
