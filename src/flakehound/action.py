"""SHELL. ``flakehound action``: the GitHub Action's entry point.

The Action reads only ``INPUT_*`` variables, a few ``GITHUB_*`` ones and the event payload they point
at. ``github.environment.from_env`` turns them into the same ``Settings`` the CLI builds, plus a ``GitHubTarget``. Then
``main``:

1. masks the token and refuses ``pull_request_target`` unless the workflow allows it;
2. runs the ``setup`` input (the one place a shell is used), reads the base branch's history (its
   last ``history_depth`` runs, from flakehound's check runs there) and runs the investigation, with
   workflow commands stopped in the log so the tested project's output cannot issue any;
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
import subprocess
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from flakehound import workflow
from flakehound.engine.cancellation import is_cancelled_early
from flakehound.errors import ConfigError, ExitCode, FlakehoundError
from flakehound.execution.runner import child_environment
from flakehound.github.commands import Log, append_text, format_outputs, new_delimiter, report_outputs, shown_path
from flakehound.github.environment import DEFAULT_REPORT, SETTINGS_NAMES, from_env
from flakehound.github.history import read_history
from flakehound.github.publishing import publish, save_comment, target_summary
from flakehound.github.repository import in_repository, project_folder
from flakehound.render.terminal import render_terminal

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flakehound.engine.history import History
    from flakehound.github.environment import ActionConfig
    from flakehound.models import Report

__all__ = ["main"]

_COMMAND = ("flakehound", "action")


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


def _run_setup_input(config: ActionConfig, environ: Mapping[str, str], log: Log) -> None:
    if config.options.setup:
        _run_setup(config.options.setup, config.settings.cwd, environ, log.stream)


def _show(report: Report, path: Path, log: Log) -> None:
    """The terminal text of a saved report in the log, then where the report is."""
    console = Console(file=log.stream, highlight=False)
    console.print(render_terminal(report), crop=False)
    console.print(f"report: {path}", style="dim", soft_wrap=True)


def _history(config: ActionConfig) -> History | None:
    """The base branch's earlier runs, from flakehound's check runs there (none when ``history_depth`` is 0)."""
    depth, branch = config.options.history_depth, config.history_branch
    if not depth or branch is None:
        return None
    token = config.options.github_token.get_secret_value()
    return read_history(config.target, token, branch=branch, depth=depth, skip=config.history_skip)


def _investigate(config: ActionConfig, environ: Mapping[str, str], log: Log) -> Report:
    """Mode run: ``setup``, the base branch's history, then the whole investigation."""
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        history = _history(config)
        report = workflow.investigate(config.settings, environ=environ, command=_COMMAND, history=history)
        _show(report, config.settings.report, log)
        return report


def _plan(config: ActionConfig, environ: Mapping[str, str], log: Log) -> int:
    """Mode plan: ``setup``, the suite once, the plan saved; step outputs ``matrix`` and ``shards``."""
    out = config.workspace / config.options.plan
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        plan = workflow.make_plan(
            config.settings, count=config.options.shards, out=out, environ=environ, out_name="INPUT_PLAN"
        )
    for line in workflow.describe_plan(plan, shown_path(out, config.workspace)):
        log.stream.write(line + "\n")
    outputs = {"matrix": json.dumps(plan.matrix, separators=(",", ":")), "shards": str(len(plan.shards))}
    append_text(config.output_file, format_outputs(outputs, new_delimiter))
    return ExitCode.OK


def _shard(config: ActionConfig, environ: Mapping[str, str], log: Log) -> int:
    """Mode shard: ``setup``, then one shard of the plan into a partial report; step output ``report``."""
    index, settings = config.options.shard, config.settings
    if index is None:
        msg = "INPUT_SHARD is empty, but mode is shard; pass the job's matrix value (shard: ${{ matrix.shard }})"
        raise ConfigError(msg)
    part = settings.report
    if part == config.workspace / DEFAULT_REPORT:
        part = config.workspace / f"flakehound-part-{index}.json"
    with log.commands_stopped():
        _run_setup_input(config, environ, log)
        report = workflow.investigate_shard(
            config.workspace / config.options.plan,
            index,
            cwd=settings.cwd,
            python=settings.python,
            pytest_args=settings.pytest_args,
            report=part,
            environ=environ,
            command=_COMMAND,
            names={**SETTINGS_NAMES, "plan": "INPUT_PLAN", "shard": "INPUT_SHARD"},
        )
        _show(report, part, log)
    append_text(config.output_file, format_outputs({"report": shown_path(part, config.workspace)}, new_delimiter))
    return ExitCode.OK


def _merge(config: ActionConfig, log: Log) -> Report:
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
    report = workflow.merge_parts(paths, report=config.settings.report, command=_COMMAND, report_name="INPUT_REPORT")
    with log.commands_stopped():
        Console(file=log.stream, highlight=False).print(render_terminal(report), crop=False)
    return report


def _conclude(report: Report, config: ActionConfig, log: Log) -> int:
    """After the investigation: summary and outputs, then publishing (or saving the comment); the gate's code.

    What GitHub shows names files from the repository's root (``in_repository``); the outputs keep the report's.
    """
    options, target = config.options, config.target
    shown = in_repository(report, project_folder(config.settings.cwd, config.workspace))
    append_text(config.summary_file, target_summary(shown, target))
    outputs = report_outputs(report, shown_path(config.settings.report, config.workspace))
    append_text(config.output_file, format_outputs(outputs, new_delimiter))
    comment_url = check_url = None
    failed = False
    if options.dry_run or config.fork_event is not None:
        save_comment(shown, config, log)
    else:
        comment_url, check_url, failed = publish(shown, target, options, log)
    urls = {"comment_url": comment_url or "", "check_url": check_url or ""}
    append_text(config.output_file, format_outputs(urls, new_delimiter))
    if failed and options.fail_on_publish_error:
        return ExitCode.INTERNAL
    if is_cancelled_early(report):
        return ExitCode.INTERRUPTED
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _act(config: ActionConfig, environ: Mapping[str, str], log: Log) -> int:
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
    log = Log(out)
    token = environ.get("INPUT_GITHUB_TOKEN", "").strip()
    if token:
        log.command("add-mask", token)
    try:
        with workflow.terminate_as_interrupt():
            return _act(from_env(environ), environ, log)
    except KeyboardInterrupt:
        log.command("error", "cancelled before a report could be written", title="flakehound")
        return ExitCode.INTERRUPTED
    except ConfigError as error:
        log.command("error", str(error), title="flakehound")
        return ExitCode.USAGE
    except FlakehoundError as error:
        log.command("error", str(error), title="flakehound")
        return ExitCode.INTERNAL
