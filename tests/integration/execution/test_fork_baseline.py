"""Files a project makes at import or collection: forked runs find them as fresh processes do."""

from __future__ import annotations

import shutil

import pytest
from executorkit import FIXTURES, comparable, environment, fork_executor, process_executor

from flakehound.execution.forking import ForkExecutor
from flakehound.execution.runner import RunRequest
from flakehound.models import Outcome

MODULE = "tests/test_app.py"
WHOLE = RunRequest(order=None, timeout=60)
SCRATCH = RunRequest(order=(f"{MODULE}::test_leaves_scratch",), timeout=60)
READS = RunRequest(order=(f"{MODULE}::test_imported_once", f"{MODULE}::test_reads_database"), timeout=60)
#: Forked runs, then a fresh process in between (its own environment), then forked runs again.
REQUESTS = (WHOLE, WHOLE, SCRATCH, READS, RunRequest(order=None, timeout=60, env={"UNRELATED": "1"}), WHOLE, READS)


def _runs(kind, tmp_path):
    root = shutil.copytree(FIXTURES / "import_files", tmp_path / kind / "project")
    make = fork_executor if kind == "fork" else process_executor
    executor = make(root, tmp_path / kind / "work", environment(tmp_path, kind))
    runs = [executor.run(request) for request in REQUESTS]
    if isinstance(executor, ForkExecutor):
        assert executor.fork_runs == len(REQUESTS) - 1
        executor.close()
    return root, runs


@pytest.mark.parametrize("kind", ["fork", "process"])
def test_every_run_finds_the_files_made_at_import_and_none_a_test_left(tmp_path, kind):
    """Files made at import are there in every run, checked-in ones as one import left them; a test's are gone."""
    root, runs = _runs(kind, tmp_path)
    assert {result.outcome for run in runs for result in run.results} == {Outcome.PASSED}
    assert [len(run.results) for run in runs] == [4, 4, 1, 2, 4, 4, 2]
    assert not (root / "scratch.txt").exists()


def _results(run):
    """A run as :func:`comparable` sees it, without the restored paths (an import's files are not a fork's to undo)."""
    data = comparable(run)
    del data["restored"]
    return data


def test_forked_runs_equal_fresh_runs_and_both_put_the_project_back_as_it_was(tmp_path):
    """The same requests give the same runs forked and fresh; afterwards neither project keeps an import's files."""
    fork_root, forked = _runs("fork", tmp_path)
    process_root, fresh = _runs("process", tmp_path)
    assert [_results(run) for run in forked] == [_results(run) for run in fresh]
    imported = {".state/", ".state/app.db", "cache/", "cache/warm.json", "data/imports.log"}
    scratch = {"scratch.txt"}
    assert [set(run.restored) for run in fresh] == [
        *[imported | scratch] * 3,
        imported,
        *[imported | scratch] * 2,
        imported,
    ]
    assert [set(run.restored) for run in forked] == [
        scratch,
        scratch,
        scratch,
        set(),
        imported | scratch,
        scratch,
        set(),
    ]
    for root in (fork_root, process_root):
        assert (root / "data" / "imports.log").read_text() == "checked in\n"
        assert not (root / ".state").exists()
        assert not (root / "cache").exists()


def test_without_a_snapshot_nothing_is_put_back_between_forked_and_fresh_runs(tmp_path):
    """With no project snapshot, switching between forked and fresh runs leaves every file where the runs put it."""
    root = shutil.copytree(FIXTURES / "import_files", tmp_path / "project")
    with fork_executor(root, tmp_path / "work", environment(tmp_path, "bare"), restores=False) as fork:
        runs = [fork.run(request) for request in (READS, RunRequest(order=None, timeout=60, env={"FRESH": "1"}), READS)]
        assert fork.fork_runs == 2
    assert [run.restored for run in runs] == [(), (), ()]
    assert (root / "scratch.txt").exists()  # the fresh run left it; no one took it away
    assert (root / "data" / "imports.log").read_text() == "checked in\nimported\nimported\n"
