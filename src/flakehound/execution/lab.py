"""IO. The experiments' equipment: busy processes that load every core, and libfaketime for the clock.

``busy_cores`` starts spinning interpreter processes for the length of a ``with`` block and kills
them after, so the CPU-load experiment can run a test on a machine that has no time for it.
``find_libfaketime`` looks for the preload library the clock experiment needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["FAKETIME_PATHS", "busy_cores", "busy_process_count", "find_libfaketime"]

#: Where distributions install libfaketime (Debian/Ubuntu multiarch, Fedora/Arch, Homebrew, source builds).
FAKETIME_PATHS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib64/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
    "/opt/homebrew/lib/faketime/libfaketime.1.dylib",
)
#: Busy processes per core: with one per core, a test process would still get half a core or more.
PER_CORE = 3
_SPIN = "while True: pass"


def busy_process_count(cores: int | None = None) -> int:
    """Three busy processes for every core this process may run on: the test gets a third of a core at most."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return PER_CORE * max(cores, 1)


@contextmanager
def busy_cores(count: int, python: str = sys.executable) -> Iterator[int]:
    """Keep ``count`` processes spinning until the block ends; they are killed and reaped on the way out."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):  # one at a time, so those already started are killed if one cannot start
            process = subprocess.Popen(
                [python, "-c", _SPIN],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # with autogroup scheduling, CPU is shared out per session
            )
            processes.append(process)
        yield len(processes)
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def find_libfaketime(candidates: Iterable[str] = FAKETIME_PATHS) -> str | None:
    """The first libfaketime preload library that exists, or None."""
    for candidate in candidates:
        if Path(candidate).is_file():
            return candidate
    return None
