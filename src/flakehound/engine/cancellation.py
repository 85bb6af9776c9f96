"""PURE. The report on a run cancelled before the investigation began (SIGTERM from a cancelled workflow, Ctrl-C).

Whatever the original run had finished when flakehound was stopped is kept: the results streamed
so far (as the original run's record), the failures seen (as the report's first errors), and a note
saying where it stopped. The report is marked ``interrupted``, as an interrupted investigation is,
and its gate blocks without deciding anything: nothing was rerun, so no failure has a label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakehound.engine.original import summarize
from flakehound.engine.pipeline import report_settings_for
from flakehound.models import GateResult, Report, RunEnd, RunPurpose, RunRecord, Tool

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flakehound.config import Settings
    from flakehound.models import Run, ShardOf

__all__ = ["CANCELLED_REASON", "cancelled_report", "is_cancelled_early"]

CANCELLED_REASON = "cancelled during the original run: nothing was investigated, so the verdict is not decided"


def _note(partial: Run) -> str:
    failing = sum(result.outcome.is_failure for result in partial.results)
    out_of = f" of {len(partial.collected)}" if partial.collected else ""
    return (
        f"cancelled during the original run: {len(partial.results)}{out_of} test(s) had finished"
        f" ({failing} failed) when flakehound was stopped; no test was rerun"
    )


def cancelled_report(
    settings: Settings,
    partial: Run,
    *,
    created_at: str,
    version: str,
    command: Sequence[str],
    disabled_plugins: Sequence[str] = (),
    shard: ShardOf | None = None,
    commit: str | None = None,
) -> Report:
    """The report on an original run stopped midway: its finished results, the failures seen, a blocking gate."""
    failing = tuple(result for result in partial.results if result.outcome.is_failure)
    record = RunRecord(
        id=1,
        purpose=RunPurpose.ORIGINAL,
        tests=len(partial.results),
        outcomes={result.nodeid: result.outcome for result in partial.results},
        duration=round(partial.duration, 3),
        ended=RunEnd.CANCELLED,
    )
    return Report(
        tool=Tool(version=version),
        created_at=created_at,
        command=tuple(command),
        settings=report_settings_for(settings, bool(failing), disabled_plugins),
        status="interrupted",
        first_errors=failing[: settings.max_failures],
        summary=summarize(partial.results),
        notes=(_note(partial),),
        runs=(record,),
        gate=GateResult(passed=False, reasons=(CANCELLED_REASON,)),
        commit=commit,
        shard=shard,
    )


def is_cancelled_early(report: Report) -> bool:
    """Whether the report is one :func:`cancelled_report` made (the shells exit 130 on it, not the gate's code)."""
    return report.status == "interrupted" and any(
        run.purpose is RunPurpose.ORIGINAL and run.ended is RunEnd.CANCELLED for run in report.runs
    )
