"""IO. Fast reruns: a fork executor that collects once and forks a child per run.

``ForkExecutor`` starts one long-lived ``python -m pytest`` with :mod:`flakehound.execution._fork_server`. It
collects the suite once; each run is then a forked child that starts from the state a fresh
process has after collection, runs exactly the requested items in the requested order and streams
its results in the same JSON-lines format as a fresh run, so ``Run`` objects are assembled by the
same code. Parent and server talk through two pipes of JSON lines, never a shell (the parent's end
is :mod:`flakehound.execution._fork_client`). A run's timeout,
a crash or an ``os._exit`` inside a test, and a hang are attributed to the running test; the server
lives on. The project folder is restored after every run, as ``ProcessExecutor`` does, but to the
project as the server left it after collection: files a conftest or a module made (or changed) at
import are there in every child, as a fresh process makes them again on every import, and files a
child's tests make are removed. A fresh process (a fallback run) starts from the project as it was
before the first run, so the project is switched between the two baselines when the kind of run changes.

Requests that need a fresh interpreter (their own environment, an argv prefix such as coverage,
extra pytest arguments such as the state plugin) go to the wrapped ``ProcessExecutor``, and so does
everything when fork is unavailable or the server cannot start (a collection error, no tests, a
usage error): pytest then fails exactly as it would in a fresh run. A forked child shares the
server's hash seed (``PYTHONHASHSEED``, drawn from the investigation's seed and given to the fresh
processes too, so an experiment in a fresh process changes its factor only) and the state of random generators
that do not reseed themselves after a fork (the ``random`` module does); ``--isolation process``
gives each run its own interpreter. A forked child's temporary folder is the server's (paths a
module computed at import time point there), put back as collection left it after every run.

A fork executor given libfaketime's library (``faketime``) is a clock worker: its server runs under
the library at the real time and forks only the requests with a ``clock``
(:mod:`flakehound.execution.pool` makes it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flakehound.execution._fork_client import ServerGoneError, output_since, request_message, spawn_server
from flakehound.execution.runner import (
    NOT_STARTED,
    ProcessExecutor,
    RunInterrupted,
    RunRequest,
    _assemble,
    _reap_group,
    parse_stream,
    streamed_so_far,
)
from flakehound.execution.snapshot import ProjectSnapshot
from flakehound.models import Run

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from typing_extensions import Self

    from flakehound.execution._fork_client import Server

__all__ = ["FORK_AVAILABLE", "ForkExecutor", "is_forkable"]

#: Whether this platform can fork (POSIX); elsewhere every run is a fresh process.
FORK_AVAILABLE = hasattr(os, "fork") and hasattr(os, "setpgid")
#: How often a server that is still starting checks whether it should stop (seconds).
_STARTING_SLICE = 0.2


def is_forkable(request: RunRequest) -> bool:
    """Whether a forked child can run ``request``: no environment, argv or arguments of its own (tweaks are fine)."""
    return not (request.env or request.argv_prefix or request.drop_env or request.extra_args)


@dataclass
class ForkExecutor:
    """Collect once in a server process, fork a child per run; ``fallback`` runs what fork cannot.

    Use it as a context manager (or call :meth:`close`) so the server ends with the investigation.
    """

    fallback: ProcessExecutor
    startup_timeout: float = 1800.0
    stop_timeout: float = 30.0
    #: How long the server may take to answer a request or report a killed child before it is given up.
    reply_timeout: float = 30.0
    unavailable: str | None = None
    server: Server | None = field(default=None, repr=False)
    fork_runs: int = 0
    #: ``PYTHONHASHSEED`` for the server and for the fresh processes of this investigation that do not set
    #: their own, so every run shares one hash seed (None: the server draws one of its own, unknown to us).
    hash_seed: str | None = None
    #: Set by :meth:`cancel`: a server still starting (in a warm-up thread) is stopped instead of waited for.
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    #: libfaketime's preload library: the server runs under it (at the real time) and forks the requests whose
    #: ``clock`` uses it, each child moving its clock; requests without a clock then go to fresh processes.
    faketime: str | None = None
    #: Whether the project is as the running server left it after collection (else as before the first run).
    is_at_collected: bool = field(default=False, repr=False)
    #: The forked child running now, if any (what :meth:`halt` kills), and whether :meth:`halt` was called.
    child: int | None = field(default=None, repr=False)
    halted: threading.Event = field(default_factory=threading.Event, repr=False)
    #: Held while a child is forked and while :meth:`halt` looks: a child forks wholly before a halt, which
    #: kills it, or not at all.
    start_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __enter__(self) -> Self:
        """Nothing starts until the first run."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Close, however the block ended."""
        self.close()

    def snapshot_state(self, order: Sequence[str], after: str, timeout: float) -> dict[str, Any] | None:
        """Run ``order`` with process-state snapshots before its first test and after ``after``."""
        server = self._server()
        if server is None:
            return self._fresh().snapshot_state(order, after, timeout)
        target = self.fallback.workdir / f"state-{self.fallback.count + 1}.json"
        try:
            self._run_forked(
                server, RunRequest(order=tuple(order), timeout=timeout), {"target": str(target), "after": after}
            )
        except (ServerGoneError, BrokenPipeError):
            self._give_up(server, f"the fork server (pid {server.process.pid}) stopped answering")
            return self._fresh().snapshot_state(order, after, timeout)
        if not target.exists():
            return None
        data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
        return data

    def collect(self, timeout: float) -> Run:
        """The node ids pytest collects, in its order: the server's, or a fresh ``--collect-only`` run's."""
        server = self._server()
        if server is None:
            return self.fallback.run(RunRequest(order=None, timeout=timeout, extra_args=("--collect-only",)))
        return Run(results=(), collected=server.collected, exit_code=0)

    def close(self) -> None:
        """Stop the server and restore what it left in the project."""
        if self.server is None:
            return
        server, self.server = self.server, None
        server.stop(self.stop_timeout)
        self._restore()

    def warm(self) -> None:
        """Start the server now, so it collects while something else goes on."""
        self._server()

    def cancel(self) -> None:
        """Stop waiting for a server that is still starting: it is killed and fresh processes take over."""
        self.stopping.set()

    def halt(self) -> None:
        """Kill the run going on, forked or fresh, and start no later one (the run's thread then ends)."""
        with self.start_lock:
            self.halted.set()
            child = self.child
        self.fallback.halt()
        if child is not None:
            _reap_group(child)

    def run(self, request: RunRequest) -> Run:
        """Run ``request`` in a forked child, or in a fresh process when fork cannot."""
        library = request.clock.library if request.clock is not None else None
        server = self._server() if is_forkable(request) and library == self.faketime else None
        if server is None:
            return self._fresh().run(self._pinned(request))
        try:
            return self._run_forked(server, request)
        except (ServerGoneError, BrokenPipeError):
            self._give_up(server, f"the fork server (pid {server.process.pid}) stopped answering")
            return self._fresh().run(self._pinned(request))

    def _pinned(self, request: RunRequest) -> RunRequest:
        """``request`` with this investigation's hash seed, unless it sets its own (the hash-seed experiment)."""
        if self.hash_seed is None or "PYTHONHASHSEED" in request.env:
            return request
        return replace(request, env={**request.env, "PYTHONHASHSEED": self.hash_seed})

    def _give_up(self, server: Server, reason: str) -> None:
        """Stop using a server that no longer answers; undo what its last run left in the project."""
        self.unavailable = reason
        self.server = None
        server.stop(0)
        self._restore()

    def _restore(self) -> tuple[str, ...]:
        """Put the project back as it was before the first run."""
        self.is_at_collected = False
        snapshot = self.fallback.snapshot
        return snapshot.restore() if snapshot is not None else ()

    def _restore_collected(self, server: Server) -> tuple[str, ...]:
        """Put the project back as ``server`` left it after collection."""
        self.is_at_collected = True
        snapshot = server.project_as_collected
        return snapshot.restore() if snapshot is not None else ()

    def _fresh(self) -> ProcessExecutor:
        """The fallback, with the project as it was before the first run, where a fresh process starts."""
        if self.is_at_collected:
            self._restore()
        return self.fallback

    def _server(self) -> Server | None:
        if self.unavailable is not None:
            return None
        if self.server is None:
            self.server = self._start()
        return self.server

    def _start(self) -> Server | None:
        """Start the server and wait until it has collected; None (and a reason) if it never gets there."""
        home = self.fallback.workdir / "fork-server"
        pinned = {} if self.hash_seed is None else {"PYTHONHASHSEED": self.hash_seed}
        if self.faketime is not None:  # the real time until a child sets FAKETIME, read again on every call
            pinned |= {"LD_PRELOAD": self.faketime, "FAKETIME": "+0", "FAKETIME_NO_CACHE": "1"}
        server = spawn_server(self.fallback, home, pinned)
        deadline = time.monotonic() + self.startup_timeout
        try:
            ready = None
            while ready is None and not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                ready = server.replies.read(min(left, _STARTING_SLICE))
        except ServerGoneError:
            server.stop(self.stop_timeout)
            reason = f"pytest ended without serving (exit code {server.process.returncode})"
        else:
            if ready is not None:
                server.collected = tuple(ready["collected"])
                server.tmp_as_collected = ProjectSnapshot.take(server.tmp, home / "tmp-as-collected")
                original = self.fallback.snapshot
                server.project_as_collected = (
                    original.retake(home / "project-as-collected") if original is not None else None
                )
                self.is_at_collected = True
                return server
            server.stop(0)
            reason = (
                "the fork server was stopped before it was ready"
                if self.stopping.is_set()
                else f"the fork server was not ready after {self.startup_timeout:g} s"
            )
        self.unavailable = f"{reason}; every run is a fresh process"
        self._restore()
        return None

    def _run_forked(self, server: Server, request: RunRequest, state: Mapping[str, str] | None = None) -> Run:
        if not self.is_at_collected:  # a fresh process ran since the last forked run
            self._restore_collected(server)
        base = self.fallback
        with self.start_lock:
            if self.halted.is_set():
                return NOT_STARTED
            base.count += 1
            self.fork_runs += 1
            run_dir = base.workdir / f"run-{base.count}"
            run_dir.mkdir(parents=True)
            stream = run_dir / "results.jsonl"
            offset = server.output.stat().st_size
            started = time.monotonic()
            server.send(request_message(request, stream, server.tmp, state))
            forked = server.replies.read(self.reply_timeout)
            if forked is None:
                raise ServerGoneError
            child = int(forked["pid"])
            self.child = child
        try:
            exited = server.replies.read(max(request.timeout - (time.monotonic() - started), 0.0))
            timed_out = exited is None
            if exited is None:
                exited = server.kill_child(child, self.reply_timeout)
        except KeyboardInterrupt as error:  # SIGTERM/SIGINT: the child goes, its finished results stay
            _reap_group(child)
            server.tmp_as_collected.restore()
            self._restore()
            raise RunInterrupted(streamed_so_far(stream, time.monotonic() - started)) from error
        finally:
            self.child = None
            _reap_group(child)  # whatever the test started, and the child itself if the server is gone
        duration = time.monotonic() - started
        server.tmp_as_collected.restore()
        restored = self._restore_collected(server)
        events, truncated = parse_stream(
            stream.read_text(encoding="utf-8", errors="replace") if stream.exists() else ""
        )
        return _assemble(
            events,
            exit_code=int(exited["code"]),
            timed_out=timed_out,
            truncated=truncated,
            started_stream=stream.exists(),
            timeout=request.timeout,
            duration=duration,
            restored=restored,
            output_tail=output_since(server.output, offset),
        )
