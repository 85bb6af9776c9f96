from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from flakehound.models import (
    Comparison,
    Configuration,
    ConfigurationCount,
    Evidence,
    EvidenceStrength,
    FailureKind,
    FailureRate,
    GateResult,
    Hint,
    Original,
    Outcome,
    Polluter,
    RunEnd,
    RunPurpose,
    RunRecord,
    Split,
    TestResult,
)
from flakehound.render.terminal import describe_evidence, render_terminal

if TYPE_CHECKING:
    from collections.abc import Callable

    from flakehound.models import ClassifiedFailure, Report

HOSTILE = "tests/test_x.py::test_[bold]x[/bold]"


def _text(report: Report, *, verbose: bool = False) -> str:
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(render_terminal(report, verbose=verbose))
    return console.export_text()


def _order_dependent(make_failure: Callable[..., ClassifiedFailure]) -> ClassifiedFailure:
    return make_failure(
        "tests/test_cart.py::test_discount",
        FailureKind.ORDER_DEPENDENT,
        evidence=Evidence(
            alone=ConfigurationCount(runs=5, failures=0),
            original_order=ConfigurationCount(runs=4, failures=4),
            permuted=ConfigurationCount(runs=4, failures=1),
            failing_orders=("original order", "seed 77"),
            passing_orders=("seed 78",),
        ),
        original=Original(
            outcome=Outcome.FAILED,
            exception="KeyError",
            message="'EUR'",
            path="tests/test_cart.py",
            line=12,
        ),
        polluters=(Polluter(nodeids=("tests/test_settings.py::test_currency",)),),
        notes=("state leaks through app.settings",),
        strength=EvidenceStrength(unseen_single_polluter_chance=0.125, clean_runs=0, sentence="12.5% chance unseen"),
        reproduce=(
            "python -m pytest -p no:randomly tests/test_settings.py::test_currency tests/test_cart.py::test_discount"
        ),
    )


@pytest.mark.parametrize(
    ("evidence", "text"),
    [
        pytest.param(
            Evidence(
                alone=ConfigurationCount(runs=5, failures=0),
                original_order=ConfigurationCount(runs=4, failures=4),
                permuted=ConfigurationCount(runs=4, failures=1),
            ),
            "failed 0/5 alone, failed 4/4 in original order, failed 1/4 in shuffled orders",
            id="all-kinds",
        ),
        pytest.param(
            Evidence(original_order=ConfigurationCount(runs=2, failures=1)),
            "failed 1/2 in original order",
            id="kinds-without-runs-are-left-out",
        ),
        pytest.param(Evidence(), "", id="no-runs"),
    ],
)
def test_describe_evidence(make_failure: Callable[..., ClassifiedFailure], evidence: Evidence, text: str) -> None:
    """The evidence line counts failures per kind of configuration and leaves out kinds that never ran."""
    assert describe_evidence(make_failure(evidence=evidence)) == text


def test_failure_table_story_and_blocked_verdict(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """A failure is listed with label, evidence and cause, then told as a story with its reproduce command."""
    text = _text(make_report([_order_dependent(make_failure)]))
    lines = text.splitlines()
    entry = lines[lines.index("  tests/test_cart.py::test_discount") + 1]
    assert entry == (
        "    order-dependent \N{MIDDLE DOT} failed 0/5 alone, failed 4/4 in original order, failed 1/4 in shuffled"
        " orders \N{MIDDLE DOT} cause: fails after tests/test_settings.py::test_currency"
    )
    assert (
        "tests/test_cart.py::test_discount is order-dependent: failed 0/5 alone,"
        " failed 4/4 in original order, failed 1/4 in shuffled orders;"
        " failed in original order, seed 77; passed in seed 78." in text
    )
    assert "  KeyError at tests/test_cart.py:12: 'EUR'" in text
    assert "  note: state leaks through app.settings" in text
    assert "  evidence: 12.5% chance unseen" in text
    assert (
        "  reproduce: python -m pytest -p no:randomly tests/test_settings.py::test_currency"
        " tests/test_cart.py::test_discount" in text
    )
    assert "seed 1234 (replay with --seed 1234)" in text
    assert text.endswith(
        "BLOCKED  1 failing test\n  10 tests, 1 failed, 0 errors, pass rate 90.00%\n  - pass rate below 100.00%\n"
    )


def test_intermittent_story_shows_its_failure_rate(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """An intermittent failure states its failure rate with the 95% interval."""
    failure = make_failure(
        "tests/test_clock.py::test_tick",
        FailureKind.INTERMITTENT,
        failure_rate=FailureRate(estimate=0.4, low=0.1176, high=0.7693, runs=5, failures=2),
    )
    text = _text(make_report([failure]))
    assert "intermittent" in text
    assert "  failure rate 40% (2/5), 95% interval 12%-77%" in text


@pytest.mark.parametrize(
    ("fields", "hint"),
    [
        pytest.param(
            {"hints": (Hint(category="time", title="reads the wall clock"),)},
            "reads the wall clock",
            id="hint-title",
        ),
        pytest.param(
            {"hints": (Hint(category="database", title="a row already exists", cause="fails after t::a"),)},
            "a row already exists: fails after t::a",
            id="hint-with-its-polluter",
        ),
        pytest.param(
            {"experiments_run": 5}, "not decided: 5 experiments ran, none changed the rate", id="experiments-ran"
        ),
        pytest.param(
            {"experiments_run": 1}, "not decided: 1 experiment ran, none changed the rate", id="one-experiment"
        ),
        pytest.param(
            {}, "not decided: no experiment or known signature explains it (the error is below)", id="nothing-ran"
        ),
    ],
)
def test_the_cause_is_a_hint_title_or_says_it_is_not_decided(
    make_failure: Callable[..., ClassifiedFailure],
    make_report: Callable[..., Report],
    fields: dict[str, object],
    hint: str,
) -> None:
    """Without a polluter the cause is the first hint's title, never the raw assertion (that is in the story)."""
    text = _text(make_report([make_failure("tests/t.py::test_h", **fields)]))
    lines = text.splitlines()
    entry = lines[lines.index("  tests/t.py::test_h") + 1]
    assert entry.endswith(f" \N{MIDDLE DOT} cause: {hint}")
    assert "assert 3 == 4" not in entry


def test_a_long_node_id_is_never_broken_at_80_columns(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """At 80 columns a 100-character node id stays whole on its own line, in the listing and in the story."""
    nodeid = "tests/integration/test_a_rather_long_module_name.py::test_" + "long_name_" * 4 + "end[param]"
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(render_terminal(make_report([make_failure(nodeid)])), crop=False)
    lines = console.export_text().splitlines()
    assert f"  {nodeid}" in lines
    assert any(line.startswith(f"{nodeid} is deterministic") for line in lines)
    assert sum(nodeid in line for line in lines) == 3  # the listing, the story and its reproduce line


def test_story_without_exception_or_message_has_no_error_line(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """A failure with neither exception nor message gets no error line."""
    failure = make_failure("tests/t.py::test_quiet", original=Original(outcome=Outcome.FAILED))
    text = _text(make_report([failure]))
    assert "  failure" not in text
    assert "  AssertionError" not in text


@pytest.mark.parametrize(
    ("fail_on_latent", "title"),
    [
        pytest.param(
            False,
            "latent: pass in the original order, fail in a shuffled one (do not block without --fail-on-latent)",
            id="informational",
        ),
        pytest.param(True, "latent: pass in the original order, fail in a shuffled one", id="fail-on-latent"),
    ],
)
def test_latent_listing_title(
    make_failure: Callable[..., ClassifiedFailure],
    make_report: Callable[..., Report],
    fail_on_latent: bool,
    title: str,
) -> None:
    """Latent tests get their own listing, whose title says they do not block unless --fail-on-latent is on."""
    latent = make_failure("tests/t.py::test_latent", FailureKind.ORDER_DEPENDENT)
    text = _text(make_report(latent=[latent], fail_on_latent=fail_on_latent))
    assert text.splitlines()[0] == title
    assert "tests/t.py::test_latent is order-dependent" in text
    assert text.endswith("PASS  10 tests\n  10 tests, 0 failed, 0 errors, pass rate 100.00%\n")


def test_green_report_passes_quietly(make_report: Callable[..., Report]) -> None:
    """A green run shows no table, the seed and PASS, and no run lines unless verbose."""
    text = _text(make_report())
    assert "failures" not in text
    assert "latent" not in text
    assert "run 1" not in text
    assert text.splitlines()[-2:] == ["PASS  10 tests", "  10 tests, 0 failed, 0 errors, pass rate 100.00%"]


def test_verbose_lists_every_run(make_report: Callable[..., Report]) -> None:
    """--verbose adds one line per run: purpose, test count, duration and how it ended."""
    runs = (
        RunRecord(id=1, purpose=RunPurpose.ORIGINAL, tests=10, duration=1.234, ended=RunEnd.COMPLETED),
        RunRecord(id=2, purpose=RunPurpose.PERMUTED, seed=77, tests=10, duration=0.5, ended=RunEnd.TIMEOUT),
    )
    text = _text(make_report(runs=runs), verbose=True)
    assert "run 1: original 10 tests, 1.23 s, completed" in text
    assert "run 2: permuted 10 tests, 0.50 s, timeout" in text


def test_notes_and_disabled_plugins(make_report: Callable[..., Report]) -> None:
    """Report notes and the plugins switched off while measuring are printed."""
    text = _text(
        make_report(notes=("2 failing test(s) were not investigated",), disabled_plugins=("randomly", "xdist"))
    )
    assert "note: 2 failing test(s) were not investigated" in text
    assert "switched off while measuring: randomly, xdist" in text


@pytest.mark.parametrize(
    ("broken_reason", "shown"),
    [
        pytest.param(
            "broken build: 1 error(s) during collection",
            "broken build: 1 error(s) during collection",
            id="reason",
        ),
        pytest.param(None, "broken", id="no-reason"),
    ],
)
def test_broken_report(make_report: Callable[..., Report], broken_reason: str | None, shown: str) -> None:
    """A broken run shows its reason and its first errors, then BLOCKED."""
    report = make_report(
        status="broken",
        broken_reason=broken_reason,
        first_errors=(
            TestResult(nodeid="tests/test_a.py", outcome=Outcome.ERROR, exception="ImportError", message="no module"),
            TestResult(nodeid="tests/test_b.py::test_b", outcome=Outcome.ERROR),
        ),
        gate=GateResult(passed=False, reasons=(broken_reason or "broken",)),
    )
    lines = _text(report).splitlines()
    assert lines[:3] == [shown, "  tests/test_a.py: ImportError no module", "  tests/test_b.py::test_b:"]
    assert lines[-3:-1] == ["BLOCKED  the suite is broken", "  10 tests, 0 failed, 0 errors, pass rate 100.00%"]


def test_hostile_names_are_printed_literally(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """Test names, messages and notes with rich markup are printed as written, never interpreted."""
    failure = make_failure(
        HOSTILE,
        original=Original(outcome=Outcome.FAILED, exception="ValueError", message="[red]boom[/red]"),
        notes=("[link=http://x]click[/link]",),
        reproduce=f"python -m pytest '{HOSTILE}'",
    )
    report = make_report(
        [failure],
        status="broken",
        broken_reason="[blink]broken[/blink]",
        first_errors=(TestResult(nodeid=HOSTILE, outcome=Outcome.ERROR, message="[i]x[/i]"),),
        notes=("[bold]note[/bold]",),
    )
    text = _text(report)
    assert f"  {HOSTILE}" in text.splitlines()
    assert f"{HOSTILE} is deterministic" in text
    assert "  ValueError: [red]boom[/red]" in text
    assert "  note: [link=http://x]click[/link]" in text
    assert f"  reproduce: python -m pytest '{HOSTILE}'" in text
    assert "[blink]broken[/blink]" in text
    assert f"  {HOSTILE}:  [i]x[/i]" in text
    assert "note: [bold]note[/bold]" in text


def test_failure_with_an_empty_evidence_sentence_has_no_evidence_line(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """A failure whose evidence sentence is empty (a deterministic one) prints no 'evidence:' line."""
    strength = EvidenceStrength(unseen_single_polluter_chance=0.5, clean_runs=0, sentence="")
    failure = _order_dependent(make_failure).model_copy(update={"strength": strength})
    assert "evidence:" not in _text(make_report([failure]))


def test_latent_listing_title_names_reruns_when_a_watched_test_failed_in_one(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """A latent failure found in a rerun alone (a watched test) widens the listing's title to say so."""
    latent = make_failure("tests/t.py::test_watched", found_in=Configuration(purpose=RunPurpose.ALONE))
    text = _text(make_report(latent=[latent]))
    assert text.splitlines()[0] == (
        "latent: pass in the original order, fail in a shuffled one (or a rerun alone or an experiment)"
        " (do not block without --fail-on-latent)"
    )


def test_the_story_shows_each_hint_and_the_comparison_behind_it(
    make_failure: Callable[..., ClassifiedFailure], make_report: Callable[..., Report]
) -> None:
    """An experiment's cause comes with its comparison in the story: both sides, as the PR comment shows them."""
    measured = Hint(
        category="network",
        title="fails with the network refused",
        evidence="fails 7/7 with outbound connections refused vs 0/7 with the network as is (p = 0.0006)",
        confidence="high",
        comparison=Comparison(
            factor="network",
            treatment="with outbound connections refused",
            control="with the network as is",
            split=Split(treatment_failures=7, treatment_runs=7, control_failures=0, control_runs=7, p=0.0006),
            replication=Split(treatment_failures=5, treatment_runs=5, control_failures=0, control_runs=5, p=0.008),
        ),
    )
    # counts in its text, but no comparison behind it: the story leaves it to the comment
    matched = Hint(
        category="timing", title="a sleep is a literal number", evidence="fails 3/3 (p = 0.1)", confidence="low"
    )
    text = _text(make_report([make_failure("tests/t.py::test_n", hints=(measured, matched))]))
    lines = text.splitlines()
    at = lines.index("  fails with the network refused")
    assert lines[at + 1] == f"    {measured.evidence}"
    assert "  a sleep is a literal number" not in lines, "a text match has no comparison to show"
