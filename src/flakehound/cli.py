"""SHELL. ``flakehound run | report | schema | demo``: argparse -> Settings -> pipeline -> files, terminal, exit code.

This is the only module that prints, and (with ``action``) the only one that catches
``FlakehoundError`` and maps it to an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import traceback
from contextlib import ExitStack
from datetime import datetime, timezone
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from flakehound import __version__
from flakehound.config import build_settings
from flakehound.covdata import OUTER_MEASUREMENT_VARS, measure_argv, read_coverage_files, read_measured
from flakehound.errors import ConfigError, FlakehoundError, PytestCrashed
from flakehound.markdown import render_comment
from flakehound.models import Report
from flakehound.pipeline import analyse, junit_run, run_original
from flakehound.runner import (
    ORDER_AND_RERUN_PLUGINS,
    ProcessExecutor,
    child_environment,
    neutralising_args,
    probe_plugins,
)
from flakehound.snapshot import ProjectSnapshot
from flakehound.terminal import render_terminal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.models import CoverageSummary

__all__ = ["ExitCode", "main"]

_NAMES = {
    "cwd": "--cwd",
    "python": "--python",
    "reruns": "--reruns",
    "replays": "--replays",
    "orders": "--orders",
    "seed": "--seed",
    "max_failures": "--max-failures",
    "min_pass_rate": "--min-pass-rate",
    "timeout": "--timeout",
    "min_coverage": "--min-coverage",
    "min_diff_coverage": "--min-diff-coverage",
}
_DEMO_SEED = 20261122


class ExitCode(IntEnum):
    """What the process exit code means."""

    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> Any:  # noqa: ANN401 - argparse's signature is NoReturn in spirit
        raise ConfigError(message)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cwd", type=Path, default=Path(), help="project folder (default: here)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    parser.add_argument("--junit", action="append", default=[], help="reuse results from JUnit XML (glob, repeatable)")
    parser.add_argument("--junit-out", type=Path, help="also write JUnit XML with reruns and labels")
    parser.add_argument("--report", type=Path, default=Path("flakehound-report.json"), help="JSON report path")
    parser.add_argument("--no-coverage", action="store_true", help="do not measure coverage; no coverage gate")
    parser.add_argument(
        "--coverage-file", action="append", default=[], help="reuse .coverage data files or one coverage.xml"
    )
    parser.add_argument("--min-coverage", default=100, help="gate: lowest total coverage in percent (default 100)")
    parser.add_argument("--min-diff-coverage", default=100, help="gate: lowest changed-line coverage (default 100)")
    parser.add_argument("--base", default=None, help="git ref to diff against for changed-line coverage")
    parser.add_argument("--reruns", default=5, help="runs of each failing test alone (default 5)")
    parser.add_argument("--replays", default=3, help="replays of its original order (default 3)")
    parser.add_argument("--orders", default=None, help="seeded shuffled orders (default 3, or 2 when green)")
    parser.add_argument("--seed", default=None, help="seed of the shuffles (printed; default random)")
    parser.add_argument("--max-failures", default=50, help="investigate at most this many failures (default 50)")
    parser.add_argument("--min-pass-rate", default=100, help="gate: lowest pass rate in percent (default 100)")
    parser.add_argument("--fail-on-latent", action="store_true", help="block on tests that fail only when shuffled")
    parser.add_argument("--timeout", default=None, help="seconds per run (default 1800 original, 3x+30 s rerun)")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--quiet", "-q", action="store_true", help="only the verdict")
    noise.add_argument("--verbose", "-v", action="store_true", help="also every run made")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="flakehound", description="Classify every failing test and gate the pull request.")
    parser.add_argument("--version", action="version", version=f"flakehound {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="run the suite and investigate every failure")
    _add_run_options(run)
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    demo = commands.add_parser("demo", help="investigate the bundled demo suite")
    demo.add_argument("--report", type=Path, default=None, help="also save the JSON report here")
    report = commands.add_parser("report", help="render a saved report again")
    report.add_argument("path", type=Path)
    report.add_argument("--format", choices=["terminal", "markdown", "json"], default="terminal")
    commands.add_parser("schema", help="print the report's JSON Schema")
    commands.add_parser("action", help="run as the GitHub Action (INPUT_* and GITHUB_* variables)")
    publish = commands.add_parser("publish", help="post a saved report to its pull request (workflow_run)")
    publish.add_argument("--report", type=Path, required=True, help="the JSON report the Action saved")
    publish.add_argument("--event-file", type=Path, required=True, help="the event the Action saved beside it")
    publish.add_argument("--comment-mode", default="always", help="always, on-failure, changes or off")
    publish.add_argument("--check-name", default="flakehound", help="check run and status name")
    publish.add_argument("--status", default="check-run", help="check-run, commit-status, both or none")
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    pytest_args = list(args.pytest_args)
    if pytest_args and pytest_args[0] == "--":
        pytest_args = pytest_args[1:]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    values = {
        "cwd": args.cwd.resolve(),
        "python": args.python,
        "pytest_args": tuple(pytest_args),
        "junit": tuple(args.junit),
        "reruns": args.reruns,
        "replays": args.replays,
        "orders": args.orders,
        "seed": seed,
        "max_failures": args.max_failures,
        "min_pass_rate": args.min_pass_rate,
        "fail_on_latent": args.fail_on_latent,
        "timeout": args.timeout,
        "report": args.report,
        "junit_out": args.junit_out,
        "measure_coverage": not args.no_coverage,
        "coverage_files": tuple(args.coverage_file),
        "min_coverage": args.min_coverage,
        "min_diff_coverage": args.min_diff_coverage,
        "base": args.base,
    }
    if not args.cwd.is_dir():
        msg = f"--cwd {str(args.cwd)!r} is not a folder; pass the project folder"
        raise ConfigError(msg)
    return build_settings(values, _NAMES)


class _Bar:
    """A rich progress bar with ETA; nothing at all when the console is not a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("investigating", total=None)

    def plan(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, description: str) -> None:
        self.progress.update(self.task, advance=1, description=description)


def _read_coverage(settings: Settings, measured: Path | None) -> CoverageSummary | None:
    """The coverage the gate checks: measured on the original run, read from files, or none."""
    threshold, diff_threshold, base = settings.min_coverage, settings.min_diff_coverage, settings.base
    if settings.coverage_files:
        paths = [settings.cwd / path for path in settings.coverage_files]
        return read_coverage_files(paths, settings.cwd, threshold=threshold, diff_threshold=diff_threshold, base=base)
    if measured is not None:
        return read_measured(measured, settings.cwd, threshold=threshold, diff_threshold=diff_threshold, base=base)
    return None


def investigate(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    console: Console,
    quiet: bool = False,
    verbose: bool = False,
    command: Sequence[str],
) -> Report:
    """Probe pytest, run the pipeline with a fresh-process executor, save and print the report."""
    env = child_environment(environ)
    probed = probe_plugins(settings.python, settings.cwd, env)
    if probed is None:
        msg = f"pytest is not installed for {settings.python}; install it there (pip install pytest) or pass --python"
        raise ConfigError(msg)
    _, installed = probed
    disabled = [name for name in ORDER_AND_RERUN_PLUGINS if name in installed]
    junit_results = None
    if settings.junit:
        from flakehound.sources import read_junit

        junit_results = read_junit(settings.junit, settings.cwd)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
        snapshot = ProjectSnapshot.take(settings.cwd, workdir / "backup")
        executor = ProcessExecutor(
            python=settings.python,
            cwd=settings.cwd,
            pytest_args=settings.pytest_args,
            env=env,
            workdir=workdir / "runs",
            extra_args=tuple(neutralising_args(installed)),
            snapshot=snapshot,
        )
        progress = None
        if console.is_terminal and not quiet:
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            stack.enter_context(bar)
            progress = _Bar(bar)
        measure = settings.measure_coverage and not settings.coverage_files and junit_results is None
        data_file = workdir / "coverage" / ".coverage"
        if junit_results is not None:
            original = junit_run(junit_results)
        elif measure:
            data_file.parent.mkdir()
            prefix = measure_argv(settings.python, data_file)
            original = run_original(settings, executor, argv_prefix=prefix, drop_env=OUTER_MEASUREMENT_VARS)
        else:
            original = run_original(settings, executor)
        coverage = _read_coverage(settings, data_file if measure else None)
        report = analyse(
            settings,
            executor,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=__version__,
            command=command,
            disabled_plugins=disabled,
            original=original,
            original_from_junit=junit_results is not None,
            coverage=coverage,
            progress=progress,
        )
    try:
        settings.report.parent.mkdir(parents=True, exist_ok=True)
        settings.report.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        msg = f"--report {str(settings.report)!r} cannot be written ({error.strerror}); pass a writable path"
        raise ConfigError(msg) from None
    if settings.junit_out is not None:
        from flakehound.junit import render_junit

        settings.junit_out.write_text(render_junit(original.results, report), encoding="utf-8")
    if quiet:
        verdict = ("PASS" if report.gate.passed else "BLOCKED") + ": " + "; ".join(report.gate.reasons or ("ok",))
        console.print(verdict, soft_wrap=True)
    else:
        console.print(render_terminal(report, verbose=verbose))
    console.print(f"report: {settings.report}", style="dim", soft_wrap=True)
    return report


def _run(args: argparse.Namespace, environ: Mapping[str, str], console: Console, argv: Sequence[str]) -> int:
    settings = _settings_from(args)
    report = investigate(
        settings,
        environ=environ,
        console=console,
        quiet=args.quiet,
        verbose=args.verbose,
        command=["flakehound", *argv],
    )
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _demo(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="flakehound-demo-") as temp:
        project = Path(temp) / "project"
        state = Path(temp) / "state"
        state.mkdir()
        with resources.as_file(resources.files("flakehound") / "demo") as source:
            shutil.copytree(source, project, ignore=shutil.ignore_patterns("__pycache__"))
        report_path = args.report.resolve() if args.report else Path(temp) / "flakehound-report.json"
        settings = build_settings({"cwd": project, "seed": _DEMO_SEED, "report": report_path}, _NAMES)
        console.print(
            f"flakehound demo: investigating a planted suite copied to {project}",
            style="bold",
            soft_wrap=True,
        )
        env = {**environ, "FLAKEHOUND_DEMO_STATE": str(state)}
        report = investigate(settings, environ=env, console=console, command=["flakehound", "demo"])
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
        console.print(render_terminal(report))
    return ExitCode.OK


def _schema(console: Console) -> int:
    console.print_json(json.dumps(Report.model_json_schema()))
    return ExitCode.OK


def _action(environ: Mapping[str, str]) -> int:
    from flakehound import action

    return action.main(environ, sys.stdout)


def _publish(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from flakehound import action

    return action.publish_report(
        args.report,
        args.event_file,
        environ,
        sys.stdout,
        comment_mode=args.comment_mode,
        check_name=args.check_name,
        status=args.status,
    )


def _save_traceback(output_tail: str = "") -> Path:
    handle, name = tempfile.mkstemp(prefix="flakehound-traceback-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(traceback.format_exc())
        if output_tail:
            file.write("\n--- the end of pytest's output ---\n" + output_tail)
    return Path(name)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``flakehound`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        args = build_parser().parse_args(argv)
        commands = {
            "run": lambda: _run(args, environ, console, argv),
            "demo": lambda: _demo(args, environ, console),
            "report": lambda: _report(args, console),
            "schema": lambda: _schema(console),
            "action": lambda: _action(environ),
            "publish": lambda: _publish(args, environ),
        }
        return commands[args.command]()
    except ConfigError as error:
        errors.print(f"flakehound: error: {error}", markup=False)
        return ExitCode.USAGE
    except PytestCrashed as error:
        saved = _save_traceback(error.output_tail)
        errors.print(f"flakehound: error: {error}; details saved to {saved}", markup=False)
        return ExitCode.INTERNAL
    except FlakehoundError as error:
        errors.print(f"flakehound: error: {error}", markup=False)
        return ExitCode.INTERNAL
    except Exception as error:  # noqa: BLE001 # pragma: no cover - last resort for bugs; no known input reaches it
        saved = _save_traceback()
        errors.print(
            f"flakehound: internal error: {error!r}; traceback saved to {saved}", markup=False
        )  # pragma: no cover
        return ExitCode.INTERNAL  # pragma: no cover - see above
