"""The experiments' equipment with real processes and files: busy processes come and go, libfaketime is found."""

from __future__ import annotations

import os
import time

import pytest

from flakehound.execution.lab import busy_cores, busy_process_count, find_libfaketime

RECORDER = """#!/bin/sh
echo $$ > "{folder}/$$"
exec sleep 600
"""


def alive(pid: int) -> bool:
    """Whether a process with this id exists (reaped processes do not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_busy_processes_run_during_the_block_and_are_gone_after(tmp_path):
    """busy_cores starts the processes, each in its own session, and kills and reaps them when the block ends."""
    folder = tmp_path / "pids"
    folder.mkdir()
    python = tmp_path / "python"
    python.write_text(RECORDER.format(folder=folder), encoding="utf-8")
    python.chmod(0o755)
    with busy_cores(3, python=str(python)) as started:
        while len(list(folder.iterdir())) < started:
            time.sleep(0.01)
        pids = [int(path.name) for path in folder.iterdir()]
        assert started == 3
        assert all(alive(pid) for pid in pids)
        assert all(os.getsid(pid) == pid for pid in pids)
    assert not any(alive(pid) for pid in pids)


def test_a_busy_process_that_cannot_start_is_an_error(tmp_path):
    """A missing interpreter fails loudly rather than running the experiment on an idle machine."""
    with pytest.raises(FileNotFoundError), busy_cores(2, python=str(tmp_path / "missing")):
        pass  # pragma: no cover - the block is never entered


@pytest.mark.parametrize(("cores", "count"), [(1, 3), (4, 12), (0, 3)], ids=["one", "four", "none-reported"])
def test_three_busy_processes_per_core(cores, count):
    """Three busy processes per core leave a test at most a third of a core."""
    assert busy_process_count(cores) == count


def test_busy_process_count_reads_this_machine():
    """Without a core count, the cores this process may run on are counted."""
    assert busy_process_count() >= 3
    assert busy_process_count() % 3 == 0


def test_libfaketime_is_the_first_candidate_that_exists(tmp_path):
    """find_libfaketime returns the first existing library among the candidates, or None."""
    library = tmp_path / "libfaketime.so.1"
    library.write_bytes(b"")
    assert find_libfaketime([str(tmp_path / "missing.so"), str(library)]) == str(library)
    assert find_libfaketime([str(tmp_path / "missing.so"), str(tmp_path)]) is None
