"""PURE. Compare two state snapshots and put the changes a victim's failure mentions first.

A snapshot is ``{kind: {name: value}}`` with string values, as ``flakehound.execution._state_plugin``
writes them. A name present on one side only is an addition or a removal (``before`` or ``after``
is None); a name on both sides with different values is a change.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flakehound.models import StateChange

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["KIND_ORDER", "diff_states", "rank_changes"]

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


def diff_states(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]) -> list[StateChange]:
    """Every name whose value differs between the snapshots, by kind then name."""
    return [
        StateChange(kind=kind, name=name, before=old.get(name), after=new.get(name))
        for kind in sorted(set(before) | set(after))
        for old, new in [(before.get(kind, {}), after.get(kind, {}))]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


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
