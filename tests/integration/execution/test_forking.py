"""The fork executor against real pytest: the same runs as fresh processes, only faster."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from executorkit import (
    ENDINGS,
    FIXTURES,
    comparable,
    environment,
    fork_executor,
    process_executor,
    write_files,
)

from flakehound.engine.statediff import diff_states
from flakehound.execution.forking import ForkExecutor
from flakehound.execution.pool import open_executor
from flakehound.execution.runner import RunRequest
from flakehound.models import Outcome, RunEnd

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
    expected = ("module-attribute", "pkg.state.MODE", "'production'", "'test'")
    assert expected in _changes(fresh)
    assert {change for change in _changes(forked) if change[0] != "file"} == {
        change for change in _changes(fresh) if change[0] != "file"
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
