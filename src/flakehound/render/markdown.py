"""PURE. Report -> the pull-request comment and the job summary, as GitHub-flavoured markdown.

Everything that comes from the tested project is untrusted and reaches the page only through the
escapers of :mod:`flakehound.render.escape`. The comment ends with the hidden digest of
:mod:`flakehound.render.digest`, so the next push can say what changed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flakehound.engine.gate import describe_pass_rate, describe_verdict, format_percent, is_found_in_a_rerun
from flakehound.engine.statediff import describe_change
from flakehound.engine.wording import plural as _plural
from flakehound.engine.wording import rerun_counts, short_sha
from flakehound.render.digest import encode_digest, make_digest, make_marker, render_changes
from flakehound.render.escape import block as _block
from flakehound.render.escape import cell as _cell
from flakehound.render.escape import code as _code
from flakehound.render.escape import html as _html
from flakehound.render.escape import link as _link
from flakehound.render.escape import shorten as _shorten
from flakehound.render.escape import text as _text
from flakehound.render.history import history_markdown, history_sentence
from flakehound.render.trim import describe_left_out, largest_fitting, prioritize, render_label_counts

if TYPE_CHECKING:
    from collections.abc import Callable

    from flakehound.models import ClassifiedFailure, CoverageSummary, Report
    from flakehound.render.digest import Digest

__all__ = [
    "COMMENT_LIMIT",
    "STRIP_MARKS",
    "SUMMARY_LIMIT",
    "render_comment",
    "render_summary",
]

COMMENT_LIMIT = 65536
"""GitHub refuses issue comments longer than this many characters."""

SUMMARY_LIMIT = 1024 * 1024
"""GitHub refuses a job summary (GITHUB_STEP_SUMMARY) over 1 MiB."""

STRIP_MARKS = {
    ".": "\N{WHITE HEAVY CHECK MARK}",
    "F": "\N{CROSS MARK}",
    "E": "\N{COLLISION SYMBOL}",
    "s": "\N{BLACK RIGHT-POINTING DOUBLE TRIANGLE WITH VERTICAL BAR}",
    "x": "\N{HEAVY MINUS SIGN}",
    "X": "\N{HEAVY PLUS SIGN}",
    "T": "\N{STOPWATCH}",
    "C": "\N{SKULL}",
}
"""One character per run in ``Evidence.strip`` (pytest's own letters, plus T timeout, C crash)."""

_UNKNOWN_MARK = "\N{BLACK QUESTION MARK ORNAMENT}"
_MESSAGE_MAX = 1000
_REASON_MAX = 500
_WORST_FILES = 5
_MISSING_RANGES = 10


def _render_verdict(report: Report) -> list[str]:
    """A headline (``**Blocked**: 5 failing tests``), then one bullet per reason."""
    reasons = [f"- {_text(_shorten(reason, _REASON_MAX))}." for reason in report.gate.reasons]
    if report.status != "investigated":
        mark, word = "\N{COLLISION SYMBOL}", "Blocked"
    elif report.gate.passed:
        mark, word = "\N{WHITE HEAVY CHECK MARK}", "Passed"
    else:
        mark, word = "\N{CROSS MARK}", "Blocked"
    headline = f"**{mark} {word}**: {_text(_shorten(describe_verdict(report), _REASON_MAX))}."
    return [headline, *([""] if reasons else []), *reasons]


def _render_counts(report: Report) -> str:
    summary = report.summary
    counts = [
        f"{summary.passed} passed",
        f"{summary.failed} failed",
        _plural(summary.errors, "error"),
        f"{summary.skipped} skipped",
    ]
    counts.extend(
        f"{count} {word}" for count, word in ((summary.xfailed, "xfailed"), (summary.xpassed, "xpassed")) if count
    )
    line = f"{_plural(summary.total, 'test')}: {', '.join(counts)} · {describe_pass_rate(summary)}"
    labels = [
        f"{count} {word}"
        for count, word in (
            (summary.deterministic, "deterministic"),
            (summary.intermittent, "intermittent"),
            (summary.order_dependent, "order-dependent"),
            (summary.brittle, "brittle"),
            (summary.latent, "latent"),
        )
        if count
    ]
    return f"{line} · {', '.join(labels)}" if labels else line


def _evidence(failure: ClassifiedFailure) -> str:
    parts = [f"{count.failures}/{count.runs} {where}" for where, count in rerun_counts(failure.evidence)]
    return "failed " + ", ".join(parts) if parts else "not rerun"


def _after(failure: ClassifiedFailure) -> str | None:
    """``fails after`` the first polluter, ``passes only after`` the first state-setter, or None."""
    if failure.polluters:
        names = " + ".join(_code(nodeid) for nodeid in failure.polluters[0].nodeids)
        more = len(failure.polluters) - 1
        return f"fails after {names} (and {more} more)" if more else f"fails after {names}"
    if failure.state_setters:
        return "passes only after " + " + ".join(_code(nodeid) for nodeid in failure.state_setters[0].nodeids)
    return None


def _undecided_cause(failure: ClassifiedFailure) -> str:
    count = failure.experiments_run
    if not count:
        return "cause not decided: no experiment ran and no known error signature matched"
    return f"cause not decided: {_plural(count, 'experiment')} ran, none changed the rate"


def _cause(failure: ClassifiedFailure) -> str:
    """One line: the top hint's title, after the polluter or state-setter when there is one."""
    hint = _text(failure.hints[0].title) if failure.hints else None
    after = _after(failure)
    if after is None:
        return hint or _undecided_cause(failure)
    return f"{after}: {hint}" if hint else after


def _render_table(failures: list[ClassifiedFailure], *, with_label: bool) -> list[str]:
    header = ["Test", "Label", "Cause"] if with_label else ["Test", "Cause"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for failure in failures:
        cells = [_code(failure.nodeid), failure.classification.value, _cause(failure)]
        if not with_label:
            del cells[1]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def _line_of(text: str) -> int | None:
    match = re.match(r"\d+", text)
    return int(match.group()) if match else None


def _located(label: str, path: str, line: int | None, file_url: Callable[[str, int | None], str] | None) -> str:
    return _link(label, file_url(path, line)) if file_url is not None else label


def _ranges(path: str, ranges: tuple[str, ...], file_url: Callable[[str, int | None], str] | None) -> str:
    shown = [_located(_text(text), path, _line_of(text), file_url) for text in ranges[:_MISSING_RANGES]]
    more = len(ranges) - _MISSING_RANGES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _render_coverage(
    report: Report, coverage: CoverageSummary, file_url: Callable[[str, int | None], str] | None
) -> list[str]:
    minimum = report.settings.min_coverage
    line = f"Total **{format_percent(coverage.total_percent)}**"
    if minimum is not None:
        line += f" (min {format_percent(minimum)})"
    diff = coverage.diff
    if diff is not None:
        changed = "no measurable lines" if diff.percent is None else f"**{format_percent(diff.percent)}**"
        line += f" · changed lines {changed} of {diff.changed_lines} against {_code(short_sha(diff.base))}"
        if report.settings.min_diff_coverage is not None:
            line += f" (min {format_percent(report.settings.min_diff_coverage)})"
    lines = ["### Coverage", "", line + "."]
    worst = sorted((file for file in coverage.files if file.missing), key=lambda file: (file.percent, file.path))
    if worst:
        lines.extend(["", "| File | Coverage | Missing lines |", "|---|---|---|"])
        for file in worst[:_WORST_FILES]:
            name = _located(_code(file.path), file.path, None, file_url)
            missing = _ranges(file.path, file.missing, file_url)
            lines.append(f"| {_cell(name)} | {format_percent(file.percent)} | {_cell(missing)} |")
        if len(worst) > _WORST_FILES:
            more = len(worst) - _WORST_FILES
            lines.extend(["", f"{_plural(more, 'more file')} with missing lines."])
    if diff is not None and diff.uncovered:
        lines.extend(["", "Changed lines no test runs:", ""])
        for uncovered in diff.uncovered:
            name = _located(_code(uncovered.path), uncovered.path, None, file_url)
            lines.append(f"- {name}: {_ranges(uncovered.path, uncovered.ranges, file_url)}")
    return lines


def _render_origin(failure: ClassifiedFailure, file_url: Callable[[str, int | None], str] | None) -> list[str]:
    original = failure.original
    paragraphs = []
    if original.path is not None:
        where = _code(f"{original.path}:{original.line}" if original.line is not None else original.path)
        paragraphs.append(f"Failed at {_located(where, original.path, original.line, file_url)}.")
    if original.exception is not None or original.message:
        paragraphs.append(f"**{_text(original.exception or original.outcome.value)}**")
    if original.message:
        paragraphs.append(_block(_shorten(original.message, _MESSAGE_MAX)))
    if failure.failure_rate is not None:
        rate = failure.failure_rate
        paragraphs.append(
            f"Failure rate {format_percent(rate.estimate * 100)} ({rate.failures}/{rate.runs} runs;"
            f" 95% interval {format_percent(rate.low * 100)} to {format_percent(rate.high * 100)})."
        )
    if failure.strength is not None and failure.strength.sentence:
        paragraphs.append(_text(failure.strength.sentence))
    return paragraphs


def _render_hints(failure: ClassifiedFailure) -> list[str]:
    if not failure.hints:
        return []
    items = []
    for hint in failure.hints:
        item = f"- **{_text(hint.title)}** ({hint.confidence} confidence)"
        if hint.detail:
            item += f": {_text(hint.detail)}"
        if hint.cause:
            item += f"\n  Cause: {_text(hint.cause)}"
        if hint.evidence:
            item += f"\n  Evidence: {_text(hint.evidence)}"
        items.append(item)
    return ["**Hints**", "\n".join(items)]


def _render_polluters(failure: ClassifiedFailure) -> list[str]:
    paragraphs = []
    for title, groups in (("Polluter", failure.polluters), ("Needs to run after", failure.state_setters)):
        for group in groups:
            names = " + ".join(_code(nodeid) for nodeid in group.nodeids)
            counts = []
            if group.confirmed_runs:
                if title == "Polluter":
                    ended = f"failed {group.confirmed_failures}/{group.confirmed_runs}"
                else:
                    ended = f"passed {group.confirmed_runs - group.confirmed_failures}/{group.confirmed_runs}"
                counts.append(f"this test {ended} runs right after it")
            if group.search_runs:
                counts.append(f"found in {_plural(group.search_runs, 'run')}")
            paragraphs.append(f"**{title}**: {names}" + (f" ({'; '.join(counts)})." if counts else "."))
            if group.state_changes:
                changes = [f"- {_code(describe_change(change))}" for change in group.state_changes]
                paragraphs.append("\n".join(["What it leaves behind:", *changes]))
    return paragraphs


def _render_strip(failure: ClassifiedFailure) -> list[str]:
    if not failure.evidence.strip:
        return []
    rows = [
        f"| {_cell(_text(config))} | {''.join(STRIP_MARKS.get(mark, _UNKNOWN_MARK) for mark in marks)} |"
        for config, marks in failure.evidence.strip.items()
    ]
    return ["**Outcomes per configuration**", "\n".join(["| Configuration | Runs |", "|---|---|", *rows])]


def _render_details(
    failure: ClassifiedFailure, file_url: Callable[[str, int | None], str] | None, history: str | None
) -> list[str]:
    summary = f"<code>{_html(failure.nodeid)}</code> · {failure.classification.value}"
    paragraphs = [
        f"<details><summary>{summary}</summary>",
        *_render_origin(failure, file_url),
        f"Reruns: {_evidence(failure)}.",
        *([f"History: {_text(history)}."] if history else []),
        *_render_hints(failure),
        *_render_polluters(failure),
        *_render_strip(failure),
        *(["\n".join(f"- {_text(note)}" for note in failure.notes)] if failure.notes else []),
        "**Reproduce**",
        _block(failure.reproduce, "shell"),
        "</details>",
    ]
    return "\n\n".join(paragraphs).split("\n")


def _render_broken(report: Report) -> list[str]:
    """Why the suite could not run and its first errors; for a cancelled run, the failures it had seen."""
    title = "Failures seen before it was cancelled" if report.status == "interrupted" else "Why the suite could not run"
    lines = [f"### {title}", ""]
    if report.broken_reason is not None and report.broken_reason not in report.gate.reasons:
        lines.extend([_text(report.broken_reason), ""])
    for error in report.first_errors:
        lines.extend([f"- {_code(error.nodeid)}: {_text(error.message or error.outcome.value)}", ""])
        if error.traceback:
            lines.extend([_block(_shorten(error.traceback, _MESSAGE_MAX)), ""])
    return lines[:-1]


def _head(check_name: str, commit: str | None) -> str:
    heading = "## flakehound" if check_name == "flakehound" else f"## flakehound · {_text(check_name)}"
    return heading + (f" @ {_text(short_sha(commit))}" if commit else "")


def _footer(report: Report, commit: str | None, run_url: str | None) -> str:
    parts = [f"flakehound {_html(report.tool.version)}"]
    if commit:
        parts.append(f"commit {_text(short_sha(commit))}")
    if run_url:
        parts.append(_link("workflow run", run_url))
    parts.append(f"seed {report.settings.seed}")
    return f"<sub>{' · '.join(parts)}</sub>"


def _render_notes(report: Report) -> list[str]:
    """The report's notes (experiments skipped on this machine, tests left out), once for the whole comment."""
    if not report.notes:
        return []
    return ["### Notes", "", *(f"- {_text(note)}" for note in report.notes)]


def _render_level(
    report: Report,
    *,
    shown: tuple[int, int],
    heading: str,
    run_url: str | None,
    file_url: Callable[[str, int | None], str] | None,
    previous_digest: Digest | None,
) -> list[str]:
    """``shown`` is (rows, details): how many failures, in priority order, get a table row and full details."""
    rows, detailed = shown
    ordered = prioritize(report)
    sections: list[list[str]] = [[heading, "", *_render_verdict(report), "", _render_counts(report)]]
    if previous_digest is not None:
        sections.append(render_changes(report, previous_digest))
    if report.status in {"broken", "crashed"} or report.first_errors:
        sections.append(_render_broken(report))
    failing = [failure for is_latent, failure in ordered[:rows] if not is_latent]
    if failing:
        sections.append(["### Failures", "", *_render_table(failing, with_label=True)])
    latent = [failure for is_latent, failure in ordered[:rows] if is_latent]
    if latent:
        sections.append(
            [
                "### Latent: fail only in shuffled orders"
                + (", reruns alone or experiments" if any(map(is_found_in_a_rerun, latent)) else ""),
                "",
                "These pass in the order CI runs them; they block only with `--fail-on-latent`.",
                "",
                *_render_table(latent, with_label=False),
            ]
        )
    if rows < len(ordered):
        sections.append(render_label_counts(report))
    sections.append(history_markdown(report))
    if report.coverage is not None:
        sections.append(_render_coverage(report, report.coverage, file_url))
    sections.append(_render_notes(report))
    if detailed:
        details = ["### Details", ""]
        for _, failure in ordered[:detailed]:
            details.extend([*_render_details(failure, file_url, history_sentence(failure, report)), ""])
        sections.append(details[:-1])
    sections.append(describe_left_out(rows, detailed, len(ordered), run_url))
    return [line for section in sections if section for line in [*section, ""]]


def _render(
    report: Report,
    *,
    marker: str | None,
    named: tuple[str, str | None],
    run_url: str | None,
    file_url: Callable[[str, int | None], str] | None,
    previous_digest: Digest | None,
    limit: int,
) -> str:
    """Render within ``limit`` bytes, trimming step by step (the size ladder).

    Every detail; then details for the first failures in priority order and a row for every failure;
    then rows for the first failures and counts for the rest; then the verdict alone.
    """
    heading = _head(*named)
    head = [marker] if marker is not None else []
    tail = [_footer(report, named[1], run_url)]
    if marker is not None:
        tail.append(encode_digest(make_digest(report)))

    def body(rows: int, detailed: int) -> str:
        lines = _render_level(
            report,
            shown=(rows, detailed),
            heading=heading,
            run_url=run_url,
            file_url=file_url,
            previous_digest=previous_digest,
        )
        return "\n".join([*head, *lines, *tail]) + "\n"

    def fits(rows: int, detailed: int) -> bool:
        return len(body(rows, detailed).encode()) <= limit

    total = len(report.failures) + len(report.latent)
    detailed = largest_fitting(lambda count: fits(total, count), total)
    if detailed is not None:
        return body(total, detailed)
    rows = largest_fitting(lambda count: fits(count, 0), total)
    if rows is not None:
        return body(rows, 0)
    # Even the counts do not fit (a tiny limit, or thousands of labels in the digest): keep the verdict.
    verdict = [heading, "", *_render_verdict(report), "", _render_counts(report), ""]
    return "\n".join([*head, *verdict, tail[0]]) + "\n"


def render_comment(
    report: Report,
    *,
    marker_key: str = "",
    check_name: str = "flakehound",
    commit: str | None = None,
    run_url: str | None = None,
    file_url: Callable[[str, int | None], str] | None = None,
    previous_digest: Digest | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """Render the pull-request comment, at most ``limit`` UTF-8 bytes, marker and digest included.

    When the full comment is too long it keeps details for the first failures in priority order
    (:func:`flakehound.render.trim.prioritize`) and a row for every failure, then rows for the first
    failures and counts for the rest, and says how many were left out and where they are (the job
    summary at ``run_url``). The heading names ``check_name`` and ``commit`` (the commit the check
    run is on; the report's own by default). ``file_url(path, line)`` links source lines at the head
    commit. ``previous_digest`` (from ``parse_digest`` on the comment being replaced) adds what
    changed since the last push.
    """
    return _render(
        report,
        marker=make_marker(marker_key),
        named=(check_name, commit or report.commit),
        run_url=run_url,
        file_url=file_url,
        previous_digest=previous_digest,
        limit=limit,
    )


def render_summary(
    report: Report,
    *,
    check_name: str = "flakehound",
    commit: str | None = None,
    run_url: str | None = None,
    file_url: Callable[[str, int | None], str] | None = None,
    previous_digest: Digest | None = None,
    limit: int = SUMMARY_LIMIT,
) -> str:
    """Render the job summary: the comment's markdown without marker or digest, 1 MiB at most."""
    return _render(
        report,
        marker=None,
        named=(check_name, commit or report.commit),
        run_url=run_url,
        file_url=file_url,
        previous_digest=previous_digest,
        limit=limit,
    )
