"""IO-light: a Cobertura ``coverage.xml`` read into per-file results and totals, as coverage.py counts them.

DTDs and entities are refused before parsing (no entity expansion); every number is checked, and
a bad one is a ConfigError naming the file. Files are named relative to the project as coverage.py
would name them, found under the report's first ``<source>`` that has them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from coverage.results import Numbers, format_lines

from flakehound.errors import ConfigError
from flakehound.inputs.diffcov import ExecutableLines
from flakehound.models import CoverageFile

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["DATA_HINT", "Analysed", "percent", "read_cobertura"]

#: What to pass instead of a file that is not coverage data.
DATA_HINT = "pass a .coverage file written by coverage.py 7 (or a Cobertura coverage.xml)"
#: One measured file: its summary, where it is, and its executable and missing lines.
Analysed = tuple[CoverageFile, Path, ExecutableLines]

_FORBIDDEN_XML = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CONDITION = re.compile(r"\((\d+)/(\d+)\)")


def percent(hit: int, total: int) -> float:
    """Compute a percentage by coverage.py's own rule: a ratio of nothing is 100%."""
    return 100.0 * hit / total if total else 100.0


def _parse_cobertura(path: Path, label: str) -> ET.Element:
    """Parse a Cobertura report; refuse DTDs (entity expansion) and other formats."""
    raw = path.read_bytes()
    if _FORBIDDEN_XML.search(raw):
        msg = f"{label} declares a DOCTYPE or ENTITY, which flakehound refuses to expand; {DATA_HINT}"
        raise ConfigError(msg)
    try:
        root = ET.fromstring(raw)  # noqa: S314 -- DTDs are rejected above, so no entity can expand
    except ET.ParseError as exc:
        msg = f"{label} is not well-formed XML: {exc}; {DATA_HINT}"
        raise ConfigError(msg) from exc
    if root.tag != "coverage" or root.find("packages") is None:
        msg = f"{label} is XML but not a Cobertura report (root <{root.tag}> without <packages>); {DATA_HINT}"
        raise ConfigError(msg)
    return root


def _int_attribute(element: ET.Element, name: str, label: str) -> int:
    """Read an integer attribute of a Cobertura element, or raise ConfigError naming the file."""
    value = element.get(name)
    try:
        return int(value or "")
    except ValueError:
        msg = f"{label} has a <{element.tag}> whose {name}={value!r} is not an integer; {DATA_HINT}"
        raise ConfigError(msg) from None


def read_cobertura(path: Path, label: str, cwd: Path) -> tuple[list[Analysed], float, float, float | None]:
    """Read per-file results and line, branch and total percentages from a Cobertura report."""
    root = _parse_cobertura(path, label)
    sources = [Path(cwd, element.text.strip()) for element in root.iter("source") if element.text]
    hits: dict[str, dict[int, int]] = {}
    branches: dict[str, dict[int, tuple[int, int, str | None]]] = {}
    for element in root.iter("class"):
        filename = element.get("filename")
        if not filename:
            msg = f"{label} has a <class> without a filename attribute; {DATA_HINT}"
            raise ConfigError(msg)
        file_hits = hits.setdefault(filename, {})
        for line in element.iter("line"):
            number = _int_attribute(line, "number", label)
            file_hits[number] = max(file_hits.get(number, 0), _int_attribute(line, "hits", label))
            condition = _CONDITION.search(line.get("condition-coverage") or "")
            if condition is not None:
                taken, count = int(condition[1]), int(condition[2])
                branches.setdefault(filename, {})[number] = (taken, count, line.get("missing-branches"))
    if not hits:
        msg = f"{label} is a Cobertura report with no measured files; {DATA_HINT}"
        raise ConfigError(msg)
    files: list[Analysed] = []
    total = Numbers()
    for filename, lines in sorted(hits.items()):
        file_branches = branches.get(filename, {})
        missing = {number for number, count in lines.items() if count == 0}
        numbers = Numbers(
            n_files=1,
            n_statements=len(lines),
            n_missing=len(missing),
            n_branches=sum(count for _, count, _ in file_branches.values()),
            n_missing_branches=sum(count - taken for taken, count, _ in file_branches.values()),
        )
        total += numbers
        ranges = format_lines(lines, missing)
        located = _locate(filename, sources, cwd)
        file = CoverageFile(
            path=_relative_name(located, cwd, filename),
            percent=numbers.pc_covered,
            statements=numbers.n_statements,
            missing=tuple(ranges.split(", ")) if ranges else (),
            partial_branches=_partial_branches(file_branches, missing),
        )
        executable = ExecutableLines(statements=frozenset(lines), missing=frozenset(missing))
        files.append((file, located, executable))
    line_percent = percent(total.n_statements - total.n_missing, total.n_statements)
    branch_percent = percent(total.n_branches - total.n_missing_branches, total.n_branches)
    # coverage.py writes branch-rate="0" when branches were not measured, "1" when none exist.
    has_branches = bool(branches) or root.get("branch-rate", "0") != "0"
    return files, total.pc_covered, line_percent, branch_percent if has_branches else None


def _partial_branches(branches: Mapping[int, tuple[int, int, str | None]], missing: set[int]) -> tuple[str, ...]:
    """List missed branches of run lines: ``"4->6"``, ``"4->exit"``, or ``"4 (1/2)"`` if unnamed."""
    parts: list[str] = []
    for number, (taken, total, destinations) in sorted(branches.items()):
        if number in missing or taken >= total:
            continue
        if not destinations:
            parts.append(f"{number} ({taken}/{total})")
            continue
        parts.extend(
            f"{number}->{dest}" for dest in destinations.split(",") if not (dest.isdigit() and int(dest) in missing)
        )
    return tuple(parts)


def _locate(filename: str, sources: Sequence[Path], cwd: Path) -> Path:
    """Find a Cobertura filename under the first <source> that has it, else under ``cwd``."""
    for source in sources:
        candidate = source / filename
        if candidate.is_file():
            return candidate
    return cwd / filename


def _relative_name(path: Path, cwd: Path, fallback: str) -> str:
    """Name ``path`` relative to ``cwd`` as coverage.py would, or use ``fallback`` when outside it."""
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return fallback
