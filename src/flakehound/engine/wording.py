"""PURE. Small pieces of English shared by the gate and the renderers: plurals, short commit ids, run counts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flakehound.models import ConfigurationCount, Evidence

__all__ = ["plural", "rerun_counts", "short_sha", "shuffled_orders"]

#: The strip's labels of shuffled orders: ``seed 1234`` (a seeded shuffle) and ``reversed``.
_SHUFFLED = re.compile(r"seed \d+|reversed")

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHORT_SHA = 7


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 test``, ``2 tests``; ``many`` for words whose plural is not ``word + "s"`` (``1 was``, ``2 were``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def short_sha(ref: str) -> str:
    """A full commit id cut to 7 characters, as GitHub shows it; any other ref (``origin/main``) unchanged."""
    return ref[:_SHORT_SHA] if _SHA.fullmatch(ref) else ref


def shuffled_orders(evidence: Evidence) -> str:
    """What the shuffled-order count counts: ``in 3 shuffled orders`` (``in shuffled orders`` if none is named).

    ``, replays included`` follows when a failing order was run again, so the runs outnumber the orders.
    """
    orders = sum(1 for label in evidence.strip if _SHUFFLED.fullmatch(label))
    if not orders:
        return "in shuffled orders"
    where = f"in {plural(orders, 'shuffled order')}"
    return f"{where}, replays included" if evidence.permuted.runs > orders else where


def rerun_counts(evidence: Evidence, original: str = "in original order") -> list[tuple[str, ConfigurationCount]]:
    """Each configuration that ran, with what its count counts: alone, the original order, the shuffled orders."""
    counts = [
        ("alone", evidence.alone),
        (original, evidence.original_order),
        (shuffled_orders(evidence), evidence.permuted),
    ]
    return [(label, count) for label, count in counts if count.runs]
