"""PURE. The ``flakehound history`` table: every test that failed in earlier runs, most flaky first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from flakehound.engine.history import history_of, suspects

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flakehound.engine.history import History
    from flakehound.models import TestHistory

__all__ = ["render_history"]


def _rate(history: TestHistory) -> str:
    low, high = history.interval
    return f"{history.rate:.0%} ({low:.0%}-{high:.0%})"


def _last(history: TestHistory) -> str:
    return " ".join(part for part in (history.last_failed_commit, history.last_failed_at) if part) or "-"


def _labels(history: TestHistory) -> str:
    return ", ".join(f"{label} {count}x" for label, count in sorted(history.labels.items(), key=lambda kv: -kv[1]))


def render_history(history: History) -> list[RenderableType]:
    """A heading with the runs read, the table (or that nothing failed), and a line per file left out."""
    runs = len(history.records)
    shown: list[RenderableType] = [Text(f"{runs} run(s) {history.source}", style="bold")]
    failing = suspects(history.records)
    if not runs or not failing:
        shown.append(Text("no test failed in them" if runs else "no report to read"))
    else:
        table = Table(show_edge=False, pad_edge=False)
        for name, justify in (("test", "left"), ("failed", "right"), ("rate (95%)", "right"), ("last failure", "left")):
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        table.add_column("labels seen", overflow="fold")
        by_rate = sorted(failing, key=lambda nodeid: -history_of(nodeid, history.records).rate)
        for nodeid in by_rate:
            each = history_of(nodeid, history.records)
            table.add_row(Text(nodeid), f"{each.failures}/{each.runs}", _rate(each), _last(each), _labels(each))
        shown.append(table)
    shown += [Text(f"note: {note}", style="dim") for note in history.notes]
    return shown
