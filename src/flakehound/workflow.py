"""The one orchestration layer: run, investigate, plan, shard, merge and bisect, over plain settings.

Both shells (``cli`` and ``action``) call these functions; they call neither shell, print nothing and
publish nothing. Each function opens what it needs (a temporary folder, the executor's worker pool),
runs the engine, saves the report or plan file (before any network call: publishing is the shells'),
and returns the result for the shell to render.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from flakehound import __version__
from flakehound.config import DEFAULT_ORIGINAL_TIMEOUT, build_settings
from flakehound.engine.bisect import to_polluter
from flakehound.engine.cancellation import cancelled_report
from flakehound.engine.diagnose import KEPT_CHANGES, minimal_reproduce, probes
from flakehound.engine.experiments import Lab
from flakehound.engine.original import check_original, junit_run, run_original
from flakehound.engine.pipeline import analyse
from flakehound.engine.shards import merge_reports, plan_settings, plan_shards, read_part, read_plan, share_of
from flakehound.engine.signatures import load_catalog
from flakehound.engine.statediff import diff_states, rank_changes
from flakehound.engine.victim_search import VictimSearch, bisect_orders, search_victim
from flakehound.errors import ConfigError
from flakehound.execution.lab import busy_cores, busy_process_count, find_libfaketime
from flakehound.execution.pool import DEFAULT_ISOLATION, DEFAULT_JOBS, open_executor, run_batch
from flakehound.execution.runner import (
    ORDER_AND_RERUN_PLUGINS,
    RunInterrupted,
    RunRequest,
    child_environment,
    neutralising_args,
    probe_plugins,
)
from flakehound.inputs.covdata import OUTER_MEASUREMENT_VARS, measure_argv, read_coverage_files, read_measured
from flakehound.models import Run, RunEnd

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from flakehound.config import Settings
    from flakehound.engine.history import History
    from flakehound.engine.investigation import Progress
    from flakehound.engine.shards import ShardPlan
    from flakehound.execution.pool import Isolation, WorkerPool
    from flakehound.execution.runner import Executor
    from flakehound.models import CoverageSummary, Polluter, Report, ShardOf, StateChange, TestResult

__all__ = [
    "Bisection",
    "bisect",
    "check_cwd",
    "describe_plan",
    "find_commit",
    "investigate",
    "investigate_shard",
    "make_plan",
    "merge_parts",
    "read_input",
    "terminate_as_interrupt",
    "write_json",
]


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a cancelled workflow) like Ctrl-C while a command runs, then put the old handler back.

    Both shells run their commands inside it, so a cancelled job still writes what it had found.
    """

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_cwd(cwd: Path) -> None:
    """Refuse a ``--cwd`` that is not a folder."""
    if not cwd.is_dir():
        msg = f"--cwd {str(cwd)!r} is not a folder; pass the project folder"
        raise ConfigError(msg)


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


def write_json(text: str, path: Path, option: str) -> None:
    """Write a JSON file; ``option`` names where its path came from when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        msg = f"{option} {str(path)!r} cannot be written ({error.strerror}); pass a writable path"
        raise ConfigError(msg) from None


def _save(report: Report, settings: Settings, original: Run) -> None:
    write_json(report.model_dump_json(indent=2), settings.report, "--report")
    if settings.junit_out is not None:
        from flakehound.inputs.junit import render_junit

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
    command: Sequence[str],
    progress: Progress | None = None,
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    hints_files: Sequence[Path] = (),
    budget_seconds: float | None = None,
    given: tuple[Run, CoverageSummary | None, str | None] | None = None,
    shard: ShardOf | None = None,
    commit: str | None = None,
    history: History | None = None,
) -> Report:
    """Probe pytest, run the pipeline with ``jobs`` forking (or fresh-process) workers, save the report.

    ``given`` is an original run made elsewhere (a plan's), with its coverage and why that is missing;
    ``history``, earlier runs: what failed there is rerun too, and each failure says how it fared there.
    """
    env = child_environment(environ)
    lab = _lab(settings, env, hints_files, budget_seconds, isolation)
    installed = _installed_plugins(settings, env)
    junit_results = None
    if settings.junit:
        from flakehound.inputs.sources import read_junit

        junit_results = read_junit(settings.junit, settings.cwd)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
        executor = stack.enter_context(_open_executor(settings, env, installed, workdir, isolation, jobs))
        # Fork servers collect side by side: all from the start when the original run is forked too (or
        # made); under coverage, the project copies while it runs, the project's own once it has failed.
        measured = given is None and junit_results is None and settings.measure_coverage and not settings.coverage_files
        disabled = [name for name in ORDER_AND_RERUN_PLUGINS if name in installed]
        try:
            if isolation == "fork":
                executor.warm(copies_only=measured)
            original, coverage, coverage_note = given or _original_and_coverage(
                settings, executor, junit_results, workdir
            )
        except KeyboardInterrupt as interruption:  # SIGTERM (a cancelled workflow) or Ctrl-C: keep what ran
            original = interruption.partial if isinstance(interruption, RunInterrupted) else Run(results=())
            coverage_note = None
            report = cancelled_report(
                settings,
                original.model_copy(update={"ended": RunEnd.CANCELLED}),
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                version=__version__,
                command=command,
                disabled_plugins=disabled,
                shard=shard,
                commit=commit,
            )
        else:
            if isolation == "fork" and any(result.outcome.is_failure for result in original.results):
                executor.warm()
            report = analyse(
                settings,
                executor,
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                version=__version__,
                command=command,
                disabled_plugins=disabled,
                original=original,
                original_from_junit=junit_results is not None or given is not None,
                coverage=coverage,
                snapshot=lambda order, after: executor.snapshot_state(order, after, settings.timeout or 120),
                progress=progress,
                lab=lab,
                shard=shard,
                commit=commit,
                history=history,
            )
    # Saved once the executor has put the project back as it was: the report may lie inside it.
    if coverage_note is not None:
        report = report.model_copy(update={"notes": (*report.notes, coverage_note)})
    _save(report, settings, original)
    return report


def find_commit(environ: Mapping[str, str], cwd: Path) -> str | None:
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


def read_input(path: Path, what: str, advice: str) -> str:
    """Read a file the user named (``what``); when it cannot be read, say so with ``advice``."""
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
            from flakehound.inputs.sources import read_junit

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
        commit=find_commit(environ, settings.cwd),
        coverage=coverage,
    ).model_copy(update={"notes": (coverage_note,) if coverage_note else ()})
    write_json(plan.model_dump_json(indent=2), out, out_name)
    return plan


def describe_plan(plan: ShardPlan, out: str) -> list[str]:
    """What each shard will do, then the plan's id, seed and file: the lines printed after planning."""
    lines = [
        f"shard {shard.index}: {len(shard.failures)} failure(s), about {shard.estimated_seconds:.0f} s"
        + (", and the shuffled orders in full (latent tests)" if shard.finds_latent else "")
        for shard in plan.shards
    ]
    return [*lines, f"plan {plan.plan_id} (seed {plan.settings.seed}): {out}"]


def investigate_shard(
    plan_file: Path,
    index: int,
    *,
    cwd: Path,
    python: str,
    pytest_args: Sequence[str],
    report: Path | None,
    environ: Mapping[str, str],
    command: Sequence[str],
    names: Mapping[str, str],
    progress: Progress | None = None,
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    hints_files: Sequence[Path] = (),
    budget_seconds: float | None = None,
) -> Report:
    """Investigate shard ``index`` of the plan in ``plan_file`` and save the partial report.

    The plan fixes the investigation's options; ``pytest_args`` (when not empty) replaces the plan's.
    ``report`` defaults to ``flakehound-part-INDEX.json``. ``names`` spells ``plan``, ``shard`` and the
    settings as the user does (``--plan``, ``INPUT_PLAN``) in errors.
    """
    advice = "pass the file `flakehound plan` wrote"
    plan = read_plan(read_input(plan_file, names["plan"], advice), str(plan_file))
    if not 0 <= index < len(plan.shards):
        msg = (
            f"{names['shard']} must be one of the plan's shards 0 to {len(plan.shards) - 1}, got {index};"
            " pass a matrix value"
        )
        raise ConfigError(msg)
    share = share_of(plan, index)
    check_cwd(cwd)
    commit = find_commit(environ, cwd)
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
        command=command,
        progress=progress,
        isolation=isolation,
        jobs=jobs,
        hints_files=hints_files,
        budget_seconds=budget_seconds,
        given=(junit_run(plan.original), plan.coverage, plan.notes[0] if plan.notes else None),
        shard=share,
        commit=plan.commit or commit,
    )


def merge_parts(
    parts: Sequence[Path], *, report: Path, command: Sequence[str], report_name: str = "--report"
) -> Report:
    """Read every shard's partial report, merge them into one report with the gate decided again, and save it."""
    advice = "pass the files `flakehound investigate --plan` wrote"
    read = {str(path): read_part(read_input(path, "part", advice), str(path)) for path in parts}
    merged = merge_reports(read, command=command)
    write_json(merged.model_dump_json(indent=2), report, report_name)
    return merged


@dataclass(frozen=True)
class Bisection:
    """What ``bisect`` found: the flipping tests (with the state they leave), every change, the replay command.

    ``finding`` is None when nothing was found; ``reason`` then says what was tried.
    """

    search: VictimSearch
    finding: Polluter | None = None
    changes: Sequence[StateChange] = ()
    reproduce: str | None = None
    reason: str | None = None


def bisect(
    settings: Settings,
    victim: str,
    *,
    order_file: Path | None,
    environ: Mapping[str, str],
    isolation: Isolation = DEFAULT_ISOLATION,
    jobs: int = DEFAULT_JOBS,
    seeded: bool = False,
) -> Bisection:
    """Find the tests that flip ``victim``: make it fail (a polluter) or, when it fails alone, pass (a state-setter).

    The order searched is ``order_file``'s, the shuffle of ``settings.seed`` when ``seeded``, or else
    the first of pytest's order and shuffles of it (``bisect_orders``) in which the victim flips.
    """
    env = child_environment(environ)
    installed = _installed_plugins(settings, env)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flakehound-")))
        executor = stack.enter_context(_open_executor(settings, env, installed, workdir, isolation, jobs))
        if isolation == "fork":
            executor.warm()  # every worker collects now, for the search's runs side by side
        collection = executor.collect(DEFAULT_ORIGINAL_TIMEOUT)
        if not collection.collected:
            check_original(collection, settings)
        given = None if order_file is None else read_input(order_file, "--order-file", "pass a file of node ids")
        orders = bisect_orders(given, settings.seed if seeded else None, collection.collected)
        if any(victim not in order for _, order in orders) or victim not in collection.collected:
            msg = (
                f"--victim {victim!r} is not among the {len(collection.collected)} tests pytest collects"
                " in that order; pass a node id exactly as pytest prints it"
            )
            raise ConfigError(msg)

        def execute(run_orders: Sequence[Sequence[str]]) -> list[Run]:
            requests = [RunRequest(order=tuple(order), timeout=DEFAULT_ORIGINAL_TIMEOUT) for order in run_orders]
            return run_batch(executor, requests)

        probe, probe_many = probes(execute)
        search = search_victim(victim, orders, probe, probe_many=probe_many)
        finding = to_polluter(search.result) if search.result is not None else None
        if finding is None:
            reason = search.reason or "the search ended without a finding"
            if len(orders) == 1 and search.role is not None and search.result is None:
                reason += "; leave out --order-file and --seed to let bisect try shuffled orders"
            return Bisection(search=search, reason=reason)
        state = executor.snapshot_state(finding.nodeids, finding.nodeids[-1], DEFAULT_ORIGINAL_TIMEOUT)
    changes = rank_changes(diff_states(state["before"], state["after"]), victim) if state and state["after"] else []
    finding = finding.model_copy(update={"state_changes": tuple(changes[:KEPT_CHANGES])})
    reproduce = minimal_reproduce(finding.nodeids, victim)
    return Bisection(search=search, finding=finding, changes=changes[:KEPT_CHANGES], reproduce=reproduce)
