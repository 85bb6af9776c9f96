"""Fixtures shared by every test: copies of the sample projects and a way to run the real CLI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixture_projects"


@pytest.fixture
def copy_project(tmp_path):
    """Copy a sample project into this test's own folder, so runs never share state."""

    def copy(name: str) -> Path:
        destination = tmp_path / name
        shutil.copytree(FIXTURES / name, destination)
        return destination

    return copy


def _sample_environment(state: Path) -> dict[str, str]:
    """The environment for sample-suite runs: a counter folder outside the project, no autoloaded plugins."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["FLAKEHOUND_SAMPLE_STATE"] = str(state)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


@pytest.fixture
def ctrl_c():
    """SIGINT raises KeyboardInterrupt in this test, as in a terminal, then SIGINT is as it was.

    A run of our suite started as a script's background job (``pytest ... &`` in a script, which bash
    starts with SIGINT ignored) inherits SIGINT ignored, and Python then leaves it so: a test that
    interrupts with a real SIGINT would wait on, unheard (seen: four interrupt tests failed that way).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def sample_env_at():
    """Build a sample environment around a given counter folder (for several runs in one test)."""
    return _sample_environment


@pytest.fixture
def sample_env(tmp_path):
    """A fresh sample environment whose counter folder lives beside (not inside) the project."""
    state = tmp_path / "state"
    state.mkdir()
    return _sample_environment(state)


def _run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flakehound", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--update-goldens``: rewrite tests/golden/*.md instead of comparing against them."""
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ from the current renderers",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files rather than comparing against them."""
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def run_cli():
    """Run ``python -m flakehound ARGS`` in a folder with an environment, exactly as a user would."""
    return _run_cli


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """One investigation of the planted suite (seed 7), shared by the assertions that read it."""
    from flakehound.models import Report

    root = tmp_path_factory.mktemp("planted")
    project = root / "planted"
    shutil.copytree(FIXTURES / "planted", project)
    state = root / "state"
    state.mkdir()
    report_path = root / "report.json"
    completed = _run_cli(["run", "--seed", "7", "--report", str(report_path)], project, _sample_environment(state))
    return completed, Report.model_validate_json(report_path.read_text())
