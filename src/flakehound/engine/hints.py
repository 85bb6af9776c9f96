"""PURE. Rank root-cause hints for one failure: ``(ClassifiedFailure, experiment results, catalog) -> hints``.

Hints come from three sources:

1. what the core found by moving the test around: a polluter (or state-setter) and the state it
   leaves behind, mapped to a category by the kind of state (``env`` -> environment, ``file`` ->
   filesystem, a sqlite file -> database, a replaced function -> monkeypatch, other module
   globals -> shared-state, ...);
2. experiments that varied one factor and saw the outcome follow it (see :mod:`flakehound.engine.experiments`);
3. the failure's text matched against the signature catalog (:mod:`flakehound.engine.matching`).

:func:`rank_hints` is the one place they are ordered, by tier: decided experiment evidence (or
``code-bug`` for a failure that fails every time), a specific signature with the polluter merged
into it ("the event loop was already closed", caused by "fails after X, which leaves ..."), other
specific signatures, generic order evidence, and last the weak text matches, which are dropped
when anything else decided the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flakehound.engine.matching import Match, match_signatures
from flakehound.engine.statediff import describe_change
from flakehound.engine.wording import rerun_counts
from flakehound.models import FailureKind, Hint

if TYPE_CHECKING:
    from collections.abc import Sequence
    from collections.abc import Set as AbstractSet

    from flakehound.engine.signatures import Catalog
    from flakehound.models import ClassifiedFailure, Comparison, Evidence, Original, Polluter, StateChange

__all__ = [
    "FACTOR_CATEGORY",
    "STATE_CATEGORY",
    "ExperimentResult",
    "Factor",
    "Match",
    "match_signatures",
    "rank_hints",
]

#: The factors an experiment varies, one at a time, in the order an intermittent failure tries them.
Factor = Literal[
    "random-seed",
    "hash-seed",
    "concurrency",
    "network",
    "second-boundary",
    "frozen-clock",
    "cpu-load",
    "clock",
    "repetition",
]

#: What it means when the outcome follows a factor.
FACTOR_CATEGORY: dict[str, str] = {
    "hash-seed": "unordered-collection",
    "random-seed": "randomness",
    "concurrency": "concurrency",
    "network": "network",
    "second-boundary": "clock",
    "frozen-clock": "clock",
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
            "two threads read and write shared state without a lock (a read-modify-write such as n += 1, a"
            " check-then-act); guard it with a lock, or hand work over through a queue"
        ),
    ),
    "second-boundary": (
        "fails when it runs across a second boundary: it reads the clock twice and expects the same second",
        (
            "two readings of the clock (or a timestamp and a later now()) fall in different seconds when the"
            " test runs at the end of one; read the clock once, or freeze it in the test (time-machine, freezegun)"
        ),
    ),
    "frozen-clock": (
        "passes with the clock frozen, fails with it running: it expects no time to pass between two readings",
        (
            "time passes between two readings of the wall clock (an entry whose time to live runs out during"
            " the test, two now() calls expected equal, a stamp compared with a later one); read the clock"
            " once and pass the time in, compare with a tolerance, or freeze it in the test (time-machine,"
            " freezegun)"
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
#: A changed file that is a sqlite database (or its journal): a database change, not a filesystem one.
_DATABASE_FILE = re.compile(r"\.(db|sqlite3?)(-(journal|wal|shm))?$", re.IGNORECASE)
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}
_SOURCE_LINE = re.compile(r"^>\s+(.*\S)")


@dataclass(frozen=True)
class ExperimentResult:
    """What varying one factor showed: the outcome ``tracks`` it, it had ``no-effect``, or it was ``inconclusive``."""

    factor: Factor
    outcome: Literal["tracks", "no-effect", "inconclusive"]
    evidence: str
    #: The seed at which it failed, when the factor is a seed and the outcome tracks it.
    seed: int | None = None
    #: The comparison that decided it, when the outcome tracks the factor.
    comparison: Comparison | None = None


# --- hints ---------------------------------------------------------------------------------------


def _rate(failures: int, runs: int) -> str:
    return f"{failures}/{runs}"


def _counts(failure: ClassifiedFailure) -> str:
    parts = [
        f"{_rate(count.failures, count.runs)} {label}"
        for label, count in rerun_counts(failure.evidence, original="in the original order")
    ]
    return "fails " + ", ".join(parts) if parts else "no reruns"


def _state_category(change: StateChange) -> str:
    values = (change.before or "", change.after or "")
    if change.kind == "module-attribute" and any(_PATCHED.match(value) for value in values):
        return "monkeypatch"
    if change.kind == "file" and _DATABASE_FILE.search(change.name):
        return "database"
    return STATE_CATEGORY.get(change.kind, "shared-state")


@dataclass(frozen=True)
class _Finding:
    """A polluter (or state-setter) of this failure, and the comparison that confirmed it."""

    polluter: Polluter
    role: Literal["polluter", "state-setter"]

    def title(self, change: StateChange | None) -> str:
        """``fails after X, which <change>``: what the test does to this one."""
        tests = ", ".join(self.polluter.nodeids)
        head = f"fails after {tests}" if self.role == "polluter" else f"passes only after {tests}"
        return head if change is None else f"{head}, which {describe_change(change)}"

    def evidence(self, failure: ClassifiedFailure) -> str:
        """Both sides: ``fails 3/3 right after X, fails 0/3 alone``."""
        finding, alone = self.polluter, failure.evidence.alone
        tests = ", ".join(finding.nodeids)
        if self.role == "polluter":
            counts = f"fails {_rate(finding.confirmed_failures, finding.confirmed_runs)} right after {tests}"
        else:
            passes = finding.confirmed_runs - finding.confirmed_failures
            counts = f"passes {_rate(passes, finding.confirmed_runs)} right after {tests}"
        return f"{counts}, fails {_rate(alone.failures, alone.runs)} alone"


def _findings(failure: ClassifiedFailure) -> list[_Finding]:
    found = [_Finding(finding, "polluter") for finding in failure.polluters]
    return found + [_Finding(finding, "state-setter") for finding in failure.state_setters]


def _finding_hint(failure: ClassifiedFailure, found: _Finding) -> Hint:
    """The generic order hint: the test this one depends on, and the first state it changes."""
    if not found.polluter.state_changes:
        detail = (
            "the state it changes could not be named (it may live outside Python: a server, a database, files"
            " elsewhere)"
        )
        return Hint(
            category="shared-state",
            title=found.title(None),
            detail=detail,
            evidence=found.evidence(failure),
            confidence="high",
        )
    change = found.polluter.state_changes[0]
    detail = (
        "undo the change in that test's teardown (monkeypatch, tmp_path or a fixture), or reset it before this one"
        if found.role == "polluter"
        else "this test relies on it without setting it up; set it up in a fixture this test uses"
    )
    return Hint(
        category=_state_category(change),
        title=found.title(change),
        detail=detail,
        evidence=found.evidence(failure),
        confidence="high",
    )


def _best_match(
    found: _Finding, matches: Sequence[Match], taken: AbstractSet[int]
) -> tuple[int, StateChange | None] | None:
    """The most specific signature this finding explains, and the state change that ties them.

    A finding fits a signature whose category is the category of a state it changes, or any specific
    (not low-confidence) signature the failure's text matched; specific and same-category comes first,
    then specific, then same-category.
    """
    changes = found.polluter.state_changes
    fits = []
    for index, match in enumerate(matches):
        category = match.signature.category
        same = next((change for change in changes if _state_category(change) == category), None)
        is_specific = match.signature.confidence != "low"
        if index not in taken and (same is not None or is_specific):
            fits.append(((not is_specific, same is None, index), same))
    if not fits:
        return None
    (_, _, index), same = min(fits, key=lambda fit: fit[0])
    return index, same if same is not None else (changes[0] if changes else None)


def _merged_hint(failure: ClassifiedFailure, match: Match, found: _Finding, change: StateChange | None) -> Hint:
    """A signature backed by the order comparison: its title and advice, the finding as its cause."""
    signature = match.signature
    return Hint(
        category=signature.category,
        title=signature.title,
        cause=found.title(change),
        detail=signature.advice,
        evidence=f"{found.evidence(failure)}; matched: {match.line}",
        confidence="high",
    )


def _experiment_hint(result: ExperimentResult) -> Hint:
    title, detail = _FACTOR_TEXT[result.factor]
    return Hint(
        category=FACTOR_CATEGORY[result.factor],
        title=title,
        detail=detail,
        evidence=result.evidence,
        confidence="high",
        comparison=result.comparison,
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


def _every_time(evidence: Evidence) -> str:
    """Where a deterministic failure failed: ``alone and in every order``, as far as the reruns went."""
    if evidence.alone.runs and evidence.permuted.runs:
        return "fails every time, alone and in every order"
    if evidence.alone.runs and evidence.original_order.runs:
        return "fails every time, alone and in the original order"
    return "fails every time, alone" if evidence.alone.runs else "fails every time it ran"


def _code_bug_hint(failure: ClassifiedFailure, counts: str) -> Hint:
    original = failure.original
    line = _failing_line(original)
    what = f"{original.exception}: " if original.exception else ""
    detail = f"{what}{(original.message or '').splitlines()[0] if original.message else 'failed'}"
    if line:
        detail += f" at {line}"
    return Hint(
        category="code-bug",
        title=f"{_every_time(failure.evidence)}: a bug in the code or the test, not flakiness",
        detail=detail,
        evidence=counts,
        confidence="high",
    )


#: The tiers hints are ranked by, best first.
_DECIDED, _MERGED, _SPECIFIC, _ORDER, _WEAK = range(5)
#: Strong signatures that do not say what kind of bug a failure seen every time alone is: a file that is
#: missing or already there on every run is the code's or the test's own doing (a wrong path, a fixture
#: that never wrote it), and a temp-folder path often only means the project itself lives under /tmp.
_NOT_A_KIND_OF_BUG = frozenset({"filesystem"})


def _signature_hints(failure: ClassifiedFailure, matches: Sequence[Match]) -> list[tuple[int, Hint]]:
    """Signature hints by tier, each polluter or state-setter merged into the most specific one it fits."""
    merged: dict[int, tuple[_Finding, StateChange | None]] = {}
    generic = []
    for found in _findings(failure):
        best = _best_match(found, matches, merged.keys())
        if best is None:
            generic.append(found)
        else:
            merged[best[0]] = (found, best[1])
    is_deterministic = failure.classification is FailureKind.DETERMINISTIC
    counts = _counts(failure) if is_deterministic else None
    hints = []
    for index, match in enumerate(matches):
        if index in merged:
            hints.append((_MERGED, _merged_hint(failure, match, *merged[index])))
        else:
            tier = _WEAK if match.signature.confidence == "low" else _SPECIFIC
            hints.append((tier, _signature_hint(match, counts)))
    return hints + [(_ORDER, _finding_hint(failure, found)) for found in generic]


def rank_hints(failure: ClassifiedFailure, results: Sequence[ExperimentResult], catalog: Catalog) -> tuple[Hint, ...]:
    """The failure's hints, best first, by tier; the one place hints are ordered.

    1. decided: an experiment the outcome tracked, or, for a deterministic failure that no
       experiment explains, ``code-bug`` (after the strong signatures that say what kind of bug it is);
    2. a specific signature with the polluter (or state-setter) merged into it;
    3. other specific (high or medium confidence) signatures;
    4. generic order evidence: a polluter or state-setter no signature fits;
    5. weak (low-confidence) text matches, left out when anything above decided the cause.

    Within a tier, higher confidence first, then the order the hints were made in.
    """
    tracked = [(_DECIDED, _experiment_hint(result)) for result in results if result.outcome == "tracks"]
    matches = match_signatures(failure.original, catalog)
    hints = tracked + _signature_hints(failure, matches)
    if failure.classification is FailureKind.DETERMINISTIC and not tracked:
        # a strong signature says what kind of bug it is (a UNIQUE constraint, floats ulps apart): it goes first
        says_which = any(
            match.signature.confidence == "high" and match.signature.category not in _NOT_A_KIND_OF_BUG
            for match in matches
        )
        hints.append((_SPECIFIC if says_which else _DECIDED, _code_bug_hint(failure, _counts(failure))))
    if tracked or any(tier in {_MERGED, _SPECIFIC, _ORDER} for tier, _ in hints):
        hints = [(tier, hint) for tier, hint in hints if tier != _WEAK]
    ranked = sorted(enumerate(hints), key=lambda pair: (pair[1][0], _CONFIDENCE_RANK[pair[1][1].confidence], pair[0]))
    return tuple(hint for _, (_, hint) in ranked)
