"""The pytest plugin flakehound loads in every child run with ``-p flakehound.execution.pytest_plugin``.

It is not registered for every pytest user (no ``pytest11`` entry point). It talks to the parent
through files only:

* ``--flakehound-order=FILE``: node ids, one per line; only these items run, in exactly this order.
* ``--flakehound-results=FILE``: JSON lines streamed as the run goes, flushed after every line, so
  a crash or a hang still leaves every result up to that point. Events: ``collected``, ``missing``,
  ``collect_error``, ``start`` and ``result``.

It also switches off what would change the order or hide failures: pytest-randomly,
pytest-rerunfailures and flaky are unregistered once their options and markers are known (so a
project's ``addopts`` and markers stay valid), pytest-xdist is told not to distribute, and
``-x``/``--maxfail`` are neutralised. Threads a test left running cannot keep a finished run
from exiting (see ``pytest_sessionfinish``). This module uses only the standard library and
pytest, because it runs in the project's interpreter.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__: list[str] = []

#: Plugins unregistered in every run: they reorder tests or rerun failures into green.
NEUTRALISED_PLUGINS = ("randomly", "rerunfailures", "flaky")
TRACEBACK_LIMIT = 4000
OUTPUT_LIMIT = 2000
MESSAGE_LIMIT = 1000
#: Seconds the finished interpreter waits for threads a test left running before it exits without them.
THREAD_GRACE = 3.0


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the two file options the parent passes."""
    group = parser.getgroup("flakehound")
    group.addoption("--flakehound-order", default=None, help="run only these node ids, in this order")
    group.addoption("--flakehound-results", default=None, help="stream per-test results here (JSON lines)")


def _trim_tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


class _Recorder:
    """Collects the phase reports of each test and streams one result per test."""

    def __init__(self, config: pytest.Config, stream: IO[str]) -> None:
        self.config = config
        self.stream = stream
        self.reports: dict[str, list[pytest.TestReport]] = {}
        self.exceptions: dict[tuple[str, str], tuple[str, str | None, int | None]] = {}

    def emit(self, event: str, **data: Any) -> None:  # noqa: ANN401 - JSON values
        self.stream.write(json.dumps({"event": event, **data}) + "\n")
        self.stream.flush()

    def failure_location(self, excinfo: pytest.ExceptionInfo[BaseException]) -> tuple[str | None, int | None]:
        """The deepest traceback frame inside the project, else the deepest frame."""
        rootpath = self.config.rootpath
        chosen = None
        for entry in excinfo.traceback:
            path = Path(entry.path)
            if path.is_relative_to(rootpath) and "site-packages" not in path.parts:
                chosen = entry
        if chosen is None:  # raised entirely outside the project: the deepest frame (a raise has at least one)
            chosen = excinfo.traceback[-1]
        path = Path(chosen.path)
        shown = path.relative_to(rootpath) if path.is_relative_to(rootpath) else path
        return shown.as_posix(), chosen.lineno + 1

    def remember_exception(self, nodeid: str, when: str, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        path, line = self.failure_location(excinfo)
        self.exceptions[nodeid, when] = (excinfo.typename, path, line)

    def describe(self, nodeid: str, report: pytest.TestReport | pytest.CollectReport) -> dict[str, Any]:
        when = getattr(report, "when", "collect")
        typename, path, line = self.exceptions.get((nodeid, when), (None, None, None))
        longrepr = report.longrepr
        if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
            return {"message": _trim_tail(str(longrepr[2]), MESSAGE_LIMIT)}
        crash = getattr(longrepr, "reprcrash", None)
        message = getattr(crash, "message", None)
        if message is None and longrepr is not None:
            lines = str(longrepr).strip().splitlines()
            message = lines[-1] if lines else None
        if typename == "CollectError" and message:  # pytest wraps import errors; name the real one
            typename, _, message = message.rpartition("\n")[2].removeprefix("E").strip().partition(":")
            message = message.strip()
            path, line = nodeid.split("::", maxsplit=1)[0], None
        if typename and message and message.startswith(typename + ":"):
            message = message[len(typename) + 1 :].strip()
        output = "\n".join(f"--- {name} ---\n{content}" for name, content in report.sections if content)
        return {
            "exception": typename,
            "message": _trim_tail(message, MESSAGE_LIMIT) if message else None,
            "path": path,
            "line": line,
            "traceback": _trim_tail(report.longreprtext, TRACEBACK_LIMIT) or None,
            "output": _trim_tail(output, OUTPUT_LIMIT) or None,
        }

    def finish(self, nodeid: str) -> None:
        reports = self.reports.pop(nodeid, [])
        outcome, phase, deciding = "passed", "call", None
        for report in reports:
            wasxfail = hasattr(report, "wasxfail")
            if report.when == "call" and wasxfail:
                outcome, deciding = ("xpassed" if report.passed else "xfailed"), report
            elif report.failed and outcome not in {"failed", "error"}:
                outcome = "failed" if report.when == "call" else "error"
                phase, deciding = report.when, report
            elif report.skipped and outcome == "passed":
                outcome = "xfailed" if wasxfail else "skipped"
                phase, deciding = report.when, report
        described = self.describe(nodeid, deciding) if deciding is not None and outcome != "xpassed" else {}
        duration = sum(report.duration for report in reports)
        self.emit("result", nodeid=nodeid, outcome=outcome, phase=phase, duration=duration, **described)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Stream the final execution order."""
        self.emit("collected", nodeids=[item.nodeid for item in session.items])

    def pytest_exception_interact(
        self, node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any], report: pytest.TestReport
    ) -> None:
        """Remember the exception type and the failing line while the exception is at hand."""
        # pytest calls this hook only when an exception was raised, so excinfo is set.
        excinfo = cast("pytest.ExceptionInfo[BaseException]", call.excinfo)
        self.remember_exception(node.nodeid, getattr(report, "when", "collect"), excinfo)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Stream collection errors (a module that fails to import)."""
        if report.failed:
            self.emit("collect_error", nodeid=report.nodeid or ".", **self.describe(report.nodeid, report))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Say which test is running, so a crash or a hang can be attributed to it."""
        self.emit("start", nodeid=nodeid, pid=os.getpid())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep every phase report until the test finishes."""
        self.reports.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Stream the test's combined result once its teardown is done."""
        self.finish(nodeid)


def _read_order(path: str) -> list[str]:
    return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def _select(items: list[pytest.Item], order: Iterable[str]) -> tuple[list[pytest.Item], list[str]]:
    by_id = {item.nodeid: item for item in items}
    selected = [by_id[nodeid] for nodeid in order if nodeid in by_id]
    missing = [nodeid for nodeid in order if nodeid not in by_id]
    return selected, missing


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Keep pytest-xdist from distributing, whatever ``-n`` or ``--dist`` say (and whether it is loaded).

    xdist turns ``-n`` into a distribution mode in its own ``tryfirst`` hook and acts on it in a
    ``trylast`` ``pytest_configure``; these values mean "no distribution" whichever of the two
    ``tryfirst`` hooks runs first.
    """
    if hasattr(config.option, "numprocesses"):
        config.option.numprocesses = 0
        config.option.distload = False
        config.option.dist = "no"
        config.option.tx = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Switch off reordering and rerunning plugins and register the recorder."""
    for name in NEUTRALISED_PLUGINS:
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
    config.option.maxfail = 0
    results = config.getoption("flakehound_results")
    if results:
        stream = Path(results).open("a", encoding="utf-8")  # noqa: SIM115 - closed in pytest_unconfigure
        config.pluginmanager.register(_Recorder(config, stream), _RECORDER_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the results stream."""
    recorder = config.pluginmanager.get_plugin(_RECORDER_NAME)
    if isinstance(recorder, _Recorder):
        recorder.stream.close()
        config.pluginmanager.unregister(recorder)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(exitstatus: int) -> None:
    """Let the run exit with pytest's status even if a test left a non-daemon thread running.

    Python joins every non-daemon thread before it exits, so a thread that never ends would keep a
    finished run alive until flakehound's timeout killed it, and its coverage data and clean exit
    code with it. When such threads are alive, a daemon thread waits for the interpreter to start
    shutting down (the main thread has stopped: the results stream is closed and ``coverage run``
    has saved its data), gives the threads ``THREAD_GRACE`` seconds, and then leaves with pytest's
    exit status, naming the threads on stderr.
    """
    if _lingering_threads():
        threading.Thread(target=_exit_without_threads, args=(int(exitstatus),), daemon=True).start()


def _lingering_threads() -> list[str]:
    """The names of the non-daemon threads, other than the main thread, that are still running."""
    main = threading.main_thread()
    return [thread.name for thread in threading.enumerate() if thread is not main and not thread.daemon]


def _exit_without_threads(exitstatus: int) -> None:
    threading.main_thread().join()  # returns once the interpreter starts shutting down
    time.sleep(THREAD_GRACE)
    names = _lingering_threads()
    # Without lingering threads the interpreter is already past the join and exits on its own,
    # stopping this daemon thread with it, so the "no threads" way out is never measured.
    if names:  # pragma: no branch
        message = f"flakehound: exiting without {len(names)} thread(s) a test left running: {', '.join(names)}\n"
        os.write(2, message.encode("utf-8", "backslashreplace"))
        os._exit(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the requested node ids, in the requested order (duplicates allowed)."""
    order_file = config.getoption("flakehound_order")
    if not order_file:
        return
    selected, missing = _select(items, _read_order(order_file))
    chosen = {id(item) for item in selected}
    deselected = [item for item in items if id(item) not in chosen]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected
    recorder = config.pluginmanager.get_plugin(_RECORDER_NAME)
    if isinstance(recorder, _Recorder) and missing:
        recorder.emit("missing", nodeids=missing)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run a test listed twice in a row twice in full: tear its function scope down before it runs again.

    pytest keeps a node set up while the next item needs it, and the next item is the test itself, so
    its fixtures would never be torn down; so the protocol runs again with its parent as the next node.
    """
    if nextitem is not item:
        return None
    parent: Any = item.parent
    result: bool | None = item.ihook.pytest_runtest_protocol(item=item, nextitem=parent)
    return result


_RECORDER_NAME = "flakehound-recorder"
