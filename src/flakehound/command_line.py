"""The command line's words: argparse's parser of every subcommand, and its options turned into ``Settings``.

Part of the CLI shell (``cli`` runs the commands); the README's options tables are checked against it.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flakehound import __version__
from flakehound.config import build_settings
from flakehound.errors import ConfigError
from flakehound.execution.pool import DEFAULT_ISOLATION, DEFAULT_JOBS
from flakehound.workflow import check_cwd

if TYPE_CHECKING:
    from flakehound.config import Settings

__all__ = ["NAMES", "SHARD_NAMES", "budget_seconds", "build_parser", "pytest_args", "settings_from"]

NAMES = {
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


SHARD_NAMES = {**NAMES, "plan": "--plan", "shard": "--shard"}

# Help texts several commands share. Every "(default: X)" says what the README's tables say (a test checks).
CWD_HELP = "the project folder (default: .)"
PYTHON_HELP = "the interpreter that runs pytest (default: this interpreter)"
BUDGET_HELP = "seconds for the investigation, from its start; experiments that do not fit are skipped and named"


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> Any:  # noqa: ANN401 - argparse's signature is NoReturn in spirit
        raise ConfigError(message)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    _add_investigation_options(parser)
    parser.add_argument("--junit-out", type=Path, help="also write JUnit XML with reruns and labels")
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("flakehound-report.json"),
        help="where the JSON report goes (default: %(default)s)",
    )
    _add_shard_options(parser)


def _add_shard_options(parser: argparse.ArgumentParser) -> None:
    """What each machine of an investigation decides for itself: time for experiments, hints, noise."""
    parser.add_argument(
        "--budget-seconds", default=None, help=BUDGET_HELP + " (default: 10x the original run, at least 60)"
    )
    parser.add_argument(
        "--hints-file",
        action="append",
        default=[],
        type=Path,
        help="more failure signatures (TOML, a file under --cwd; repeatable)",
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--quiet", "-q", action="store_true", help="only the verdict")
    noise.add_argument("--verbose", "-v", action="store_true", help="also every run made")


def _add_investigation_options(parser: argparse.ArgumentParser) -> None:
    """The options a plan fixes for all its shards, shared with ``run``."""
    parser.add_argument("--cwd", type=Path, default=Path(), help=CWD_HELP)
    parser.add_argument("--python", default=sys.executable, help=PYTHON_HELP)
    parser.add_argument("--junit", action="append", default=[], help="reuse results from JUnit XML (glob, repeatable)")
    parser.add_argument("--no-coverage", action="store_true", help="do not measure coverage; no coverage gate")
    parser.add_argument(
        "--coverage-file", action="append", default=[], help="reuse .coverage data files or one coverage.xml"
    )
    parser.add_argument(
        "--min-coverage", default=100, help="gate: lowest total coverage in percent (default: %(default)s)"
    )
    parser.add_argument(
        "--min-diff-coverage", default=100, help="gate: lowest changed-line coverage in percent (default: %(default)s)"
    )
    parser.add_argument("--base", default=None, help="git ref to diff against for changed-line coverage")
    parser.add_argument("--reruns", default=5, help="runs of each failing test alone (default: %(default)s)")
    parser.add_argument("--replays", default=3, help="replays of its original order (default: %(default)s)")
    parser.add_argument("--orders", default=None, help="seeded shuffled orders (default: 3, or 2 on a green suite)")
    parser.add_argument("--seed", default=None, help="seed of the shuffles (default: random, printed)")
    parser.add_argument(
        "--max-failures", default=50, help="investigate at most this many failures (default: %(default)s)"
    )
    parser.add_argument("--min-pass-rate", default=100, help="gate: lowest pass rate in percent (default: %(default)s)")
    parser.add_argument("--fail-on-latent", action="store_true", help="block on tests that fail only when shuffled")
    parser.add_argument(
        "--timeout",
        default=None,
        help="seconds per run, then the whole process group is killed"
        " (default: 1800 for the original run, 3x its tests' time + 30 s for a rerun)",
    )
    _add_speed_options(parser)


def _add_speed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation",
        choices=["fork", "process"],
        default=DEFAULT_ISOLATION,
        help="fork: collect once, fork a child per rerun; process: a fresh pytest per run"
        " (default: fork where the OS has it)",
    )
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help="independent reruns at once (default: number of CPUs)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="flakehound", description="Classify every failing test and gate the pull request.")
    parser.add_argument("--version", action="version", version=f"flakehound {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="run the suite and investigate every failure")
    _add_run_options(run)
    run.add_argument(
        "--history", type=Path, default=None, help="a folder of earlier report files: say how each test fared there"
    )
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    _add_scale_commands(commands)
    history = commands.add_parser("history", help="every test that failed in a folder of reports, most flaky first")
    history.add_argument("folder", type=Path, help="a folder of JSON reports flakehound saved")
    bisect = commands.add_parser("bisect", help="find the test that makes VICTIM fail, and what it leaves behind")
    bisect.add_argument("--victim", required=True, help="node id of the test that fails after others")
    where = bisect.add_mutually_exclusive_group()
    where.add_argument("--order-file", type=Path, help="search only in this order, one node id per line")
    where.add_argument(
        "--seed", default=None, help="search only in the shuffled order of this seed (a report names it)"
    )
    bisect.add_argument("--cwd", type=Path, default=Path(), help=CWD_HELP)
    bisect.add_argument("--python", default=sys.executable, help=PYTHON_HELP)
    _add_speed_options(bisect)
    bisect.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    demo = commands.add_parser("demo", help="investigate the bundled demo suite")
    demo.add_argument("--report", type=Path, default=None, help="also save the JSON report here")
    demo.add_argument(
        "--budget-seconds", default=None, help=BUDGET_HELP + " (default: 10x the original run, at least 60)"
    )
    report = commands.add_parser("report", help="render a saved report again")
    report.add_argument("path", type=Path, help="a JSON report flakehound saved")
    report.add_argument(
        "--format", choices=["terminal", "markdown", "json"], default="terminal", help="(default: %(default)s)"
    )
    commands.add_parser("schema", help="print the report's JSON Schema")
    commands.add_parser("action", help="run as the GitHub Action (INPUT_* and GITHUB_* variables)")
    publish = commands.add_parser("publish", help="post a saved report to its pull request (workflow_run)")
    publish.add_argument("--report", type=Path, required=True, help="the JSON report the Action saved")
    publish.add_argument("--event-file", type=Path, required=True, help="the event the Action saved beside it")
    publish.add_argument(
        "--comment-mode", default="always", help="always, on-failure, changes or off (default: %(default)s)"
    )
    publish.add_argument("--check-name", default="flakehound", help="check run and status name (default: %(default)s)")
    publish.add_argument(
        "--status", default="check-run", help="check-run, commit-status, both or none (default: %(default)s)"
    )
    publish.add_argument(
        "--working-directory",
        default=None,
        help="the project folder the Action ran in, relative to the repository (default: the repository's root)",
    )
    return parser


def _add_scale_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    plan = commands.add_parser("plan", help="split the investigation of the original run across N jobs")
    _add_investigation_options(plan)
    plan.add_argument("--shards", type=int, required=True, help="jobs in the matrix (fewer if fewer failures)")
    plan.add_argument(
        "--out", type=Path, default=Path("flakehound-plan.json"), help="where the plan goes (default: %(default)s)"
    )
    plan.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments")
    plan.set_defaults(report=Path("flakehound-report.json"), junit_out=None)
    shard = commands.add_parser("investigate", help="investigate one shard of a plan into a partial report")
    shard.add_argument("--plan", type=Path, required=True, help="the plan `flakehound plan` wrote")
    shard.add_argument("--shard", type=int, required=True, help="which shard (a value of the plan's matrix)")
    shard.add_argument("--report", type=Path, default=None, help="partial report (default: flakehound-part-N.json)")
    shard.add_argument("--cwd", type=Path, default=Path(), help=CWD_HELP)
    shard.add_argument("--python", default=sys.executable, help=PYTHON_HELP)
    _add_speed_options(shard)
    _add_shard_options(shard)
    shard.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest arguments (default: the plan's)")
    merge = commands.add_parser("merge", help="merge the partial reports of a plan; exit with the gate's verdict")
    merge.add_argument("parts", type=Path, nargs="+", help="every shard's partial report")
    merge.add_argument(
        "--report",
        type=Path,
        default=Path("flakehound-report.json"),
        help="where the JSON report goes (default: %(default)s)",
    )


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The arguments after ``--``, which go to pytest."""
    return list(args.pytest_args[args.pytest_args[:1] == ["--"] :])


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of ``run`` and ``plan``: the options validated, a random seed when none is given."""
    arguments = pytest_args(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    values = {
        "cwd": args.cwd.resolve(),
        "python": args.python,
        "pytest_args": tuple(arguments),
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
    check_cwd(args.cwd)
    return build_settings(values, NAMES)


def budget_seconds(raw: str | None) -> float | None:
    """``--budget-seconds`` as seconds, or None for the default."""
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
