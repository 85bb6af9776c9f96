"""The one exception tree flakehound raises on purpose.

::

    FlakehoundError            caught only by cli.main() and action.main(), which map it to an ExitCode
    ├── ConfigError            bad usage or bad input: exit 2
    ├── PytestCrashed          pytest could not run or collect: exit 3
    └── PublishError           GitHub refused or could not be reached: exit 3 when publishing is required
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ConfigError", "ExitCode", "FlakehoundError", "PublishError", "PytestCrashed"]


class ExitCode(IntEnum):
    """What the process exit code means."""

    OK = 0
    GATE_FAILED = 1
    NOTHING_FOUND = 1  # bisect searched and found nothing to explain the victim
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130


class FlakehoundError(Exception):
    """Base of every error flakehound raises on purpose."""


class ConfigError(FlakehoundError):
    """An input was wrong: the message names it, shows the value and says what was expected."""


class PytestCrashed(FlakehoundError):
    """Pytest itself failed (internal error, crash before any test ran)."""

    def __init__(self, message: str, output_tail: str = "") -> None:
        """Keep the tail of pytest's output for the saved traceback file."""
        super().__init__(message)
        self.output_tail = output_tail


class PublishError(FlakehoundError):
    """Publishing to GitHub failed and the user asked for that to fail the step."""
