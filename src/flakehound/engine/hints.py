"""PURE. Rank root-cause hints for one failure: ``(ClassifiedFailure, experiment results, catalog) -> hints``.

Hints come from three sources, strongest first:

1. what the core found by moving the test around: a polluter (or state-setter) and the state it
   leaves behind, mapped to a category by the kind of state (``env`` -> environment, ``file`` ->
   filesystem, a replaced function -> monkeypatch, other module globals -> shared-state, ...);
2. experiments that varied one factor and saw the outcome follow it (see :mod:`flakehound.engine.experiments`);
3. the failure's text matched against the signature catalog (:mod:`flakehound.engine.signatures`).

A deterministic failure is a bug in the code or the test (``code-bug``, with the failing line);
a signature it matches says what kind of bug and ranks first, backed by the every-time counts.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flakehound.engine.statediff import describe_change
from flakehound.models import FailureKind, Hint

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from flakehound.engine.signatures import Catalog, Signature
    from flakehound.models import ClassifiedFailure, Original, Polluter, StateChange

__all__ = [
    "FACTOR_CATEGORY",
    "STATE_CATEGORY",
    "ExperimentResult",
    "Factor",
    "Match",
    "match_signatures",
    "rank_hints",
]

#: The factors an experiment varies, one at a time.
Factor = Literal[
    "hash-seed", "random-seed", "concurrency", "network", "second-boundary", "cpu-load", "clock", "repetition"
]

#: What it means when the outcome follows a factor.
FACTOR_CATEGORY: dict[str, str] = {
    "hash-seed": "unordered-collection",
    "random-seed": "randomness",
    "concurrency": "concurrency",
    "network": "network",
    "second-boundary": "clock",
    "cpu-load": "timing",
    "clock": "clock",
    "repetition": "shared-state",
}

_FACTOR_TEXT: dict[str, tuple[str, str]] = {
    "hash-seed": (
        "the outcome follows PYTHONHASHSEED: it depends on set or dict iteration order",
        (
            "the order of a set (or of dict keys built from one) changes with the hash seed of each process;"
            " compare sets or sorted lists, or sort before returning"
        ),
    ),
    "random-seed": (
        "the outcome follows the random seed: the test draws unseeded random numbers",
        (
            "some draws make it fail; seed the generator in a fixture (or pass it in), and make the assertion"
            " hold for every draw"
        ),
    ),
    "concurrency": (
        "fails more often when threads switch more often: a race between threads",
        (
            "two threads read and write shared state without a lock (a read-modify-write such as ``n += 1``, a"
            " check-then-act); guard it with a lock, or hand work over through a queue"
        ),
    ),
    "second-boundary": (
        "fails when it runs across a second boundary: it reads the clock twice and expects the same second",
        (
            "two readings of the clock (or a timestamp and a later ``now()``) fall in different seconds when the"
            " test runs at the end of one; read the clock once, or freeze it in the test (time-machine, freezegun)"
        ),
    ),
    "network": (
        "the outcome changes when the network is refused: the test talks to another host",
        (
            "it connects somewhere other than localhost, which CI may not allow or may reach only sometimes;"
            " serve a local fake (pytest-httpserver) or mark the test as needing the network"
        ),
    ),
    "cpu-load": (
        "fails more often while the CPU is busy: it depends on timing",
        (
            "a sleep, a deadline or a race with a thread or process that a loaded CI machine loses;"
            " wait for the condition itself (an event, a poll with a generous limit) rather than for a time"
        ),
    ),
    "clock": (
        "the outcome changes with the date or time: it depends on the clock",
        (
            "it reads the real clock and fails on some dates (month ends, leap days, near midnight);"
            " freeze the clock in the test (time-machine, freezegun) or pass the time in"
        ),
    ),
    "repetition": (
        "passes the first time, fails when run again in the same process: the test pollutes itself",
        (
            "it leaves state behind (a module global, a cache, a registry, a connection) that its own next run"
            " trips over; reset that state in a fixture"
        ),
    ),
}

#: The category a polluter's leftover state points at, by kind of state (see flakehound.execution._state_plugin).
STATE_CATEGORY: dict[str, str] = {
    "env": "environment",
    "sys.path": "environment",
    "locale": "environment",
    "cwd": "filesystem",
    "file": "filesystem",
    "module-attribute": "shared-state",
    "module": "shared-state",
    "signal": "shared-state",
    "logger": "shared-state",
    "warnings-filter": "shared-state",
    "asyncio": "async-event-loop",
    "event-loop-binding": "async-event-loop",
    "database": "database",
    "fixture": "shared-state",
    "timezone": "clock",
    "thread": "concurrency",
    "open-file": "resource-leak",
    "fd": "resource-leak",
}

#: Shown values of functions, mocks and partials: a module attribute that was one of these was patched.
_PATCHED = re.compile(
    r"^(<(function|builtin_function_or_method|method|(NonCallable)?(Magic|Async)?Mock)\b|functools\.partial\()"
)
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}
_MAX_ULPS = 64
_LINE_LIMIT = 200
_SOURCE_LINE = re.compile(r"^>\s+(.*\S)")
_PATH = re.compile(r"([\w.~/\\:-]+\.py)(?::\d+|\", line \d+)")


@dataclass(frozen=True)
class ExperimentResult:
    """What varying one factor showed: the outcome ``tracks`` it, it had ``no-effect``, or it was ``inconclusive``."""

    factor: Factor
    outcome: Literal["tracks", "no-effect", "inconclusive"]
    evidence: str
    #: The seed at which it failed, when the factor is a seed and the outcome tracks it.
    seed: int | None = None


@dataclass(frozen=True)
class Match:
    """A signature the failure matches, and the line of its text that matched."""

    signature: Signature
    line: str


# --- signature matching ---------------------------------------------------------------------------


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


# --- hints ----------------------------------------------------------------------------------------


def _rate(failures: int, runs: int) -> str:
    return f"{failures}/{runs}"


def _counts(failure: ClassifiedFailure) -> str:
    evidence = failure.evidence
    parts = [
        f"{_rate(count.failures, count.runs)} {label}"
        for label, count in (
            ("alone", evidence.alone),
            ("in the original order", evidence.original_order),
            ("in shuffled orders", evidence.permuted),
        )
        if count.runs
    ]
    return "fails " + ", ".join(parts) if parts else "no reruns"


def _state_category(change: StateChange) -> str:
    values = (change.before or "", change.after or "")
    if change.kind == "module-attribute" and any(_PATCHED.match(value) for value in values):
        return "monkeypatch"
    return STATE_CATEGORY.get(change.kind, "shared-state")


def _finding_hint(failure: ClassifiedFailure, finding: Polluter, role: str) -> Hint:
    tests = ", ".join(finding.nodeids)
    alone = failure.evidence.alone
    if role == "polluter":
        title = f"fails after {tests}"
        counts = f"fails {_rate(finding.confirmed_failures, finding.confirmed_runs)} right after {tests}"
    else:
        title = f"passes only after {tests}"
        passes = finding.confirmed_runs - finding.confirmed_failures
        counts = f"passes {_rate(passes, finding.confirmed_runs)} right after {tests}"
    evidence = f"{counts}, fails {_rate(alone.failures, alone.runs)} alone"
    if not finding.state_changes:
        detail = (
            "the state it changes could not be named (it may live outside Python: a server, a database, files"
            " elsewhere)"
        )
        return Hint(category="shared-state", title=title, detail=detail, evidence=evidence, confidence="high")
    change = finding.state_changes[0]
    category = _state_category(change)
    title += f", which {describe_change(change)}"
    detail = (
        "undo the change in that test's teardown (monkeypatch, tmp_path or a fixture), or reset it before this one"
        if role == "polluter"
        else "this test relies on it without setting it up; set it up in a fixture this test uses"
    )
    return Hint(category=category, title=title, detail=detail, evidence=evidence, confidence="high")


def _experiment_hint(result: ExperimentResult) -> Hint:
    title, detail = _FACTOR_TEXT[result.factor]
    return Hint(
        category=FACTOR_CATEGORY[result.factor], title=title, detail=detail, evidence=result.evidence, confidence="high"
    )


def _failing_line(original: Original) -> str:
    """``path:line: source`` of the line that failed, from the traceback's ``>`` marker."""
    source = None
    for line in (original.traceback or "").splitlines():
        marked = _SOURCE_LINE.match(line)
        if marked is not None:
            source = marked.group(1)
    where = f"{original.path}:{original.line}" if original.path else ""
    return ": ".join(part for part in (where, source) if part)


def _signature_hint(match: Match, deterministic: str | None) -> Hint:
    signature = match.signature
    evidence = f"matched: {match.line}"
    confidence = signature.confidence
    if deterministic is not None:  # it fails every time: the signature says what kind of bug
        evidence = f"{deterministic}; {evidence}"
        confidence = "low" if signature.confidence == "low" else "high"
    return Hint(
        category=signature.category,
        title=signature.title,
        detail=signature.advice,
        evidence=evidence,
        confidence=confidence,
    )


def _code_bug_hint(failure: ClassifiedFailure, counts: str, explained: bool) -> Hint:
    original = failure.original
    line = _failing_line(original)
    what = f"{original.exception}: " if original.exception else ""
    detail = f"{what}{(original.message or '').splitlines()[0] if original.message else 'failed'}"
    if line:
        detail += f" at {line}"
    return Hint(
        category="code-bug",
        title="fails every time: a bug in the code or in the test",
        detail=detail,
        evidence=counts,
        confidence="medium" if explained else "high",
    )


def rank_hints(failure: ClassifiedFailure, results: Sequence[ExperimentResult], catalog: Catalog) -> tuple[Hint, ...]:
    """The failure's hints, best first: findings and experiments, then signatures, then the label's own hint."""
    hints = [_finding_hint(failure, finding, "polluter") for finding in failure.polluters]
    hints += [_finding_hint(failure, finding, "state-setter") for finding in failure.state_setters]
    hints += [_experiment_hint(result) for result in results if result.outcome == "tracks"]
    is_deterministic = failure.classification is FailureKind.DETERMINISTIC
    counts = _counts(failure)
    matches = match_signatures(failure.original, catalog)
    hints += [_signature_hint(match, counts if is_deterministic else None) for match in matches]
    if is_deterministic:
        explained = any(match.signature.confidence != "low" for match in matches)
        hints.append(_code_bug_hint(failure, counts, explained))
    ranked = sorted(enumerate(hints), key=lambda pair: (_CONFIDENCE_RANK[pair[1].confidence], pair[0]))
    return tuple(hint for _, hint in ranked)
