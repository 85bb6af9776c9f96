"""The kinds of state :mod:`flakehound.execution._state_plugin` reads that need more than a repr.

Logging configuration, sqlite row counts, objects bound to a closed event loop, signal handlers
and warnings filters, each as ``{name: value}`` strings that :mod:`flakehound.engine.statediff`
compares and puts in words. Like the plugin, this runs in the project's interpreter: standard
library only, and nothing here changes the state it reads.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

__all__: list[str] = []

#: File endings looked at for sqlite databases; their 16-byte header decides (a suffix alone does not).
SQLITE_SUFFIXES = frozenset({".db", ".sqlite", ".sqlite3", ".db3", ".s3db", ".sl3"})
_SUFFIXES = tuple(SQLITE_SUFFIXES)
SQLITE_HEADER = b"SQLite format 3\x00"
#: Bigger databases are not counted: a snapshot runs in every confirm run and must stay cheap.
MAX_DATABASE_BYTES = 64 * 1024 * 1024
MAX_TABLES = 50
#: Attribute names under which an asyncio-bound object (an aiohttp session, a client) keeps its loop.
LOOP_ATTRIBUTES = ("_loop", "loop")


def loggers() -> dict[str, str]:
    """``LOGGER:ASPECT -> value`` for what differs from a fresh logger's defaults.

    Aspects: ``level`` (when not NOTSET), ``propagate`` (only when off), ``disabled`` (only when
    on), ``handler TYPE`` (present), ``handler TYPE level`` (when not NOTSET) and ``handler TYPE
    formatter``. A second handler of one type is ``TYPE #2``. A child logger merely created with
    default settings therefore has no entries at all.
    """
    named = sorted(logging.Logger.manager.loggerDict.copy().items())
    found = {"root": logging.getLogger()} | {name: item for name, item in named if isinstance(item, logging.Logger)}
    entries: dict[str, str] = {}
    for name, logger in found.items():
        if logger.level != logging.NOTSET:
            entries[f"{name}:level"] = logging.getLevelName(logger.level)
        if not logger.propagate:
            entries[f"{name}:propagate"] = "off"
        if logger.disabled:
            entries[f"{name}:disabled"] = "yes"
        seen: dict[str, int] = {}
        for handler in list(logger.handlers):
            kind = type(handler).__qualname__
            seen[kind] = seen.get(kind, 0) + 1
            label = f"{name}:handler {kind}" + (f" #{seen[kind]}" if seen[kind] > 1 else "")
            entries[label] = "present"
            if handler.level != logging.NOTSET:
                entries[f"{label} level"] = logging.getLevelName(handler.level)
            if handler.formatter is not None:
                entries[f"{label} formatter"] = _formatter(handler.formatter)
    return entries


def _formatter(formatter: logging.Formatter) -> str:
    pattern = getattr(formatter, "_fmt", None)
    return f"{type(formatter).__qualname__}({pattern!r})" if pattern else type(formatter).__qualname__


def signal_handlers() -> dict[str, str]:
    """Each signal's handler: ``default``, ``ignored``, ``not set from Python`` or the handler's name."""
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
        handlers[name] = handler_name(handler)
    return handlers


def handler_name(handler: object) -> str:
    if handler == signal.SIG_DFL:
        return "default"
    if handler == signal.SIG_IGN:
        return "ignored"
    if handler is None:
        return "not set from Python"
    return str(getattr(handler, "__qualname__", None) or type(handler).__qualname__)


def warnings_filters() -> list[str]:
    """The filters in ``-W`` syntax (``error::DeprecationWarning``, ``ignore:msg:UserWarning:pkg``)."""
    names = []
    for action, message, category, module, lineno in list(warnings.filters):
        parts = [
            str(action),
            getattr(message, "pattern", None) or "",
            getattr(category, "__name__", None) or str(category),
            getattr(module, "pattern", None) or "",
            str(lineno or ""),
        ]
        while parts[-1] == "":
            parts.pop()
        names.append(":".join(parts))
    return names


def namespace(value: object) -> dict[str, object] | None:
    """An object's own attributes, or None: a proxy whose ``__dict__`` raises (werkzeug's ``request``) has none."""
    try:
        state = value.__dict__
    except Exception:  # noqa: BLE001 - a proxy's lookup may raise anything outside its context; the snapshot goes on
        return None
    return state if isinstance(state, dict) else None


def _closed_loop(value: object) -> bool:
    return isinstance(value, asyncio.AbstractEventLoop) and value.is_closed()


def _loop_of(value: object) -> object:
    state = namespace(value)
    if state is None:
        return None
    return next((state[name] for name in LOOP_ATTRIBUTES if name in state), None)


def closed_loop_bindings(attributes: Iterable[tuple[str, object]], skipped: tuple[type, ...]) -> dict[str, str]:
    """Attributes that are a closed event loop, or hold an object bound to one (``_loop``/``loop``).

    The object itself and its own attributes are looked at (one level: ``client._session._loop``),
    never ``skipped`` types (functions, classes, modules), whose namespaces are walked elsewhere.
    """
    found = {}
    for name, value in attributes:
        if isinstance(value, skipped):
            continue
        if _closed_loop(value):
            found[name] = "closed loop"
            continue
        if _closed_loop(_loop_of(value)):
            found[name] = "bound to a closed loop"
            continue
        for attribute, inner in sorted((namespace(value) or {}).items()):
            if not isinstance(inner, skipped) and _closed_loop(_loop_of(inner)):
                found[f"{name}.{attribute}"] = "bound to a closed loop"
    return found


def database_rows(files: Mapping[str, str], locate: Callable[[str], Path], open_files: Iterable[str]) -> dict[str, str]:
    """``FILE:TABLE -> row count`` for the sqlite databases among ``files`` (names as the file walk gives them).

    ``locate`` turns a name back into its path. A database is opened read-only and never written;
    one that cannot be read (locked, corrupt) gives ``FILE:* -> unreadable: why``. A file this
    process holds open is not opened by Python to read its header (closing that descriptor would
    drop the process's sqlite locks on it); sqlite reads the header itself then.
    """
    held = set(open_files)
    rows: dict[str, str] = {}
    for name in sorted(name for name in files if name.lower().endswith(_SUFFIXES)):
        path = locate(name)
        if _is_small_sqlite(path, held):
            rows.update(_count_rows(name, path))
    return rows


def _is_small_sqlite(path: Path, held: set[str]) -> bool:
    try:
        if path.stat().st_size > MAX_DATABASE_BYTES:
            return False
        if str(path) in held:
            return True
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # removed meanwhile, or not ours to read
        return False


def _count_rows(name: str, path: Path) -> dict[str, str]:
    import sqlite3  # only when there is a database: most projects never need the module

    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0)
    except sqlite3.Error as error:  # pragma: no cover - opening is lazy in sqlite; errors come with the first read
        return {f"{name}:*": f"unreadable: {error}"}
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                " LIMIT ?",
                (MAX_TABLES,),
            )
        ]
        quoted = {table: '"' + table.replace('"', '""') + '"' for table in tables}
        return {
            f"{name}:{table}": str(connection.execute(f"SELECT count(*) FROM {quoted[table]}").fetchone()[0])  # noqa: S608 - a quoted table name from sqlite_master
            for table in tables
        }
    except sqlite3.Error as error:
        return {f"{name}:*": f"unreadable: {error}"}
    finally:
        connection.close()
