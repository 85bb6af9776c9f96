"""The terminal's coverage section and the CLI's progress bar."""

from __future__ import annotations

import io
from contextlib import ExitStack

import pytest
from rich.console import Console

from flakehound.cli import _progress_bar
from flakehound.models import CoverageFile, CoverageSummary, DiffCoverage, UncoveredFile
from flakehound.render.terminal import render_terminal


def text_of(renderable) -> str:
    """What a wide, plain console prints."""
    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("coverage", "present", "absent"),
    [
        (
            CoverageSummary(
                total_percent=90.0,
                line_percent=92.5,
                branch_percent=85.0,
                files=(
                    CoverageFile(
                        path="src/a.py", percent=80.0, statements=10, missing=("3-4",), partial_branches=("7->9",)
                    ),
                    CoverageFile(path="src/b.py", percent=100.0, statements=5),
                ),
                diff=DiffCoverage(
                    base="main",
                    percent=50.0,
                    changed_lines=4,
                    uncovered=(UncoveredFile(path="src/a.py", ranges=("3-4",)),),
                ),
            ),
            [
                "coverage 90.00% (lines 92.50%, branches 85.00%; threshold 100.00%, measured)",
                "80.00% src/a.py  missing 3-4, 7->9",
                "changed lines against main: 50.00% of 4 statements",
                "not covered: src/a.py 3-4",
            ],
            ["src/b.py"],
        ),
        (
            CoverageSummary(
                total_percent=100.0,
                line_percent=100.0,
                diff=DiffCoverage(base="HEAD~1", percent=None, changed_lines=0),
                source="cobertura",
            ),
            ["coverage 100.00% (lines 100.00%; threshold 100.00%, cobertura)", "no changed statements of 0"],
            ["branches", "not covered"],
        ),
    ],
    ids=["below-threshold-with-diff", "lines-only-no-changed-statements"],
)
def test_coverage_section(make_report, coverage, present, absent):
    """Files below the threshold with missing lines and branches, then the changed-line coverage."""
    printed = text_of(render_terminal(make_report([], coverage=coverage)))
    for line in present:
        assert line in printed
    for word in absent:
        assert word not in printed


def test_progress_bar_only_on_a_terminal():
    """A terminal gets a live bar that takes a plan and steps; logs and --quiet get none."""
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with ExitStack() as stack:
        bar = _progress_bar(stack, terminal, quiet=False)
        assert bar is not None
        bar.plan(2)
        bar.advance("alone run")
        task = bar.progress.tasks[0]
        assert (task.total, task.completed, task.description) == (2, 1, "alone run")
    with ExitStack() as stack:
        assert _progress_bar(stack, terminal, quiet=True) is None
        assert _progress_bar(stack, Console(file=io.StringIO()), quiet=False) is None
