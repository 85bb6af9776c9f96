"""PURE. Compare two state snapshots and put the changes a victim's failure mentions first.

A snapshot is ``{kind: {name: value}}`` with string values, as ``flakehound.execution._state_plugin``
writes them. A name present on one side only is an addition or a removal (``before`` or ``after``
is None); a name on both sides with different values is a change. A kind ``K:identity`` holds
fingerprints for the names of kind ``K``: it is never reported itself, but a name whose fingerprint
changed while its shown value did not is reported as changed beyond what is shown.

The most telling change comes first (:data:`KIND_ORDER`: concrete Python state, then files, then
threads, descriptors and imports). Noise (the descriptor count, modules imported for the first
time and their globals, a file rewritten at the same size) is reported only when nothing else
changed, and a sqlite table's row count replaces the size-and-mtime change of its file.

:func:`describe_change` says a change in words, relative to the project: "creates .state/app.db",
"adds 1 row to table users in .state/app.db", "sets the level of logger 'app' from WARNING to
DEBUG", "changes pkg.state.MODE from 'production' to 'test'"; never a size, an mtime, a memory
address or an invisible character.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flakehound.models import StateChange

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["KIND_ORDER", "describe_change", "diff_states", "rank_changes"]

#: Kinds from the most telling to the least: concrete Python state first, then files, then threads,
#: descriptors and imports. Names the victim mentions come first anyway (:func:`rank_changes`).
KIND_ORDER = (
    "event-loop-binding",
    "fixture",
    "database",
    "module-attribute",
    "logger",
    "env",
    "asyncio",
    "cwd",
    "sys.path",
    "timezone",
    "locale",
    "signal",
    "warnings-filter",
    "file",
    "thread",
    "open-file",
    "module",
    "fd",
)
#: Shorter name parts ("k", "db") match too much of a traceback to mean anything.
MIN_TOKEN = 3
#: The suffix of a kind that holds fingerprints for another kind's names.
IDENTITY = ":identity"
#: Kinds that are noise beside any other change: a descriptor count, a module imported for the first time.
NOISE = frozenset({"fd", "module"})
#: Files sqlite keeps beside a database; their changes are the database's rows changing.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
_SIZE = re.compile(r"size=(\d+)")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def diff_states(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]) -> list[StateChange]:
    """Every name whose value (or fingerprint) differs between the snapshots, the most telling first.

    Ordered by :data:`KIND_ORDER`, then name. Noise (see :func:`_is_noise`) is left out unless
    nothing else changed; a database's row counts replace the raw change of its file.
    """
    changes = []
    for kind in sorted(kind for kind in set(before) | set(after) if not kind.endswith(IDENTITY)):
        old, new = before.get(kind, {}), after.get(kind, {})
        old_id, new_id = before.get(kind + IDENTITY, {}), after.get(kind + IDENTITY, {})
        for name in sorted(set(old) | set(new)):
            was, now = old.get(name), new.get(name)
            if was != now:
                changes.append(StateChange(kind=kind, name=name, before=was, after=now))
            elif old_id.get(name) != new_id.get(name):
                changes.append(StateChange(kind=kind, name=name, before=was, after=now, beyond_shown=True))
    changes = _without_superseded(changes)
    imported = {change.name for change in changes if change.kind == "module" and change.before is None}
    telling = [change for change in changes if not _is_noise(change, imported)]
    kinds = {kind: index for index, kind in enumerate(KIND_ORDER)}
    return sorted(telling or changes, key=lambda change: kinds.get(change.kind, len(KIND_ORDER)))


def _database_path(change: StateChange) -> str:
    return change.name.rpartition(":")[0]


def _without_superseded(changes: list[StateChange]) -> list[StateChange]:
    """A database's row changes say more than its file's size: drop the file's (and its journals') change.

    A deleted database file is said as such, without its tables; a database unreadable on one side
    is said as such, without the tables that side could not show.
    """
    deleted = {change.name for change in changes if change.kind == "file" and change.after is None}
    databases = {_database_path(change) for change in changes if change.kind == "database"}
    unreadable = {
        _database_path(change) for change in changes if change.kind == "database" and change.name[-2:] == ":*"
    }
    companions = {path + suffix for path in databases - deleted for suffix in _SQLITE_COMPANIONS}
    kept = []
    for change in changes:
        if change.kind == "file" and change.name in companions:
            continue
        if change.kind == "database":
            path = _database_path(change)
            if path in deleted or (path in unreadable and not change.name.endswith(":*")):
                continue
        kept.append(change)
    return kept


def _is_noise(change: StateChange, imported: set[str]) -> bool:
    """Descriptor counts, imports, a file whose size did not change, the globals of a newly imported module."""
    if change.kind in NOISE:
        return True
    if change.kind == "file" and change.before is not None and change.after is not None:
        return _SIZE.findall(change.before) == _SIZE.findall(change.after)
    if change.kind == "module-attribute" and change.before is None:
        parts = change.name.split(".")
        return any(".".join(parts[:end]) in imported for end in range(1, len(parts)))
    return False


def _visible(text: str) -> str:
    """No memory addresses, no invisible characters: those are shown as Python escapes."""
    text = _ADDRESS.sub("", text)
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _an(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _verbs(change: StateChange, added: str, removed: str, changed: str) -> str:
    if change.before is None:
        template = added
    elif change.after is None:
        template = removed
    else:
        template = changed
    return template.format(name=change.name, before=change.before, after=change.after)


def _describe_file(change: StateChange) -> str:
    if change.before is not None and change.after is not None and _is_noise(change, set()):
        return f"rewrites {change.name} (same size)"
    return _verbs(change, "creates {name}", "deletes {name}", "changes {name}")


def _describe_attribute(change: StateChange, label: str) -> str:
    if change.beyond_shown:
        return f"changes {label} beyond what its value shows ({change.after}): replaced or mutated deep inside"
    return _verbs(
        change, f"adds {label} = {{after}}", f"deletes {label}", f"changes {label} from {{before}} to {{after}}"
    )


def _describe_fixture(change: StateChange) -> str:
    scope, _, name = change.name.partition(":")
    return _describe_attribute(change, f"{scope} fixture {name}")


def _describe_database(change: StateChange) -> str:
    path, _, table = change.name.rpartition(":")
    if table == "*":
        why = (change.after or change.before or "").removeprefix("unreadable: ")
        return f"leaves {path} unreadable ({why})" if change.after else f"makes {path} readable again"
    if change.before is None:
        return f"creates table {table} in {path} with {_count(int(change.after or 0), 'row')}"
    if change.after is None:
        return f"drops table {table} from {path}"
    delta = int(change.after) - int(change.before)
    if delta > 0:
        return f"adds {_count(delta, 'row')} to table {table} in {path}"
    return f"removes {_count(-delta, 'row')} from table {table} in {path}"


def _describe_binding(change: StateChange) -> str:
    if change.after is None:
        return f"releases {change.name} from a closed event loop"
    how = "holding" if change.after == "closed loop" else "bound to"
    return f"leaves {change.name} {how} a closed event loop"


def _describe_logger(change: StateChange) -> str:
    logger, _, aspect = change.name.rpartition(":")
    who = "the root logger" if logger == "root" else f"logger {logger!r}"
    if aspect == "level":
        return f"sets the level of {who} from {change.before or 'NOTSET'} to {change.after or 'NOTSET'}"
    if aspect == "propagate":
        return f"turns propagation off for {who}" if change.after else f"turns propagation back on for {who}"
    if aspect == "disabled":
        return f"disables {who}" if change.after else f"enables {who} again"
    handler = aspect.removeprefix("handler ")
    kind, _, detail = handler.partition(" ")
    if detail in {"level", "formatter"} or detail.endswith((" level", " formatter")):
        number, _, detail = detail.rpartition(" ")
        which = f"the {kind}{' ' + number if number else ''} on {who}"
        before, after = change.before or ("NOTSET" if detail == "level" else "none"), change.after or "none"
        return f"sets the {detail} of {which} from {before} to {after}"
    what = _an(kind) if not detail else f"another {kind}"
    return f"adds {what} to {who}" if change.after else f"removes {what} from {who}"


def _describe_asyncio(change: StateChange) -> str:
    if change.name != "current loop":
        return f"changes the asyncio event loop {change.name} from {change.before} to {change.after}"
    if change.after in {"open", "closed"}:
        return f"leaves {_an(str(change.after))} event loop set as the current one"
    return f"unsets the current event loop (it was {change.before})"


def _describe_thread(change: StateChange) -> str:
    name, _, daemon = change.name.rpartition(" daemon=")
    daemon = daemon.partition(" ")[0]
    kind = "daemon thread" if daemon == "True" else "thread"
    return _verbs(change, f"leaves {kind} {name} running", f"ends {kind} {name}", f"changes {kind} {name}")


def _describe_open_file(change: StateChange) -> str:
    before, after = int(change.before or 0), int(change.after or 0)
    if not before:
        return f"leaves {change.name} open" + (f" ({_count(after, 'descriptor')})" if after > 1 else "")
    if after > before:
        return f"opens {change.name} {_count(after - before, 'more time')}"
    return f"closes {_count(before - after, 'descriptor')} on {change.name}"


_DESCRIBE: dict[str, Callable[[StateChange], str]] = {
    "file": _describe_file,
    "module-attribute": lambda change: _describe_attribute(change, change.name),
    "fixture": _describe_fixture,
    "database": _describe_database,
    "event-loop-binding": _describe_binding,
    "logger": _describe_logger,
    "asyncio": _describe_asyncio,
    "thread": _describe_thread,
    "open-file": _describe_open_file,
    "env": lambda change: _verbs(
        change,
        "sets the environment variable {name}={after}",
        "unsets the environment variable {name}",
        "changes the environment variable {name} from {before} to {after}",
    ),
    "sys.path": lambda change: _verbs(
        change, "adds {name} to sys.path", "removes {name} from sys.path", "changes {name} on sys.path"
    ),
    "module": lambda change: _verbs(
        change, "imports {name}", "removes {name} from sys.modules", "changes module {name}"
    ),
    "warnings-filter": lambda change: _verbs(
        change, "adds the warnings filter {name}", "removes the warnings filter {name}", "changes filter {name}"
    ),
    "cwd": lambda change: f"changes the working directory from {change.before} to {change.after}",
    "fd": lambda change: f"changes the number of open file descriptors from {change.before} to {change.after}",
    "signal": lambda change: f"changes the {change.name} handler from {change.before} to {change.after}",
    "timezone": lambda change: f"changes the time zone ({change.name}) from {change.before} to {change.after}",
}


def describe_change(change: StateChange) -> str:
    """The change as a verb phrase a reviewer reads once: "creates .state/app.db", "changes X from A to B"."""
    describe = _DESCRIBE.get(change.kind)
    if describe is not None:
        return _visible(describe(change))
    if change.beyond_shown:
        return _visible(f"changes {change.kind} {change.name} beyond what its value shows ({change.after})")
    words = _verbs(
        change, f"adds {change.kind} {{name}} = {{after}}", f"removes {change.kind} {{name}}", "{before} to {after}"
    )
    if change.before is not None and change.after is not None:
        words = f"changes {change.kind} {change.name} from {words}"
    return _visible(words)


def _mentionable(change: StateChange) -> list[str]:
    """The parts of a change's name a traceback may mention: a fixture's name, a database's file and table."""
    if change.kind == "fixture":
        return [change.name.partition(":")[2]]
    if change.kind in {"database", "logger"}:
        head, _, tail = change.name.rpartition(":")
        return [head, tail] if change.kind == "database" else [head]
    if change.kind == "thread":
        return [change.name.rpartition(" daemon=")[0]]
    return [change.name]


def _tokens(name: str) -> set[str]:
    """Split a name into itself, its parts, every tail of them (``Cls.attr``) and a path's file stem."""
    if "/" in name or "\\" in name:
        parts = [part for part in re.split(r"[/\\]+", name) if part]
        joiner, stems = "/", {parts[-1].split(".")[0]} if parts else set()
    else:
        parts = [part for part in name.split(".") if part]
        joiner, stems = ".", set()
    tokens = {name, *parts, *stems}
    tokens.update(joiner.join(parts[index:]) for index in range(len(parts)))
    return {token for token in tokens if len(token) >= MIN_TOKEN}


def _mention(change: StateChange, text: str) -> int:
    """Measure the longest part of the change's name that the text mentions as a whole word."""
    found = [
        len(token)
        for name in _mentionable(change)
        for token in _tokens(name)
        if re.search(rf"(?<![\w]){re.escape(token)}(?![\w])", text) is not None
    ]
    return max(found, default=0)


def rank_changes(changes: Iterable[StateChange], victim_text: str) -> list[StateChange]:
    """Order the changes: those the victim's traceback, module or fixture names mention come first.

    Mentioned changes are ordered by how specific the mention is (the longest matching part of
    the name), the rest by :data:`KIND_ORDER`; ties keep their order.
    """
    listed: Sequence[StateChange] = list(changes)
    kinds = {kind: index for index, kind in enumerate(KIND_ORDER)}

    def key(indexed: tuple[int, StateChange]) -> tuple[int, int, int]:
        index, change = indexed
        return (-_mention(change, victim_text), kinds.get(change.kind, len(KIND_ORDER)), index)

    return [change for _, change in sorted(enumerate(listed), key=key)]
