"""PURE. The size ladder's pieces: which failures a trimmed comment keeps, and what it says it left out.

:mod:`flakehound.render.markdown` renders ever smaller comments until one fits GitHub's limit; this
module orders the failures for it and writes the sentence that names how many were left out and where
every failure is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakehound.engine.wording import plural
from flakehound.render.escape import link

if TYPE_CHECKING:
    from collections.abc import Callable

    from flakehound.models import ClassifiedFailure, Report

__all__ = ["describe_left_out", "largest_fitting", "prioritize", "render_label_counts"]

_KIND_RANK = {"intermittent": 0, "order-dependent": 0, "brittle": 1, "deterministic": 2}
"""Which failures get their details first when the comment must be trimmed (lower first)."""


def render_label_counts(report: Report) -> list[str]:
    """A table of how many failures carry each label, latent ones counted apart."""
    counts: dict[str, int] = {}
    for failure in report.failures:
        counts[failure.classification.value] = counts.get(failure.classification.value, 0) + 1
    if report.latent:
        counts["latent"] = len(report.latent)
    return ["| Label | Tests |", "|---|---|", *(f"| {label} | {count} |" for label, count in counts.items())]


def prioritize(report: Report) -> list[tuple[bool, ClassifiedFailure]]:
    """Every failure as ``(is_latent, failure)``, in the order a trimmed comment keeps them.

    Blocking failures before latent ones; within each, intermittent and order-dependent before
    brittle before deterministic (the ones a rerun cannot explain first); otherwise the report's order.
    """
    entries = [(False, failure) for failure in report.failures] + [(True, failure) for failure in report.latent]
    return sorted(entries, key=lambda entry: (entry[0], _KIND_RANK[entry[1].classification.value]))


def describe_left_out(rows: int, detailed: int, total: int, run_url: str | None) -> list[str]:
    """Say how many failures lost their details or their row, and where every failure is."""
    if rows < total:
        rest = total - rows
        counted = f"{'is' if rest == 1 else 'are'} only counted in the table above"
        what = (
            f"Details are left out, and {plural(rest, 'more failing test')} {counted},"
            if rows
            else f"{plural(rest, 'failing test')} {counted}, without rows or details,"
        )
    elif detailed < total:
        what = f"Details of {plural(total - detailed, 'failing test')} are left out"
    else:
        return []
    where = link("job summary", run_url) if run_url else "job summary of this run"
    full = f"the {where} and the JSON report (the `report` output) have every failure"
    return [f"_{what} to fit GitHub's size limit; {full}._"]


def largest_fitting(fits: Callable[[int], bool], high: int) -> int | None:
    """The largest n in 0..high with ``fits(n)`` (sizes grow with n), or None when not even 0 fits."""
    if not fits(0):
        return None
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
