"""Workflow commands, step outputs and the Actions log: what the Action writes for the runner to read."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from flakehound.engine.gate import format_percent

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from flakehound.models import Report

__all__ = [
    "Log",
    "append_text",
    "escape_data",
    "escape_property",
    "format_outputs",
    "new_delimiter",
    "report_outputs",
    "shown_path",
    "workflow_command",
]


def escape_data(text: str) -> str:
    """Escape a workflow command's message so it stays one command (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (the message escapes plus ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: str) -> str:
    """One ``::name key=value::message`` line, every part escaped."""
    shown = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + shown if shown else ''}::{escape_data(message)}"


def format_outputs(values: Mapping[str, str], new_delimiter: Callable[[], str]) -> str:
    """Step outputs in GITHUB_OUTPUT's heredoc form, each with a fresh delimiter its value does not contain."""
    lines = []
    for name, value in values.items():
        delimiter = new_delimiter()
        while delimiter in value:
            delimiter = new_delimiter()
        lines += [f"{name}<<{delimiter}", value, delimiter]
    return "\n".join(lines) + "\n"


def new_delimiter() -> str:
    """A heredoc delimiter nobody can guess (so no value can close it early)."""
    return f"ghadelimiter_{secrets.token_hex(16)}"


def _number(value: float | None) -> str:
    return "" if value is None else format_percent(value).removesuffix("%")


def report_outputs(report: Report, report_path: str) -> dict[str, str]:
    """The step outputs a report gives: verdict, rates, counts per label and the report's path."""
    coverage = report.coverage
    diff = coverage.diff if coverage is not None else None
    summary = report.summary
    return {
        "verdict": "pass" if report.gate.passed else "fail",
        "pass_rate": _number(summary.pass_rate),
        "coverage": _number(coverage.total_percent) if coverage is not None else "",
        "diff_coverage": _number(diff.percent) if diff is not None and diff.percent is not None else "",
        "deterministic": str(summary.deterministic),
        "intermittent": str(summary.intermittent),
        "order_dependent": str(summary.order_dependent),
        "brittle": str(summary.brittle),
        "latent": str(summary.latent),
        "report": report_path,
    }


class Log:
    """The Actions log: plain lines, workflow commands, and stretches where commands are stopped."""

    def __init__(self, stream: TextIO) -> None:
        """Write to ``stream`` (the step's standard output)."""
        self.stream = stream

    def command(self, name: str, message: str = "", **properties: str) -> None:
        """Write one workflow command."""
        self.stream.write(workflow_command(name, message, **properties) + "\n")
        self.stream.flush()

    @contextmanager
    def commands_stopped(self) -> Iterator[None]:
        """Stop workflow commands with a random token, so echoed test output cannot issue any."""
        token = secrets.token_hex(16)
        self.command("stop-commands", token)
        try:
            yield
        finally:
            self.stream.flush()
            self.command(token)


def append_text(path: Path, text: str) -> None:
    """Append ``text`` to a file the runner reads (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY)."""
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def shown_path(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace when inside it: the same on the runner and in the container."""
    try:
        return path.resolve().relative_to(workspace).as_posix()
    except ValueError:
        return str(path)
