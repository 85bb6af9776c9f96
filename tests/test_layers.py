"""The package's shape, read from its source: layers import downwards only, no cycles, small modules.

Every ``import`` counts, wherever it stands: at the top, inside a function (a lazy import still
ties the two modules together) or under ``TYPE_CHECKING``. The README's ARCHITECTURE section
draws the same layers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import flakehound

PACKAGE = Path(flakehound.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

# Each layer and the layers it may import (itself included). Shells sit on top and may import
# anything below them, but never the other shell.
LAYERS: dict[str, set[str]] = {
    "foundation": {"foundation"},
    "inputs": {"foundation", "inputs"},
    "execution": {"foundation", "execution"},
    "engine": {"foundation", "execution", "inputs", "engine"},
    "render": {"foundation", "engine", "render"},
    "github": {"foundation", "engine", "render", "github"},
    "workflow": {"foundation", "inputs", "execution", "engine", "workflow"},
    "cli shell": {"foundation", "inputs", "execution", "engine", "render", "github", "workflow", "cli shell"},
    "action shell": {"foundation", "inputs", "execution", "engine", "render", "github", "workflow", "action shell"},
    "dispatcher": {"cli shell", "action shell"},
    "demo": {"demo"},
}
SHELLS = {"flakehound.cli": "cli shell", "flakehound.command_line": "cli shell", "flakehound.action": "action shell"}
FOUNDATION = {"flakehound", "flakehound.errors", "flakehound.models", "flakehound.config"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    if module in SHELLS:
        return SHELLS[module]
    if module == "flakehound.__main__":
        return "dispatcher"
    if module == "flakehound.workflow":
        return "workflow"
    subpackage = module.split(".")[1]
    assert subpackage in LAYERS, f"{module} is in no layer: add it to LAYERS and to the README's ARCHITECTURE"
    return subpackage


def _owner(name: str) -> str | None:
    """The flakehound module that ``name`` (a module, or a name inside one) lives in, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every flakehound module that ``module`` imports, at any depth of its code."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {owner for owner in map(_owner, names) if owner is not None and owner != module}
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_the_graph_sees_lazy_and_type_checking_imports():
    """The reader is not blind: the shells' imports under ``TYPE_CHECKING`` and the package's own are found."""
    assert "flakehound.models" in GRAPH["flakehound.action"]
    assert {"flakehound.cli", "flakehound.action"} <= GRAPH["flakehound.__main__"]
    assert "flakehound.errors" in GRAPH["flakehound"]


def test_no_import_cycles():
    """No two flakehound modules import each other, however indirectly, lazy imports included."""
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    """A module imports only its own layer and the layers below it."""
    allowed = LAYERS[_layer(module)]
    wrong = sorted(target for target in GRAPH[module] if _layer(target) not in allowed)
    assert not wrong, f"{module} ({_layer(module)}) may not import {wrong}"


@pytest.mark.parametrize(("shell", "other"), [("cli shell", "action shell"), ("action shell", "cli shell")])
def test_a_shell_never_reaches_the_other_shell(shell, other):
    """Not directly, and not through anything it imports: the two shells share only what lies below them."""
    seen: set[str] = set()
    todo = [module for module, layer in SHELLS.items() if layer == shell]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(GRAPH[module])
    assert not {module for module in seen if SHELLS.get(module) == other}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    """No module over 500 lines and no function over 80, so each one can be read in one sitting."""
    source = MODULES[module].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long


@pytest.mark.parametrize("entry", ["flakehound.cli", "flakehound.__main__"])
def test_the_cli_loads_pygithub_only_to_publish(entry):
    """`flakehound run` and the other local commands never pay for PyGithub and requests (about 20 MB).

    ``python -m flakehound`` and the ``flakehound`` script go through ``__main__``, so it counts too.
    """
    probe = f"import sys, {entry}; print(sorted({{'github', 'requests'}} & set(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"
