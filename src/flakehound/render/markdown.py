"""PURE. Report -> the pull-request comment and the job summary, as GitHub-flavoured markdown.

Everything that comes from the tested project is untrusted and reaches the page only through the
escapers of :mod:`flakehound.render.escape`. The comment ends with the hidden digest of
:mod:`flakehound.render.digest`, so the next push can say what changed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flakehound.engine.gate import describe_pass_rate, format_percent
from flakehound.engine.statediff import describe_change
from flakehound.render.digest import encode_digest, make_digest, make_marker, render_changes
from flakehound.render.escape import block as _block
from flakehound.render.escape import cell as _cell
from flakehound.render.escape import code as _code
from flakehound.render.escape import html as _html
from flakehound.render.escape import link as _link
from flakehound.render.escape import shorten as _shorten
from flakehound.render.escape import text as _text

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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _render_verdict(report: Report) -> list[str]:
    reasons = [_text(_shorten(reason, _REASON_MAX)) for reason in report.gate.reasons]
    if report.status != "investigated":
        why = {
            "broken": "the suite is broken",
            "interrupted": "the investigation was interrupted",
        }.get(report.status, "pytest crashed")
        verdict = f"**\N{COLLISION SYMBOL} Blocked, {why}**"
    elif report.gate.passed:
        return ["**\N{WHITE HEAVY CHECK MARK} Passed**: nothing blocks this change."]
    else:
        verdict = "**\N{CROSS MARK} Blocked**"
    return [f"{verdict}: {'; '.join(reasons)}." if reasons else f"{verdict}."]


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
    evidence = failure.evidence
    parts = [
        f"{count.failures}/{count.runs} {where}"
        for count, where in (
            (evidence.alone, "alone"),
            (evidence.original_order, "in original order"),
            (evidence.permuted, "in shuffled orders"),
        )
        if count.runs
    ]
    return "failed " + ", ".join(parts) if parts else "not rerun"


def _polluter(failure: ClassifiedFailure) -> str:
    if failure.polluters:
        names = " + ".join(_code(nodeid) for nodeid in failure.polluters[0].nodeids)
        more = len(failure.polluters) - 1
        return f"{names} (and {more} more)" if more else names
    if failure.state_setters:
        return "passes only after " + " + ".join(_code(nodeid) for nodeid in failure.state_setters[0].nodeids)
    return "\N{EM DASH}"


def _undecided_cause(failure: ClassifiedFailure) -> str:
    count = failure.experiments_run
    if not count:
        return "\N{EM DASH}"
    return f"cause not decided: {count} experiment{'s' if count > 1 else ''} ran, none changed the rate"


def _render_table(failures: tuple[ClassifiedFailure, ...], *, with_label: bool) -> list[str]:
    header = ["Test", "Label", "Evidence", "Top hint", "Polluter"]
    if not with_label:
        header.remove("Label")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for failure in failures:
        hint = _text(failure.hints[0].title) if failure.hints else _undecided_cause(failure)
        cells = [
            _code(failure.nodeid),
            failure.classification.value,
            _evidence(failure),
            hint,
            _polluter(failure),
        ]
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
        line += f" · changed lines {changed} of {diff.changed_lines} against {_code(diff.base)}"
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
            lines.extend(["", f"{len(worst) - _WORST_FILES} more file(s) with missing lines."])
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
                counts.append(f"the victim {ended} runs right after it")
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


def _render_details(failure: ClassifiedFailure, file_url: Callable[[str, int | None], str] | None) -> list[str]:
    summary = f"<code>{_html(failure.nodeid)}</code> · {failure.classification.value}"
    paragraphs = [
        f"<details><summary>{summary}</summary>",
        *_render_origin(failure, file_url),
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


def _render_notes(report: Report) -> list[str]:
    """The report's notes (experiments skipped on this machine, tests left out), once for the whole comment."""
    if not report.notes:
        return []
    return ["### Notes", "", *(f"- {_text(note)}" for note in report.notes)]


def _render_label_counts(report: Report) -> list[str]:
    counts: dict[str, int] = {}
    for failure in report.failures:
        counts[failure.classification.value] = counts.get(failure.classification.value, 0) + 1
    if report.latent:
        counts["latent"] = len(report.latent)
    if not counts:
        return []
    return ["| Label | Tests |", "|---|---|", *(f"| {label} | {count} |" for label, count in counts.items())]


def _render_level(
    report: Report,
    *,
    level: int,
    run_url: str | None,
    file_url: Callable[[str, int | None], str] | None,
    previous_digest: Digest | None,
) -> list[str]:
    """Level 1 is everything, 2 leaves out latent details, 3 only counts and a link."""
    sections: list[list[str]] = [["### flakehound", "", *_render_verdict(report), "", _render_counts(report)]]
    if previous_digest is not None:
        sections.append(render_changes(report, previous_digest))
    if level == 3:  # noqa: PLR2004 - the last rung of the size ladder
        sections.append(_render_label_counts(report))
        where = _link("job summary", run_url) if run_url else "job summary"
        sections.append(
            [f"_Trimmed to fit GitHub's size limit: only counts are shown; the {where} has every failure._"]
        )
        return [line for section in sections if section for line in [*section, ""]]
    if report.status in {"broken", "crashed"} or report.first_errors:
        sections.append(_render_broken(report))
    if report.failures:
        sections.append(["### Failures", "", *_render_table(report.failures, with_label=True)])
    if report.latent:
        sections.append(
            [
                "### Latent: fail only in shuffled orders",
                "",
                "These pass in the order CI runs them; they block only with `--fail-on-latent`.",
                "",
                *_render_table(report.latent, with_label=False),
            ]
        )
    if report.coverage is not None:
        sections.append(_render_coverage(report, report.coverage, file_url))
    sections.append(_render_notes(report))
    detailed = report.failures + (report.latent if level == 1 else ())
    if detailed:
        details = ["### Details", ""]
        for failure in detailed:
            details.extend([*_render_details(failure, file_url), ""])
        sections.append(details[:-1])
    if level == 2 and report.latent:  # noqa: PLR2004 - the middle rung of the size ladder
        sections.append(["_Trimmed to fit GitHub's size limit: details of latent tests are left out._"])
    return [line for section in sections if section for line in [*section, ""]]


def _render(
    report: Report,
    *,
    marker: str | None,
    run_url: str | None,
    file_url: Callable[[str, int | None], str] | None,
    previous_digest: Digest | None,
    limit: int,
) -> str:
    footer = f"<sub>flakehound {_html(report.tool.version)} · seed {report.settings.seed}"
    footer += f" · {_link('workflow run', run_url)}</sub>" if run_url else "</sub>"
    head = [marker] if marker is not None else []
    tail = [footer]
    if marker is not None:
        tail.append(encode_digest(make_digest(report)))
    body = ""
    for level in (1, 2, 3):
        lines = _render_level(report, level=level, run_url=run_url, file_url=file_url, previous_digest=previous_digest)
        body = "\n".join([*head, *lines, *tail]) + "\n"
        if len(body.encode()) <= limit:
            return body
    # Even the counts do not fit (a tiny limit, or thousands of labels in the digest): keep the verdict.
    return (
        "\n".join(
            [
                *head,
                *_render_level(report, level=3, run_url=run_url, file_url=None, previous_digest=None),
                footer,
            ]
        )
        + "\n"
    )


def render_comment(
    report: Report,
    *,
    marker_key: str = "",
    run_url: str | None = None,
    file_url: Callable[[str, int | None], str] | None = None,
    previous_digest: Digest | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """Render the pull-request comment, at most ``limit`` UTF-8 bytes, marker and digest included.

    When the full comment is too long it drops latent details, then everything but the counts and a
    link to the job summary (``run_url``), and says so. ``file_url(path, line)`` links source lines
    at the head commit. ``previous_digest`` (from ``parse_digest`` on the comment being replaced)
    adds what changed since the last push.
    """
    return _render(
        report,
        marker=make_marker(marker_key),
        run_url=run_url,
        file_url=file_url,
        previous_digest=previous_digest,
        limit=limit,
    )


def render_summary(
    report: Report,
    *,
    run_url: str | None = None,
    file_url: Callable[[str, int | None], str] | None = None,
    previous_digest: Digest | None = None,
    limit: int = SUMMARY_LIMIT,
) -> str:
    """Render the job summary: the comment's markdown without marker or digest, 1 MiB at most."""
    return _render(
        report, marker=None, run_url=run_url, file_url=file_url, previous_digest=previous_digest, limit=limit
    )
