"""The README's "Faults and hostile input" table points at tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
HEADER = "| Fault or hostile input | What flakehound does | Proven by |"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _table_rows() -> list[list[str]]:
    """The table's body rows, each split into its cells."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Faults and hostile input\n", 1)[1].split("\n## ", 1)[0]
    lines = section.split(HEADER + "\n", 1)[1].splitlines()
    rows = [line for line in lines[1:] if line.startswith("|")]  # lines[0] is the | --- | rule
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


ROWS = _table_rows()
REFERENCES = sorted({match for row in ROWS for match in REFERENCE.findall(row[-1])})


def _module_functions(path: Path) -> set[str]:
    """The names of the functions a test module defines at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_every_row_says_what_happens_and_names_a_test(row):
    """Each row has its three cells, and its last cell names at least one test as path::function."""
    fault, behaviour, proof = row
    assert fault
    assert behaviour
    assert REFERENCE.findall(proof)
    assert REFERENCE.sub("", proof).strip(", ") == ""  # nothing but references in the proof cell


@pytest.mark.parametrize(("path", "function"), REFERENCES, ids=[f"{path}::{name}" for path, name in REFERENCES])
def test_named_test_exists(path, function):
    """The test module a row names exists and defines the named test function."""
    module = ROOT / path
    assert module.is_file()
    assert function in _module_functions(module)


def test_every_fault_test_is_in_the_table():
    """Every test in tests/e2e/test_faults.py is named by some row, so none is left undocumented."""
    named = {function for path, function in REFERENCES if path == "tests/e2e/test_faults.py"}
    defined = {name for name in _module_functions(ROOT / "tests/e2e/test_faults.py") if name.startswith("test_")}
    assert defined == named


ISSUE_ITEMS = [
    "hangs",
    "ignores SIGTERM",
    "segfaults",
    "os._exit",
    "sys.exit",
    "KeyboardInterrupt",
    "closes stdout",
    "forks children",
    "non-daemon thread",
    "megabytes",
    "non-UTF-8",
    "10,000 frames",
    "module fails to import",
    "conftest.py",
    "no tests",
    "every test fails",
    "--max-failures",
    "SIGTERM (a cancelled workflow)",
    "500 or 502",
    "times out",
    "secondary rate limits",
    "403",
    "404",
    "422",
    "malformed",
    "truncated",
    "empty",
    "100 MB",
    "external entity",
    "billion-laughs",
    "no longer exist",
    "</details>",
    "comment marker",
    "@mentions",
    "#123",
    "backticks",
    "control characters",
    "right-to-left",
    "wrong type",
    "out of range",
    "unknown action inputs",
    "event payload",
    "missing token",
    "the token",
    "pull_request_target",
    "another user's comment",
]


@pytest.mark.parametrize("item", ISSUE_ITEMS, ids=ISSUE_ITEMS)
def test_table_covers_the_issue_list(item):
    """Each fault, hostile input and security rule the hardening issue lists has a row."""
    assert any(item in row[0] for row in ROWS)
