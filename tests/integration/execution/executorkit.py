"""Small projects, executors over them and comparable runs, for the fork executor's and the worker pool's tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flakehound.execution.forking import ForkExecutor
from flakehound.execution.lab import find_libfaketime
from flakehound.execution.pool import open_executor
from flakehound.execution.runner import ProcessExecutor, RunRequest
from flakehound.execution.snapshot import ProjectSnapshot

FIXTURES = Path(__file__).parents[2] / "fixture_projects"


def run_state_plugin(
    project: Path, target: Path, after: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` with the state plugin, snapshots around ``after`` written to ``target``."""
    plugin = ["-p", "flakehound.execution._state_plugin", f"--flakehound-state={target}"]
    plugin += [f"--flakehound-state-after={after}", "-p", "no:randomly", "-p", "no:cacheprovider"]
    command = [sys.executable, "-m", "pytest", *plugin, *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)


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
