"""The fork executor's fresh processes: requests fork cannot run, and servers that never serve or stop answering."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace

import pytest
from executorkit import (
    CLOCKED,
    ENDINGS,
    FIXTURES,
    LEAP_DAY,
    PLAIN,
    clock_project,
    environment,
    fork_executor,
    libfaketime_or_stand_in,
    process_executor,
    write_files,
)

from flakehound.execution.forking import is_forkable
from flakehound.execution.runner import FakeClock, RunRequest
from flakehound.models import Outcome, RunEnd


@pytest.mark.parametrize(
    "request_",
    [
        RunRequest(order=None, timeout=60, env={"EXTRA": "1"}),
        RunRequest(order=None, timeout=60, drop_env=frozenset({"HOME"})),
        RunRequest(order=None, timeout=60, extra_args=("-q",)),
        RunRequest(order=None, timeout=60, argv_prefix=(sys.executable, "-m", "pytest")),
    ],
    ids=["env", "drop-env", "extra-args", "argv-prefix"],
)
def test_runs_that_need_a_fresh_interpreter_go_to_a_fresh_process(tmp_path, request_):
    """A request with its own environment, arguments or argv prefix never starts the server."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    assert not is_forkable(request_)
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        run = fork.run(request_)
        assert fork.server is None
    assert run.ended is RunEnd.COMPLETED
    assert fork.fork_runs == 0


SLOW_SERVER = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/conftest.py": """
        import sys
        import time

        if any(arg.startswith("--flakehound-serve") for arg in sys.argv):
            time.sleep(60)
    """,
    "tests/test_x.py": "def test_x():\n    pass\n",
}


def test_a_server_that_never_gets_ready_is_given_up(tmp_path):
    """A server still collecting after the start-up timeout is killed, and runs go to fresh processes."""
    root = write_files(tmp_path / "project", SLOW_SERVER)
    env = environment(tmp_path, "f")
    with fork_executor(root, tmp_path / "fork", env, startup_timeout=0.5, restores=False) as fork:
        run = fork.run(RunRequest(order=None, timeout=60))
        assert fork.server is None
    assert fork.unavailable == "the fork server was not ready after 0.5 s; every run is a fresh process"
    assert run.results[0].outcome is Outcome.PASSED


def test_collection_errors_make_the_server_step_aside(tmp_path):
    """A suite that does not collect is not served: pytest fails as in a fresh run and the fallback reports it."""
    root = shutil.copytree(FIXTURES / "collection_error", tmp_path / "project")
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        run = fork.run(RunRequest(order=None, timeout=60))
    assert fork.unavailable == "pytest ended without serving (exit code 2); every run is a fresh process"
    assert run.collection_errors[0].nodeid == "tests/test_broken_import.py"


VICTIM_OF_THE_SERVER = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_server.py": """
        import os
        import signal
        import time


        def is_forked():
            return os.getsid(0) != os.getpid()


        def test_kills_the_server():
            if is_forked():
                os.kill(os.getppid(), signal.SIGKILL)


        def test_stops_the_server_and_hangs():
            if is_forked():
                os.kill(os.getppid(), signal.SIGSTOP)
                time.sleep(600)


        def test_plain():
            pass
    """,
}


def _kill_server(fork):
    os.kill(fork.server.process.pid, signal.SIGKILL)
    fork.server.process.wait()


def _stop_server(fork):
    os.kill(fork.server.process.pid, signal.SIGSTOP)


@pytest.mark.parametrize(
    ("before", "nodeid"),
    [
        (_kill_server, "test_plain"),
        (_stop_server, "test_plain"),
        (None, "test_kills_the_server"),
        (None, "test_stops_the_server_and_hangs"),
    ],
    ids=["killed-between-runs", "stopped-between-runs", "killed-by-its-child", "stopped-by-a-hanging-child"],
)
def test_a_lost_server_is_replaced_by_fresh_processes(tmp_path, before, nodeid):
    """When the server dies or stops answering, the run is made again in a fresh process and later runs stay there."""
    root = write_files(tmp_path / "project", VICTIM_OF_THE_SERVER)
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f"), reply_timeout=1) as fork:
        fork.run(RunRequest(order=("tests/test_server.py::test_plain",), timeout=60))
        if before is not None:
            before(fork)
        run = fork.run(RunRequest(order=(f"tests/test_server.py::{nodeid}",), timeout=5))
        later = fork.run(RunRequest(order=("tests/test_server.py::test_plain",), timeout=60))
        assert fork.server is None
    assert "stopped answering" in (fork.unavailable or "")
    assert run.ended is RunEnd.COMPLETED
    assert run.results[0].outcome is Outcome.PASSED
    assert later.results[0].outcome is Outcome.PASSED
    assert fork.fork_runs == 2


def test_the_server_plugin_is_inert_without_its_option(tmp_path):
    """Loading the server plugin without --flakehound-serve changes nothing: pytest runs the tests itself."""
    root = write_files(tmp_path / "project", {"tests/test_x.py": "def test_x():\n    pass\n"})
    env = environment(tmp_path, "plain")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "flakehound.execution.pytest_plugin",
            "-p",
            "flakehound.execution._fork_server",
            "tests",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout
    assert "1 passed" in completed.stdout


@pytest.mark.parametrize(
    ("files", "order", "kwargs", "is_forked"),
    [
        ("slow", ("tests/test_x.py::test_x",), {"startup_timeout": 0.5}, False),
        ("victim", ("tests/test_server.py::test_kills_the_server",), {}, False),
        ("endings", ("tests/test_endings.py::test_exit_3",), {}, True),
    ],
    ids=["server-never-ready", "server-killed-by-the-run", "run-crashed"],
)
def test_state_snapshots_survive_a_missing_or_lost_server(tmp_path, files, order, kwargs, is_forked):
    """Without a server the snapshots come from a fresh process; a run that crashes before writing them gives None."""
    suites = {"slow": SLOW_SERVER, "victim": VICTIM_OF_THE_SERVER, "endings": ENDINGS}
    root = write_files(tmp_path / "project", suites[files])
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f"), **kwargs) as fork:
        state = fork.snapshot_state(order, order[-1], 60)
    if is_forked:
        assert state is None
        assert fork.unavailable is None
    else:
        assert state is not None
        assert state["after"] is not None
        assert fork.unavailable is not None


def test_collecting_without_a_server_asks_a_fresh_process(tmp_path):
    """When the server cannot start, collecting is a fresh --collect-only run that reports the same errors."""
    root = shutil.copytree(FIXTURES / "collection_error", tmp_path / "project")
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        collected = fork.collect(60)
    assert collected.collection_errors[0].nodeid == "tests/test_broken_import.py"
    assert collected.exit_code == 2


@pytest.mark.parametrize("kind", ["stand-in", "libfaketime"])
def test_a_clock_server_forks_clock_runs_and_sends_the_rest_to_fresh_processes(tmp_path, kind):
    """Under libfaketime, a child moves its clock to the request's moment; requests without a clock start fresh."""
    library = libfaketime_or_stand_in(kind)
    root = clock_project(tmp_path / "project", library)
    clock = FakeClock(library=library, moment=LEAP_DAY)
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f"), faketime=library) as fork:
        clocked = [fork.run(replace(CLOCKED, clock=clock)) for _ in range(2)]
        forked = fork.fork_runs
        plain = fork.run(PLAIN)
    assert [run.results[0].outcome for run in [*clocked, plain]] == [Outcome.PASSED] * 3, clocked[0].output_tail
    assert (forked, fork.fork_runs) == (2, 2)


@pytest.mark.parametrize("kind", ["stand-in", "libfaketime"])
def test_a_clock_run_without_a_clock_server_starts_fresh_under_the_library(tmp_path, kind):
    """A fork executor that is not under libfaketime, or a fresh-process one, preloads it in a fresh process."""
    library = libfaketime_or_stand_in(kind)
    root = clock_project(tmp_path / "project", library)
    request = replace(CLOCKED, clock=FakeClock(library=library, moment=LEAP_DAY))
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        run = fork.run(request)
        assert fork.server is None
    assert run.results[0].outcome is Outcome.PASSED, run.output_tail
    assert process_executor(root, tmp_path / "fresh", environment(tmp_path, "p")).run(request).results[0].outcome is (
        Outcome.PASSED
    )
