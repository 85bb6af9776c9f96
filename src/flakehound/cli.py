"""SHELL. ``flakehound run | bisect | plan | investigate | merge | demo | report | schema | action | publish``.

This is the only module that prints (``action`` writes workflow commands), and with ``action`` the
only one that catches our errors (``ConfigError``: exit 2, ``PytestCrashed``: exit 3) and maps them
to an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime, timezone
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from flakehound import __version__
from flakehound.bisect import find_polluters, to_polluter
from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT, build_settings
from flakehound.covdata import OUTER_MEASUREMENT_VARS, measure_argv, read_coverage_files, read_measured
from flakehound.diagnose import KEPT_CHANGES, minimal_reproduce
from flakehound.errors import ConfigError, PytestCrashed
from flakehound.experiments import Lab
from flakehound.forking import DEFAULT_ISOLATION, DEFAULT_JOBS, open_executor
from flakehound.lab import busy_cores, busy_process_count, find_libfaketime
from flakehound.markdown import render_comment
from flakehound.models import Report, Run, RunEnd, TestResult
from flakehound.pipeline import analyse, check_original, junit_run, run_original
from flakehound.plan import permute
from flakehound.runner import ORDER_AND_RERUN_PLUGINS, RunRequest, child_environment, neutralising_args, probe_plugins
from flakehound.shards import merge_reports, plan_settings, plan_shards, read_part, read_plan, share_of
from flakehound.signatures import load_catalog
from flakehound.statediff import diff_states, rank_changes
from flakehound.terminal import describe_finding, render_terminal

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.forking import Isolation, WorkerPool
    from flakehound.models import CoverageSummary, ShardOf
    from flakehound.runner import Executor
    from flakehound.shards import ShardPlan

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
    INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> Any:  # noqa: ANN401 - argparse's signature is NoReturn in spirit
        raise ConfigError(message)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    _add_investigation_options(parser)
    parser.add_argument("--junit-out", type=Path, help="also write JUnit XML with reruns and labels")
    parser.add_argument("--report", type=Path, default=Path("flakehound-report.json"), help="JSON report path")
    _add_shard_options(parser)


def _add_shard_options(parser: argparse.ArgumentParser) -> None:
    """What each machine of an investigation decides for itself: time for experiments, hints, noise."""
    parser.add_argument(
        "--budget-seconds", default=None, help="time for the whole investigation (default 10x the original run, >= 60)"
    )
    parser.add_argument(
        "--hints-file", action="append", default=[], type=Path, help="more failure signatures (TOML, under --cwd)"
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--quiet", "-q", action="store_true", help="only the verdict")
    noise.add_argument("--verbose", "-v", action="store_true", help="also every run made")


def _add_investigation_options(parser: argparse.ArgumentParser) -> None:
    """The options a plan fixes for all its shards, shared with ``run``."""
    parser.add_argument("--cwd", type=Path, default=Path(), help="project folder (default: here)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    parser.add_argument("--junit", action="append", default=[], help="reuse results from JUnit XML (glob, repeatable)")
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
    _add_speed_options(parser)


def _add_speed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation",
        choices=["fork", "process"],
        default=DEFAULT_ISOLATION,
        help="fork: collect once, fork a child per rerun (default where available); process: a fresh pytest per run",
    )
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help="independent reruns at once (default: CPU count)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="flakehound", description="Classify every failing test and gate the pull request.")
    parser.add_argument("--version", action="version", version=f"flakehound {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="run the suite and investigate every failure")
    _add_run_options(run)
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    _add_scale_commands(commands)
    bisect = commands.add_parser("bisect", help="find the test that makes VICTIM fail, and what it leaves behind")
    bisect.add_argument("--victim", required=True, help="node id of the test that fails after others")
    where = bisect.add_mutually_exclusive_group()
    where.add_argument("--order-file", type=Path, help="the failing order, one node id per line")
    where.add_argument("--seed", default=None, help="the shuffled order with this seed (from a report)")
    bisect.add_argument("--cwd", type=Path, default=Path(), help="project folder (default: here)")
    bisect.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    _add_speed_options(bisect)
    bisect.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    demo = commands.add_parser("demo", help="investigate the bundled demo suite")
    demo.add_argument("--report", type=Path, default=None, help="also save the JSON report here")
    demo.add_argument("--budget-seconds", default=None, help="time for the root-cause experiments (0: none)")
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


def _add_scale_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    plan = commands.add_parser("plan", help="split the investigation of the original run across N jobs")
    _add_investigation_options(plan)
    plan.add_argument("--shards", type=int, required=True, help="jobs in the matrix (fewer if fewer failures)")
    plan.add_argument("--out", type=Path, default=Path("flakehound-plan.json"), help="where the plan goes")
    plan.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    plan.set_defaults(report=Path("flakehound-report.json"), junit_out=None)
    shard = commands.add_parser("investigate", help="investigate one shard of a plan into a partial report")
    shard.add_argument("--plan", type=Path, required=True, help="the plan `flakehound plan` wrote")
    shard.add_argument("--shard", type=int, required=True, help="which shard (a value of the plan's matrix)")
    shard.add_argument("--report", type=Path, default=None, help="partial report (default flakehound-part-N.json)")
    shard.add_argument("--cwd", type=Path, default=Path(), help="project folder (default: here)")
    shard.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    _add_speed_options(shard)
    _add_shard_options(shard)
    shard.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments (default: the plan's)")
    merge = commands.add_parser("merge", help="merge the partial reports of a plan; exit with the gate's verdict")
    merge.add_argument("parts", type=Path, nargs="+", help="every shard's partial report")
    merge.add_argument("--report", type=Path, default=Path("flakehound-report.json"), help="JSON report path")


def _check_cwd(cwd: Path) -> None:
    if not cwd.is_dir():
        msg = f"--cwd {str(cwd)!r} is not a folder; pass the project folder"
        raise ConfigError(msg)


def _pytest_args(args: argparse.Namespace) -> list[str]:
    return list(args.pytest_args[args.pytest_args[:1] == ["--"] :])


def _settings_from(args: argparse.Namespace) -> Settings:
    pytest_args = _pytest_args(args)
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
    _check_cwd(args.cwd)
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


def _installed_plugins(settings: Settings, env: Mapping[str, str]) -> list[str]:
    probed = probe_plugins(settings.python, settings.cwd, env)
    if probed is None:
        msg = f"pytest is not installed for {settings.python}; install it there (pip install pytest) or pass --python"
        raise ConfigError(msg)
    return probed[1]


def _original_and_coverage(
    settings: Settings, executor: Executor, junit_results: list[TestResult] | None, workdir: Path
) -> tuple[Run, CoverageSummary | None, str | None]:
    """The original run (measured, plain, or from JUnit XML), its coverage, and why coverage is missing."""
    if junit_results is not None:
        return junit_run(junit_results), _read_coverage(settings, None), None
    if not settings.measure_coverage or settings.coverage_files:
        return run_original(settings, executor), _read_coverage(settings, None), None
    data_file = workdir / "coverage" / ".coverage"
    data_file.parent.mkdir()
    prefix = measure_argv(settings.python, data_file)
    original = run_original(settings, executor, argv_prefix=prefix, drop_env=OUTER_MEASUREMENT_VARS)
    if original.ended is not RunEnd.COMPLETED:
        return original, None, f"coverage was not measured: the original run ended early ({original.ended.value})"
    return original, _read_coverage(settings, data_file), None


def _progress_bar(stack: ExitStack, console: Console, quiet: bool) -> _Bar | None:
    if not console.is_terminal or quiet:
        return None
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console
    )
    stack.enter_context(bar)
    return _Bar(bar)


def _write_json(text: str, path: Path, option: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        msg = f"{option} {str(path)!r} cannot be written ({error.strerror}); pass a writable path"
        raise ConfigError(msg) from None


def _save(report: Report, settings: Settings, original: Run) -> None:
    _write_json(report.model_dump_json(indent=2), settings.report, "--report")
    if settings.junit_out is not None:
        from flakehound.junit import render_junit

        settings.junit_out.write_text(render_junit(original.results, report), encoding="utf-8")


def _open_executor(
    settings: Settings, env: Mapping[str, str], installed: Sequence[str], workdir: Path, isolation: Isolation, jobs: int
) -> AbstractContextManager[WorkerPool]:
    return open_executor(
        isolation=isolation,
        jobs=jobs,
        python=settings.python,
        cwd=settings.cwd,
        pytest_args=settings.pytest_args,
        env=env,
        workdir=workdir / "runs",
        extra_args=neutralising_args(installed, env),
        hash_seed=_hash_seed(settings, env),
    )


def _hash_seed(settings: Settings, env: Mapping[str, str]) -> str | None:
    """The hash seed forked runs share: the user's if pinned, else one drawn from ``--seed`` (replayable)."""
    if env.get("PYTHONHASHSEED", "random") != "random":
        return None  # already in the environment every run gets
    return str(random.Random(f"{settings.seed}:PYTHONHASHSEED").randrange(1, 2**32))  # noqa: S311 - not secret


def _budget_seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        msg = f"--budget-seconds must be a number of seconds, 0 or more, got {raw!r}; pass e.g. --budget-seconds 300"
        raise ConfigError(msg)
    return seconds


def _lab(
    settings: Settings, env: Mapping[str, str], hints_files: Sequence[Path], budget: float | None, isolation: Isolation
) -> Lab:
    """The experiments' equipment on this machine, and the signature catalog (the user's files first)."""
    catalog = load_catalog([settings.cwd / path for path in hints_files])
    count = busy_process_count()
    return Lab(
        catalog=catalog,
        clock=time.monotonic,
        started=time.monotonic(),
        budget_seconds=budget,
        busy=lambda: busy_cores(count),
        busy_processes=count,
        faketime=find_libfaketime(),
        pinned_hash_seed=env.get("PYTHONHASHSEED", "random") != "random",
        reruns_vary_hash_seed=isolation == "process",
    )


def investigate(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    console: Console,
    quiet: bool = False,
    verbose: bool = False,
    command: Sequence[str],
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    hints_files: Sequence[Path] = (),
    budget_seconds: float | None = None,
    given: tuple[Run, CoverageSummary | None, str | None] | None = None,
    shard: ShardOf | None = None,
    commit: str | None = None,
) -> Report:
    """Probe pytest, run the pipeline with ``jobs`` forking (or fresh-process) workers, save and print the report.

    ``given`` is an original run made elsewhere (a plan's), with its coverage and why that is missing.
    """
    env = child_environment(environ)
    lab = _lab(settings, env, hints_files, budget_seconds, isolation)
    installed = _installed_plugins(settings, env)
    junit_results = None
    if settings.junit:
        from flakehound.sources import read_junit

        junit_results = read_junit(settings.junit, settings.cwd)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
        executor = stack.enter_context(_open_executor(settings, env, installed, workdir, isolation, jobs))
        progress = _progress_bar(stack, console, quiet)
        # Fork servers collect side by side: from the start when the original run is forked too (or
        # already made), else once it has failed; a green run under coverage starts none.
        measured = given is None and junit_results is None and settings.measure_coverage and not settings.coverage_files
        if isolation == "fork" and not measured:
            executor.warm()
        original, coverage, coverage_note = given or _original_and_coverage(settings, executor, junit_results, workdir)
        if isolation == "fork" and any(result.outcome.is_failure for result in original.results):
            executor.warm()
        report = analyse(
            settings,
            executor,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=__version__,
            command=command,
            disabled_plugins=[name for name in ORDER_AND_RERUN_PLUGINS if name in installed],
            original=original,
            original_from_junit=junit_results is not None or given is not None,
            coverage=coverage,
            snapshot=lambda order, after: executor.snapshot_state(order, after, settings.timeout or 120),
            progress=progress,
            lab=lab,
            shard=shard,
            commit=commit,
        )
    if coverage_note is not None:
        report = report.model_copy(update={"notes": (*report.notes, coverage_note)})
    _save(report, settings, original)
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
        isolation=args.isolation,
        jobs=args.jobs,
        hints_files=args.hints_file,
        budget_seconds=_budget_seconds(args.budget_seconds),
    )
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _commit(environ: Mapping[str, str], cwd: Path) -> str | None:
    """The commit under test: ``GITHUB_SHA`` in a workflow, else git's HEAD in ``cwd``, else unknown."""
    if environ.get("GITHUB_SHA"):
        return environ["GITHUB_SHA"]
    git = shutil.which("git", path=environ.get("PATH", ""))
    if git is None:
        return None
    completed = subprocess.run(
        [git, "rev-parse", "--verify", "HEAD"], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def _read_input(path: Path, what: str, advice: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        msg = f"{what} {str(path)!r} cannot be read ({error.strerror}); {advice}"
        raise ConfigError(msg) from None


def make_plan(
    settings: Settings,
    *,
    count: int,
    out: Path,
    environ: Mapping[str, str],
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    out_name: str = "--out",
) -> ShardPlan:
    """Run the suite once (or read its JUnit results), split its failures into ``count`` shards, save the plan.

    ``out_name`` is how the user spells ``out`` (``--out``, ``INPUT_PLAN``) in the error when it cannot be written.
    """
    given: tuple[Run, CoverageSummary | None, str | None]
    with ExitStack() as stack:
        if settings.junit:
            from flakehound.sources import read_junit

            given = (junit_run(read_junit(settings.junit, settings.cwd)), _read_coverage(settings, None), None)
        else:
            env = child_environment(environ)
            installed = _installed_plugins(settings, env)
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
            executor = stack.enter_context(_open_executor(settings, env, installed, workdir, isolation, jobs))
            given = _original_and_coverage(settings, executor, None, workdir)
    original, coverage, coverage_note = given
    plan = plan_shards(
        original.results,
        plan_settings(settings),
        count=count,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        commit=_commit(environ, settings.cwd),
        coverage=coverage,
    ).model_copy(update={"notes": (coverage_note,) if coverage_note else ()})
    _write_json(plan.model_dump_json(indent=2), out, out_name)
    return plan


def describe_plan(plan: ShardPlan, out: str) -> list[str]:
    """What each shard will do, then the plan's id, seed and file: the lines printed after planning."""
    lines = [
        f"shard {shard.index}: {len(shard.failures)} failure(s), about {shard.estimated_seconds:.0f} s"
        + (", and the shuffled orders in full (latent tests)" if shard.finds_latent else "")
        for shard in plan.shards
    ]
    return [*lines, f"plan {plan.plan_id} (seed {plan.settings.seed}): {out}"]


def _plan(args: argparse.Namespace, environ: Mapping[str, str], console: Console, errors: Console) -> int:
    settings = _settings_from(args)
    plan = make_plan(
        settings, count=args.shards, out=args.out, environ=environ, isolation=args.isolation, jobs=args.jobs
    )
    matrix = json.dumps(plan.matrix, separators=(",", ":"))
    if environ.get("GITHUB_OUTPUT"):
        with Path(environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as output:
            output.write(f"matrix={matrix}\nshards={len(plan.shards)}\n")
    for line in describe_plan(plan, str(args.out)):
        errors.print(line, markup=False)
    console.out(matrix, highlight=False)
    return ExitCode.OK


_SHARD_NAMES = {**_NAMES, "plan": "--plan", "shard": "--shard"}


def investigate_shard(
    plan_file: Path,
    index: int,
    *,
    cwd: Path,
    python: str,
    pytest_args: Sequence[str],
    report: Path | None,
    environ: Mapping[str, str],
    console: Console,
    command: Sequence[str],
    quiet: bool = False,
    verbose: bool = False,
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    hints_files: Sequence[Path] = (),
    budget_seconds: float | None = None,
    names: Mapping[str, str] = _SHARD_NAMES,
) -> Report:
    """Investigate shard ``index`` of the plan in ``plan_file`` and save the partial report.

    The plan fixes the investigation's options; ``pytest_args`` (when not empty) replaces the plan's.
    ``report`` defaults to ``flakehound-part-INDEX.json``. ``names`` spells ``plan``, ``shard`` and the
    settings as the user does (``--plan``, ``INPUT_PLAN``) in errors.
    """
    advice = "pass the file `flakehound plan` wrote"
    plan = read_plan(_read_input(plan_file, names["plan"], advice), str(plan_file))
    if not 0 <= index < len(plan.shards):
        msg = (
            f"{names['shard']} must be one of the plan's shards 0 to {len(plan.shards) - 1}, got {index};"
            " pass a matrix value"
        )
        raise ConfigError(msg)
    share = share_of(plan, index)
    _check_cwd(cwd)
    commit = _commit(environ, cwd)
    if plan.commit and commit and commit != plan.commit:
        msg = (
            f"{names['plan']} {str(plan_file)!r} was made for commit {plan.commit}, but this checkout is {commit};"
            " run the plan and its shards on one commit"
        )
        raise ConfigError(msg)
    values = {
        **plan.settings.model_dump(),
        "cwd": cwd.resolve(),
        "python": python,
        "pytest_args": tuple(pytest_args or plan.settings.pytest_args),
        "report": report or Path(f"flakehound-part-{index}.json"),
    }
    settings = build_settings(values, names)
    return investigate(
        settings,
        environ=environ,
        console=console,
        quiet=quiet,
        verbose=verbose,
        command=command,
        isolation=isolation,
        jobs=jobs,
        hints_files=hints_files,
        budget_seconds=budget_seconds,
        given=(junit_run(plan.original), plan.coverage, plan.notes[0] if plan.notes else None),
        shard=share,
        commit=plan.commit or commit,
    )


def _investigate_shard(
    args: argparse.Namespace, environ: Mapping[str, str], console: Console, argv: Sequence[str]
) -> int:
    investigate_shard(
        args.plan,
        args.shard,
        cwd=args.cwd,
        python=args.python,
        pytest_args=_pytest_args(args),
        report=args.report,
        environ=environ,
        console=console,
        command=["flakehound", *argv],
        quiet=args.quiet,
        verbose=args.verbose,
        isolation=args.isolation,
        jobs=args.jobs,
        hints_files=args.hints_file,
        budget_seconds=_budget_seconds(args.budget_seconds),
    )
    return ExitCode.OK


def merge_parts(
    parts: Sequence[Path], *, report: Path, command: Sequence[str], report_name: str = "--report"
) -> Report:
    """Read every shard's partial report, merge them into one report with the gate decided again, and save it."""
    advice = "pass the files `flakehound investigate --plan` wrote"
    read = {str(path): read_part(_read_input(path, "part", advice), str(path)) for path in parts}
    merged = merge_reports(read, command=command)
    _write_json(merged.model_dump_json(indent=2), report, report_name)
    return merged


def _merge(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    report = merge_parts(args.parts, report=args.report, command=["flakehound", *argv])
    console.print(render_terminal(report))
    console.print(f"report: {args.report}", style="dim", soft_wrap=True)
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


def _failing_order(args: argparse.Namespace, collected: Sequence[str]) -> list[str]:
    if args.order_file is not None:
        try:
            text = args.order_file.read_text(encoding="utf-8")
        except OSError as error:
            msg = f"--order-file {str(args.order_file)!r} cannot be read ({error.strerror}); pass a file of node ids"
            raise ConfigError(msg) from None
        return [line.strip() for line in text.splitlines() if line.strip()]
    if args.seed is not None:
        return list(permute(collected, int(args.seed)))
    return list(collected)


def _bisect(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    pytest_args = _pytest_args(args)
    values = {"cwd": args.cwd.resolve(), "python": args.python, "pytest_args": tuple(pytest_args), "seed": 0}
    if args.seed is not None:
        values["seed"] = args.seed
    _check_cwd(args.cwd)
    settings = build_settings(values, _NAMES)
    env = child_environment(environ)
    installed = _installed_plugins(settings, env)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
        executor = stack.enter_context(_open_executor(settings, env, installed, workdir, args.isolation, args.jobs))
        collection = executor.collect(DEFAULT_ORIGINAL_TIMEOUT)
        if not collection.collected:
            check_original(collection, settings)
        order = _failing_order(args, collection.collected)
        if args.victim not in order or args.victim not in collection.collected:
            msg = (
                f"--victim {args.victim!r} is not among the {len(collection.collected)} tests pytest collects"
                " in that order; pass a node id exactly as pytest prints it"
            )
            raise ConfigError(msg)
        prefix = order[: order.index(args.victim)]

        def probe(run_order: Sequence[str]) -> dict[str, bool]:
            run = executor.run(RunRequest(order=tuple(run_order), timeout=DEFAULT_ORIGINAL_TIMEOUT))
            return {result.nodeid: result.outcome.is_failure for result in run.results}

        result = find_polluters([args.victim], prefix, probe)[args.victim]
        finding = to_polluter(result)
        if finding is None:
            msg = f"--victim {args.victim!r} is not order-dependent here: {result.reason}"
            raise ConfigError(msg)
        state = executor.snapshot_state(finding.nodeids, finding.nodeids[-1], DEFAULT_ORIGINAL_TIMEOUT)
    changes = (
        rank_changes(diff_states(state["before"], state["after"]), args.victim) if state and state["after"] else []
    )
    finding = finding.model_copy(update={"state_changes": tuple(changes[:KEPT_CHANGES])})
    console.print(f"{args.victim} {describe_finding(finding, 'polluter')}", soft_wrap=True, markup=False)
    for change in changes[1:KEPT_CHANGES]:
        console.print(f"  also changed: {change.kind} {change.name}: {change.before} -> {change.after}", markup=False)
    console.print(
        "reproduce: " + minimal_reproduce(settings.python, finding.nodeids, args.victim), soft_wrap=True, markup=False
    )
    return ExitCode.OK


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
        report = investigate(
            settings,
            environ=env,
            console=console,
            command=["flakehound", "demo"],
            budget_seconds=_budget_seconds(args.budget_seconds),
        )
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


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a cancelled workflow) like Ctrl-C while a command runs, then put the old handler back."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        stack = ExitStack()
        stack.enter_context(_terminate_as_interrupt())
        commands = {
            "run": lambda: _run(args, environ, console, argv),
            "plan": lambda: _plan(args, environ, console, errors),
            "investigate": lambda: _investigate_shard(args, environ, console, argv),
            "merge": lambda: _merge(args, console, argv),
            "demo": lambda: _demo(args, environ, console),
            "bisect": lambda: _bisect(args, environ, console),
            "report": lambda: _report(args, console),
            "schema": lambda: _schema(console),
            "action": lambda: _action(environ),
            "publish": lambda: _publish(args, environ),
        }
        with stack:
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
