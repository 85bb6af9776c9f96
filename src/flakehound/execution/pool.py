"""IO. Independent runs side by side: a pool of workers, one per job, and the investigation's executor.

``WorkerPool`` runs independent requests in parallel, one worker per job, and serves several threads
at once (polluter searches side by side): a worker runs one request at a time, held by the thread
whose request it is, and a thread waits for a free one. Project files are shared
state: the snapshot restore after one run would undo files another run is using, so every worker
beyond the first runs in its own copy of the project folder (made on first use, without the folders
the snapshot skips), and paths in its results are rewritten to the project's own. A copy that does
not collect the same node ids (a ``rootdir`` or ``conftest.py`` above the project folder) is retired
and its requests run again in the project itself.

The clock experiment's runs (requests with a ``clock``) go to one more worker, the clock worker: a
copy of the project whose fork server runs under libfaketime at the real time (``FAKETIME=+0``,
read again on every call), each child moving its clock to the request's moment before its tests. The
pipeline has it made as soon as the original run failed, so it collects while the reruns go on, and
a clock run costs a fork instead of a fresh interpreter. Fresh-process pools have none: each run
starts under the library anyway.

``open_executor`` makes the pool an investigation uses, its workers forking
(:class:`flakehound.execution.forking.ForkExecutor`) or starting fresh processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

from flakehound.errors import ConfigError
from flakehound.execution.forking import FORK_AVAILABLE, ForkExecutor
from flakehound.execution.runner import ProcessExecutor, RunRequest
from flakehound.execution.snapshot import SKIPPED_DIRS, ProjectSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType

    from typing_extensions import Self

    from flakehound.execution.runner import Executor
    from flakehound.models import Run, TestResult

__all__ = [
    "DEFAULT_ISOLATION",
    "DEFAULT_JOBS",
    "BatchExecutor",
    "Isolation",
    "WorkerPool",
    "halt_runs",
    "open_executor",
    "run_batch",
]

Isolation = Literal["fork", "process"]
#: Which workers a request may use: worker 0 (the project itself), the clock worker, or any other.
_Which = Literal["home", "clock", "any"]

#: ``--isolation`` unless the user says otherwise.
DEFAULT_ISOLATION: Isolation = "fork" if FORK_AVAILABLE else "process"
DEFAULT_JOBS = os.cpu_count() or 1


@runtime_checkable
class BatchExecutor(Protocol):
    """An executor that can run independent requests in parallel."""

    def run(self, request: RunRequest) -> Run:
        """Run one request."""
        ...

    def run_many(self, requests: Sequence[RunRequest]) -> list[Run]:
        """Run independent requests; the runs come back in the order of the requests."""
        ...


def halt_runs(executor: Executor) -> None:
    """Kill the runs other threads wait for, once Ctrl-C or SIGTERM reached this one (executors that can)."""
    halt = getattr(executor, "halt", None)
    if halt is not None:
        halt()


def run_batch(executor: Executor, requests: Sequence[RunRequest]) -> list[Run]:
    """Run independent requests, in parallel when the executor can; the runs in the order of the requests."""
    if isinstance(executor, BatchExecutor):
        return executor.run_many(requests)
    return [executor.run(request) for request in requests]


class _Worker(Protocol):
    def run(self, request: RunRequest) -> Run: ...

    def warm(self) -> None: ...

    def cancel(self) -> None: ...

    def halt(self) -> None: ...

    def snapshot_state(self, order: Sequence[str], after: str, timeout: float) -> dict[str, Any] | None: ...

    def collect(self, timeout: float) -> Run: ...

    def close(self) -> None: ...


def _relocate_text(text: str | None, copy: str, home: str) -> str | None:
    return None if text is None else text.replace(copy, home)


def _relocate(run: Run, copy: Path, home: Path) -> Run:
    """``run`` as if it had run in ``home``: the copy's absolute paths in its texts become the project's."""
    old, new = str(copy), str(home)

    def moved(result: TestResult) -> TestResult:
        return result.model_copy(
            update={
                name: _relocate_text(getattr(result, name), old, new) for name in ("message", "traceback", "output")
            }
        )

    return run.model_copy(
        update={
            "results": tuple(moved(result) for result in run.results),
            "collection_errors": tuple(moved(result) for result in run.collection_errors),
            "output_tail": run.output_tail.replace(old, new),
            "detail": _relocate_text(run.detail, old, new),
        }
    )


def _ignore_skipped(directory: str, names: list[str]) -> set[str]:
    here = os.fspath(directory)
    return {
        name
        for name in names
        if name in SKIPPED_DIRS or name.endswith(".egg-info") or os.path.exists(os.path.join(here, name, "pyvenv.cfg"))  # noqa: PTH110, PTH118 - copytree passes strings
    }


@dataclass
class WorkerPool:
    """Independent runs spread over ``jobs`` workers; worker 0 runs in the project, the others in copies.

    ``make_worker(cwd, workdir, snapshot)`` builds one worker. Runs that must happen in the project
    itself (:meth:`run`: the original run, whose coverage data stays there; state snapshots) go to
    worker 0; :meth:`run_many` uses whichever workers are free, so threads that each make one run
    after another (searches side by side) share the workers. :meth:`warm` gets every worker ready at
    once in the background (fork servers collect side by side); a worker is used only once it is ready.
    """

    home: Path
    workdir: Path
    jobs: int
    make_worker: Callable[[Path, Path, ProjectSnapshot], _Worker]
    workers: list[_Worker] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    retired: set[int] = field(default_factory=set)
    warming: dict[int, Future[None]] = field(default_factory=dict)
    starter: ThreadPoolExecutor | None = None
    #: Guards ``busy`` (the workers some thread holds) and the growth of ``workers``.
    free: threading.Condition = field(default_factory=threading.Condition, repr=False)
    busy: set[int] = field(default_factory=set)
    #: Threads waiting for a free worker now.
    waiting: int = 0
    #: Makes the clock worker: ``make_worker`` and libfaketime's library (None: clock requests go to any worker).
    make_clock_worker: Callable[[Path, Path, ProjectSnapshot, str], _Worker] | None = None
    #: The clock worker's index in ``workers``, once made: it runs the requests with a ``clock``, and only those.
    clock_index: int | None = None

    def __post_init__(self) -> None:
        """Take the project's snapshot and make worker 0, which runs in the project itself."""
        snapshot = ProjectSnapshot.take(self.home, self.workdir / "backup")
        self.workers.append(self.make_worker(self.home, self.workdir / "worker-0", snapshot))
        self.roots.append(self.home)

    def __enter__(self) -> Self:
        """Nothing starts until the first run."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Close, however the block ended."""
        self.close()

    def close(self) -> None:
        """Close every worker, side by side (a fork server may still be collecting, or slow to leave)."""
        if self.starter is not None:
            for worker in self.workers:
                worker.cancel()  # a server still starting is stopped, not waited for
            self.starter.shutdown(wait=True)
        if len(self.workers) == 1:
            self.workers[0].close()
            return
        with ThreadPoolExecutor(max_workers=len(self.workers), thread_name_prefix="flakehound-close") as pool:
            list(pool.map(lambda worker: worker.close(), self.workers))

    def warm(self, *, copies_only: bool = False) -> None:
        """Make every worker and get each one ready in the background, all at once.

        ``copies_only`` leaves the project's own worker alone: a run in the project itself (the
        original run under coverage) can go on while the copies, taken now, collect in their folders.
        """
        with self.free:
            self._grow(self.jobs)
            for index in range(1 if copies_only else 0, len(self.workers)):
                self._warm_up(index)

    def warm_clock(self, library: str) -> None:
        """Make the clock worker, under ``library``, and get it ready in the background (if there is one to make)."""
        if self.make_clock_worker is not None:
            with self.free:
                self._clock_worker(self.make_clock_worker, library)

    def _warm_up(self, index: int) -> None:
        """Get worker ``index`` ready in the background, unless that has begun (hold ``free``)."""
        if self.starter is None:  # one thread more than the jobs: the clock worker's
            self.starter = ThreadPoolExecutor(max_workers=self.jobs + 1, thread_name_prefix="flakehound-warm")
        if index not in self.warming:
            self.warming[index] = self.starter.submit(self.workers[index].warm)

    def _clock_worker(self, make: Callable[[Path, Path, ProjectSnapshot, str], _Worker], library: str) -> int:
        """The clock worker's index: made by ``make`` in a project copy and warming up, if need be (hold ``free``)."""
        if self.clock_index is None:
            root, snapshot = self._copy("worker-clock")
            self.workers.append(make(root, self.workdir / "worker-clock", snapshot, library))
            self.roots.append(root)
            self.clock_index = len(self.workers) - 1
            self._warm_up(self.clock_index)
        return self.clock_index

    def _ready(self, index: int) -> _Worker:
        """Worker ``index``, once the warm-up started for it (if any) is over."""
        warming = self.warming.get(index)
        if warming is not None:
            warming.result()
        return self.workers[index]

    @contextlib.contextmanager
    def _holding(self, which: _Which) -> Iterator[int]:
        """A worker no other thread is using (waiting for one): worker 0, the clock worker, or any other not retired."""
        with self.free:
            while (index := self._pick(which)) is None:
                self.waiting += 1
                self.free.wait()
                self.waiting -= 1
            self.busy.add(index)
        try:
            yield index
        finally:
            with self.free:
                self.busy.discard(index)
                self.free.notify_all()

    def _pick(self, which: _Which) -> int | None:
        """The first free worker, preferring one whose warm-up is over (or never started)."""
        if which == "home":
            candidates = [0]
        elif which == "clock":
            candidates = [cast("int", self.clock_index)]
        else:
            candidates = self._general()
        free = [index for index in candidates if index not in self.busy and index not in self.retired]
        ready = [index for index in free if index not in self.warming or self.warming[index].done()]
        chosen = ready or free
        return chosen[0] if chosen else None

    def run(self, request: RunRequest) -> Run:
        """Run one request in the project itself."""
        with self._holding("home"):
            return self._ready(0).run(request)

    def snapshot_state(self, order: Sequence[str], after: str, timeout: float) -> dict[str, Any] | None:
        """Take process-state snapshots in the project itself."""
        with self._holding("home"):
            return self._ready(0).snapshot_state(order, after, timeout)

    def collect(self, timeout: float) -> Run:
        """What pytest collects in the project, without running a test."""
        with self._holding("home"):
            return self._ready(0).collect(timeout)

    def _general(self) -> list[int]:
        """The workers for requests without a clock: all but the clock worker."""
        return [index for index in range(len(self.workers)) if index != self.clock_index]

    def _copy(self, name: str) -> tuple[Path, ProjectSnapshot]:
        """A copy of the project in ``workdir / name`` (without the folders the snapshot skips), and its snapshot."""
        root = self.workdir / name / self.home.name
        shutil.copytree(self.home, root, symlinks=True, ignore=_ignore_skipped)
        return root, ProjectSnapshot.take(root, self.workdir / name / "backup")

    def _grow(self, wanted: int) -> None:
        """Make worker copies of the project up to ``wanted`` workers besides the clock worker."""
        while len(self._general()) < wanted:
            index = len(self.workers)
            root, snapshot = self._copy(f"worker-{index}")
            self.workers.append(self.make_worker(root, self.workdir / f"worker-{index}", snapshot))
            self.roots.append(root)

    def run_many(self, requests: Sequence[RunRequest]) -> list[Run]:
        """Run independent requests on the free workers; the runs come back in the order of the requests."""
        with self.free:
            self._grow(self.jobs)  # a single run too: another thread may hold worker 0
            usable = len(set(self._general()) - self.retired)
        if len(requests) < 2 or usable < 2:  # noqa: PLR2004 - parallel needs two of each
            return [self._run_anywhere(request) for request in requests]
        with ThreadPoolExecutor(max_workers=min(usable, len(requests)), thread_name_prefix="flakehound-worker") as pool:
            try:
                return list(pool.map(self._run_anywhere, requests))
            except KeyboardInterrupt:  # only this thread hears it: the runs in the others are stopped, not waited out
                self.halt()
                raise

    def halt(self) -> None:
        """Kill every run going on in any thread, and start no later one: the investigation is over."""
        for worker in self.workers:
            worker.halt()

    def _run_anywhere(self, request: RunRequest) -> Run:
        """Run ``request`` on a free worker (the clock worker's if it has a clock); as if it had run in the project."""
        with self._holding("clock" if self._clocked(request) else "any") as index:
            run = self._ready(index).run(request)
        if not index:
            return run
        if run.missing:  # the copy collects other node ids: never use it again
            with self.free:
                self.retired.add(index)
            return self.run(request)
        return _relocate(run, self.roots[index], self.home)

    def _clocked(self, request: RunRequest) -> bool:
        """Whether ``request`` goes to the clock worker (made now if need be): it has a clock, and the worker serves."""
        if request.clock is None or self.make_clock_worker is None:
            return False
        with self.free:
            return self._clock_worker(self.make_clock_worker, request.clock.library) not in self.retired


@contextlib.contextmanager
def open_executor(
    *,
    isolation: Isolation,
    jobs: int,
    python: str,
    cwd: Path,
    pytest_args: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    extra_args: Sequence[str] = (),
    fork_available: bool = FORK_AVAILABLE,
    hash_seed: str | None = None,
) -> Iterator[WorkerPool]:
    """The executor for an investigation: ``jobs`` workers, each forking or starting fresh processes.

    Forking workers share ``hash_seed`` (see ``ForkExecutor.hash_seed``), so results do not depend on
    which worker made a run; fresh-process workers leave each interpreter its own.
    """
    if jobs < 1:
        msg = f"--jobs must be at least 1, got {jobs!r}; pass the number of runs to make at once"
        raise ConfigError(msg)
    if isolation == "fork" and not fork_available:
        msg = "--isolation fork needs os.fork, which this platform lacks; pass --isolation process"
        raise ConfigError(msg)

    def process(root: Path, home: Path, snapshot: ProjectSnapshot) -> ProcessExecutor:
        return ProcessExecutor(
            python=python,
            cwd=root,
            pytest_args=tuple(pytest_args),
            env=env,
            workdir=home / "runs",
            extra_args=tuple(extra_args),
            snapshot=snapshot,
        )

    def make_worker(root: Path, home: Path, snapshot: ProjectSnapshot) -> _Worker:
        fresh = process(root, home, snapshot)
        return ForkExecutor(fresh, hash_seed=hash_seed) if isolation == "fork" else _Closing(fresh)

    def make_clock_worker(root: Path, home: Path, snapshot: ProjectSnapshot, library: str) -> _Worker:
        return ForkExecutor(process(root, home, snapshot), hash_seed=hash_seed, faketime=library)

    clock = make_clock_worker if isolation == "fork" else None  # fresh processes start under libfaketime anyway
    with WorkerPool(home=cwd, workdir=workdir, jobs=jobs, make_worker=make_worker, make_clock_worker=clock) as pool:
        yield pool


@dataclass
class _Closing:
    """A ``ProcessExecutor`` with nothing to close."""

    process: ProcessExecutor

    def run(self, request: RunRequest) -> Run:
        return self.process.run(request)

    def snapshot_state(self, order: Sequence[str], after: str, timeout: float) -> dict[str, Any] | None:
        return self.process.snapshot_state(order, after, timeout)

    def collect(self, timeout: float) -> Run:
        return self.process.run(RunRequest(order=None, timeout=timeout, extra_args=("--collect-only",)))

    def warm(self) -> None:
        pass

    def cancel(self) -> None:
        pass

    def halt(self) -> None:
        self.process.halt()

    def close(self) -> None:
        pass
