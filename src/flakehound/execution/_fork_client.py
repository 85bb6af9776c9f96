"""IO. The parent's end of the fork server: start it, talk to it in JSON lines over two pipes, stop it.

The server is :mod:`flakehound.execution._fork_server`, loaded by ``-p`` in a ``python -m pytest`` of
the project's own. This module knows its command line, its messages and how it is stopped or a
child of it killed; what a run means, and what to do when the server is gone, is
:class:`flakehound.execution.forking.ForkExecutor`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flakehound.execution.runner import _KILL_GRACE, Tweaks, _reap_group

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flakehound.execution.runner import ProcessExecutor, RunRequest
    from flakehound.execution.snapshot import ProjectSnapshot

__all__ = ["Replies", "Server", "ServerGoneError", "output_since", "request_message", "spawn_server"]

_TAIL = 3000


class ServerGoneError(Exception):
    """The fork server closed its replies pipe."""


class Replies:
    """JSON lines read from a pipe with a deadline (a selector on the raw descriptor, no buffered reader)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(fd, selectors.EVENT_READ)

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None once ``timeout`` seconds have passed; ``ServerGoneError`` at the end."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if not self.selector.select(max(deadline - time.monotonic(), 0.0)):
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise ServerGoneError
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        """Close the selector and the descriptor."""
        self.selector.close()
        os.close(self.fd)


@dataclass
class Server:
    """One running fork server and its two pipe ends."""

    process: subprocess.Popen[bytes]
    requests: int
    replies: Replies
    output: Path
    collected: tuple[str, ...]
    #: The server's temporary folder, every child's too (a fresh process's paths computed at import time and at
    #: run time agree), and a snapshot of it as collection left it, put back after every run.
    tmp: Path
    tmp_as_collected: ProjectSnapshot = field(init=False)  # taken once the server is ready
    #: The project as the server left it after collection (files it made at import included), retaken from the
    #: fresh processes' snapshot once the server is ready and put back after every forked run (None: no snapshot).
    project_as_collected: ProjectSnapshot | None = field(init=False)

    def send(self, message: Mapping[str, object]) -> None:
        """Write one request line (``BrokenPipeError`` if the server is gone)."""
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.requests, data) :]

    def stop(self, timeout: float) -> None:
        """End the requests pipe, let the server leave, kill it if it does not."""
        with contextlib.suppress(OSError):
            os.close(self.requests)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(self.process.pid)
            self.process.wait()
        _reap_group(self.process.pid)
        self.replies.close()

    def kill_child(self, child: int, reply_timeout: float) -> dict[str, Any]:
        """TERM the child's group, KILL it after the grace period; the server then reports the exit."""
        _kill(child, signal.SIGTERM)
        exited = self.replies.read(_KILL_GRACE)
        if exited is None:
            _kill(child, signal.SIGKILL)
            exited = self.replies.read(reply_timeout)
        if exited is None:
            raise ServerGoneError
        return exited


def _kill(group: int, sig: signal.Signals = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def output_since(path: Path, offset: int) -> str:
    """The tail of what the server wrote to ``path`` after ``offset`` bytes."""
    with path.open("rb") as output:
        output.seek(offset)
        data = output.read()
    return data[-_TAIL:].decode("utf-8", errors="replace")


def spawn_server(base: ProcessExecutor, home: Path, pinned: Mapping[str, str]) -> Server:
    """Start a server for ``base``'s project and arguments, its files in ``home``, ``pinned`` in its environment.

    It has not collected yet: its first reply, ``{"event": "ready", ...}``, says when it has.
    """
    (home / "tmp").mkdir(parents=True)
    output = home / "output.txt"
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    argv = [
        base.python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "flakehound.execution.pytest_plugin",
        "-p",
        "flakehound.execution._fork_server",
        f"--flakehound-results={home / 'collection.jsonl'}",
        f"--flakehound-serve={requests_read},{replies_write}",
        *base.extra_args,
        *base.pytest_args,
    ]
    tmp = str(home / "tmp")
    with output.open("ab") as sink:
        process = subprocess.Popen(
            argv,
            cwd=base.cwd,
            env={**base.env, **pinned, "TMPDIR": tmp, "TEMP": tmp, "TMP": tmp},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(requests_read, replies_write),
        )
    os.close(requests_read)
    os.close(replies_write)
    return Server(process, requests_write, Replies(replies_read), output, (), home / "tmp")


def request_message(
    request: RunRequest, stream: Path, tmp: Path, state: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The line asking the server to fork a child for ``request``, its results streamed to ``stream``."""
    order = list(request.order) if request.order is not None else None
    message: dict[str, Any] = {"order": order, "results": str(stream), "tmp": str(tmp), "state": state}
    if request.tweaks != Tweaks():
        message["tweaks"] = dataclasses.asdict(request.tweaks)
    if request.clock is not None:
        message["clock"] = request.clock.moment
    return message
