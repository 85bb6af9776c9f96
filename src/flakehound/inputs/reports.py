"""IO. Earlier flakehound report files, read from a folder for ``--history DIR`` and ``flakehound history DIR``.

Every ``*.json`` file directly in the folder is read as a report; a file that is not one is left
out with a note naming it, never an error. Reports come back newest first (by ``created_at``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from flakehound.errors import ConfigError
from flakehound.models import Report

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["read_reports"]


def read_reports(folder: Path, option: str = "--history") -> tuple[list[Report], list[str]]:
    """The reports in ``folder``, newest first, and a note for each file that is not one.

    Raises ConfigError when the folder does not exist.
    """
    if not folder.is_dir():
        raise ConfigError(f"{option} {str(folder)!r} is not a folder: expected a folder of flakehound report files")
    reports = []
    notes = []
    for path in sorted(folder.glob("*.json")):
        try:
            reports.append(Report.model_validate_json(path.read_bytes()))
        except (ValidationError, OSError) as error:  # noqa: PERF203 - one bad file must not stop the others
            first = str(error).splitlines()[0]
            notes.append(f"{path.name} is left out of the history: not a flakehound report ({first})")
    reports.sort(key=lambda report: report.created_at, reverse=True)
    return reports, notes
