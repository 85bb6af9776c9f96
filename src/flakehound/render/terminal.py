"""PURE. Report -> rich renderables for the terminal: a summary listing, then one short story per failure.

Test names and messages come from untrusted code: they are wrapped in ``rich.text.Text`` (never
parsed as console markup). Node ids are never broken mid-word: print the result with ``crop=False``
and a node id longer than the terminal stays whole (the terminal wraps it, a copy gets it entire).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from flakehound.engine.gate import describe_pass_rate, describe_verdict, format_percent, is_found_in_a_rerun
from flakehound.engine.history import history_line
from flakehound.engine.statediff import describe_change
from flakehound.engine.wording import plural, rerun_counts, short_sha
from flakehound.render.history import history_sentence

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flakehound.engine.victim_search import VictimSearch
    from flakehound.models import ClassifiedFailure, CoverageSummary, Polluter, Report

__all__ = ["describe_evidence", "describe_finding", "describe_search", "render_terminal", "top_cause"]

_STYLES = {
    "deterministic": "red",
    "intermittent": "magenta",
    "order-dependent": "yellow",
    "brittle": "cyan",
}


def describe_evidence(failure: ClassifiedFailure) -> str:
    """``failed 0/5 alone, 4/4 in original order, 1/4 in shuffled orders``."""
    return ", ".join(f"failed {count.failures}/{count.runs} {label}" for label, count in rerun_counts(failure.evidence))


def _leaves(finding: Polluter) -> str:
    if not finding.state_changes:
        return ""
    return f"; that test {describe_change(finding.state_changes[0])}"


def describe_finding(finding: Polluter, role: str) -> str:
    """``fails only after X (found in 5 runs, confirmed 3/3); it leaves ...``."""
    tests = ", ".join(finding.nodeids)
    if role == "polluter":
        head = f"fails only after {tests} (found in {plural(finding.search_runs, 'run')},"
        head += f" confirmed {finding.confirmed_failures}/{finding.confirmed_runs})"
    else:
        passes = finding.confirmed_runs - finding.confirmed_failures
        head = f"passes only after {tests} (found in {plural(finding.search_runs, 'run')},"
        head += f" confirmed {passes}/{finding.confirmed_runs})"
    return head + _leaves(finding)


def describe_search(search: VictimSearch) -> str:
    """``searched in the order of --seed 3: the victim passed there and failed 3 of 3 runs alone (4 orders tried)``."""
    there = "failed" if search.role == "polluter" else "passed"
    tried = len(search.orders_tried)
    return (
        f"searched in {search.order}: the victim {there} there and failed {search.alone.failures} of"
        f" {search.alone.runs} runs alone ({plural(tried, 'order')} tried)"
    )


def top_cause(failure: ClassifiedFailure) -> str:
    """The one-line cause: the top hint and its polluter, the polluter, the state-setter, a hint, or "not decided"."""
    if failure.hints and failure.hints[0].cause:  # a signature the polluter (or state-setter) was merged into
        return f"{failure.hints[0].title}: {failure.hints[0].cause}"
    if failure.polluters:
        return "fails after " + ", ".join(failure.polluters[0].nodeids)
    if failure.state_setters:
        return "needs " + ", ".join(failure.state_setters[0].nodeids) + " first"
    if failure.hints:
        return failure.hints[0].title
    count = failure.experiments_run
    if count:
        return f"not decided: {plural(count, 'experiment')} ran, none changed the rate"
    return "not decided: no experiment or known signature explains it (the error is below)"


def _listing(title: str, failures: tuple[ClassifiedFailure, ...]) -> Group:
    """One entry per failure: the node id on its own line, never broken, then label, evidence and cause."""
    entries: list[RenderableType] = [Text(title, style="bold")]
    for failure in failures:
        label = failure.classification.value
        entries.append(Text(f"  {failure.nodeid}", no_wrap=True, overflow="ignore"))
        line = Text(label, style=_STYLES[label])
        line.append(f" · {describe_evidence(failure)} · cause: {top_cause(failure)}")
        entries.append(Padding(line, (0, 0, 0, 4), expand=False))
    return Group(*entries)


def _findings(failure: ClassifiedFailure, text: Text) -> None:
    """Each hint an experiment decided, with its comparison (both sides counted, as the comment has it); the finds.

    The other hints rest on counts the story already gives (the reruns, the polluter's confirmation):
    only an experiment's comparison, which carries its p-value, would be missing.
    """
    for hint in failure.hints:
        if hint.comparison is not None:
            text.append(f"  {hint.title}\n    {hint.evidence}\n")
    for finding in failure.polluters:
        text.append(f"  {describe_finding(finding, 'polluter')}\n")
    for finding in failure.state_setters:
        text.append(f"  {describe_finding(finding, 'state-setter')}\n")


def _story(failure: ClassifiedFailure, history: str | None = None) -> Text:
    text = Text(overflow="ignore")  # a word longer than the line (a node id) is printed whole, never folded
    text.append(failure.nodeid, style="bold")
    text.append(f" is {failure.classification.value}: ")
    text.append(describe_evidence(failure))
    if failure.evidence.failing_orders:
        text.append("; failed in " + ", ".join(failure.evidence.failing_orders))
    if failure.evidence.passing_orders:
        text.append("; passed in " + ", ".join(failure.evidence.passing_orders))
    text.append(".\n")
    if failure.failure_rate is not None:
        rate = failure.failure_rate
        text.append(
            f"  failure rate {rate.estimate:.0%} ({rate.failures}/{rate.runs}),"
            f" 95% interval {rate.low:.0%}-{rate.high:.0%}\n"
        )
    if failure.original.exception or failure.original.message:
        where = f" at {failure.original.path}:{failure.original.line}" if failure.original.path else ""
        text.append(f"  {failure.original.exception or 'failure'}{where}: {failure.original.message or ''}\n")
    _findings(failure, text)
    if history is not None:
        text.append(f"  history: {history}\n")
    for note in failure.notes:
        text.append(f"  note: {note}\n")
    if failure.strength is not None and failure.strength.sentence:
        text.append(f"  evidence: {failure.strength.sentence}\n", style="dim")
    text.append("  reproduce: ")
    text.append(failure.reproduce, style="green")
    text.append("\n")
    return text


def _watched(report: Report) -> list[Text]:
    """The tests that failed in earlier runs and passed every run here, with what was run on them; history's notes."""
    if report.history is None:
        return []
    shown = []
    for each in report.watched:
        runs = f"rerun alone: {each.alone.failures}/{each.alone.runs} failed"
        if each.shuffled.runs:
            runs += f"; in shuffled orders: {each.shuffled.failures}/{each.shuffled.runs} failed"
        line = Text(f"{each.nodeid} passed here ({runs}); ").append(history_line(each.history, report.history.source))
        line.append("".join(f"\n  experiment {experiment}" for experiment in each.experiments))
        shown.append(line)
    return shown + [Text(f"note: {note}") for note in report.history.notes]


def _coverage(coverage: CoverageSummary) -> Text:
    """Total, line and branch coverage, then the files below the threshold, worst first (like ``report -m``)."""
    text = Text(f"coverage {format_percent(coverage.total_percent)} (lines {format_percent(coverage.line_percent)}")
    if coverage.branch_percent is not None:
        text.append(f", branches {format_percent(coverage.branch_percent)}")
    text.append(f"; threshold {format_percent(coverage.threshold)}, {coverage.source})\n")
    for file in coverage.files:
        if file.percent < coverage.threshold:
            missing = ", ".join((*file.missing, *file.partial_branches))
            text.append(f"  {format_percent(file.percent):>8} {file.path}  missing {missing}\n")
    diff = coverage.diff
    if diff is not None:
        shown = "no changed statements" if diff.percent is None else format_percent(diff.percent)
        statements = plural(diff.changed_lines, "statement")
        text.append(f"changed lines against {short_sha(diff.base)}: {shown} of {statements}\n")
        for uncovered in diff.uncovered:
            text.append(f"  not covered: {uncovered.path} {', '.join(uncovered.ranges)}\n")
    return text


def _verdict(report: Report) -> Text:
    """The comment's verdict in plain text: the headline, the counts, then one line per reason."""
    summary = report.summary
    line = Text()
    if report.gate.passed:
        line.append("PASS", style="bold green")
    else:
        line.append("BLOCKED", style="bold red")
    line.append(f"  {describe_verdict(report)}")
    line.append(
        f"\n  {plural(summary.total, 'test')}, {summary.failed} failed, {plural(summary.errors, 'error')},"
        f" {describe_pass_rate(summary)}"
    )
    for reason in report.gate.reasons:
        line.append(f"\n  - {reason}")
    return line


def render_terminal(report: Report, *, verbose: bool = False) -> RenderableType:
    """Everything the terminal shows after an investigation."""
    parts: list[RenderableType] = []
    if report.status == "broken" or report.first_errors:
        seen = "failures seen before flakehound was stopped:" if report.status == "interrupted" else "broken"
        parts.append(Text(report.broken_reason or seen, style="bold red"))
        parts.extend(
            Text(f"  {error.nodeid}: {error.exception or ''} {error.message or ''}".rstrip())
            for error in report.first_errors
        )
    if report.failures:
        parts.append(_listing("failures", report.failures))
    if report.latent:
        parts.append(
            _listing(
                "latent: pass in the original order, fail in a shuffled one"
                + (" (or a rerun alone or an experiment)" if any(map(is_found_in_a_rerun, report.latent)) else "")
                + ("" if report.settings.fail_on_latent else " (do not block without --fail-on-latent)"),
                report.latent,
            )
        )
    parts.extend(_story(failure, history_sentence(failure, report)) for failure in (*report.failures, *report.latent))
    parts.extend(_watched(report))
    parts.extend(Text(f"note: {note}") for note in report.notes)
    if report.coverage is not None:
        parts.append(_coverage(report.coverage))
    if report.settings.disabled_plugins:
        parts.append(Text("switched off while measuring: " + ", ".join(report.settings.disabled_plugins)))
    parts.append(Text(f"seed {report.settings.seed} (replay with --seed {report.settings.seed})", style="dim"))
    if verbose:
        parts.extend(
            Text(f"run {run.id}: {run.purpose.value} {run.tests} tests, {run.duration:.2f} s, {run.ended.value}")
            for run in report.runs
        )
    parts.append(_verdict(report))
    return Group(*parts)
