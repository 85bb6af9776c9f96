"""IO. The Executor seam and the fresh-process executor.

Every run flakehound makes goes through ``Executor.run(RunRequest) -> Run``: "these node ids, in
exactly this order, under these conditions, with this timeout". ``ProcessExecutor`` starts one
fresh ``python -m pytest`` per run, talks to it through files (an order file in, a JSON-lines
results stream out), kills its whole process group on timeout, attributes a crash or a hang to the
test that was running, and puts the project folder back as it was before the next run.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flakehound.models import Outcome, Phase, Run, RunEnd, TestResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from flakehound.execution.snapshot import ProjectSnapshot

__all__ = [
    "NOT_STARTED",
    "Executor",
    "FakeClock",
    "ProcessExecutor",
    "RunInterrupted",
    "RunRequest",
    "Tweaks",
    "child_environment",
    "neutralising_args",
    "parse_stream",
    "probe_plugins",
]

#: Variables that carry the runner's credentials. The code under test never sees them.
SECRET_NAMES = frozenset(
    {
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_PAT",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    }
)
SECRET_PREFIXES = ("INPUT_", "ACTIONS_")

#: Plugins that reorder tests, rerun them into green or hide failures, by pytest11 entry-point name.
ORDER_AND_RERUN_PLUGINS = ("randomly", "rerunfailures", "flaky", "xdist", "pytest_cov")

_TAIL = 3000
_KILL_GRACE = 2.0


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for processes that run untrusted code: no tokens, no action inputs."""
    return {
        name: value
        for name, value in environ.items()
        if name not in SECRET_NAMES and not name.startswith(SECRET_PREFIXES)
    }


def neutralising_args(installed: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """Pytest options that switch off pytest-cov when it will be loaded.

    pytest-randomly, pytest-rerunfailures and flaky are unregistered inside the child by our plugin
    (so their options in ``addopts`` and their markers stay valid), and xdist is told there not to
    distribute. pytest-cov starts measuring before any of that, so it is switched off on the command
    line with its own ``--no-cov``, which exists only when the plugin is autoloaded.
    """
    autoloaded = not env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return ["--no-cov"] if autoloaded and "pytest_cov" in set(installed) else []


_PROBE = (
    "import json, importlib.metadata as m\n"
    "try:\n    import pytest\nexcept ImportError:\n    print(json.dumps(None)); raise SystemExit(0)\n"
    "names = sorted({ep.name for ep in m.entry_points(group='pytest11')})\n"
    "print(json.dumps({'pytest': pytest.__version__, 'plugins': names}))\n"
)


def probe_plugins(python: str, cwd: Path, env: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """The pytest version and the installed pytest plugins of ``python``, or None without pytest.

    When ``python`` is this interpreter with the same ``PYTHONPATH``, it sees the same distributions,
    so they are read here, without the cost of starting another interpreter (after forgetting what
    the import system cached, since a setup command may have installed packages since).
    """
    importlib.invalidate_caches()
    here = python == sys.executable and env.get("PYTHONPATH") == os.environ.get("PYTHONPATH")
    if here and importlib.util.find_spec("pytest") is not None:
        names = sorted({entry.name for entry in importlib.metadata.entry_points(group="pytest11")})
        return importlib.metadata.version("pytest"), names
    completed = subprocess.run(
        [python, "-c", _PROBE],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    data = json.loads(completed.stdout or "null")
    if data is None:
        return None
    return data["pytest"], list(data["plugins"])


@dataclass(frozen=True)
class Tweaks:
    """What the experiment plugin changes inside pytest for a run; a forked child can change it too.

    ``random_seed``: reseed ``random`` (and numpy's global generator) with it before each test.
    ``no_network``: refuse outbound connections to anything but loopback for the whole run.
    ``switch_interval``: ``sys.setswitchinterval`` for each test, so threads take turns that often.
    ``clock_phase``: start each test's body when the clock's fraction of a second is this (0 to 1).
    ``frozen_clock``: the wall clock (``time.time``, ``datetime.now``, ...) stands still through each test.
    """

    random_seed: int | None = None
    no_network: bool = False
    switch_interval: float | None = None
    clock_phase: float | None = None
    frozen_clock: bool = False

    def args(self) -> tuple[str, ...]:
        """The pytest options that ask the experiment plugin for these changes in a fresh process."""
        if self == Tweaks():
            return ()
        args = ["-p", "flakehound.execution._experiment_plugin"]
        if self.random_seed is not None:
            args.append(f"--flakehound-random-seed={self.random_seed}")
        if self.no_network:
            args.append("--flakehound-no-network")
        if self.switch_interval is not None:
            args.append(f"--flakehound-switch-interval={self.switch_interval!r}")
        if self.clock_phase is not None:
            args.append(f"--flakehound-clock-phase={self.clock_phase!r}")
        if self.frozen_clock:
            args.append("--flakehound-frozen-clock")
        return tuple(args)


@dataclass(frozen=True)
class FakeClock:
    """Run under libfaketime (``library``, the preload library) with the clock starting at ``moment``.

    A fresh process gets ``LD_PRELOAD`` and ``FAKETIME=@moment``; a fork server started under the
    library moves its child's clock to ``moment`` just before the child runs its tests.
    """

    library: str
    moment: str

    def env(self) -> dict[str, str]:
        """The environment of a fresh process whose clock starts at ``moment``."""
        return {"LD_PRELOAD": self.library, "FAKETIME": f"@{self.moment}"}


@dataclass(frozen=True)
class RunRequest:
    """One run: these node ids (None: whatever the pytest arguments select), in this order."""

    order: tuple[str, ...] | None
    timeout: float
    env: Mapping[str, str] = field(default_factory=dict)
    argv_prefix: tuple[str, ...] = ()
    drop_env: frozenset[str] = frozenset()
    extra_args: tuple[str, ...] = ()
    tweaks: Tweaks = field(default_factory=Tweaks)
    clock: FakeClock | None = None


class Executor(Protocol):
    """Runs tests in exactly the requested order and returns per-test results."""

    def run(self, request: RunRequest) -> Run:
        """Run ``request`` and return what happened, however the run ended."""
        ...


def parse_stream(text: str) -> tuple[list[dict[str, object]], bool]:
    """The events of a results stream and whether its last line was cut off (a crash mid-write)."""
    events = []
    truncated = False
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # noqa: PERF203 - a cut-off line is data here, not an error
            truncated = True
    return events, truncated


def _clean(value: object) -> object:
    """Text as valid UTF-8: lone surrogates (undecodable bytes a test printed) become backslash escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _result(event: Mapping[str, object]) -> TestResult:
    data = {key: _clean(value) for key, value in event.items() if key != "event"}
    return TestResult.model_validate(data)


def _tail(path: Path) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-_TAIL:].decode("utf-8", errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the run's whole process group: TERM, a grace period, then KILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _reap_group(pid: int) -> None:
    """Kill children a test forked that outlived pytest itself."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while a run went on, with what the run had streamed by then (``partial``).

    A ``KeyboardInterrupt``, so everything that stops on one still does; who needs the results
    finished before the signal (the original run's cancelled report) reads ``partial``.
    """

    def __init__(self, partial: Run) -> None:
        """Keep the finished tests' results."""
        super().__init__()
        self.partial = partial


def streamed_so_far(stream: Path, duration: float) -> Run:
    """What an interrupted run had streamed: the finished tests' results, never the one cut short."""
    events, _ = parse_stream(stream.read_text(encoding="utf-8", errors="replace") if stream.exists() else "")
    finished = [event for event in events if event["event"] != "start"]
    run = _assemble(
        finished,
        exit_code=0,
        timed_out=False,
        truncated=False,
        started_stream=True,
        timeout=0.0,
        duration=duration,
        restored=(),
        output_tail="",
    )
    return run.model_copy(update={"ended": RunEnd.CANCELLED, "exit_code": None})


#: A run asked for after :meth:`ProcessExecutor.halt`: nothing starts, so no test of it can have begun.
NOT_STARTED = Run(
    results=(),
    ended=RunEnd.CANCELLED,
    detail="not started: flakehound was stopped (Ctrl-C or SIGTERM) before this run could begin",
)


@dataclass
class ProcessExecutor:
    """A fresh ``python -m pytest`` process per run."""

    python: str
    cwd: Path
    pytest_args: tuple[str, ...]
    env: Mapping[str, str]
    workdir: Path
    extra_args: tuple[str, ...] = ()
    snapshot: ProjectSnapshot | None = None
    count: int = 0
    #: Set by :meth:`halt`: no run starts from then on.
    halted: threading.Event = field(default_factory=threading.Event, repr=False)
    #: The process group of the run going on, if any (what :meth:`halt` kills).
    running: int | None = field(default=None, repr=False)
    #: Held while a run starts and while :meth:`halt` looks: a run starts wholly before a halt, which kills it,
    #: or not at all (a child started after the halt and killed later could begin its test first).
    start_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def halt(self) -> None:
        """Kill the run going on (from another thread: Ctrl-C or SIGTERM reaches only the main one), and any later."""
        with self.start_lock:
            self.halted.set()
            running = self.running
        if running is not None:
            _reap_group(running)

    def argv(self, run_dir: Path, request: RunRequest) -> list[str]:
        """The child's command line: plugin options joined with ``=`` so rootdir detection ignores them."""
        head = list(request.argv_prefix) if request.argv_prefix else [self.python, "-m", "pytest"]
        # no:cacheprovider: a run leaves no .pytest_cache in the project
        plugins = ["-p", "no:cacheprovider", "-p", "flakehound.execution.pytest_plugin"]
        argv = [*head, *plugins, f"--flakehound-results={run_dir / 'results.jsonl'}"]
        if request.order is not None:
            argv.append(f"--flakehound-order={run_dir / 'order.txt'}")
        return [*argv, *request.tweaks.args(), *request.extra_args, *self.extra_args, *self.pytest_args]

    def snapshot_state(self, order: Sequence[str], after: str, timeout: float) -> dict[str, Any] | None:
        """Run ``order`` with process-state snapshots before its first test and after ``after``."""
        state = self.workdir / f"state-{self.count + 1}.json"
        plugin = (
            "-p",
            "flakehound.execution._state_plugin",
            f"--flakehound-state={state}",
            f"--flakehound-state-after={after}",
        )
        self.run(RunRequest(order=tuple(order), timeout=timeout, extra_args=plugin))
        if not state.exists():
            return None
        data: dict[str, Any] = json.loads(state.read_text(encoding="utf-8"))
        return data

    def _restore(self) -> tuple[str, ...]:
        return self.snapshot.restore() if self.snapshot is not None else ()

    def _start(self, request: RunRequest) -> tuple[subprocess.Popen[bytes], Path, float]:
        """Start the child pytest of one run in its own folder: the process, the folder, and when it started."""
        self.count += 1
        run_dir = self.workdir / f"run-{self.count}"
        tmp = run_dir / "tmp"
        tmp.mkdir(parents=True)
        if request.order is not None:
            (run_dir / "order.txt").write_text("".join(f"{nodeid}\n" for nodeid in request.order), encoding="utf-8")
        clock = request.clock.env() if request.clock is not None else {}
        env = {**self.env, **request.env, **clock, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
        env = {name: value for name, value in env.items() if name not in request.drop_env}
        started = time.monotonic()
        with (run_dir / "output.txt").open("wb") as output:  # the child has its own copy of the file
            process = subprocess.Popen(
                self.argv(run_dir, request),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process, run_dir, started

    def run(self, request: RunRequest) -> Run:
        """Run one child pytest, restore the project, and read its results stream (none once halted)."""
        with self.start_lock:
            if self.halted.is_set():
                return NOT_STARTED
            process, run_dir, started = self._start(request)
            self.running = process.pid
        timed_out = False
        try:
            process.wait(timeout=request.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
        except KeyboardInterrupt as error:  # SIGTERM/SIGINT: stop the child, undo its mess, keep its results
            _kill_group(process)
            _reap_group(process.pid)
            self._restore()
            raise RunInterrupted(streamed_so_far(run_dir / "results.jsonl", time.monotonic() - started)) from error
        finally:
            self.running = None
        _reap_group(process.pid)
        duration = time.monotonic() - started
        restored = self._restore()
        stream = run_dir / "results.jsonl"
        events, truncated = parse_stream(
            stream.read_text(encoding="utf-8", errors="replace") if stream.exists() else ""
        )
        return _assemble(
            events,
            exit_code=process.returncode,
            timed_out=timed_out,
            truncated=truncated,
            started_stream=stream.exists(),
            timeout=request.timeout,
            duration=duration,
            restored=restored,
            output_tail=_tail(run_dir / "output.txt"),
        )


def _assemble(
    events: Sequence[Mapping[str, object]],
    *,
    exit_code: int,
    timed_out: bool,
    truncated: bool,
    started_stream: bool,
    timeout: float,
    duration: float,
    restored: tuple[str, ...],
    output_tail: str,
) -> Run:
    results: list[TestResult] = []
    collected: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    collection_errors: list[TestResult] = []
    running: str | None = None
    for event in events:
        kind = event["event"]
        if kind == "result":
            results.append(_result(event))
            running = None
        elif kind == "start":
            running = str(event["nodeid"])
        elif kind == "collected":
            collected = tuple(str(nodeid) for nodeid in event["nodeids"])  # type: ignore[attr-defined]
        elif kind == "missing":
            missing = tuple(str(nodeid) for nodeid in event["nodeids"])  # type: ignore[attr-defined]
        elif kind == "collect_error":
            collection_errors.append(_result({**event, "outcome": "error", "phase": "setup"}))
    ended = RunEnd.COMPLETED
    detail = None
    if timed_out:
        ended = RunEnd.TIMEOUT
        detail = f"the run exceeded its {timeout:g} s timeout and was killed with its process group"
    elif running is not None or truncated or not started_stream or exit_code not in {0, 1, 2, 5}:
        ended = RunEnd.CRASH
        how = f"killed by signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
        detail = f"pytest stopped ({how}) before the run finished"
    if running is not None:
        exception = "flakehound.Timeout" if timed_out else "flakehound.Crash"
        message = f"{detail} while this test was running"
        results.append(
            TestResult(nodeid=running, outcome=Outcome.ERROR, phase=Phase.CALL, exception=exception, message=message)
        )
    return Run(
        results=tuple(results),
        ended=ended,
        duration=duration,
        collected=collected,
        collection_errors=tuple(collection_errors),
        missing=missing,
        restored=restored,
        detail=detail,
        exit_code=exit_code,
        output_tail=output_tail,
    )
