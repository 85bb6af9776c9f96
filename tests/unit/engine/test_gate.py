from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.engine.gate import coverage_reasons, decide_gate, describe_pass_rate, format_percent
from flakehound.models import Configuration, CoverageSummary, DiffCoverage, FailureKind, GateResult, RunPurpose, Summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from flakehound.models import ClassifiedFailure

GREEN = Summary(total=10, passed=10)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(99.995, "99.99%", id="truncated-not-rounded-up"),
        pytest.param(99.999, "99.99%", id="just-below-100"),
        pytest.param(100.0, "100.00%", id="hundred"),
        pytest.param(0.0, "0.00%", id="zero"),
        pytest.param(0.29, "0.29%", id="float-noise-of-0.29-times-100"),
        pytest.param(80.0, "80.00%", id="whole"),
        pytest.param(100 / 3, "33.33%", id="third"),
    ],
)
def test_format_percent_truncates(value: float, shown: str) -> None:
    """Percentages show two decimals truncated toward zero, without float noise turning 29 into 28.99."""
    assert format_percent(value) == shown


@given(
    count=st.integers(min_value=1, max_value=1_000_000),
    threshold=st.integers(min_value=1, max_value=10_000),
    data=st.data(),
)
def test_a_shown_value_below_a_threshold_never_reads_as_meeting_it(
    count: int, threshold: int, data: st.DataObject
) -> None:
    """A share (of up to a million items) below a two-decimal threshold never shows as reaching it."""
    share = data.draw(st.integers(min_value=0, max_value=count))
    value, limit = 100.0 * share / count, threshold / 100
    if value < limit:
        assert float(format_percent(value)[:-1]) < float(format_percent(limit)[:-1])


def test_exact_comparison_blocks_99_995_against_100() -> None:
    """A pass rate of 99.995% fails a 100% threshold and the reason shows 99.99%, never 100.00%."""
    summary = Summary(total=20000, passed=19999, failed=1, pass_rate=100.0 * 19999 / 20000)
    gate = decide_gate(summary, (), (), min_pass_rate=100.0, fail_on_latent=False)
    assert not gate.passed
    assert gate.reasons == ("pass rate 99.99% < 100.00%: 1 of 20000 tests failed",)


@pytest.mark.parametrize(
    ("summary", "min_pass_rate", "reasons"),
    [
        pytest.param(GREEN, 100.0, (), id="green-at-100"),
        pytest.param(Summary(total=10, passed=8, failed=2, pass_rate=80.0), 80.0, (), id="equal-to-threshold-passes"),
        pytest.param(
            Summary(total=10, passed=7, failed=2, errors=1, pass_rate=70.0),
            80.0,
            ("pass rate 70.00% < 80.00%: 3 of 10 tests failed",),
            id="below-threshold-counts-errors",
        ),
        pytest.param(Summary(total=10, failed=10, pass_rate=0.0), 0.0, (), id="zero-threshold-accepts-all-red"),
    ],
)
def test_pass_rate_reasons(summary: Summary, min_pass_rate: float, reasons: tuple[str, ...]) -> None:
    """The pass rate blocks only when strictly below the threshold; the reason counts failures and errors."""
    gate = decide_gate(summary, (), (), min_pass_rate=min_pass_rate, fail_on_latent=False)
    assert gate.reasons == reasons
    assert gate.passed is (not reasons)


def test_intermittent_blocks_even_at_zero_pass_threshold(
    make_failure: Callable[..., ClassifiedFailure],
) -> None:
    """An intermittent failure blocks even when the pass-rate threshold is 0%."""
    failures = (
        make_failure("t.py::a", FailureKind.INTERMITTENT),
        make_failure("t.py::b", FailureKind.INTERMITTENT),
    )
    gate = decide_gate(Summary(total=2, failed=2, pass_rate=0.0), failures, (), min_pass_rate=0.0, fail_on_latent=False)
    assert not gate.passed
    assert gate.reasons == (
        (
            "2 intermittent tests block although the pass rate is met: a test that flips under identical"
            " conditions is a bug, not noise"
        ),
    )


@pytest.mark.parametrize("kind", [FailureKind.DETERMINISTIC, FailureKind.ORDER_DEPENDENT, FailureKind.BRITTLE])
def test_other_labels_block_only_through_the_pass_rate(
    make_failure: Callable[..., ClassifiedFailure], kind: FailureKind
) -> None:
    """Deterministic, order-dependent and brittle failures pass a 0% threshold: only the rate judges them."""
    summary = Summary(total=1, failed=1, pass_rate=0.0)
    assert decide_gate(summary, (make_failure(kind=kind),), (), min_pass_rate=0.0, fail_on_latent=False).passed


@pytest.mark.parametrize(
    ("fail_on_latent", "reasons"),
    [
        pytest.param(False, (), id="reported-not-blocking"),
        pytest.param(True, ("1 test fails only in a shuffled order",), id="fail-on-latent"),
    ],
)
def test_latent_blocks_only_with_fail_on_latent(
    make_failure: Callable[..., ClassifiedFailure], fail_on_latent: bool, reasons: tuple[str, ...]
) -> None:
    """A test that fails only when shuffled blocks the change only with --fail-on-latent."""
    latent = (make_failure(kind=FailureKind.ORDER_DEPENDENT),)
    gate = decide_gate(GREEN, (), latent, min_pass_rate=100.0, fail_on_latent=fail_on_latent)
    assert gate.reasons == reasons


def _coverage(total: float, diff: DiffCoverage | None = None) -> CoverageSummary:
    return CoverageSummary(total_percent=total, line_percent=total, threshold=90.0, diff=diff, diff_threshold=80.0)


@pytest.mark.parametrize(
    ("coverage", "reasons"),
    [
        pytest.param(None, [], id="not-measured"),
        pytest.param(_coverage(90.0), [], id="total-at-threshold"),
        pytest.param(_coverage(89.999), ["coverage 89.99% < 90.00%"], id="total-below"),
        pytest.param(
            _coverage(95.0, DiffCoverage(base="origin/main", percent=79.5, changed_lines=40)),
            ["changed-line coverage 79.50% < 80.00% against origin/main"],
            id="diff-below",
        ),
        pytest.param(
            _coverage(95.0, DiffCoverage(base="origin/main", percent=None, changed_lines=0)),
            [],
            id="no-changed-lines",
        ),
        pytest.param(
            _coverage(95.0, DiffCoverage(base="origin/main", percent=80.0, changed_lines=5)),
            [],
            id="diff-at-threshold",
        ),
        pytest.param(
            _coverage(50.0, DiffCoverage(base="main", percent=0.0, changed_lines=5)),
            [
                "coverage 50.00% < 90.00%",
                "changed-line coverage 0.00% < 80.00% against main",
            ],
            id="both-below",
        ),
    ],
)
def test_coverage_reasons(coverage: CoverageSummary | None, reasons: list[str]) -> None:
    """Each unmet coverage threshold gives one reason without input names; unmeasured coverage gives none."""
    assert coverage_reasons(coverage) == reasons


def test_coverage_reason_shortens_a_commit_base() -> None:
    """A diff base given as a full commit id is shown as its 7-character short form."""
    diff = DiffCoverage(base="0123456789abcdef0123456789abcdef01234567", percent=10.0, changed_lines=5)
    assert coverage_reasons(_coverage(95.0, diff)) == ["changed-line coverage 10.00% < 80.00% against 0123456"]


def test_intermittent_failures_are_not_counted_twice(make_failure: Callable[..., ClassifiedFailure]) -> None:
    """When the pass rate already blocks, the intermittent failures inside it get no second reason."""
    failures = (make_failure("t.py::a", FailureKind.INTERMITTENT), make_failure("t.py::b"))
    gate = decide_gate(
        Summary(total=11, passed=9, failed=2, pass_rate=81.81), failures, (), min_pass_rate=100.0, fail_on_latent=False
    )
    assert gate.reasons == ("pass rate 81.81% < 100.00%: 2 of 11 tests failed",)


def test_one_intermittent_failure_reads_in_the_singular(make_failure: Callable[..., ClassifiedFailure]) -> None:
    """One intermittent test below a met pass rate 'blocks', in the singular."""
    gate = decide_gate(
        Summary(total=2, passed=1, failed=1, pass_rate=50.0),
        (make_failure("t.py::a", FailureKind.INTERMITTENT),),
        (),
        min_pass_rate=50.0,
        fail_on_latent=False,
    )
    assert gate.reasons[0].startswith("1 intermittent test blocks although the pass rate is met: ")


def test_every_reason_is_listed_with_the_broken_reason_first(
    make_failure: Callable[..., ClassifiedFailure],
) -> None:
    """A broken run's reason comes first, then the pass rate (intermittent failures inside it), latent, coverage."""
    gate = decide_gate(
        Summary(total=10, passed=9, failed=1, pass_rate=90.0),
        (make_failure(kind=FailureKind.INTERMITTENT),),
        (make_failure("t.py::latent", FailureKind.ORDER_DEPENDENT),),
        min_pass_rate=95.0,
        fail_on_latent=True,
        coverage=_coverage(10.0),
        broken_reason="broken build: 1 error(s) during collection (tests/test_x.py)",
    )
    assert not gate.passed
    assert [reason.split(" ")[0] for reason in gate.reasons] == ["broken", "pass", "1", "coverage"]
    assert gate.reasons[0] == "broken build: 1 error(s) during collection (tests/test_x.py)"


def test_broken_reason_alone_blocks() -> None:
    """A broken run blocks even when the pass rate and every label would let it through."""
    gate = decide_gate(GREEN, (), (), min_pass_rate=0.0, fail_on_latent=False, broken_reason="broken environment")
    assert gate == GateResult(passed=False, reasons=("broken environment",))


def test_no_pass_rate_blocks_with_its_own_reason_unless_the_build_is_broken() -> None:
    """When no test ran there is no rate to compare: the gate says so, or lets the broken build's reason speak."""
    skipped = Summary(total=2, skipped=2, pass_rate=None)
    gate = decide_gate(skipped, (), (), min_pass_rate=0.0, fail_on_latent=False)
    assert gate == GateResult(passed=False, reasons=("no tests ran (2 collected, all skipped): there is no pass rate",))
    broken = decide_gate(
        Summary(total=0, pass_rate=None), (), (), min_pass_rate=100.0, fail_on_latent=False, broken_reason="broken"
    )
    assert broken.reasons == ("broken",)
    assert describe_pass_rate(skipped) == "no tests ran"
    assert describe_pass_rate(GREEN) == "pass rate 100.00%"


def test_latent_failures_found_in_a_rerun_get_their_own_reason(make_failure: Callable[..., ClassifiedFailure]) -> None:
    """A watched test found failing alone or in an experiment is not said to fail 'only in a shuffled order'."""
    shuffled = make_failure("t.py::test_a", FailureKind.ORDER_DEPENDENT)
    alone = make_failure("t.py::test_b", found_in=Configuration(purpose=RunPurpose.ALONE))
    experiment = make_failure("t.py::test_c", found_in=Configuration(purpose=RunPurpose.EXPERIMENT))
    gate = decide_gate(GREEN, (), (shuffled, alone, experiment), min_pass_rate=100.0, fail_on_latent=True)
    assert gate.reasons == (
        "1 test fails only in a shuffled order",
        (
            "2 tests that failed in earlier runs fail here in a rerun alone or an experiment,"
            " though not in the original run"
        ),
    )
    gate = decide_gate(GREEN, (), (alone,), min_pass_rate=100.0, fail_on_latent=True)
    assert gate.reasons == (
        (
            "1 test that failed in earlier runs fails here in a rerun alone or an experiment,"
            " though not in the original run"
        ),
    )
    assert decide_gate(GREEN, (), (alone,), min_pass_rate=100.0, fail_on_latent=False).passed
