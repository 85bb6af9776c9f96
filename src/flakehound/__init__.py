"""flakehound: classify every failing test as deterministic, intermittent, order-dependent or brittle.

The public names load on first use (PEP 562): the pytest plugins live in this package, and every
pytest process flakehound starts imports them, so importing the package must not pay for pydantic,
the report models or package metadata.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flakehound.errors import ConfigError, FlakehoundError, PublishError, PytestCrashed
    from flakehound.models import ClassifiedFailure, FailureKind, Outcome, Report, TestResult

    __version__: str

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

_HOME = {
    "ConfigError": "flakehound.errors",
    "FlakehoundError": "flakehound.errors",
    "PublishError": "flakehound.errors",
    "PytestCrashed": "flakehound.errors",
    "ClassifiedFailure": "flakehound.models",
    "FailureKind": "flakehound.models",
    "Outcome": "flakehound.models",
    "Report": "flakehound.models",
    "TestResult": "flakehound.models",
}


def __getattr__(name: str) -> object:
    """Load a public name on first use."""
    if name == "__version__":
        from importlib.metadata import version  # package metadata costs a scan of sys.path: only on demand

        return version("flakehound")
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    msg = f"module 'flakehound' has no attribute {name!r}"
    raise AttributeError(msg)
