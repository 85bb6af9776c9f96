"""Hand-made reports for the unit tests of the pure modules that read a ``Report``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from flakehound.models import (
    ClassifiedFailure,
    ConfigurationCount,
    Evidence,
    FailureKind,
    GateResult,
    Original,
    Outcome,
    Report,
    ReportSettings,
    Summary,
    Tool,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def _failure(
    nodeid: str = "tests/test_cart.py::test_total",
    kind: FailureKind = FailureKind.DETERMINISTIC,
    **fields: Any,
) -> ClassifiedFailure:
    values: dict[str, Any] = {
        "nodeid": nodeid,
        "classification": kind,
        "original": Original(outcome=Outcome.FAILED, exception="AssertionError", message="assert 3 == 4"),
        "evidence": Evidence(alone=ConfigurationCount(runs=5, failures=5)),
        "reproduce": f"python -m pytest -p no:randomly {nodeid}",
    }
    return ClassifiedFailure.model_validate({**values, **fields})


def _report(
    failures: Sequence[ClassifiedFailure] = (),
    latent: Sequence[ClassifiedFailure] = (),
    *,
    fail_on_latent: bool = False,
    disabled_plugins: Sequence[str] = (),
    **fields: Any,
) -> Report:
    settings = ReportSettings(
        seed=1234,
        reruns=5,
        replays=3,
        orders=3,
        max_failures=50,
        min_pass_rate=100.0,
        fail_on_latent=fail_on_latent,
        timeout=1800.0,
        cwd="/project",
        disabled_plugins=tuple(disabled_plugins),
    )
    total = 10
    summary = Summary(total=total, passed=total - len(failures), failed=len(failures))
    summary = summary.model_copy(update={"pass_rate": 100.0 * summary.passed / total})
    gate = GateResult(passed=not failures, reasons=("pass rate below 100.00%",) if failures else ())
    values: dict[str, Any] = {
        "tool": Tool(version="0.1.0"),
        "created_at": "2026-01-01T00:00:00Z",
        "command": ("flakehound", "run"),
        "settings": settings,
        "summary": summary,
        "failures": tuple(failures),
        "latent": tuple(latent),
        "gate": gate,
    }
    return Report.model_validate({**values, **fields})


@pytest.fixture
def make_failure() -> Callable[..., ClassifiedFailure]:
    """Build a ClassifiedFailure: deterministic, failed 5/5 alone, unless fields say otherwise."""
    return _failure


@pytest.fixture
def make_report() -> Callable[..., Report]:
    """Build a Report of 10 tests around the given failures; its gate blocks exactly when some failed."""
    return _report
