"""History across runs: the hidden record of a run, and what earlier records say about a test."""

from __future__ import annotations

import base64
import gzip

import pytest

from flakehound.engine.history import (
    History,
    RunRecord,
    TestEntry,
    decode_record,
    encode_record,
    history_line,
    history_of,
    record_of,
    suspects,
    with_history,
)
from flakehound.models import ConfigurationCount, Evidence, FailureKind, TestHistory, WatchedTest

FLIP = "tests/test_flip.py::test_flips"


def record(commit: str, day: int, **entries: TestEntry) -> RunRecord:
    """A run of 10 tests on 2026-11-DAY at COMMIT with these entries (keyword = test name in tests/test_x.py)."""
    return RunRecord(
        commit=commit,
        created_at=f"2026-11-{day:02d}T10:00:00+00:00",
        tests=10,
        failed=sum(entry.failed for entry in entries.values()),
        entries={f"tests/test_x.py::{name}": entry for name, entry in entries.items()},
    )


FAILED = TestEntry(label="intermittent", failed=True, failures=2, runs=6)
ORDER = TestEntry(label="order-dependent", failed=True, failures=3, runs=5)


def test_a_report_becomes_a_record_of_its_failures_and_watched_tests(make_report, make_failure):
    """Every failure and latent failure with its label and counts; watched tests that passed as 'passed'."""
    flip = make_failure(
        FLIP,
        FailureKind.INTERMITTENT,
        evidence=Evidence(
            alone=ConfigurationCount(runs=5, failures=2), permuted=ConfigurationCount(runs=3, failures=1)
        ),
    )
    history = TestHistory(runs=1, failures=1, rate=1.0, interval=(0.2, 1.0))
    watched = WatchedTest(
        nodeid="tests/t.py::test_w",
        alone=ConfigurationCount(runs=5),
        shuffled=ConfigurationCount(runs=2),
        history=history,
    )
    report = make_report([flip], commit="a" * 40).model_copy(update={"watched": (watched,)})
    made = record_of(report)
    assert made.commit == "a" * 40
    assert made.entries == {
        FLIP: TestEntry(label="intermittent", failed=True, failures=3, runs=8),
        "tests/t.py::test_w": TestEntry(label="passed", failed=False, runs=7),
    }
    assert (made.tests, made.failed) == (report.summary.total, report.summary.failed)


def test_a_record_survives_its_hidden_comment():
    """Encoded into an HTML comment and decoded from a check run's text around it, the record is the same."""
    made = record("abc", 3, test_a=FAILED, test_b=ORDER)
    comment = encode_record(made)
    assert comment.startswith("<!-- flakehound:history v1 ")
    assert comment.endswith(" -->")
    assert decode_record(f"## flakehound\n\nall green\n{comment}\n") == made


def test_a_record_too_big_drops_passed_tests_then_the_rarest_failures():
    """Over the limit, entries go least telling first: watched tests that passed, then failures that failed least."""
    entries = {f"test_{n:04d}_{'x' * 60}": TestEntry(label="intermittent", failed=True, failures=n) for n in range(400)}
    entries["test_passed"] = TestEntry(label="passed", failed=False)
    made = record("abc", 3, **entries)
    comment = encode_record(made, limit=3000)
    assert len(comment) <= 3000
    kept = decode_record(comment)
    assert kept is not None
    assert 0 < len(kept.entries) < len(made.entries)
    assert "tests/test_x.py::test_passed" not in kept.entries
    fewest_kept = min(entry.failures for entry in kept.entries.values())
    assert all(entry.failures < fewest_kept for name, entry in made.entries.items() if name not in kept.entries)


def test_a_record_that_does_not_fit_at_all_keeps_its_counts():
    """A limit too small for any entry still gives the run's counts."""
    kept = decode_record(encode_record(record("abc", 3, test_a=FAILED), limit=10))
    assert kept is not None
    assert (kept.entries, kept.tests) == ({}, 10)


def test_text_without_a_record_has_none():
    """A check run flakehound wrote before history, or someone else's, has no record."""
    assert decode_record("## some other check") is None


@pytest.mark.parametrize(
    "payload",
    [
        "bm90IGd6aXA=",  # base64 of "not gzip"
        base64.b64encode(gzip.compress(b'{"v": 2, "created_at": "x", "tests": 1, "failed": 0}')).decode(),
        base64.b64encode(gzip.compress(b"{not json")).decode(),
    ],
    ids=["not-gzip", "other-version", "not-json"],
)
def test_a_record_that_does_not_parse_is_a_value_error_naming_it(payload):
    """A corrupt or foreign record raises ValueError with a one-line reason, for the caller to note."""
    with pytest.raises(ValueError, match=r"^its history record does not parse: "):
        decode_record(f"<!-- flakehound:history v1 {payload} -->")


def test_a_tests_history_counts_runs_first_and_last_failure_and_labels():
    """Newest first: the last failure is the first record that has it, the first failure the oldest."""
    records = [
        record("c" * 40, 9, test_a=FAILED),
        record("b" * 40, 8),
        record("a" * 40, 7, test_a=ORDER),
        record("9" * 40, 6, test_a=FAILED),
    ]
    history = history_of("tests/test_x.py::test_a", records)
    assert (history.runs, history.failures, history.rate) == (4, 3, 0.75)
    assert history.interval[0] < 0.75 < history.interval[1]
    assert (history.first_failed_commit, history.first_failed_at) == ("9999999", "2026-11-06")
    assert (history.last_failed_commit, history.last_failed_at) == ("ccccccc", "2026-11-09")
    assert history.labels == {"intermittent": 2, "order-dependent": 1}
    never = history_of("tests/test_x.py::test_b", records)
    assert (never.failures, never.first_failed_commit, never.labels) == (0, None, {})
    assert history_of("t", []).rate == 0.0


def test_a_watched_test_that_passed_is_not_a_failure_in_history():
    """A record of a test followed only because it failed before does not count as a failure."""
    history = history_of("tests/test_x.py::test_a", [record("a", 1, test_a=TestEntry(label="passed", failed=False))])
    assert history.failures == 0


@pytest.mark.parametrize(
    ("history", "line"),
    [
        (
            TestHistory(runs=30, failures=0, rate=0.0, interval=(0.0, 0.1)),
            "new: never failed on main in the last 30 runs",
        ),
        (
            TestHistory(runs=1, failures=0, rate=0.0, interval=(0.0, 0.8)),
            "new: never failed on main in the last run",
        ),
        (
            TestHistory(
                runs=30,
                failures=3,
                rate=0.1,
                interval=(0.03, 0.26),
                first_failed_commit="abc1234",
                first_failed_at="2026-11-30",
                labels={"intermittent": 3},
            ),
            (
                "on main: failed in 3 of the last 30 runs (first seen at abc1234, 2026-11-30), labelled intermittent"
                " each time"
            ),
        ),
        (
            TestHistory(runs=1, failures=1, rate=1.0, interval=(0.2, 1.0), labels={"deterministic": 1}),
            "on main: failed in the last run, labelled deterministic",
        ),
        (
            TestHistory(
                runs=5,
                failures=3,
                rate=0.6,
                interval=(0.2, 0.9),
                first_failed_at="2026-11-01",
                labels={"order-dependent": 1, "intermittent": 2},
            ),
            (
                "on main: failed in 3 of the last 5 runs (first seen at 2026-11-01), labelled intermittent twice,"
                " order-dependent once"
            ),
        ),
        (
            TestHistory(runs=9, failures=4, rate=0.4, interval=(0.2, 0.7), labels={"brittle": 3, "intermittent": 1}),
            "on main: failed in 4 of the last 9 runs, labelled brittle 3 times, intermittent once",
        ),
    ],
    ids=["new", "new-one-run", "same-label", "one-run", "mixed-labels", "no-commit"],
)
def test_history_line(history, line):
    """One sentence a reviewer reads once."""
    assert history_line(history, "on main") == line


def test_suspects_are_the_tests_that_failed_most_often_first():
    """Every test that failed in some record, by how many records it failed in, then by name."""
    records = [record("a", 1, test_b=FAILED, test_c=FAILED), record("b", 2, test_c=ORDER, test_d=FAILED)]
    records.append(record("c", 3, test_e=TestEntry(label="passed", failed=False)))
    assert suspects(records) == ["tests/test_x.py::test_c", "tests/test_x.py::test_b", "tests/test_x.py::test_d"]


def test_with_history_gives_each_failure_its_history_and_the_report_its_source(make_report, make_failure):
    """Failures and latent failures get their history; the report says where it came from and what was left out."""
    failure = make_failure("tests/test_x.py::test_a")
    latent = make_failure("tests/test_x.py::test_l", FailureKind.ORDER_DEPENDENT)
    history = History(source="on main", records=(record("a", 1, test_a=FAILED),), notes=("one was corrupt",))
    report = with_history(make_report([failure], [latent]), history)
    assert report.failures[0].history is not None
    assert report.failures[0].history.failures == 1
    assert report.latent[0].history is not None
    assert report.latent[0].history.failures == 0
    assert report.history is not None
    assert (report.history.source, report.history.runs, report.history.notes) == ("on main", 1, ("one was corrupt",))
