"""PURE. Small pieces of English shared by the gate and the renderers: plurals and short commit ids."""

from __future__ import annotations

import re

__all__ = ["plural", "short_sha"]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHORT_SHA = 7


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 test``, ``2 tests``; ``many`` for words whose plural is not ``word + "s"`` (``1 was``, ``2 were``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def short_sha(ref: str) -> str:
    """A full commit id cut to 7 characters, as GitHub shows it; any other ref (``origin/main``) unchanged."""
    return ref[:_SHORT_SHA] if _SHA.fullmatch(ref) else ref
