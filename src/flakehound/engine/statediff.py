"""PURE. Compare two state snapshots and put the changes a victim's failure mentions first.

A snapshot is ``{kind: {name: value}}`` with string values, as ``flakehound.execution._state_plugin``
writes them. A name present on one side only is an addition or a removal (``before`` or ``after``
is None); a name on both sides with different values is a change. A kind ``K:identity`` holds
fingerprints for the names of kind ``K``: it is never reported itself, but a name whose fingerprint
changed while its shown value did not is reported as changed beyond what is shown. The descriptor
count (``fd``) is reported only when nothing else changed.

:func:`describe_change` says a change in words, relative to the project: "creates .state/app.db",
"changes pkg.state.MODE from 'production' to 'test'".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flakehound.models import StateChange

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["KIND_ORDER", "describe_change", "diff_states", "rank_changes"]

#: Kinds in the order a polluter usually leaves them behind; names the victim mentions come first anyway.
KIND_ORDER = (
    "module-attribute",
    "env",
    "file",
    "cwd",
    "asyncio",
    "sys.path",
    "timezone",
    "locale",
    "signal",
    "logger",
    "warnings-filter",
    "thread",
    "open-file",
    "fd",
    "module",
)
#: Shorter name parts ("k", "db") match too much of a traceback to mean anything.
MIN_TOKEN = 3


#: The suffix of a kind that holds fingerprints for another kind's names.
IDENTITY = ":identity"
#: Kinds that are noise beside any other change.
NOISE = frozenset({"fd"})


def diff_states(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]) -> list[StateChange]:
    """Every name whose value (or fingerprint) differs between the snapshots, by kind then name."""
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
    if any(change.kind not in NOISE for change in changes):
        return [change for change in changes if change.kind not in NOISE]
    return changes


_ADDED = {
    "file": "creates {name}",
    "env": "sets the environment variable {name}={after}",
    "sys.path": "adds {name} to sys.path",
    "module": "imports {name}",
    "thread": "leaves thread {name} running",
    "open-file": "leaves {name} open",
    "warnings-filter": "adds the warnings filter {name}",
    "logger": "creates logger {name} ({after})",
    "module-attribute": "adds {name} = {after}",
}
_REMOVED = {
    "file": "deletes {name}",
    "env": "unsets the environment variable {name}",
    "sys.path": "removes {name} from sys.path",
    "module": "removes {name} from sys.modules",
    "thread": "ends thread {name}",
    "open-file": "closes {name}",
    "warnings-filter": "removes the warnings filter {name}",
    "module-attribute": "deletes {name}",
}
_CHANGED = {
    "file": "modifies {name}",
    "env": "changes the environment variable {name} from {before} to {after}",
    "cwd": "changes the working directory from {before} to {after}",
    "fd": "changes the number of open file descriptors from {before} to {after}",
    "open-file": "changes how often {name} is open from {before} to {after}",
    "signal": "changes the {name} handler from {before} to {after}",
    "logger": "changes logger {name} from {before} to {after}",
    "module-attribute": "changes {name} from {before} to {after}",
}


def describe_change(change: StateChange) -> str:
    """The change as a verb phrase a reviewer reads once: "creates .state/app.db", "changes X from A to B"."""
    if change.beyond_shown:
        return f"changes {change.name} beyond what its value shows ({change.after}): replaced or mutated deep inside"
    if change.before is None:
        template = _ADDED.get(change.kind, "adds {kind} {name} = {after}")
    elif change.after is None:
        template = _REMOVED.get(change.kind, "removes {kind} {name}")
    else:
        template = _CHANGED.get(change.kind, "changes {kind} {name} from {before} to {after}")
    return template.format(kind=change.kind, name=change.name, before=change.before, after=change.after)


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
        for token in _tokens(change.name)
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
