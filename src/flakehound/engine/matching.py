"""PURE. Match a failure's text against the signature catalog: ``(Original, Catalog) -> [Match]``.

A signature matches when every condition it gives holds (see :mod:`flakehound.engine.signatures`);
the evidence is the line of the failure's text that met its most telling condition.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flakehound.engine.signatures import Catalog, Signature
    from flakehound.models import Original

__all__ = ["Match", "match_signatures"]

_MAX_ULPS = 64
_LINE_LIMIT = 200
_PATH = re.compile(r"([\w.~/\\:-]+\.py)(?::\d+|\", line \d+)")


@dataclass(frozen=True)
class Match:
    """A signature the failure matches, and the line of its text that matched."""

    signature: Signature
    line: str


def _names_match(actual: str | None, wanted: Iterable[str]) -> bool:
    if not actual:
        return False
    short = actual.rsplit(".", 1)[-1]
    return any(name == actual or name.rsplit(".", 1)[-1] == short for name in wanted)


def _matching_line(pattern: str, text: str) -> str | None:
    found: re.Match[str] | None = re.search(pattern, text)
    if found is None:
        return None
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    line = text[start : end if end != -1 else len(text)].strip()
    return line[:_LINE_LIMIT] or found.group(0)[:_LINE_LIMIT]


def _frame_modules(traceback: str, modules: Iterable[str]) -> str | None:
    """The first traceback path inside one of ``modules`` (``concurrent.futures``: ``.../concurrent/futures/...``)."""
    paths = [str(path).replace("\\", "/") for path in _PATH.findall(traceback)]
    for module in modules:
        inner = re.escape("/".join(module.split(".")))
        pattern = re.compile(rf"(^|/){inner}(/|\.py$)")
        for path in paths:
            if pattern.search(path):
                return str(path)
    return None


def _number(node: ast.expr) -> float | None:
    """A number written as a literal or as arithmetic on literals (``0.1 + 0.2``), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        return left - right if isinstance(node.op, ast.Sub) else left * right
    return None


def _assertion_sides(message: str | None) -> tuple[ast.expr, ast.expr] | None:
    """The two sides of pytest's ``assert LEFT == RIGHT`` line, as syntax trees."""
    first = (message or "").strip().split("\n", 1)[0]
    if not first.startswith("assert "):
        return None
    try:
        tree = ast.parse(first)
    except SyntaxError:
        return None
    statement = tree.body[0]
    if not isinstance(statement, ast.Assert) or not isinstance(statement.test, ast.Compare):
        return None
    compare = statement.test
    if len(compare.ops) != 1 or not isinstance(compare.ops[0], ast.Eq):
        return None
    return compare.left, compare.comparators[0]


def _items(node: ast.expr) -> list[str] | None:
    """The items of a literal list, tuple or set (as reprs), or the parts of a separated string."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return [repr(item) for item in value]
    if isinstance(value, str):
        parts = [part for part in re.split(r"[\s,;|]+", value) if part]
        return parts if len(parts) > 1 else None
    return None


def _same_items(message: str | None) -> str | None:
    sides = _assertion_sides(message)
    if sides is None:
        return None
    left, right = (_items(side) for side in sides)
    if left is None or right is None or left == right:
        return None
    if Counter(left) == Counter(right):
        return f"the same {len(left)} items in another order: {ast.unparse(sides[0])} vs {ast.unparse(sides[1])}"
    if set(left) == set(right):
        return f"the same items as sets, counted differently: {ast.unparse(sides[0])} vs {ast.unparse(sides[1])}"
    return None


def _close_floats(message: str | None) -> str | None:
    sides = _assertion_sides(message)
    if sides is None:
        return None
    left, right = (_number(side) for side in sides)
    if left is None or right is None or left == right or not (math.isfinite(left) and math.isfinite(right)):
        return None
    ulps = abs(left - right) / math.ulp(max(abs(left), abs(right)))
    if ulps > _MAX_ULPS:
        return None
    return f"{left!r} and {right!r} are {round(ulps)} ulp(s) apart"


_CHECKS = {"same-items": _same_items, "close-floats": _close_floats}


def _condition_lines(signature: Signature, original: Original) -> list[str | None]:
    """For each text condition of ``signature``, the line that meets it, or None; the most telling first."""
    text = "\n".join(part for part in (original.message, original.traceback, original.output) if part)
    lines: list[str | None] = []
    if signature.check is not None:
        lines.append(_CHECKS[signature.check](original.message))
    if signature.traceback is not None:
        lines.append(_matching_line(signature.traceback, text))
    if signature.message is not None:
        lines.append(_matching_line(signature.message, original.message or ""))
    if signature.frames:
        path = _frame_modules(original.traceback or "", signature.frames)
        lines.append(None if path is None else f"through {path}")
    return lines


def _match(signature: Signature, original: Original) -> str | None:
    """The evidence line when every condition of ``signature`` holds for ``original``, else None."""
    if signature.exceptions and not _names_match(original.exception, signature.exceptions):
        return None
    lines = _condition_lines(signature, original)
    if None in lines:
        return None
    if lines:
        return lines[0]
    first = (original.message or "").strip().split("\n", 1)[0]
    exception = str(original.exception)
    if not first or exception.rsplit(".", 1)[-1] in first.split(":", 1)[0]:
        return first or exception
    return f"{exception}: {first}"


def match_signatures(original: Original, catalog: Catalog) -> list[Match]:
    """Every signature of the catalog the failure matches, in catalog order, one per category and title."""
    matches = []
    seen: set[tuple[str, str]] = set()
    for signature in catalog.signatures:
        key = (signature.category, signature.title)
        if key in seen:
            continue
        line = _match(signature, original)
        if line is not None:
            seen.add(key)
            matches.append(Match(signature, line))
    return matches
