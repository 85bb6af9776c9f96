"""The fresh-process executor against real pytest children."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from flakehound.execution.runner import (
    ProcessExecutor,
    RunRequest,
    child_environment,
    neutralising_args,
    parse_stream,
    probe_plugins,
)
from flakehound.execution.snapshot import ProjectSnapshot
from flakehound.models import Outcome, RunEnd


def write_suite(root, body: str) -> None:
    """A one-module suite under root/tests."""
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_mod.py").write_text(textwrap.dedent(body))
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")


def executor_for(root, tmp_path, env=None, **kwargs) -> ProcessExecutor:
    """An executor over the suite in root with a fresh working folder."""
    environment = env if env is not None else {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return ProcessExecutor(
        python=sys.executable, cwd=root, pytest_args=(), env=environment, workdir=tmp_path / "runs", **kwargs
    )


SUITE = """
    def test_a():
        pass

    def test_b():
        assert False, "b broke"

    def test_c():
        pass
"""


def test_order_file_decides_the_order_even_with_pytest_randomly_installed(tmp_path):
    """Only the requested tests run, in the requested order, although pytest-randomly is loaded."""
    root = tmp_path / "p"
    write_suite(root, SUITE)
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    executor = executor_for(root, tmp_path, env=env)
    order = ("tests/test_mod.py::test_c", "tests/test_mod.py::test_b", "tests/test_mod.py::test_a")
    run = executor.run(RunRequest(order=order, timeout=120))
    assert tuple(result.nodeid for result in run.results) == order
    assert [result.outcome for result in run.results] == [Outcome.PASSED, Outcome.FAILED, Outcome.PASSED]
    assert run.ended is RunEnd.COMPLETED
    assert run.results[1].message == "b broke\nassert False"


def test_unknown_node_ids_are_reported_missing(tmp_path):
    """A node id pytest does not collect comes back in Run.missing."""
    root = tmp_path / "p"
    write_suite(root, SUITE)
    run = executor_for(root, tmp_path).run(RunRequest(order=("tests/test_mod.py::test_gone",), timeout=120))
    assert run.missing == ("tests/test_mod.py::test_gone",)
    assert run.results == ()


def test_secrets_never_reach_the_code_under_test(tmp_path):
    """Tokens and action inputs are stripped from the child's environment."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import os

        def test_no_secrets():
            leaked = [name for name in os.environ if "TOKEN" in name or name.startswith(("INPUT_", "ACTIONS_"))]
            assert not leaked, leaked
        """,
    )
    secrets = {
        "GITHUB_TOKEN": "t",
        "INPUT_GITHUB_TOKEN": "t",
        "ACTIONS_RUNTIME_TOKEN": "t",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "u",
        "GH_TOKEN": "t",
    }
    env = child_environment({**os.environ, **secrets, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    run = executor_for(root, tmp_path, env=env).run(RunRequest(order=None, timeout=120))
    assert [result.outcome for result in run.results] == [Outcome.PASSED]


def test_each_run_gets_its_own_temporary_folder(tmp_path):
    """TMPDIR differs between runs, so tmp files never leak from one run into the next."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import tempfile
        from pathlib import Path

        def test_fresh_tmp():
            marker = Path(tempfile.gettempdir()) / "marker"
            assert not marker.exists()
            marker.write_text("x")
        """,
    )
    executor = executor_for(root, tmp_path)
    outcomes = [executor.run(RunRequest(order=None, timeout=120)).results[0].outcome for _ in range(2)]
    assert outcomes == [Outcome.PASSED, Outcome.PASSED]


def test_snapshot_undoes_created_changed_and_deleted_files(tmp_path):
    """After a run, files it created are gone and files it changed or deleted are back."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        from pathlib import Path

        ROOT = Path(__file__).parent.parent

        def test_mess():
            (ROOT / "created.db").write_text("rows")
            (ROOT / "newdir").mkdir()
            (ROOT / "newdir" / "f").write_text("x")
            (ROOT / "data.txt").write_text("changed")
            (ROOT / "gone.txt").unlink()
        """,
    )
    (root / "data.txt").write_text("original")
    (root / "gone.txt").write_text("keep me")
    (root / ".venv").mkdir()
    snapshot = ProjectSnapshot.take(root, tmp_path / "backup")
    run = executor_for(root, tmp_path, snapshot=snapshot).run(RunRequest(order=None, timeout=120))
    assert run.results[0].outcome is Outcome.PASSED
    assert set(run.restored) == {"created.db", "newdir/", "newdir/f", "data.txt", "gone.txt"}
    assert (root / "data.txt").read_text() == "original"
    assert (root / "gone.txt").read_text() == "keep me"
    assert not (root / "created.db").exists()
    assert not (root / "newdir").exists()


def test_truncated_stream_line_is_tolerated():
    """A results stream cut off mid-line (a crash while writing) keeps every complete event."""
    events, truncated = parse_stream('{"event": "start", "nodeid": "a"}\n{"event": "res')
    assert events == [{"event": "start", "nodeid": "a"}]
    assert truncated


def test_truncated_stream_makes_the_run_a_crash(tmp_path):
    """A child that dies while writing its results ends as a crash, not as completed."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import os
        import sys

        def test_cut_stream():
            stream = [arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--flakehound-results=")][0]
            with open(stream, "a") as handle:
                handle.write('{"event": "res')
            os._exit(0)
        """,
    )
    run = executor_for(root, tmp_path).run(RunRequest(order=None, timeout=120))
    assert run.ended is RunEnd.CRASH
    assert run.results[-1].exception == "flakehound.Crash"


def test_signal_death_is_named(tmp_path):
    """A test killed by a signal is attributed with the signal number."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import os
        import signal

        def test_segfault_like():
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    run = executor_for(root, tmp_path).run(RunRequest(order=None, timeout=120))
    assert run.ended is RunEnd.CRASH
    assert "killed by signal 9" in (run.results[0].message or "")


def test_sigterm_ignoring_hang_is_killed(tmp_path):
    """A test that ignores SIGTERM and hangs is killed with SIGKILL after the grace period."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import signal
        import time

        def test_stubborn():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(600)
        """,
    )
    run = executor_for(root, tmp_path).run(RunRequest(order=None, timeout=3))
    assert run.ended is RunEnd.TIMEOUT
    assert run.results[0].exception == "flakehound.Timeout"
    assert "3 s timeout" in (run.results[0].message or "")


def test_probe_finds_pytest_and_its_plugins(tmp_path):
    """The probe reports pytest's version and the pytest11 plugins installed for the interpreter.

    This interpreter is probed in place; another ``PYTHONPATH`` needs a probe in a child interpreter,
    and both see the same here.
    """
    here = probe_plugins(sys.executable, tmp_path, os.environ)
    elsewhere = probe_plugins(sys.executable, tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert here is not None
    version, plugins = here
    assert version == pytest.__version__
    assert "randomly" in plugins
    assert elsewhere == here


@pytest.mark.parametrize(
    ("installed", "env", "expected"),
    [
        ([], {}, []),
        (["xdist", "randomly"], {}, []),
        (["pytest_cov"], {}, ["--no-cov"]),
        (["pytest_cov"], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, []),
    ],
    ids=["none", "xdist-handled-in-plugin", "cov", "cov-not-autoloaded"],
)
def test_neutralising_args(installed, env, expected):
    """pytest-cov is switched off on the command line only when it will be autoloaded."""
    assert neutralising_args(installed, env) == expected


def test_xdist_is_told_not_to_distribute(tmp_path):
    """With pytest-xdist loaded and -n 2 asked for, the run stays in one process in the requested order."""
    root = tmp_path / "p"
    write_suite(root, SUITE)
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    executor = ProcessExecutor(
        python=sys.executable, cwd=root, pytest_args=("-n", "2"), env=env, workdir=tmp_path / "runs"
    )
    order = ("tests/test_mod.py::test_c", "tests/test_mod.py::test_a")
    run = executor.run(RunRequest(order=order, timeout=120))
    assert tuple(result.nodeid for result in run.results) == order


def test_argv_prefix_replaces_the_interpreter(tmp_path):
    """A request's argv prefix (e.g. coverage run) replaces `python -m pytest`."""
    executor = executor_for(tmp_path, tmp_path)
    argv = executor.argv(tmp_path, RunRequest(order=None, timeout=1, argv_prefix=("cov", "-m", "pytest")))
    assert argv[:3] == ["cov", "-m", "pytest"]
    assert not any(arg.startswith("--flakehound-order") for arg in argv)


def test_unknown_stream_events_are_ignored(tmp_path):
    """Events a newer plugin might add are skipped, so old parents keep reading new streams."""
    root = tmp_path / "p"
    write_suite(
        root,
        """
        import sys

        def test_future_event():
            stream = [arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--flakehound-results=")][0]
            with open(stream, "a") as handle:
                handle.write('{"event": "from-the-future", "x": 1}\\n')
        """,
    )
    run = executor_for(root, tmp_path).run(RunRequest(order=None, timeout=120))
    assert [result.outcome for result in run.results] == [Outcome.PASSED]
    assert run.ended is RunEnd.COMPLETED


def test_state_snapshot_of_a_run_that_never_started_is_none(tmp_path):
    """When pytest cannot even start (a broken conftest), the state snapshot is None, not an error."""
    root = tmp_path / "p"
    write_suite(root, SUITE)
    (root / "conftest.py").write_text("raise ImportError('broken conftest')\n")
    executor = executor_for(root, tmp_path)
    assert executor.snapshot_state(["tests/test_mod.py::test_a"], "tests/test_mod.py::test_a", 120) is None
