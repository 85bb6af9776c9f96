"""PURE. History across runs: a compact record of each run, and what earlier runs say about a test.

Every run leaves a :class:`RunRecord`: its commit and time, its counts, and per test that failed
(or was followed because it failed before) the label and counts. The Action hides it in its check
run (gzip, base64, inside an HTML comment: :func:`encode_record`); ``--history DIR`` makes it
from earlier report files. :func:`history_of` then says, per test, how often it failed in those
runs, since when and under which labels, with a Wilson interval on its rate.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from flakehound.engine.stats import wilson_interval
from flakehound.models import HistorySummary, TestHistory

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from flakehound.models import ClassifiedFailure, Report

__all__ = [
    "MAX_RECORD_CHARACTERS",
    "History",
    "RunRecord",
    "TestEntry",
    "decode_record",
    "encode_record",
    "history_line",
    "history_of",
    "record_of",
    "suspects",
    "with_history",
]

#: The most characters the hidden record may take in a check run's text (GitHub allows 65,535 in all).
MAX_RECORD_CHARACTERS = 20_000
_RECORD = re.compile(r"<!-- flakehound:history v1 ([A-Za-z0-9+/=]+) -->")
_SHORT = 7


class TestEntry(BaseModel):
    """One test in one run: its label (``passed`` for a test followed that never failed) and its counts."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    failed: bool
    failures: int = 0
    runs: int = 0


class RunRecord(BaseModel):
    """One run as history keeps it: version 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    commit: str | None = None
    created_at: str
    tests: int
    failed: int
    entries: dict[str, TestEntry] = {}


def _entry(failure: ClassifiedFailure) -> TestEntry:
    evidence = failure.evidence
    counts = (evidence.alone, evidence.original_order, evidence.permuted)
    return TestEntry(
        label=failure.classification.value,
        failed=True,
        failures=sum(count.failures for count in counts),
        runs=sum(count.runs for count in counts),
    )


def record_of(report: Report) -> RunRecord:
    """The record of one report: every failure and latent failure, and the watched tests that passed."""
    entries = {failure.nodeid: _entry(failure) for failure in (*report.failures, *report.latent)}
    for watched in report.watched:
        plain = watched.alone.runs + watched.shuffled.runs  # its plain runs, as a failure's entry counts them
        entries[watched.nodeid] = TestEntry(label="passed", failed=False, runs=plain)
    summary = report.summary
    return RunRecord(
        commit=report.commit,
        created_at=report.created_at,
        tests=summary.total,
        failed=summary.failed + summary.errors,
        entries=entries,
    )


def _packed(record: RunRecord) -> str:
    data = gzip.compress(record.model_dump_json(exclude_defaults=True).encode("utf-8"), mtime=0)
    return base64.b64encode(data).decode("ascii")


def encode_record(record: RunRecord, limit: int = MAX_RECORD_CHARACTERS) -> str:
    """The record as a hidden HTML comment of at most ``limit`` characters: the least telling tests go first.

    Tests that passed go before failures; among failures, those that failed least often.
    """
    kept = sorted(record.entries.items(), key=lambda item: (item[1].failed, item[1].failures), reverse=True)
    while True:
        trimmed = record.model_copy(update={"entries": dict(kept)})
        comment = f"<!-- flakehound:history v1 {_packed(trimmed)} -->"
        if len(comment) <= limit or not kept:
            return comment
        kept = kept[: len(kept) * 3 // 4]


def decode_record(text: str) -> RunRecord | None:
    """The record hidden in ``text`` (a check run's text), or None when there is none.

    Raises ValueError, naming the problem, when there is one that does not parse.
    """
    found = _RECORD.search(text)
    if found is None:
        return None
    try:
        return RunRecord.model_validate_json(gzip.decompress(base64.b64decode(found.group(1), validate=True)))
    except (binascii.Error, OSError, EOFError, zlib.error, ValidationError, json.JSONDecodeError) as error:
        first = str(error).splitlines()[0]
        raise ValueError(f"its history record does not parse: {first}") from error


def _short(commit: str | None) -> str | None:
    return commit[:_SHORT] if commit else None


def history_of(nodeid: str, records: Sequence[RunRecord]) -> TestHistory:
    """What ``records`` (newest first) say about one test."""
    failed = [record for record in records if (entry := record.entries.get(nodeid)) is not None and entry.failed]
    labels: dict[str, int] = {}
    for record in failed:
        label = record.entries[nodeid].label
        labels[label] = labels.get(label, 0) + 1
    low, high = wilson_interval(len(failed), len(records))
    return TestHistory(
        runs=len(records),
        failures=len(failed),
        rate=len(failed) / len(records) if records else 0.0,
        interval=(low, high),
        first_failed_commit=_short(failed[-1].commit) if failed else None,
        first_failed_at=failed[-1].created_at[:10] if failed else None,
        last_failed_commit=_short(failed[0].commit) if failed else None,
        last_failed_at=failed[0].created_at[:10] if failed else None,
        labels=labels,
    )


def suspects(records: Iterable[RunRecord]) -> list[str]:
    """The tests that failed in any of the records, most often first (ties by name)."""
    counts: dict[str, int] = {}
    for record in records:
        for nodeid, entry in record.entries.items():
            if entry.failed:
                counts[nodeid] = counts.get(nodeid, 0) + 1
    return sorted(counts, key=lambda nodeid: (-counts[nodeid], nodeid))


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def history_line(history: TestHistory, source: str) -> str:
    """One sentence: "on main: failed in 3 of the last 30 runs (first seen at abc1234, 2026-11-30), ...".

    ``source`` says where the runs were, as a phrase: "on main", "in the reports in history/".
    """
    window = "the last run" if history.runs == 1 else f"the last {history.runs} runs"
    if not history.failures:
        return f"new: never failed {source} in {window}"
    failed = "failed in the last run" if history.runs == 1 else f"failed in {history.failures} of {window}"
    first = ", ".join(part for part in (history.first_failed_commit, history.first_failed_at) if part)
    seen = f" (first seen at {first})" if first else ""
    if len(history.labels) == 1:
        (label,) = history.labels
        labels = f"labelled {label} each time" if history.failures > 1 else f"labelled {label}"
    else:
        labels = "labelled " + ", ".join(
            f"{label} {_times(count)}" for label, count in sorted(history.labels.items(), key=lambda item: -item[1])
        )
    return f"{source}: {failed}{seen}, {labels}"


@dataclass(frozen=True)
class History:
    """Earlier runs, newest first: where they came from (``source``, a phrase) and what could not be read."""

    source: str
    records: tuple[RunRecord, ...]
    notes: tuple[str, ...] = ()


def with_history(report: Report, history: History) -> Report:
    """The report with each failure's history, and where the history came from."""

    def known(failure: ClassifiedFailure) -> ClassifiedFailure:
        return failure.model_copy(update={"history": history_of(failure.nodeid, history.records)})

    summary = HistorySummary(source=history.source, runs=len(history.records), notes=history.notes)
    return report.model_copy(
        update={
            "failures": tuple(known(failure) for failure in report.failures),
            "latent": tuple(known(failure) for failure in report.latent),
            "history": summary,
        }
    )
