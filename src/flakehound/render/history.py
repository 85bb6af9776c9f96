"""PURE. History in words: the ``flakehound history`` table, and the history lines of the comment and terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from flakehound.engine.history import history_line, history_of, suspects
from flakehound.engine.wording import plural
from flakehound.render.escape import cell, code, text

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flakehound.engine.history import History
    from flakehound.models import ClassifiedFailure, ConfigurationCount, Report, TestHistory, WatchedTest

__all__ = ["history_markdown", "history_sentence", "render_history"]

_WATCHED = (
    "These passed every run here but failed earlier; each was investigated all the same (reruns alone,"
    " shuffled orders, experiments), and one that fails here is listed as a latent failure instead."
)


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


def _count(count: ConfigurationCount, where: str) -> str:
    if count.failures:
        return f"failed {count.failures}/{count.runs} {where}"
    return f"passed {count.runs}/{count.runs} {where}"


def _here(each: WatchedTest) -> str:
    """What was run on a watched test here: 'passed 5/5 alone here; passed 3/3 in shuffled orders; 6 experiments'."""
    parts = [_count(each.alone, "alone here")]
    if each.shuffled.runs:
        parts.append(_count(each.shuffled, "in shuffled orders"))
    if each.experiments:
        parts.append(f"{plural(len(each.experiments), 'experiment')} (below)")
    return "; ".join(parts)


def _experiments(each: WatchedTest, source: str) -> list[str]:
    """The experiments a watched test passed, each with both sides' counts."""
    if not each.experiments:
        return []
    heading = f"{code(each.nodeid)}, which failed {text(source)} but never here, under each experiment:"
    return ["", heading, "", *(f"- {text(experiment)}" for experiment in each.experiments)]


def history_sentence(failure: ClassifiedFailure, report: Report) -> str | None:
    """The failure's history line, when history was read."""
    if report.history is None or failure.history is None or not report.history.runs:
        return None
    return history_line(failure.history, report.history.source)


def history_markdown(report: Report) -> list[str]:
    """What history says about this run: new failures and old ones apart, tests watched, what could not be read."""
    summary = report.history
    if summary is None:
        return []
    failures = [*report.failures, *report.latent]
    old = [failure for failure in failures if failure.history is not None and failure.history.failures]
    window = plural(summary.runs, "earlier run")
    lines = ["### History", ""]
    if summary.runs:
        new = len(failures) - len(old)
        named = ", ".join(code(failure.nodeid) for failure in old)
        lines.append(
            f"From {window} {text(summary.source)}: {new} new in this change, {len(old)} already failed there"
            + (f" ({named})." if old else ".")
        )
    else:
        lines.append(f"No earlier run could be read {text(summary.source)}.")
    if report.watched:
        lines += ["", "| Test | Earlier runs | Here |", "|---|---|---|"]
        lines += [
            f"| {code(each.nodeid)} | {cell(history_line(each.history, summary.source))} | {cell(_here(each))} |"
            for each in report.watched
        ]
        for each in report.watched:
            lines += _experiments(each, summary.source)
        lines += ["", _WATCHED]
    if summary.notes:
        lines += ["", *(f"- {text(note)}" for note in summary.notes)]
    return lines
