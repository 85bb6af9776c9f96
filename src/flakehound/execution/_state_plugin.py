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
cannot show), ``event-loop-binding`` (those attributes that are, or hold an object bound to, a
closed event loop), ``fixture`` (the fixtures that outlive one test, ``SCOPE:NAME``: in
``before`` the value right after their setup, in ``after`` the value after NODEID; with
``fixture:identity``), ``thread``, ``asyncio``, ``signal``, ``logger`` (``LOGGER:ASPECT``, see
:func:`flakehound.execution._state_kinds.loggers`), ``warnings-filter`` (in ``-W`` syntax),
``timezone``, ``locale``, ``fd`` (count), ``open-file`` (what the descriptors point at),
``file`` (size and mtime of every file under the rootdir, by relative path, and the temp dir, as
``$TMPDIR/...``, skipping VCS, virtualenv and cache directories) and ``database`` (row counts of
the sqlite tables among those files, ``FILE:TABLE``). This module runs in the project's
interpreter, so it uses only the standard library and pytest.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import locale
import logging
import os
import re
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

from flakehound.execution._state_kinds import (
    closed_loop_bindings,
    database_rows,
    loggers,
    namespace,
    signal_handlers,
    warnings_filters,
)

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
#: Logging objects, which the ``logger`` kind describes (see :func:`_module_attributes`).
LOGGING = (logging.Logger, logging.Handler, logging.Formatter)
#: The kind that holds the fingerprints of ``module-attribute`` (see ``engine.statediff``).
IDENTITY_SUFFIX = ":identity"
IDENTITY_KIND = "module-attribute" + IDENTITY_SUFFIX
#: The name prefix of files in the temp dir.
TEMP_PREFIX = "$TMPDIR/"
#: Descriptors that are not files: ``socket:[12345]``, ``pipe:[678]`` (the number is an inode, noise to a reader).
_DESCRIPTOR = re.compile(r"^(socket|pipe):\[\d+\]$")
#: An unnamed temporary file (``O_TMPFILE``, as ``tempfile.TemporaryFile`` makes): ``/tmp/#1234 (deleted)``.
_UNNAMED = re.compile(r"(^|/)#\d+ \(deleted\)$")


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
        #: Fixtures that outlive a test, by identity: the definition, its value's view and fingerprint after setup.
        self.fixtures: dict[int, tuple[pytest.FixtureDef[object], str, str]] = {}
        #: Their view and fingerprint when torn down during the named test's teardown, by identity.
        self.finalized: dict[int, tuple[str, str]] = {}
        self.in_after = False

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        """Snapshot before the first test and after the named test, outside every other wrapper."""
        if self.before is None:
            self.before = self.snapshot()
        self.in_after = item.nodeid == self.after_nodeid and self.after is None
        yield
        if self.in_after:
            self.in_after = False
            self.after = self.snapshot()
            setup, now = self.fixture_kinds()
            self.before = (self.before or {}) | setup
            self.after |= now
            self.write()

    def pytest_sessionfinish(self) -> None:
        """Write what was taken, even if the named test never ran."""
        self.write()

    def snapshot(self) -> Snapshot:
        """Take every kind of state at once; modules last, so an import made while reading counts on both sides."""
        descriptors = descriptor_targets(Path("/proc/self/fd"))
        files = self.files()
        state = {
            "env": dict(os.environ),
            "cwd": {"cwd": str(Path.cwd())},
            "sys.path": _present(sys.path),
            **_attribute_kinds(self.rootdir),
            "fixture": {},  # filled in by :meth:`fixture_kinds` when the second snapshot is taken
            "thread": _present(f"{thread.name} daemon={thread.daemon}" for thread in threading.enumerate()),
            "asyncio": _asyncio_state(),
            "signal": signal_handlers(),
            "logger": loggers(),
            "warnings-filter": _present(warnings_filters()),
            "timezone": {"tzname": repr(time.tzname), "timezone": str(time.timezone)},
            "locale": _locales(),
            **self.descriptor_kinds(descriptors),
            "file": files,
            "database": database_rows(files, self.locate, descriptors or ()),
        }
        state["module"] = _present(list(sys.modules))
        return state

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[object]) -> Generator[None, None, None]:
        """Note the value a project's fixture that outlives one test had right after its setup."""
        yield
        cached = fixturedef.cached_result
        code = getattr(inspect.unwrap(fixturedef.func), "__code__", None)
        if code is None or not _is_under(Path(code.co_filename).resolve(), self.rootdir):
            return  # a plugin's fixture (tmp_path_factory, ...): its bookkeeping is not the project's state
        if str(fixturedef.scope) != "function" and cached is not None and cached[2] is None:
            self.fixtures[id(fixturedef)] = (fixturedef, shown(cached[0]), fingerprint(cached[0]))

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[object]) -> None:
        """Keep the value of a noted fixture torn down in the named test's teardown (the run's last test, often)."""
        cached = fixturedef.cached_result
        if self.in_after and id(fixturedef) in self.fixtures and cached is not None and cached[2] is None:
            self.finalized[id(fixturedef)] = shown(cached[0]), fingerprint(cached[0])

    def fixture_kinds(self) -> tuple[Snapshot, Snapshot]:
        """``fixture`` (and its fingerprints) for the noted fixtures: as set up, and now (or as torn down by now)."""
        counts: Counter[str] = Counter()
        setup: Snapshot = {"fixture": {}, "fixture" + IDENTITY_SUFFIX: {}}
        now: Snapshot = {"fixture": {}, "fixture" + IDENTITY_SUFFIX: {}}
        for key, (fixturedef, value, print_) in self.fixtures.items():
            cached = fixturedef.cached_result
            if cached is not None and cached[2] is None:
                current = shown(cached[0]), fingerprint(cached[0])
            elif key in self.finalized:
                current = self.finalized[key]
            else:
                continue  # torn down before the named test (a module-scoped fixture of a module that is done)
            name = f"{fixturedef.scope}:{fixturedef.argname}"
            counts[name] += 1
            name += f" #{counts[name]}" if counts[name] > 1 else ""
            setup["fixture"][name], setup["fixture" + IDENTITY_SUFFIX][name] = value, print_
            now["fixture"][name], now["fixture" + IDENTITY_SUFFIX][name] = current
        return setup, now

    def locate(self, name: str) -> Path:
        """The path of a name from :meth:`files`."""
        if name.startswith(TEMP_PREFIX):
            return self.tempdir / name.removeprefix(TEMP_PREFIX)
        return self.rootdir / name

    def relative(self, target: str) -> str:
        """A descriptor's target as a person reads it: paths relative to the project or temp dir, no inodes."""
        kind = _DESCRIPTOR.match(target)
        if kind is not None:
            return f"a {kind.group(1)}"
        if _UNNAMED.search(target):
            return "an unnamed temporary file"
        path = Path(target)
        for root, prefix in ((self.rootdir, ""), (self.tempdir, TEMP_PREFIX)):
            if path.is_absolute() and path.is_relative_to(root) and path != root:
                return prefix + path.relative_to(root).as_posix()
        return target

    def descriptor_kinds(self, targets: list[str] | None) -> Snapshot:
        """``fd`` (the count) and ``open-file`` (how often each target is open), where /proc exists."""
        if targets is None:  # pragma: no cover - only Linux has /proc/self/fd; CI runs there
            return {}
        opened = Counter(map(self.relative, targets))
        return {"fd": {"count": str(len(targets))}, "open-file": {name: str(count) for name, count in opened.items()}}

    def files(self) -> dict[str, str]:
        """Size and mtime of every file under the rootdir and the temp dir (``$TMPDIR/...``), by relative path."""
        found = walk_files(self.rootdir, self.rootdir, self.ignored)
        skipped = self.ignored | {self.rootdir}
        found.update(walk_files(self.tempdir, self.tempdir, skipped, skip_prefix="pytest-of-", prefix=TEMP_PREFIX))
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
    state = namespace(value)
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
    state = namespace(value)
    if isinstance(state, dict):
        shown = ", ".join(f"{name}={_short(item)}" for name, item in sorted(state.items()))
        crc = f" crc={zlib.crc32(shown.encode()):08x}" if len(shown) > MAX_SHOWN else ""
        return f"{identity} {{{_cut(shown, MAX_SHOWN)}}}{crc}"
    return f"{identity} crc={zlib.crc32(_safe_repr(value).encode()):08x}"


def _is_under(path: Path, root: Path) -> bool:
    return path.is_relative_to(root) and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)


def _module_attributes(rootdir: Path) -> Iterator[tuple[str, object]]:
    """Globals of the modules under the rootdir, and data attributes of the classes they define.

    Loggers, handlers and formatters are left to the ``logger`` kind, which says what changed in
    them; a logger's own attributes change whenever it logs (its level cache), which is noise here.
    """
    for name, module in sorted(sys.modules.copy().items()):
        filename = getattr(module, "__file__", None)
        if not filename or not _is_under(Path(filename).resolve(), rootdir):
            continue
        for attr, value in sorted(vars(module).copy().items()):
            if attr.startswith("__") or isinstance(value, LOGGING):
                continue
            yield f"{name}.{attr}", value
            if isinstance(value, type) and value.__module__ == name:
                for class_attr, class_value in sorted(vars(value).items()):
                    if not class_attr.startswith("__") and not (
                        callable(class_value) or isinstance(class_value, LOGGING)
                    ):
                        yield f"{name}.{attr}.{class_attr}", class_value


def _attribute_kinds(rootdir: Path) -> Snapshot:
    """``module-attribute``: what each attribute shows; its fingerprint beside it, to see a change the view misses."""
    attributes = list(_module_attributes(rootdir))
    return {
        "module-attribute": {name: shown(value) for name, value in attributes},
        IDENTITY_KIND: {name: fingerprint(value) for name, value in attributes},
        "event-loop-binding": closed_loop_bindings(attributes, CODE),
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


def _locales() -> dict[str, str]:
    """Query (never set) each locale category this platform has."""
    categories = {name: getattr(locale, name) for name in LOCALE_CATEGORIES if hasattr(locale, name)}
    return {name: str(locale.setlocale(number, None)) for name, number in categories.items()}


def descriptor_targets(fd_dir: Path) -> list[str] | None:
    """What each open descriptor points at (None where there is no /proc)."""
    if not fd_dir.is_dir():
        return None
    targets = []
    for entry in list(fd_dir.iterdir()):
        try:
            targets.append(str(entry.readlink()))
        except OSError:  # noqa: PERF203 - the descriptor that listed the directory is closed by now
            continue
    return targets


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
