"""The fork executor and the worker pool against real pytest: same runs as fresh processes, only faster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from flakehound.engine.statediff import diff_states
from flakehound.errors import ConfigError
from flakehound.execution.forking import ForkExecutor, WorkerPool, is_forkable, open_executor, run_batch
from flakehound.execution.lab import find_libfaketime
from flakehound.execution.runner import FakeClock, ProcessExecutor, RunRequest
from flakehound.execution.snapshot import ProjectSnapshot
from flakehound.models import Outcome, Report, RunEnd, RunPurpose

FIXTURES = Path(__file__).parents[2] / "fixture_projects"


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write a small project: relative path -> source."""
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return root


def environment(tmp_path: Path, name: str) -> dict[str, str]:
    """A sample-suite environment with its own counter folder, so two executors start from the same state."""
    state = tmp_path / f"state-{name}"
    state.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "FLAKEHOUND_SAMPLE_STATE": str(state)}


def process_executor(root: Path, work: Path, env: dict[str, str], pytest_args=(), *, restores=True) -> ProcessExecutor:
    """A fresh-process executor over root with its own run folder and (unless told not to) a snapshot."""
    return ProcessExecutor(
        python=sys.executable,
        cwd=root,
        pytest_args=tuple(pytest_args),
        env=env,
        workdir=work / "runs",
        snapshot=ProjectSnapshot.take(root, work / "backup") if restores else None,
    )


def fork_executor(
    root: Path, work: Path, env: dict[str, str], pytest_args=(), *, restores=True, **kwargs
) -> ForkExecutor:
    """A fork executor over root whose fallback is a fresh-process executor."""
    return ForkExecutor(process_executor(root, work, env, pytest_args, restores=restores), **kwargs)


def pool_over(root: Path, tmp_path: Path, env: dict[str, str], *, isolation: str = "fork", jobs: int = 1):
    """The investigation's executor over root: ``jobs`` workers, forking or fresh, working under tmp_path/work."""
    return open_executor(
        isolation=isolation,
        jobs=jobs,
        python=sys.executable,
        cwd=root,
        pytest_args=(),
        env=env,
        workdir=tmp_path / "work",
    )


def comparable(run):
    """A run without what differs between two executions of the same thing: time and pytest's chatter."""
    data = run.model_dump(exclude={"duration", "output_tail"})
    for result in data["results"]:
        result["duration"] = 0.0
    return data


SCOPED = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/conftest.py": """
        import os

        import pytest


        def log(text):
            with open(os.environ["SCOPE_LOG"], "a") as handle:
                handle.write(text + "\\n")


        @pytest.fixture(scope="session")
        def session_resource():
            log("session setup")
            yield
            log("session teardown")


        @pytest.fixture(scope="module")
        def module_resource(request):
            log(f"module setup {request.module.__name__}")
            yield
            log(f"module teardown {request.module.__name__}")
    """,
    "tests/test_one.py": """
        from conftest import log


        def test_a(session_resource, module_resource):
            log("run a")


        def test_b(session_resource, module_resource):
            log("run b")
    """,
    "tests/test_two.py": """
        from conftest import log


        def test_c(session_resource, module_resource):
            log("run c")
    """,
}

ENDINGS = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_endings.py": """
        import os
        import signal
        import time

        import pytest


        def test_before():
            pass


        def test_exit_3():
            os._exit(3)


        def test_sigkill():
            os.kill(os.getpid(), signal.SIGKILL)


        def test_hang():
            time.sleep(600)


        def test_stubborn_hang():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(600)


        def test_cut_stream(request):
            stream = request.config.pluginmanager.get_plugin("flakehound-recorder").stream
            stream.write('{"event": "res')
            stream.flush()
            os._exit(0)


        def test_shouldfail(request):
            request.session.shouldfail = "told to fail"


        def test_shouldstop(request):
            request.session.shouldstop = "told to stop"


        def test_keyboard_interrupt():
            raise KeyboardInterrupt


        def test_exit_7():
            pytest.exit("leaving", returncode=7)


        def test_exit_plain():
            pytest.exit("leaving")


        def test_after():
            pass
    """,
}

BROKEN_HOOK = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/conftest.py": """
        def pytest_runtest_logreport(report):
            raise RuntimeError("a broken report hook")
    """,
    "tests/test_x.py": "def test_x():\n    pass\n",
}


@pytest.mark.parametrize(
    ("project", "pytest_args", "timeout", "is_served"),
    [
        ("all_green", (), 60, True),
        ("collection_error", (), 60, False),
        ("collection_error", ("--continue-on-collection-errors",), 60, True),
        ("coverage/full", (), 60, True),
        ("coverage/half", (), 60, True),
        ("coverage/one_branch", (), 60, True),
        ("crash", (), 60, True),
        ("hang", (), 3, True),
        ("internal_error", (), 60, False),
        ("mostly_failing", (), 60, True),
        ("no_tests", (), 60, False),
        ("planted", (), 60, True),
        ("random_flaky", ("-k", "steady"), 60, True),
        ("planted", ("--collect-only",), 60, False),
    ],
    ids=[
        "all_green",
        "collection_error",
        "collection_error-continue",
        "coverage-full",
        "coverage-half",
        "coverage-one_branch",
        "crash",
        "hang",
        "internal_error",
        "mostly_failing",
        "no_tests",
        "planted",
        "random_flaky-steady",
        "collect-only",
    ],
)
def test_fork_runs_equal_fresh_process_runs_on_every_sample_suite(tmp_path, project, pytest_args, timeout, is_served):
    """Every sample suite gives the same runs forked as in fresh processes: whole, reversed with a gone id, one test."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / project, root)
    process = process_executor(root, tmp_path / "process", environment(tmp_path, "process"), pytest_args)
    collected = process.run(RunRequest(order=None, timeout=timeout)).collected
    requests = [
        RunRequest(order=None, timeout=timeout),
        RunRequest(order=(*reversed(collected), "tests/test_gone.py::test_gone"), timeout=timeout),
        RunRequest(order=collected[:1], timeout=timeout),
    ]
    expected = [comparable(process.run(request)) for request in requests]
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "fork"), pytest_args) as fork:
        fork.run(RunRequest(order=None, timeout=timeout))  # the process executor's counter-bumping first run
        assert [comparable(fork.run(request)) for request in requests] == expected
        assert (fork.unavailable is None) is is_served


@pytest.mark.parametrize(
    ("files", "nodeid", "timeout", "ended", "message"),
    [
        (ENDINGS, "test_exit_3", 60, RunEnd.CRASH, "exit code 3"),
        (ENDINGS, "test_sigkill", 60, RunEnd.CRASH, "killed by signal 9"),
        (ENDINGS, "test_hang", 2, RunEnd.TIMEOUT, "2 s timeout"),
        (ENDINGS, "test_stubborn_hang", 2, RunEnd.TIMEOUT, "2 s timeout"),
        (ENDINGS, "test_cut_stream", 60, RunEnd.CRASH, "exit code 0"),
        (ENDINGS, "test_keyboard_interrupt", 60, RunEnd.CRASH, "exit code 2"),
        (ENDINGS, "test_exit_7", 60, RunEnd.CRASH, "exit code 7"),
        (ENDINGS, "test_exit_plain", 60, RunEnd.CRASH, "exit code 2"),
        (ENDINGS, "test_shouldfail", 60, RunEnd.COMPLETED, None),
        (ENDINGS, "test_shouldstop", 60, RunEnd.COMPLETED, None),
        (BROKEN_HOOK, "test_x", 60, RunEnd.CRASH, "exit code 3"),
    ],
    ids=[
        "os-exit",
        "sigkill",
        "hang",
        "sigterm-ignoring-hang",
        "cut-stream",
        "keyboard-interrupt",
        "pytest-exit-7",
        "pytest-exit",
        "session-shouldfail",
        "session-shouldstop",
        "internal-error",
    ],
)
def test_how_a_run_ends_is_attributed_as_in_a_fresh_process_and_the_server_lives_on(
    tmp_path, files, nodeid, timeout, ended, message
):
    """A crash, exit, signal, hang or stop in a test ends a forked run as it ends a fresh one; the server survives."""
    root = write_files(tmp_path / "project", files)
    module = next(name for name in files if name.startswith("tests/test_"))
    order = (
        (f"{module}::{nodeid}", f"{module}::test_after") if "test_after" in files[module] else (f"{module}::{nodeid}",)
    )
    request = RunRequest(order=order, timeout=timeout)
    expected = process_executor(root, tmp_path / "process", environment(tmp_path, "p")).run(request)
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        run = fork.run(request)
        server = fork.server
        assert comparable(run) == comparable(expected)
        assert run.ended is ended
        if message is not None:
            assert run.results[-1].nodeid == order[0]
            assert message in (run.results[-1].message or "")
        again = fork.run(request)
        assert fork.server is server
        assert fork.fork_runs == 2
        assert comparable(again) == comparable(expected)


def test_module_and_session_fixtures_are_set_up_and_torn_down_as_pytest_does(tmp_path):
    """Fixtures follow the requested order in every forked run exactly as in a fresh process, session last."""
    root = write_files(tmp_path / "project", SCOPED)
    order = ("tests/test_one.py::test_a", "tests/test_two.py::test_c", "tests/test_one.py::test_b")
    logs = {}
    for name in ("process", "fork-1", "fork-2"):
        log = tmp_path / f"{name}.log"
        env = {**environment(tmp_path, name), "SCOPE_LOG": str(log)}
        if name == "process":
            process_executor(root, tmp_path / name, env).run(RunRequest(order=order, timeout=60))
        else:
            with fork_executor(root, tmp_path / name, env) as fork:
                fork.run(RunRequest(order=order, timeout=60))
                fork.run(RunRequest(order=order, timeout=60))
        logs[name] = log.read_text().splitlines()
    once = [
        "session setup",
        "module setup test_one",
        "run a",
        "module teardown test_one",
        "module setup test_two",
        "run c",
        "module teardown test_two",
        "module setup test_one",
        "run b",
        "module teardown test_one",
        "session teardown",
    ]
    assert logs["process"] == once
    assert logs["fork-1"] == logs["fork-2"] == once * 2


STATEFUL = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_state.py": """
        import random
        import tempfile
        from pathlib import Path

        STATE = []


        def test_pollute():
            STATE.append(1)


        def test_clean():
            assert STATE == []


        def test_fresh_tmp():
            marker = Path(tempfile.gettempdir()) / "marker"
            assert not marker.exists()
            marker.write_text("x")


        def test_draw():
            assert False, random.random()
    """,
}


def test_every_forked_run_starts_from_the_state_after_collection(tmp_path):
    """A global set by one run, a temporary file or a random draw never carries over into the next forked run."""
    root = write_files(tmp_path / "project", STATEFUL)
    module = "tests/test_state.py"
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f"), restores=False) as fork:
        fork.run(RunRequest(order=(f"{module}::test_pollute",), timeout=60))
        alone = fork.run(RunRequest(order=(f"{module}::test_clean",), timeout=60))
        after = fork.run(RunRequest(order=(f"{module}::test_pollute", f"{module}::test_clean"), timeout=60))
        tmp_runs = [fork.run(RunRequest(order=(f"{module}::test_fresh_tmp",), timeout=60)) for _ in range(2)]
        draws = [fork.run(RunRequest(order=(f"{module}::test_draw",), timeout=60)).results[0].message for _ in range(2)]
    assert alone.results[0].outcome is Outcome.PASSED
    assert after.results[1].outcome is Outcome.FAILED
    assert [run.results[0].outcome for run in tmp_runs] == [Outcome.PASSED, Outcome.PASSED]
    assert draws[0] != draws[1]


def test_project_files_are_restored_after_forked_runs_and_no_session_ends(tmp_path):
    """What a forked run leaves in the project is removed before the next run; no child or server ends a session."""
    outside = tmp_path / "session-finished"
    files = {
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        "tests/conftest.py": f"""
            from pathlib import Path


            def pytest_sessionfinish(session):
                Path({str(outside)!r}).write_text("x")
        """,
        "tests/test_lock.py": """
            import os
            from pathlib import Path


            def test_takes_lock():
                os.close(os.open(Path(__file__).parent.parent / "run.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        """,
    }
    root = write_files(tmp_path / "project", files)
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        runs = [fork.run(RunRequest(order=None, timeout=60)) for _ in range(2)]
        fork.close()  # closing twice is harmless
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED, Outcome.PASSED]
    assert [run.restored for run in runs] == [("run.lock",), ("run.lock",)]
    assert not (root / "run.lock").exists()
    assert not outside.exists()  # outside the project, where nothing would remove it


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


def _changes(state):
    return {
        (change.kind, change.name, change.before, change.after)
        for change in diff_states(state["before"], state["after"])
    }


def test_forked_state_snapshots_name_the_same_leftovers_as_fresh_ones(tmp_path):
    """A forked run with state snapshots reports the polluter's leftover exactly as a fresh process does."""
    root = shutil.copytree(FIXTURES / "planted", tmp_path / "project")
    order = ["tests/test_b_fillers.py::test_filler[0]", "tests/test_a_polluter.py::test_configure_test_mode"]
    states = {}
    for isolation in ("process", "fork"):
        with open_executor(
            isolation=isolation,
            jobs=1,
            python=sys.executable,
            cwd=root,
            pytest_args=(),
            env=environment(tmp_path, isolation),
            workdir=tmp_path / isolation,
        ) as pool:
            states[isolation] = pool.snapshot_state(order, order[1], 60)
            worker = pool.workers[0]
    assert worker.fork_runs == 1
    fresh, forked = states["process"], states["fork"]
    expected = ("module-attribute", "pkg.state.MODE", "str 'production'", "str 'test'")
    assert expected in _changes(fresh)
    assert {change for change in _changes(forked) if change[0] != "file"} == {
        change for change in _changes(fresh) if change[0] != "file"
    }


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


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_collecting_needs_no_test_run(tmp_path, isolation):
    """The pool lists what pytest collects: the server's collection, or a fresh --collect-only run."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=1) as pool:
        collected = pool.collect(60)
    expected = process_executor(root, tmp_path / "plain", environment(tmp_path, "p")).run(
        RunRequest(order=None, timeout=60)
    )
    assert collected.collected == expected.collected
    assert collected.results == ()


def test_collecting_without_a_server_asks_a_fresh_process(tmp_path):
    """When the server cannot start, collecting is a fresh --collect-only run that reports the same errors."""
    root = shutil.copytree(FIXTURES / "collection_error", tmp_path / "project")
    with fork_executor(root, tmp_path / "fork", environment(tmp_path, "f")) as fork:
        collected = fork.collect(60)
    assert collected.collection_errors[0].nodeid == "tests/test_broken_import.py"
    assert collected.exit_code == 2


WRITERS = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_write.py": """
        import os
        import time
        from pathlib import Path

        import pytest

        ROOT = Path(__file__).parent.parent


        @pytest.mark.parametrize("n", range(4))
        def test_takes_lock(n):
            os.close(os.open(ROOT / "run.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            time.sleep(0.5)


        def test_names_its_file():
            assert False, __file__
    """,
    ".venv/pyvenv.cfg": "home = /usr\n",
    "build.egg-info/PKG-INFO": "x\n",
    ".git/HEAD": "ref: refs/heads/main\n",
}


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_parallel_runs_use_their_own_project_copy_and_report_project_paths(tmp_path, isolation):
    """Runs that write into the project do not collide in parallel, and results name the project, not a copy."""
    root = write_files(tmp_path / "project", WRITERS)
    module = "tests/test_write.py"
    requests = [RunRequest(order=(f"{module}::test_takes_lock[{n}]",), timeout=60) for n in range(4)]
    requests.append(RunRequest(order=(f"{module}::test_names_its_file",), timeout=60))
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=3) as pool:
        runs = run_batch(pool, requests)
        copies = pool.roots[1:]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 4 + [Outcome.FAILED]
    assert all(run.restored == ("run.lock",) for run in runs[:4])
    assert str(root / "tests" / "test_write.py") in (runs[4].results[0].message or "")
    assert len(copies) == 2
    assert all(not (copy / name).exists() for copy in copies for name in (".venv", "build.egg-info", ".git"))
    assert (copies[0] / "tests" / "test_write.py").exists()


def waiting_project(tmp_path: Path, waiting: str, rest: str, then: str = "pass") -> tuple[Path, Path]:
    """A project: test ``waiting`` touches ``started``, waits for ``go``, runs ``then``; then the ``rest``."""
    signals = tmp_path / "signals"
    signals.mkdir()
    source = (
        f"import time\nfrom pathlib import Path\n\nSIGNALS = Path({str(signals)!r})\n\n\n"
        f"def {waiting}():\n    (SIGNALS / 'started').touch()\n    while not (SIGNALS / 'go').exists():\n"
        f"        time.sleep(0.02)\n    {then}\n\n\n{rest}"
    )
    return signals, write_files(tmp_path / "project", {"test_x.py": source})


def test_threads_share_the_workers_and_never_one_at_once(tmp_path):
    """While one thread's run holds the project's worker, another thread's run goes to the free copy."""
    signals, root = waiting_project(
        tmp_path, "test_waits", "def test_where():\n    assert Path.cwd().name == 'nowhere', str(Path.cwd())\n"
    )
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=2) as pool:
        with ThreadPoolExecutor(max_workers=1) as thread:
            held = thread.submit(pool.run, RunRequest(order=("test_x.py::test_waits",), timeout=60))
            while not (signals / "started").exists():
                time.sleep(0.02)
            (beside,) = pool.run_many([RunRequest(order=("test_x.py::test_where",), timeout=60)])
            (signals / "go").touch()
            waited = held.result()
        runs = [worker.fork_runs for worker in pool.workers]
    assert runs == [1, 1]
    assert waited.results[0].outcome is Outcome.PASSED
    assert str(root) in (beside.results[0].message or "")  # the copy's path, given back as the project's


def test_a_thread_waits_for_the_worker_another_thread_holds(tmp_path):
    """With one job, a second thread's run waits until the first thread's run has ended."""
    signals, root = waiting_project(
        tmp_path,
        "test_first",
        "def test_second():\n    assert (SIGNALS / 'first-done').exists()\n",
        then="(SIGNALS / 'first-done').touch()",
    )
    with (
        pool_over(root, tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=1) as pool,
        ThreadPoolExecutor(max_workers=2) as threads,
    ):
        first = threads.submit(pool.run, RunRequest(order=("test_x.py::test_first",), timeout=60))
        while not (signals / "started").exists():
            time.sleep(0.02)
        second = threads.submit(pool.run_many, [RunRequest(order=("test_x.py::test_second",), timeout=60)])
        while pool.waiting == 0:
            time.sleep(0.02)
        (signals / "go").touch()
        runs = [first.result(), *second.result()]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED, Outcome.PASSED]
    assert pool.waiting == 0


def test_a_copy_that_collects_other_node_ids_is_retired(tmp_path):
    """A project whose rootdir is above it cannot run in a copy: those runs are made in the project itself."""
    repo = write_files(
        tmp_path / "repo",
        {"pytest.ini": "[pytest]\n", "sub/tests/test_x.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"},
    )
    requests = [RunRequest(order=(f"sub/tests/test_x.py::test_{name}",), timeout=60) for name in "ab"]
    with pool_over(repo / "sub", tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=2) as pool:
        first = pool.run_many(requests)
        second = pool.run_many(requests)
        retired = set(pool.retired)
    assert retired == {1}
    assert [run.results[0].outcome for run in first + second] == [Outcome.PASSED] * 4
    assert not any(run.missing for run in first + second)


def test_one_job_runs_everything_in_the_project(tmp_path):
    """With --jobs 1 no copy is made; a plain executor runs a batch one by one."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    requests = [RunRequest(order=None, timeout=60)] * 2
    env = environment(tmp_path, "f")
    with pool_over(root, tmp_path, env, isolation="fork", jobs=1) as pool:
        runs = pool.run_many(requests)
        assert pool.roots == [root]
    plain = run_batch(process_executor(root, tmp_path / "plain", env), requests)
    assert [comparable(run) for run in runs] == [comparable(run) for run in plain]


@pytest.mark.parametrize(
    ("isolation", "jobs", "fork_available", "message"),
    [
        ("fork", 0, True, "--jobs must be at least 1, got 0"),
        ("fork", 1, False, "--isolation fork needs os.fork, which this platform lacks; pass --isolation process"),
    ],
    ids=["no-jobs", "no-fork"],
)
def test_impossible_executor_settings_are_one_sentence(tmp_path, isolation, jobs, fork_available, message):
    """Zero jobs, or fork where the platform cannot fork, is a ConfigError naming the option."""
    with (
        pytest.raises(ConfigError, match=message),
        open_executor(
            isolation=isolation,
            jobs=jobs,
            python=sys.executable,
            cwd=tmp_path,
            pytest_args=(),
            env={},
            workdir=tmp_path / "work",
            fork_available=fork_available,
        ),
    ):
        pass


def test_warm_servers_collect_side_by_side_before_the_first_run(tmp_path):
    """Warming a fork pool makes every worker and starts its server in the background; runs wait for it."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    env = environment(tmp_path, "f")
    requests = [RunRequest(order=None, timeout=60)] * 2
    with pool_over(root, tmp_path, env, isolation="fork", jobs=2) as pool:
        pool.warm()
        assert len(pool.workers) == 2
        runs = pool.run_many(requests)
        servers = [worker.server for worker in pool.workers]
        pool.warm()  # again: nothing new starts
        assert [worker.server for worker in pool.workers] == servers
    assert all(server is not None and server.process.returncode is not None for server in servers)
    assert all(worker.fork_runs == 1 for worker in pool.workers)
    plain = run_batch(process_executor(root, tmp_path / "plain", env), requests)
    assert [comparable(run) for run in runs] == [comparable(run) for run in plain]


def test_closing_stops_servers_that_are_still_collecting(tmp_path):
    """A cancelled investigation does not wait for warming servers: their hung collections are killed."""
    state = tmp_path / "pids"
    state.mkdir()
    root = write_files(
        tmp_path / "project",
        {
            "conftest.py": """
                import os, time
                from pathlib import Path

                Path(os.environ["PIDS"], str(os.getpid())).touch()
                time.sleep(600)
            """,
            "test_x.py": "def test_x():\n    pass\n",
        },
    )
    env = {**environment(tmp_path, "f"), "PIDS": str(state)}
    with pool_over(root, tmp_path, env, isolation="fork", jobs=2) as pool:
        pool.warm()
        while len(list(state.iterdir())) < 2:  # both servers are inside their collection
            time.sleep(0.05)
    pids = [int(path.name) for path in state.iterdir()]
    assert [worker.unavailable for worker in pool.workers] == [
        "the fork server was stopped before it was ready; every run is a fresh process"
    ] * 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_warming_a_fresh_process_pool_only_makes_the_copies(tmp_path):
    """Fresh-process workers have nothing to start: warming makes their project copies, which runs then use."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    with pool_over(root, tmp_path, environment(tmp_path, "p"), isolation="process", jobs=2) as pool:
        pool.warm()
        assert pool.roots[1].is_dir()
        runs = pool.run_many([RunRequest(order=None, timeout=60)] * 2)
    assert [run.ended for run in runs] == [RunEnd.COMPLETED] * 2


LEAP_DAY = "2028-02-29 12:00:00"
STAND_IN = "/nonexistent/libfaketime.so.1"  # the dynamic loader warns and runs on: the clock stays real


def clock_project(root: Path, library: str) -> Path:
    """Two tests: one wants the clock moved to the leap day (really moved under a real libfaketime), one does not."""
    real = library != STAND_IN
    return write_files(
        root,
        {
            "test_x.py": f"""
                import datetime
                import os


                def test_clock():
                    assert os.environ["FAKETIME"] == "@{LEAP_DAY}"
                    assert os.environ["LD_PRELOAD"] == {library!r}
                    if {real!r}:
                        assert datetime.datetime.now().strftime("%Y-%m-%d %H:%M") == "{LEAP_DAY[:-3]}"


                def test_plain():
                    assert "FAKETIME" not in os.environ
                    assert "LD_PRELOAD" not in os.environ
                    assert datetime.date.today().year < 2028
            """,
        },
    )


def libfaketime_or_stand_in(kind: str) -> str:
    """The real preload library (the test is skipped where it is not installed), or a path that does not exist."""
    if kind == "stand-in":
        return STAND_IN
    library = find_libfaketime()
    if library is None:
        pytest.skip("libfaketime is not installed here (apt-get install faketime)")
    return library


CLOCKED = RunRequest(order=("test_x.py::test_clock",), timeout=60)
PLAIN = RunRequest(order=("test_x.py::test_plain",), timeout=60)


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


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_clock_requests_go_to_the_clock_worker_and_only_they_do(tmp_path, isolation):
    """A forking pool makes one clock worker (warmed ahead, or at the first clock run); fresh-process pools, none."""
    root = clock_project(tmp_path / "project", STAND_IN)
    clocked = replace(CLOCKED, clock=FakeClock(library=STAND_IN, moment=LEAP_DAY))
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=2) as pool:
        pool.warm_clock(STAND_IN)
        runs = pool.run_many([clocked, PLAIN, clocked, PLAIN])
        clock_worker = pool.workers[pool.clock_index] if pool.clock_index is not None else None
        general = [worker for worker in pool.workers if worker is not clock_worker]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 4
    assert all(str(tmp_path / "work") not in run.output_tail for run in runs)  # the copies' paths are the project's
    if isolation == "process":
        assert clock_worker is None
        assert not (tmp_path / "work" / "worker-clock").exists()
        return
    assert isinstance(clock_worker, ForkExecutor)
    assert clock_worker.fork_runs == 2
    assert len(general) == 2
    assert sum(worker.fork_runs for worker in general if isinstance(worker, ForkExecutor)) == 2


def test_a_clock_worker_that_collects_other_node_ids_is_retired(tmp_path):
    """Clock runs that cannot run in a copy start fresh under the library in the project itself, then and after."""
    repo = write_files(tmp_path / "repo", {"pytest.ini": "[pytest]\n"})
    clock_project(repo / "sub", STAND_IN)
    clocked = RunRequest(
        order=("sub/test_x.py::test_clock",), timeout=60, clock=FakeClock(library=STAND_IN, moment=LEAP_DAY)
    )
    with pool_over(repo / "sub", tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=1) as pool:
        runs = [*pool.run_many([clocked]), *pool.run_many([clocked])]
        assert pool.clock_index is not None
        assert pool.retired == {pool.clock_index}
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 2
    assert not any(run.missing for run in runs)


def test_a_pool_that_is_never_used_closes_quietly(tmp_path):
    """Closing a pool whose workers never ran starts and stops nothing."""
    made = []

    def make_worker(root, home, snapshot):
        made.append(ForkExecutor(ProcessExecutor(sys.executable, root, (), {}, home / "runs", snapshot=snapshot)))
        return made[-1]

    with WorkerPool(home=tmp_path, workdir=tmp_path / "work", jobs=2, make_worker=make_worker):
        pass
    assert len(made) == 1
    assert made[0].server is None


def _cli_report(root: Path, name: str, options: list[str]) -> Report:
    project = shutil.copytree(FIXTURES / "planted", root / name / "planted")
    env = environment(root / name, "cli")
    out = root / name / "report.json"
    args = ["run", "--seed", "7", "--no-coverage", "--budget-seconds", "900", *options, "--report", str(out)]
    completed = subprocess.run(
        [sys.executable, "-m", "flakehound", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    return Report.model_validate_json(out.read_text())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The planted suite investigated the slow, obvious way: a fresh process per run, one at a time."""
    return _cli_report(tmp_path_factory.mktemp("baseline"), "baseline", ["--isolation", "process", "--jobs", "1"])


#: It flips on every run of the whole investigation (a counter outside the project), so which of the
#: runs made at the same time sees which count is up to the scheduler; its label is still compared.
#: It is also the only failure the root-cause experiments run on, so their runs follow its count too.
COUNTER = "tests/test_f_counter.py::test_flips_every_other_run"


def _essence(report: Report):
    failures = [
        (
            failure.nodeid,
            failure.classification,
            [polluter.nodeids for polluter in failure.polluters],
            [setter.nodeids for setter in failure.state_setters],
            failure.evidence if failure.nodeid != COUNTER else None,
            [(hint.category, hint.evidence) for hint in failure.hints] if failure.nodeid != COUNTER else None,
        )
        for failure in report.failures
    ]
    runs = (  # searches side by side record their runs as they end, so only their order may differ
        (
            run.purpose,
            run.seed,
            run.tests,
            {nodeid: outcome for nodeid, outcome in run.outcomes.items() if nodeid != COUNTER},
            run.ended,
            run.restored,
        )
        for run in report.runs
        if run.purpose is not RunPurpose.EXPERIMENT  # only the counter's experiments, which follow its count
    )
    return failures, sorted(runs, key=repr)


@pytest.mark.parametrize(
    ("isolation", "jobs"), [("fork", "1"), ("fork", "2"), ("process", "2")], ids=["fork-1", "fork-2", "process-2"]
)
def test_labels_and_polluters_do_not_depend_on_isolation_or_jobs(baseline, tmp_path, isolation, jobs):
    """The planted suite gets the same labels, polluters, setters and runs forked or fresh, on 1 or 2 jobs."""
    report = _cli_report(tmp_path, "other", ["--isolation", isolation, "--jobs", jobs])
    assert _essence(report) == _essence(baseline)
    experiments = [run for run in report.runs if run.purpose is RunPurpose.EXPERIMENT]
    assert experiments
    assert all(set(run.outcomes) == {COUNTER} for run in experiments)
    assert {failure.classification.value for failure in report.failures} == {
        "deterministic",
        "intermittent",
        "order-dependent",
        "brittle",
    }


HASHED = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_hash.py": """
        import os


        def test_record_hash():
            with open(os.environ["HASHES"], "a") as handle:
                handle.write(str(hash("flakehound")) + "\\n")
    """,
}


def test_forked_and_fresh_runs_share_the_hash_seed_unless_a_run_sets_its_own(tmp_path):
    """With a hash seed, forked runs and fresh fallbacks hash alike; a run that sets PYTHONHASHSEED keeps its own."""
    root = write_files(tmp_path / "project", HASHED)
    hashes = tmp_path / "hashes.txt"
    env = {**environment(tmp_path, "hash"), "HASHES": str(hashes)}
    env.pop("PYTHONHASHSEED", None)
    order = ("tests/test_hash.py::test_record_hash",)
    with fork_executor(root, tmp_path / "work", env, hash_seed="11") as executor:
        executor.run(RunRequest(order=order, timeout=60))
        executor.run(RunRequest(order=order, timeout=60))
        executor.run(RunRequest(order=order, timeout=60, env={"UNRELATED": "1"}))  # a fresh process
        executor.run(RunRequest(order=order, timeout=60, env={"PYTHONHASHSEED": "12"}))
    assert executor.fork_runs == 2
    fixed = subprocess.run(
        [sys.executable, "-c", "print(hash('flakehound'))"],
        env={**env, "PYTHONHASHSEED": "11"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    first, second, fresh, own = hashes.read_text().split()
    assert first == second == fresh == fixed
    assert own != fixed


TEMP_AT_IMPORT = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_export.py": """
        import tempfile
        from pathlib import Path

        EXPORT = Path(tempfile.gettempdir()) / "export.csv"  # the server's temporary folder, at collection


        def test_writes():
            EXPORT.write_text("left behind")


        def test_starts_fresh():
            assert not EXPORT.exists()
    """,
}


@pytest.mark.parametrize("kind", ["fork", "process"])
def test_a_file_left_in_the_temporary_folder_at_import_time_does_not_reach_the_next_run(tmp_path, kind):
    """A path computed at import into the temporary folder starts empty in every run, forked as in a fresh process."""
    root = write_files(tmp_path / "project", TEMP_AT_IMPORT)
    env = environment(tmp_path, "temp")
    make = fork_executor if kind == "fork" else process_executor
    executor = make(root, tmp_path / "work", env)
    writes = executor.run(RunRequest(order=("tests/test_export.py::test_writes",), timeout=60))
    fresh = executor.run(RunRequest(order=("tests/test_export.py::test_starts_fresh",), timeout=60))
    if isinstance(executor, ForkExecutor):
        assert executor.fork_runs == 2
        executor.close()
    assert [result.outcome for result in (*writes.results, *fresh.results)] == [Outcome.PASSED, Outcome.PASSED]
