"""What a polluter leaves behind, named first and in words: one real pytest run per planted polluter.

The suite is ``tests/fixture_projects/leftovers``; each run takes the state plugin's snapshots
around one polluter and the diff of the two must put that polluter's leftover first.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
from executorkit import environment, pool_over, run_state_plugin

from flakehound.engine.statediff import describe_change, diff_states

if TYPE_CHECKING:
    from pathlib import Path

FILE = "tests/test_leftovers.py"


def snapshot_around(project: Path, test: str, tmp_path: Path) -> dict[str, Any]:
    """Run one test of the project with the state plugin and load both snapshots."""
    target = tmp_path / "state.json"
    tempdir = tmp_path / "tmp"
    tempdir.mkdir(exist_ok=True)
    nodeid = f"{FILE}::{test}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    completed = run_state_plugin(project, target, nodeid, env | {"TMPDIR": str(tempdir)}, nodeid)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return document


LEFTOVERS = {
    "test_handler_polluter": (
        ("logger", "app:handler StreamHandler level"),
        "sets the level of the StreamHandler on logger 'app' from NOTSET to DEBUG",
    ),
    "test_config_polluter": (
        ("fixture", "session:config"),
        "changes session fixture config from {'debug': False} to {'debug': True}",
    ),
    "test_database_polluter": (
        ("database", ".state/app.db:users"),
        "adds 1 row to table users in .state/app.db",
    ),
    "test_session_polluter": (
        ("event-loop-binding", "app.http._session"),
        "leaves app.http._session bound to a closed event loop",
    ),
    "test_registry_polluter": (
        ("module-attribute", "app.registry.Registry.plugins"),
        "changes app.registry.Registry.plugins from [] to ['audit']",
    ),
}


@pytest.mark.parametrize(("test", "expected", "words"), [(k, *v) for k, v in LEFTOVERS.items()], ids=list(LEFTOVERS))
def test_the_polluters_leftover_is_named_first_in_words(copy_project, tmp_path, test, expected, words):
    """The first change of the diff is the one the polluter made, said as a reviewer would say it."""
    document = snapshot_around(copy_project("leftovers"), test, tmp_path)
    changes = diff_states(document["before"], document["after"])
    assert changes, document["after"]
    first = changes[0]
    assert (first.kind, first.name) == expected, [describe_change(change) for change in changes]
    assert describe_change(first) == words


def test_a_handler_level_is_the_only_change_a_child_logger_is_not_one(copy_project, tmp_path):
    """Setting a handler's level is the whole diff: the child logger the test also creates has default settings."""
    document = snapshot_around(copy_project("leftovers"), "test_handler_polluter", tmp_path)
    changes = diff_states(document["before"], document["after"])
    assert [(change.kind, change.name) for change in changes] == [LEFTOVERS["test_handler_polluter"][0]]


def test_a_database_row_replaces_the_raw_file_change(copy_project, tmp_path):
    """The row count is the change; the .db file's new size and mtime are not listed beside it."""
    document = snapshot_around(copy_project("leftovers"), "test_database_polluter", tmp_path)
    assert document["before"]["database"] == {".state/app.db:users": "0"}
    changes = diff_states(document["before"], document["after"])
    assert [change.kind for change in changes] == ["database"]


def test_a_closed_loop_binding_comes_before_the_attribute_that_holds_it(copy_project, tmp_path):
    """The session's closed loop is named first; the new value of the attribute follows, without an address."""
    document = snapshot_around(copy_project("leftovers"), "test_session_polluter", tmp_path)
    changes = diff_states(document["before"], document["after"])
    assert [(change.kind, change.name) for change in changes[:2]] == [
        ("event-loop-binding", "app.http._session"),
        ("module-attribute", "app.http._session"),
    ]
    attribute = describe_change(changes[1])
    assert attribute.startswith("changes app.http._session from None to Session(_loop=<")
    assert "closed=True" in attribute
    assert "0x" not in attribute


@pytest.mark.parametrize("isolation", ["process", "fork"])
def test_the_executors_snapshots_name_each_leftover_first(copy_project, tmp_path, isolation):
    """Through the investigation's own executor, fresh or forked, each polluter's leftover still comes first."""
    project = copy_project("leftovers")
    with pool_over(project, tmp_path, environment(tmp_path, isolation), isolation=isolation) as pool:
        states = {test: pool.snapshot_state([f"{FILE}::{test}"], f"{FILE}::{test}", 60) for test in LEFTOVERS}
    for test, (expected, words) in LEFTOVERS.items():
        state = states[test]
        assert state is not None
        assert state["after"] is not None, test
        first = diff_states(state["before"], state["after"])[0]
        assert ((first.kind, first.name), describe_change(first)) == (expected, words), test
