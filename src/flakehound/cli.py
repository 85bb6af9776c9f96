"""SHELL. ``flakehound run | bisect | plan | investigate | merge | demo | report | schema | publish``.

The command line's words (``command_line``) -> ``Settings`` -> ``workflow`` -> render -> exit code.
This is the only module that prints (the Action's shell writes workflow commands), and with
``action`` the only one that catches our errors (``ConfigError``: exit 2, ``PytestCrashed``: exit 3)
and maps them to an exit code. ``flakehound action`` reaches the Action's shell through
``flakehound.__main__``: the two shells never import each other.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from flakehound import workflow
from flakehound.command_line import NAMES, SHARD_NAMES, budget_seconds, build_parser, pytest_args, settings_from
from flakehound.config import build_settings
from flakehound.engine.cancellation import is_cancelled_early
from flakehound.engine.history import History, record_of
from flakehound.engine.statediff import describe_change
from flakehound.errors import ConfigError, ExitCode, PytestCrashed
from flakehound.inputs.reports import read_reports
from flakehound.models import Report
from flakehound.render.history import render_history
from flakehound.render.markdown import render_comment
from flakehound.render.terminal import describe_finding, describe_search, render_terminal

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["ExitCode", "build_parser", "main"]

_DEMO_SEED = 20261122


class _Bar:
    """A rich progress bar with ETA; nothing at all when the console is not a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("investigating", total=None)

    def plan(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, description: str) -> None:
        self.progress.update(self.task, advance=1, description=description)


def _progress_bar(stack: ExitStack, console: Console, quiet: bool) -> _Bar | None:
    if not console.is_terminal or quiet:
        return None
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console
    )
    stack.enter_context(bar)
    return _Bar(bar)


def _show(report: Report, path: Path, console: Console, *, quiet: bool = False, verbose: bool = False) -> None:
    """The terminal text of a saved report (only the verdict with ``quiet``), then where the report is."""
    if quiet:
        verdict = ("PASS" if report.gate.passed else "BLOCKED") + ": " + "; ".join(report.gate.reasons or ("ok",))
        console.print(verdict, soft_wrap=True)
    else:
        console.print(render_terminal(report, verbose=verbose), crop=False)
    console.print(f"report: {path}", style="dim", soft_wrap=True)


def _verdict(report: Report) -> int:
    """The gate's code; 130 (interrupted) on a report cancelled during the original run."""
    if is_cancelled_early(report):
        return ExitCode.INTERRUPTED
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _run(args: argparse.Namespace, environ: Mapping[str, str], console: Console, argv: Sequence[str]) -> int:
    settings = settings_from(args)
    with ExitStack() as stack:
        report = workflow.investigate(
            settings,
            environ=environ,
            command=["flakehound", *argv],
            progress=_progress_bar(stack, console, args.quiet),
            isolation=args.isolation,
            jobs=args.jobs,
            hints_files=args.hints_file,
            budget_seconds=budget_seconds(args.budget_seconds),
            history=_local_history(args.history) if args.history is not None else None,
        )
    _show(report, settings.report, console, quiet=args.quiet, verbose=args.verbose)
    return _verdict(report)


def _local_history(folder: Path) -> History:
    """The earlier runs of ``--history DIR``: every report file in the folder, newest first."""
    reports, notes = read_reports(folder)
    return History(
        source=f"in the reports in {folder}",
        records=tuple(record_of(report) for report in reports),
        notes=tuple(notes),
    )


def _history(args: argparse.Namespace, console: Console) -> int:
    for shown in render_history(_local_history(args.folder)):
        console.print(shown, soft_wrap=True)
    return ExitCode.OK


def _plan(args: argparse.Namespace, environ: Mapping[str, str], console: Console, errors: Console) -> int:
    settings = settings_from(args)
    plan = workflow.make_plan(
        settings, count=args.shards, out=args.out, environ=environ, isolation=args.isolation, jobs=args.jobs
    )
    matrix = json.dumps(plan.matrix, separators=(",", ":"))
    if environ.get("GITHUB_OUTPUT"):
        with Path(environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as output:
            output.write(f"matrix={matrix}\nshards={len(plan.shards)}\n")
    for line in workflow.describe_plan(plan, str(args.out)):
        errors.print(line, markup=False)
    console.out(matrix, highlight=False)
    return ExitCode.OK


def _investigate_shard(
    args: argparse.Namespace, environ: Mapping[str, str], console: Console, argv: Sequence[str]
) -> int:
    report_path = args.report or Path(f"flakehound-part-{args.shard}.json")
    with ExitStack() as stack:
        report = workflow.investigate_shard(
            args.plan,
            args.shard,
            cwd=args.cwd,
            python=args.python,
            pytest_args=pytest_args(args),
            report=report_path,
            environ=environ,
            command=["flakehound", *argv],
            names=SHARD_NAMES,
            progress=_progress_bar(stack, console, args.quiet),
            isolation=args.isolation,
            jobs=args.jobs,
            hints_files=args.hints_file,
            budget_seconds=budget_seconds(args.budget_seconds),
        )
    _show(report, report_path, console, quiet=args.quiet, verbose=args.verbose)
    return ExitCode.OK


def _merge(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    report = workflow.merge_parts(args.parts, report=args.report, command=["flakehound", *argv])
    _show(report, args.report, console)
    return _verdict(report)


def _bisect(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    values = {"cwd": args.cwd.resolve(), "python": args.python, "pytest_args": tuple(pytest_args(args)), "seed": 0}
    if args.seed is not None:
        values["seed"] = args.seed
    workflow.check_cwd(args.cwd)
    settings = build_settings(values, NAMES)
    found = workflow.bisect(
        settings,
        args.victim,
        order_file=args.order_file,
        environ=environ,
        isolation=args.isolation,
        jobs=args.jobs,
        seeded=args.seed is not None,
    )
    if found.finding is None:
        console.print(f"{args.victim}: nothing found: {found.reason}", soft_wrap=True, markup=False)
        return ExitCode.NOTHING_FOUND
    role = found.search.role or "polluter"
    console.print(f"{args.victim} {describe_finding(found.finding, role)}", soft_wrap=True, markup=False)
    for change in found.changes[1:]:
        console.print(f"  it also {describe_change(change)}", soft_wrap=True, markup=False)
    console.print(describe_search(found.search), soft_wrap=True, markup=False)
    console.print(f"reproduce: {found.reproduce}", soft_wrap=True, markup=False)
    return ExitCode.OK


def _demo(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="flakehound-demo-") as temp:
        project = Path(temp) / "project"
        state = Path(temp) / "state"
        state.mkdir()
        with resources.as_file(resources.files("flakehound") / "demo") as source:
            shutil.copytree(source, project, ignore=shutil.ignore_patterns("__pycache__"))
        report_path = args.report.resolve() if args.report else Path(temp) / "flakehound-report.json"
        settings = build_settings({"cwd": project, "seed": _DEMO_SEED, "report": report_path}, NAMES)
        console.print(
            f"flakehound demo: investigating a planted suite copied to {project}", style="bold", soft_wrap=True
        )
        env = {**environ, "FLAKEHOUND_DEMO_STATE": str(state)}
        with ExitStack() as stack:
            report = workflow.investigate(
                settings,
                environ=env,
                command=["flakehound", "demo"],
                progress=_progress_bar(stack, console, quiet=False),
                budget_seconds=budget_seconds(args.budget_seconds),
            )
        _show(report, settings.report, console)
    console.print(
        f"demo done: {len(report.failures)} failures labelled, {len(report.latent)} latent;"
        " on a pull request this gate would " + ("pass." if report.gate.passed else "block the merge."),
        soft_wrap=True,
    )
    return ExitCode.OK


def _report(args: argparse.Namespace, console: Console) -> int:
    try:
        report = Report.model_validate_json(args.path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"{error.error_count()} schema error(s)"
        msg = f"report {str(args.path)!r} is not a flakehound report ({reason}); pass the JSON file from --report"
        raise ConfigError(msg) from None
    if args.format == "json":
        console.print_json(report.model_dump_json())
    elif args.format == "markdown":
        console.out(render_comment(report), highlight=False)
    else:
        console.print(render_terminal(report), crop=False)
    return ExitCode.OK


def _schema(console: Console) -> int:
    console.print_json(json.dumps(Report.model_json_schema()))
    return ExitCode.OK


def _action() -> int:
    msg = "'action' runs as 'flakehound action' or 'python -m flakehound action', with no other arguments"
    raise ConfigError(msg)


def _publish(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    # PyGithub and requests cost every other command ~20 MB and a third of a second: imported only here
    from flakehound.github.publishing import publish_report

    return publish_report(
        args.report,
        args.event_file,
        environ,
        sys.stdout,
        comment_mode=args.comment_mode,
        check_name=args.check_name,
        status=args.status,
        working_directory=args.working_directory or "",
    )


def _save_traceback(output_tail: str = "") -> Path:
    handle, name = tempfile.mkstemp(prefix="flakehound-traceback-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(traceback.format_exc())
        file.write("\n--- the end of pytest's output ---\n" + output_tail)
    return Path(name)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``flakehound`` command (``action`` aside, see ``__main__``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        args = build_parser().parse_args(argv)
        commands: dict[str, Callable[[], int]] = {
            "run": lambda: _run(args, environ, console, argv),
            "plan": lambda: _plan(args, environ, console, errors),
            "investigate": lambda: _investigate_shard(args, environ, console, argv),
            "merge": lambda: _merge(args, console, argv),
            "demo": lambda: _demo(args, environ, console),
            "bisect": lambda: _bisect(args, environ, console),
            "report": lambda: _report(args, console),
            "history": lambda: _history(args, console),
            "schema": lambda: _schema(console),
            "action": _action,
            "publish": lambda: _publish(args, environ),
        }
        with workflow.terminate_as_interrupt():
            return commands[args.command]()
    except KeyboardInterrupt:
        errors.print("flakehound: interrupted before a report could be written", markup=False)
        return ExitCode.INTERRUPTED
    except ConfigError as error:
        errors.print(f"flakehound: error: {error}", markup=False)
        return ExitCode.USAGE
    except PytestCrashed as error:
        saved = _save_traceback(error.output_tail)
        errors.print(f"flakehound: error: {error}; details saved to {saved}", markup=False)
        return ExitCode.INTERNAL
    except Exception as error:  # noqa: BLE001 # pragma: no cover - last resort for bugs; no known input reaches it
        saved = _save_traceback()
        errors.print(
            f"flakehound: internal error: {error!r}; traceback saved to {saved}", markup=False
        )  # pragma: no cover
        return ExitCode.INTERNAL  # pragma: no cover - see above
