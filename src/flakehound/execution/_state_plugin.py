"""Snapshot process state in a child pytest run, so a polluter's leftovers can be named.

Loaded only on request::

    python -m pytest -p flakehound.execution._state_plugin --flakehound-state=FILE --flakehound-state-after=NODEID ...

It takes one snapshot before the session's first test and one right after NODEID's teardown
(outside pytest's own per-test wrappers, so warnings filters and log handlers that pytest restores
itself are not reported), and writes both to FILE as JSON::

    {"version": 1, "after_nodeid": NODEID, "rootdir": ..., "tempdir": ...,
     "before": {KIND: {NAME: VALUE}}, "after": {KIND: {NAME: VALUE}} or null}

Every value is a string, so :func:`flakehound.engine.statediff.diff_states` can compare any two
snapshots without knowing the kinds. The kinds: ``env``, ``cwd``, ``sys.path``, ``module`` (names in
``sys.modules``), ``module-attribute`` (globals and class attributes of the modules under the
rootdir, as a short repr without memory addresses) with ``module-attribute:identity`` beside it
(their fingerprints: type, identity, size and a hash of the repr, to catch a change the short repr
cannot show), ``thread``, ``asyncio``,
``signal``, ``logger``, ``warnings-filter``, ``timezone``, ``locale``, ``fd`` (count),
``open-file`` (what the descriptors point at) and ``file`` (size and mtime of every file under the
rootdir, by relative path, and the temp dir, as ``$TMPDIR/...``, skipping VCS, virtualenv and cache
directories). This module runs in the
project's interpreter, so it uses only the standard library and pytest.
"""

from __future__ import annotations

import asyncio
import json
import locale
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import types
import warnings
import zlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

__all__: list[str] = []

Snapshot = dict[str, dict[str, str]]

#: Directories never walked for files or modules: VCS data, virtualenvs, caches, pytest's temp roots.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        "node_modules",
        "site-packages",
    }
)
#: The most files recorded under one root; a bigger tree is cut off and says so.
MAX_FILES = 20_000
#: Containers longer than this are fingerprinted by identity and size only (their repr is too dear).
MAX_HASHED_LEN = 10_000
SHORT_REPR = 120
#: An object's attributes are shown up to this many characters, then only hashed.
MAX_SHOWN = 600
LOCALE_CATEGORIES = ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_MONETARY", "LC_NUMERIC", "LC_MESSAGES")
SCALARS = (bool, int, float, complex, str, bytes, type(None))
CONTAINERS = (list, tuple, set, frozenset, dict)
CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)
#: What makes two reprs of one value differ between processes: `` at 0x7f...`` and a Mock's `` id='140...'``.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+| id='\d+'")
#: The kind that holds the fingerprints of ``module-attribute`` (see ``engine.statediff``).
IDENTITY_KIND = "module-attribute:identity"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the snapshot file and the test to snapshot after."""
    group = parser.getgroup("flakehound")
    group.addoption("--flakehound-state", default=None, help="write state snapshots here (JSON)")
    group.addoption("--flakehound-state-after", default=None, help="snapshot again after this node id")


def pytest_configure(config: pytest.Config) -> None:
    """Register the recorder when a snapshot file was asked for."""
    target = config.getoption("flakehound_state")
    if target:
        after = config.getoption("flakehound_state_after")
        config.pluginmanager.register(_StateRecorder(config, Path(target), after), "flakehound-state")


class _StateRecorder:
    """Takes the two snapshots and writes them."""

    def __init__(self, config: pytest.Config, target: Path, after_nodeid: str | None) -> None:
        self.target = target
        self.after_nodeid = after_nodeid
        self.rootdir = config.rootpath.resolve()
        self.tempdir = Path(tempfile.gettempdir()).resolve()
        own = (target, config.getoption("xmlpath", None), config.getoption("flakehound_results", None))
        self.ignored = {Path(path).resolve() for path in own if path}
        self.ignored.add(self.target.with_name(self.target.name + ".partial").resolve())
        self.before: Snapshot | None = None
        self.after: Snapshot | None = None

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        """Snapshot before the first test and after the named test, outside every other wrapper."""
        if self.before is None:
            self.before = self.snapshot()
        yield
        if item.nodeid == self.after_nodeid and self.after is None:
            self.after = self.snapshot()
            self.write()

    def pytest_sessionfinish(self) -> None:
        """Write what was taken, even if the named test never ran."""
        self.write()

    def snapshot(self) -> Snapshot:
        """Take every kind of state at once."""
        return {
            "env": dict(os.environ),
            "cwd": {"cwd": str(Path.cwd())},
            "sys.path": _present(sys.path),
            "module": _present(list(sys.modules)),
            **_attribute_kinds(self.rootdir),
            "thread": _present(f"{thread.name} daemon={thread.daemon}" for thread in threading.enumerate()),
            "asyncio": _asyncio_state(),
            "signal": _signal_handlers(),
            "logger": _loggers(),
            "warnings-filter": _present(repr(entry) for entry in warnings.filters),
            "timezone": {"tzname": repr(time.tzname), "timezone": str(time.timezone)},
            "locale": _locales(),
            **count_descriptors(Path("/proc/self/fd")),
            "file": self.files(),
        }

    def files(self) -> dict[str, str]:
        """Size and mtime of every file under the rootdir and the temp dir (``$TMPDIR/...``), by relative path."""
        found = walk_files(self.rootdir, self.rootdir, self.ignored)
        skipped = self.ignored | {self.rootdir}
        found.update(walk_files(self.tempdir, self.tempdir, skipped, skip_prefix="pytest-of-", prefix="$TMPDIR/"))
        return found

    def write(self) -> None:
        """Write both snapshots, replacing the file in one step."""
        document = {
            "version": 1,
            "after_nodeid": self.after_nodeid,
            "rootdir": str(self.rootdir),
            "tempdir": str(self.tempdir),
            "before": self.before,
            "after": self.after,
        }
        partial = self.target.with_name(self.target.name + ".partial")
        partial.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
        partial.replace(self.target)


def _present(names: Iterable[str]) -> dict[str, str]:
    """Membership as a mapping; a repeated name gets ``#2``, ``#3``."""
    counts: Counter[str] = Counter()
    present = {}
    for name in names:
        counts[name] += 1
        present[name if counts[name] == 1 else f"{name} #{counts[name]}"] = "present"
    return present


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a project's __repr__ may raise anything; the snapshot must go on
        return f"<{type(value).__qualname__} whose repr raised>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: object) -> str:
    """Cut a repr to :data:`SHORT_REPR` characters; show a huge container by its size, never repr it."""
    if isinstance(value, CONTAINERS) and len(value) > MAX_HASHED_LEN:
        return f"<{type(value).__qualname__} len={len(value)}>"
    return _cut(_safe_repr(value), SHORT_REPR)


def shown(value: object) -> str:
    """A short repr a person reads: no memory addresses, no checksums, cut at :data:`SHORT_REPR`."""
    kind = type(value).__qualname__
    if isinstance(value, CONTAINERS) and len(value) > MAX_HASHED_LEN:
        return f"<{kind} of {len(value)} items>"
    if isinstance(value, CODE):
        return f"<{kind} {getattr(value, '__qualname__', None) or getattr(value, '__name__', '?')}>"
    state = getattr(value, "__dict__", None)
    if type(value).__repr__ is not object.__repr__ or not isinstance(state, dict):
        text = _safe_repr(value)  # scalars, containers and every class with a repr of its own
    else:
        text = f"{kind}(" + ", ".join(f"{name}={_short(item)}" for name, item in sorted(state.items())) + ")"
    return _cut(_ADDRESS.sub("", text), SHORT_REPR)


def fingerprint(value: object) -> str:
    """Type, identity and a cheap view of the contents: enough to see a rebind or a mutation.

    It is compared, never shown: :func:`shown` is what a person reads.
    """
    kind = type(value).__qualname__
    if isinstance(value, SCALARS):
        return f"{kind} {_short(value)}"
    identity = f"{kind}@{id(value):x}"
    if isinstance(value, CONTAINERS):
        if len(value) > MAX_HASHED_LEN:
            return f"{identity} len={len(value)}"
        return f"{identity} len={len(value)} crc={zlib.crc32(_safe_repr(value).encode()):08x}"
    if isinstance(value, CODE):
        return identity
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict):
        shown = ", ".join(f"{name}={_short(item)}" for name, item in sorted(state.items()))
        crc = f" crc={zlib.crc32(shown.encode()):08x}" if len(shown) > MAX_SHOWN else ""
        return f"{identity} {{{_cut(shown, MAX_SHOWN)}}}{crc}"
    return f"{identity} crc={zlib.crc32(_safe_repr(value).encode()):08x}"


def _is_under(path: Path, root: Path) -> bool:
    return path.is_relative_to(root) and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)


def _module_attributes(rootdir: Path) -> Iterator[tuple[str, object]]:
    """Globals of the modules under the rootdir, and data attributes of the classes they define."""
    for name, module in sorted(sys.modules.copy().items()):
        filename = getattr(module, "__file__", None)
        if not filename or not _is_under(Path(filename).resolve(), rootdir):
            continue
        for attr, value in sorted(vars(module).copy().items()):
            if attr.startswith("__"):
                continue
            yield f"{name}.{attr}", value
            if isinstance(value, type) and value.__module__ == name:
                for class_attr, class_value in sorted(vars(value).items()):
                    if not class_attr.startswith("__") and not callable(class_value):
                        yield f"{name}.{attr}.{class_attr}", class_value


def _attribute_kinds(rootdir: Path) -> Snapshot:
    """``module-attribute``: what each attribute shows; its fingerprint beside it, to see a change the view misses."""
    attributes = list(_module_attributes(rootdir))
    return {
        "module-attribute": {name: shown(value) for name, value in attributes},
        IDENTITY_KIND: {name: fingerprint(value) for name, value in attributes},
    }


def _asyncio_state() -> dict[str, str]:
    """Name the event loop policy and say whether a current loop is set, open, closed or running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # policies are deprecated from 3.14
        policy = asyncio.get_event_loop_policy()
    # Asking the policy for its loop would create one; its thread-local is read instead.
    loop = getattr(getattr(policy, "_local", None), "_loop", None)
    if not isinstance(loop, asyncio.AbstractEventLoop):
        current = "none"
    elif loop.is_running():  # pragma: no cover - a loop running between tests is not seen from pytest's thread
        current = "running"
    else:
        current = "closed" if loop.is_closed() else "open"
    return {"policy": type(policy).__qualname__, "current loop": current}


def _signal_handlers() -> dict[str, str]:
    handlers = {}
    for number in sorted(signal.valid_signals()):
        try:
            handler = signal.getsignal(number)
        except (OSError, ValueError):  # pragma: no cover - real-time signals some platforms refuse to report
            continue
        try:
            name = signal.Signals(number).name
        except ValueError:  # a real-time signal without a name
            name = str(number)
        handlers[name] = getattr(handler, "__qualname__", None) or _short(handler)
    return handlers


def _loggers() -> dict[str, str]:
    """Level, handlers, propagation and disabled flag of the root logger and every named one."""
    named = sorted(logging.Logger.manager.loggerDict.copy().items())
    loggers = {"root": logging.getLogger()} | {
        name: logger for name, logger in named if isinstance(logger, logging.Logger)
    }
    return {
        name: (
            f"level={logging.getLevelName(logger.level)}"
            f" handlers=[{', '.join(type(handler).__qualname__ for handler in logger.handlers)}]"
            f" propagate={logger.propagate} disabled={logger.disabled}"
        )
        for name, logger in loggers.items()
    }


def _locales() -> dict[str, str]:
    """Query (never set) each locale category this platform has."""
    categories = {name: getattr(locale, name) for name in LOCALE_CATEGORIES if hasattr(locale, name)}
    return {name: str(locale.setlocale(number, None)) for name, number in categories.items()}


def count_descriptors(fd_dir: Path) -> dict[str, dict[str, str]]:
    """Count the open descriptors and how many point at each target (where /proc exists)."""
    if not fd_dir.is_dir():  # pragma: no cover - only Linux has /proc/self/fd; CI runs there
        return {}
    targets: Counter[str] = Counter()
    entries = list(fd_dir.iterdir())
    for entry in entries:
        try:
            targets[str(entry.readlink())] += 1
        except OSError:  # noqa: PERF203 - the descriptor that listed the directory is closed by now
            continue
    return {"fd": {"count": str(sum(targets.values()))}, "open-file": {k: str(v) for k, v in targets.items()}}


def _is_skipped_dir(path: Path, skip_prefix: str) -> bool:
    if path.name in SKIPPED_DIRS or (path / "pyvenv.cfg").exists():
        return True
    return bool(skip_prefix) and path.name.startswith(skip_prefix)


def walk_files(
    root: Path,
    relative_to: Path,
    skipped: set[Path],
    skip_prefix: str = "",
    limit: int = MAX_FILES,
    prefix: str = "",
) -> dict[str, str]:
    """``prefix + path -> "size=N mtime_ns=M"`` for the files under ``root``, up to ``limit`` of them.

    Symlinks, the ``skipped`` paths, :data:`SKIPPED_DIRS`, virtualenvs (a ``pyvenv.cfg`` inside) and
    directories starting with ``skip_prefix`` are not entered.
    """
    found: dict[str, str] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue  # removed meanwhile, or not ours to read
        for entry in entries:
            path = Path(entry.path)
            if path in skipped or entry.is_symlink():
                continue
            if entry.is_dir():
                if not _is_skipped_dir(path, skip_prefix):
                    pending.append(path)
                continue
            if len(found) >= limit:
                found[f"{prefix}(more files)"] = f"cut off at {limit} files"
                return found
            try:
                stat = entry.stat()
            except OSError:  # pragma: no cover - a file deleted between listing and stat: a race no test can time
                continue
            name = prefix + path.relative_to(relative_to).as_posix()
            found[name] = f"size={stat.st_size} mtime_ns={stat.st_mtime_ns}"
    return found
