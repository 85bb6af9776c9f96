"""PURE. Changed-line coverage: which lines a change added or modified, and which of them no test ran.

``parse_diff`` reads the text of ``git diff --unified=0`` (the git call lives in ``covdata``);
``measure_diff`` intersects those lines with each file's statements and missing lines.

Only executable lines count: a changed blank line, comment or docstring continuation is neither
covered nor uncovered. Branches are not counted here (as diff-cover does): a changed ``if`` whose
``else`` never ran is still a covered line; the whole-project branch numbers catch it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flakehound.models import DiffCoverage, UncoveredFile

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["ExecutableLines", "format_ranges", "measure_diff", "parse_diff"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")
_NEW_FILE = "+++ "
_DST_PREFIX = "b/"
_DEV_NULL = "/dev/null"


@dataclass(frozen=True)
class ExecutableLines:
    """What coverage knows about one file: its statements and which of them never ran."""

    statements: frozenset[int]
    missing: frozenset[int]


def _unquote(path: str) -> str:
    r"""Undo git's C-style quoting of unusual paths (``"a\\"b.py"``, ``"caf\\303\\251.py"``)."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    escaped = path[1:-1].encode("latin-1", "backslashreplace")
    return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")


def _new_path(header: str) -> str | None:
    """Return the post-change path of a ``+++`` line, or None for a deleted file."""
    path = _unquote(header[len(_NEW_FILE) :].rstrip("\t"))
    if path == _DEV_NULL:
        return None
    return path.removeprefix(_DST_PREFIX)


def parse_diff(text: str) -> dict[str, tuple[int, ...]]:
    """Map ``git diff --unified=0`` text to {post-change path: sorted added or changed line numbers}.

    Paths are as git prints them after the ``b/`` prefix (relative to the repository root). Files
    whose change only deletes lines, deleted files and binary files have no entry.
    """
    changed: dict[str, set[int]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith(_NEW_FILE):
            current = _new_path(line)
            continue
        match = _HUNK.match(line)
        if match is None or current is None:
            continue
        start = int(match["start"])
        count = 1 if match["count"] is None else int(match["count"])
        if count:
            changed.setdefault(current, set()).update(range(start, start + count))
    return {path: tuple(sorted(lines)) for path, lines in sorted(changed.items())}


def format_ranges(lines: Iterable[int], statements: Iterable[int] | None = None) -> tuple[str, ...]:
    """Format line numbers as ranges: [3, 4, 5, 9] -> ("3-5", "9").

    With ``statements``, a range runs on over lines that are not statements (a comment or blank line
    inside an uncovered block does not split it), as coverage.py's own "Missing" column does.
    """
    wanted = sorted(set(lines))
    if statements is None:
        position = {line: line for line in wanted}
    else:
        position = {line: index for index, line in enumerate(sorted(set(statements).union(wanted)))}
    ranges: list[str] = []
    for index, line in enumerate(wanted):
        if index == 0 or position[line] != position[wanted[index - 1]] + 1:
            ranges.append(str(line))
        else:
            ranges[-1] = f"{ranges[-1].partition('-')[0]}-{line}"
    return tuple(ranges)


def measure_diff(
    base: str,
    changed: Mapping[str, Iterable[int]],
    measured: Mapping[str, ExecutableLines],
) -> DiffCoverage:
    """Count changed lines that are statements, and list those that never ran, per file.

    ``changed`` and ``measured`` use the same path keys. A changed file coverage did not measure
    (a test, a README, a file outside ``source``) adds nothing. ``percent`` is None when no changed
    line is a statement, so the gate has nothing to compare.
    """
    total = 0
    missed = 0
    uncovered: list[UncoveredFile] = []
    for path in sorted(changed):
        lines = measured.get(path)
        if lines is None:
            continue
        executable = lines.statements.intersection(changed[path])
        not_run = executable & lines.missing
        total += len(executable)
        missed += len(not_run)
        if not_run:
            uncovered.append(UncoveredFile(path=path, ranges=format_ranges(not_run, lines.statements)))
    percent = 100.0 * (total - missed) / total if total else None
    return DiffCoverage(base=base, percent=percent, changed_lines=total, uncovered=tuple(uncovered))
