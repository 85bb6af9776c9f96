"""The README, CI and the package agree with each other; the core stays pure."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import flakehound
from flakehound.cli import build_parser

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "src" / "flakehound"
PURE = [
    "engine/classify",
    "engine/plan",
    "engine/stats",
    "engine/gate",
    "render/terminal",
    "render/markdown",
    "inputs/junit",
    "inputs/diffcov",
    "engine/statediff",
    "engine/bisect",
    "engine/experiments",
    "engine/hints",
    "engine/shards",
]
FORBIDDEN_IMPORTS = {"subprocess", "os", "github", "httpx", "shutil", "socket"}


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    return [block.strip() for block in blocks]


def test_ci_runs_the_readme_test_command():
    """.ci/run runs exactly the README's second quick-start command."""
    test_command = _readme_commands()[1]
    assert test_command.startswith("pip install -e '.[dev]'")
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_quick_start_runs_the_demo():
    """The README's first quick-start command installs and runs the demo."""
    assert _readme_commands()[0] == "pip install . && flakehound demo"


def test_every_run_option_is_in_the_readme():
    """Each `flakehound run` option is documented in the README's options table."""
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # noqa: SLF001 - argparse has no public walk
    readme = (ROOT / "README.md").read_text()
    options = [option for action in run._actions for option in action.option_strings if option.startswith("--")]  # noqa: SLF001
    missing = [option for option in options if option != "--help" and f"`{option}" not in readme]
    assert not missing


@pytest.mark.parametrize("module", PURE)
def test_core_is_pure(module):
    """Core modules import no process, OS or network module, and never open files or read the clock."""
    tree = ast.parse((SOURCE / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            assert name not in {"open", "datetime.now", "time.time", "Path.open"}, (module, name)
    assert not imported & FORBIDDEN_IMPORTS, (module, imported & FORBIDDEN_IMPORTS)


def test_public_api_is_sorted_and_complete():
    """The package's __all__ is sorted and every name in it exists."""
    assert flakehound.__all__ == sorted(flakehound.__all__)
    assert all(hasattr(flakehound, name) for name in flakehound.__all__)


def test_public_names_are_the_modules_objects():
    """Each lazily loaded public name is the object its module defines; an unknown name is an AttributeError."""
    from flakehound import errors, models

    assert flakehound.Report is models.Report
    assert flakehound.ConfigError is errors.ConfigError
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = flakehound.Nope


def test_pytest_plugins_load_without_the_report_models():
    """Every pytest process flakehound starts imports its plugins: no pydantic, no report models."""
    code = (
        "import sys, flakehound.execution.pytest_plugin, flakehound.execution._fork_server,"
        " flakehound.execution._experiment_plugin;"
        " print(sorted(n for n in ('pydantic', 'flakehound.models') if n in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_version_matches_installed_metadata():
    """__version__ is the installed distribution's version."""
    assert flakehound.__version__ == version("flakehound")


def test_sample_suites_are_not_collected_by_our_suite(pytestconfig):
    """Our pytest run never collects the planted sample suites or the demo as our own tests."""
    assert {"fixture_projects", "demo"} <= set(pytestconfig.getini("norecursedirs"))
