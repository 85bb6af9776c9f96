"""PURE. Which orders to run: seeded permutations, the reversed order, prefixes.

Shuffles are repeatable and stable: each test's place is decided by a hash of the seed, the order's
index and its node id (the pytest-randomly idea), so adding a test elsewhere does not reshuffle
the rest, and ``--seed`` reproduces any order exactly.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["order_seed", "permutations", "permute", "prefix_through"]


def order_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th permuted order of an investigation seeded with ``seed``."""
    digest = hashlib.sha256(f"flakehound:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def permute(tests: Sequence[str], seed: int) -> tuple[str, ...]:
    """``tests`` shuffled by the hash of ``seed`` and each node id."""

    def key(nodeid: str) -> bytes:
        return hashlib.sha256(f"{seed}\0{nodeid}".encode()).digest()

    return tuple(sorted(tests, key=key))


def permutations(tests: Sequence[str], seed: int, count: int) -> list[tuple[int, tuple[str, ...]]]:
    """``count`` permuted orders of ``tests`` with the seed of each."""
    seeds = [order_seed(seed, index) for index in range(count)]
    return [(each, permute(tests, each)) for each in seeds]


def prefix_through(order: Sequence[str], last: str) -> tuple[str, ...]:
    """``order`` up to and including the first occurrence of ``last``."""
    index = list(order).index(last)
    return tuple(order[: index + 1])
