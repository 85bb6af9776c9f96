"""The child side of the fork executor: collect the suite once, then fork one child per requested run.

Loaded next to :mod:`flakehound.execution.pytest_plugin` with ``-p flakehound.execution._fork_server`` and
``--flakehound-serve=REQUESTS_FD,REPLIES_FD`` (two pipe ends the parent passed down). Once pytest
has collected, this plugin takes over ``pytest_runtestloop`` and answers JSON lines:

* it replies ``{"event": "ready", "pid": ..., "collected": [...]}`` once;
* for every request ``{"order": [...] | null, "results": FILE, "tmp": DIR, "state": null}`` (and, for an
  experiment, ``"tweaks": {FIELD: VALUE}`` with the fields of ``Tweaks``, applied in the child as
  :mod:`flakehound.execution._experiment_plugin` would, and ``"clock": MOMENT``: the child sets ``FAKETIME=@MOMENT``,
  which moves its clock there when the server runs under libfaketime with ``FAKETIME_NO_CACHE``) it forks, replies
  ``{"event": "forked", "pid": CHILD}``, waits for the child and replies
  ``{"event": "exited", "code": CODE}`` (a negative code is the signal that killed it);
* at the end of the requests pipe it leaves with ``os._exit(0)``: its session ran no test, so ending it as
  pytest would (terminal summary, cache writes, ``pytest_sessionfinish`` hooks) would only cost time.

Each child puts itself in its own process group (so the parent can kill a hang together with
whatever it started), streams its results to ``FILE`` through the same recorder as a fresh run
(and, given ``"state": {"target": FILE, "after": NODEID}``, takes the snapshots of
:mod:`flakehound.execution._state_plugin` before the first test and after NODEID),
runs exactly the requested items in the requested order with pytest's own run-test protocol (so
fixtures are set up and torn down as pytest would, the last item tearing down the session), and
leaves with ``os._exit``, as the server does at the end: ``pytest_sessionstart`` ran once in the
server for all children, and atexit handlers, ``pytest_sessionfinish`` and ``pytest_unconfigure`` run in
neither. A suite with collection
errors, no tests or ``--collect-only`` is not served: pytest ends the server exactly as it would
end a fresh run, and the parent runs fresh processes instead. This module uses only the standard
library and pytest, because it runs in the project's interpreter.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import pytest

from flakehound.execution.pytest_plugin import _RECORDER_NAME, _Recorder

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    #: The collection-error lines every run's stream repeats, and the collected items by node id.
    _Collection = tuple[Sequence[str], Mapping[str, pytest.Item]]

__all__: list[str] = []

_TESTS_FAILED = 1
_INTERRUPTED = 2
_INTERNAL_ERROR = 3
_NO_TESTS_COLLECTED = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the option that carries the two pipe descriptors."""
    group = parser.getgroup("flakehound")
    group.addoption("--flakehound-serve", default=None, help="serve forked runs over these pipe descriptors")


def _is_servable(session: pytest.Session) -> bool:
    """Whether a fresh run of this suite would run tests at all (else pytest ends the server as it would the run)."""
    option = session.config.option
    if option.collectonly or not session.items:
        return False
    return not (session.testsfailed and not option.continue_on_collection_errors)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """Serve forked runs instead of running the tests, when asked to and when there is something to run."""
    spec = session.config.getoption("flakehound_serve")
    if not spec or not _is_servable(session):
        return None
    requests_fd, replies_fd = (int(part) for part in spec.split(","))
    recorder = cast("_Recorder", session.config.pluginmanager.get_plugin(_RECORDER_NAME))  # the parent passes results
    collection = Path(recorder.stream.name).read_text(encoding="utf-8").splitlines(keepends=True)
    replayed = [line for line in collection if json.loads(line)["event"] == "collect_error"]
    by_id = {item.nodeid: item for item in session.items}
    _warm_caches()
    with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb", buffering=0) as replies:
        _reply(replies, "ready", pid=os.getpid(), collected=list(by_id))
        gc.freeze()  # keep the collected suite in pages the children share instead of copying them
        for line in requests:
            _serve_one(session, recorder, json.loads(line), (replayed, by_id), (requests_fd, replies_fd), replies)
    # The children ran every test; the server's own session end (plugins' summaries and caches, conftest
    # hooks) would only cost time (pytest-hypothesis imports hypothesis there) and write what close() removes.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm_caches() -> None:
    """Fill the caches each child would otherwise fill from scratch when its first test fails.

    Formatting one failure here fills inspect's map of module files and the compiled regular
    expressions of tokenize and of pytest's traceback formatting. They are derived from
    ``sys.modules`` and source files, so a fresh process builds the same ones on demand.
    """
    try:
        raise _WarmUpError  # noqa: TRY301 - the point is a real traceback to format
    except _WarmUpError:
        pytest.ExceptionInfo.from_current().getrepr(style="long")


class _WarmUpError(Exception):
    """Raised and formatted once in the server."""


def _reply(replies: IO[bytes], event: str, **data: Any) -> None:  # noqa: ANN401 - JSON values
    replies.write((json.dumps({"event": event, **data}) + "\n").encode())


def _serve_one(
    session: pytest.Session,
    recorder: _Recorder,
    request: dict[str, Any],
    collection: _Collection,
    pipes: tuple[int, int],
    replies: IO[bytes],
) -> None:
    """Fork one child for ``request``, wait for it and say how it ended."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    # The child runs on in this frame, which coverage (restarted by its fork patch) cannot trace;
    # every frame it enters from here on, _child first, is measured.
    if pid == 0:  # pragma: no cover - see above
        _child(session, recorder, request, collection, pipes)
    with contextlib.suppress(OSError):  # the child does it too; it may already have exited
        os.setpgid(pid, pid)  # whichever runs first, the group exists before the parent can kill it
    _reply(replies, "forked", pid=pid)
    _, status = os.waitpid(pid, 0)
    _reply(replies, "exited", code=os.waitstatus_to_exitcode(status))


def _child(
    session: pytest.Session,
    recorder: _Recorder,
    request: dict[str, Any],
    collection: _Collection,
    pipes: tuple[int, int],
) -> NoReturn:
    """The forked child: run the request, then leave without running the server's exit handlers."""
    code = _INTERNAL_ERROR
    try:
        os.setpgid(0, 0)
        for fd in pipes:
            os.close(fd)
        code = _run_request(session, recorder, request, collection)
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop; pytest's internal error
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run_request(session: pytest.Session, recorder: _Recorder, request: dict[str, Any], collection: _Collection) -> int:
    """Point the child at its own temporary folder and results stream, select the items and run them."""
    replayed, by_id = collection
    tmp = str(request["tmp"])
    for name in ("TMPDIR", "TEMP", "TMP"):
        os.environ[name] = tmp
    tempfile.tempdir = None  # gettempdir() looks at TMPDIR again, as in a fresh process
    recorder.stream = Path(request["results"]).open("a", encoding="utf-8")  # noqa: SIM115 - left by os._exit
    recorder.stream.writelines(replayed)
    order = request["order"]
    if order is not None:
        selected = [by_id[nodeid] for nodeid in order if nodeid in by_id]
        missing = [nodeid for nodeid in order if nodeid not in by_id]
        chosen = {id(item) for item in selected}
        deselected = [item for item in session.items if id(item) not in chosen]
        if deselected:
            session.config.hook.pytest_deselected(items=deselected)
        if missing:
            recorder.emit("missing", nodeids=missing)
        session.items = selected
    moment = request.get("clock")
    if moment is not None:  # libfaketime reads FAKETIME again on every call: the clock starts at the moment now
        os.environ["FAKETIME"] = f"@{moment}"
    tweaks = request.get("tweaks")
    if tweaks is not None:
        from flakehound.execution._experiment_plugin import apply

        apply(session.config, **tweaks)
    session.testscollected = len(session.items)
    recorder.emit("collected", nodeids=[item.nodeid for item in session.items])
    state = request.get("state")
    if state is None:
        return _run_items(session)
    from flakehound.execution._state_plugin import _StateRecorder

    snapshots = _StateRecorder(session.config, Path(state["target"]), state["after"])
    session.config.pluginmanager.register(snapshots, "flakehound-state")
    code = _run_items(session)
    snapshots.write()  # what pytest_sessionfinish does in a fresh run
    return code


def _run_items(session: pytest.Session) -> int:
    """Pytest's own run-test loop over ``session.items``, and the exit code pytest would give."""
    items = session.items
    try:
        for index, item in enumerate(items):
            nextitem = items[index + 1] if index + 1 < len(items) else None
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail or session.shouldstop:
                return _TESTS_FAILED if session.shouldfail else _INTERRUPTED
    except (KeyboardInterrupt, pytest.exit.Exception) as error:
        returncode = getattr(error, "returncode", None)
        return _INTERRUPTED if returncode is None else int(returncode)
    if session.testsfailed:
        return _TESTS_FAILED
    return 0 if items else _NO_TESTS_COLLECTED
