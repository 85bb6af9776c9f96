"""flakehound: classify every failing test as deterministic, intermittent, order-dependent or brittle."""

from __future__ import annotations

from importlib.metadata import version

from flakehound.errors import ConfigError, FlakehoundError, PublishError, PytestCrashed
from flakehound.models import ClassifiedFailure, FailureKind, Outcome, Report, TestResult

__all__ = [
    "ClassifiedFailure",
    "ConfigError",
    "FailureKind",
    "FlakehoundError",
    "Outcome",
    "PublishError",
    "PytestCrashed",
    "Report",
    "TestResult",
    "__version__",
]

__version__ = version("flakehound")
