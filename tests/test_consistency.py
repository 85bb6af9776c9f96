"""The README, CI and the package agree with each other; the core stays pure."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import flakehound
from flakehound.cli import build_parser

if TYPE_CHECKING:
    import argparse

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "src" / "flakehound"
PURE = [
    "engine/classify",
    "engine/plan",
    "engine/stats",
    "engine/gate",
    "render/terminal",
    "render/markdown",
    "render/escape",
    "render/digest",
    "inputs/junit",
    "inputs/diffcov",
    "engine/statediff",
    "engine/bisect",
    "engine/factors",
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


def _readme_rows(heading: str) -> list[list[str]]:
    """The body rows of the table under the README's ``### heading``, as stripped cells."""
    section = (ROOT / "README.md").read_text().split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")][2:]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def _options_cell(cell: str) -> set[str]:
    return set(re.findall(r"`(--[a-z-]+)", cell))


def _readme_default(command: str, option: str) -> str:
    """The README's default for ``flakehound COMMAND OPTION``, following "as for `run`" to run's table."""
    for row_command, options, default, meaning in _readme_rows("Options of the other commands"):
        own = meaning != "as for `run`" or default  # "as for `run`" without a default: run's row says it
        if row_command == f"`{command}`" and option in _options_cell(options) and own:
            return default.replace("`", "")
    assert command in {"run", "plan", "investigate", "bisect"}, f"{command} {option} is not in the README"
    for options, default, _ in _readme_rows("Options of `flakehound run`"):
        if option in _options_cell(options):
            return default.replace("`", "")
    pytest.fail(f"{command} {option} is not in the README")


#: Defaults that depend on the machine, which the README describes in words.
MACHINE_DEFAULTS = {"--python", "--jobs", "--isolation"}


def _command_options() -> list[tuple[str, argparse.Action]]:
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public walk
    return [
        (name, action)
        for name, parser in commands.items()
        for action in parser._actions  # noqa: SLF001
        if action.option_strings and action.option_strings[0] != "-h"
    ]


@pytest.mark.parametrize(("command", "action"), _command_options(), ids=lambda value: getattr(value, "dest", value))
def test_every_option_is_in_the_readme_with_the_default_help_gives(command, action):
    """Each option of each command has a README row; its default there, in ``--help`` and in the code agree."""
    option = action.option_strings[0]
    default = _readme_default(command, option)
    help_text = (action.help or "") % {"default": action.default}
    said = re.search(r"\(default: (.*)\)$", help_text)
    assert (said.group(1) if said else "") == default, f"{command} {option}: --help and README differ"
    concrete = not isinstance(action.default, bool | list | type(None)) and option not in MACHINE_DEFAULTS
    if concrete:
        assert default == str(action.default)


def test_the_options_tables_list_no_option_the_commands_lack():
    """A README row naming an option a command does not have is stale."""
    real = {(command, action.option_strings[0]) for command, action in _command_options()}
    rows = [(row[0].strip("`"), row[1]) for row in _readme_rows("Options of the other commands")]
    rows += [("run", row[0]) for row in _readme_rows("Options of `flakehound run`")]
    stale = [
        (command, option) for command, cell in rows for option in _options_cell(cell) if (command, option) not in real
    ]
    assert not stale


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
