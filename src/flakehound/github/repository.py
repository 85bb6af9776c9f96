"""PURE. The report as GitHub needs it: every path relative to the repository, not to the project folder.

flakehound names files relative to the project folder (``working_directory``), which is what a
developer in that folder types. GitHub resolves annotation paths and blob links from the root of
the repository, so the PR comment, the check run and the job summary get a copy of the report whose
failure locations and coverage files carry the project folder's prefix, and whose reproduce
commands ``cd`` into it first. The changed-line entries come from ``git diff`` and are relative to
the repository already.
"""

from __future__ import annotations

import posixpath
import shlex
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from flakehound.errors import ConfigError

if TYPE_CHECKING:
    from flakehound.models import ClassifiedFailure, CoverageSummary, Report

__all__ = ["given_folder", "in_repository", "project_folder", "repository_path"]


def project_folder(cwd: Path, workspace: Path) -> str:
    """The project folder relative to the repository's root (``GITHUB_WORKSPACE``), ``""`` when it is the root.

    A project outside the workspace (not a checkout GitHub knows) has no such path: ``""`` too.
    """
    if not cwd.is_relative_to(workspace):
        return ""
    folder = cwd.relative_to(workspace).as_posix()
    return "" if folder == "." else folder


def given_folder(text: str, name: str) -> str:
    """A project folder the user names relative to the repository's root (``flakehound publish``), normalized.

    ``""`` and ``.`` are the root; an absolute path or one that leaves the repository is refused.
    """
    folder = posixpath.normpath(text.strip()) if text.strip() else "."
    if PurePosixPath(folder).is_absolute() or folder == ".." or folder.startswith("../"):
        msg = f"{name} {text!r} must be a folder inside the repository, relative to its root (as working_directory)"
        raise ConfigError(msg)
    return "" if folder == "." else folder


def repository_path(path: str, folder: str) -> str:
    """``path`` (relative to the project folder) relative to the repository: prefixed, normalized, no ``./``.

    An absolute path is left as it is: it names no file in the repository.
    """
    if not path or PurePosixPath(path).is_absolute():
        return path
    return posixpath.normpath(posixpath.join(folder, path))


def _failure(failure: ClassifiedFailure, folder: str) -> ClassifiedFailure:
    original = failure.original
    if original.path is not None:
        original = original.model_copy(update={"path": repository_path(original.path, folder)})
    reproduce = f"cd {shlex.quote(folder)} && {failure.reproduce}"
    return failure.model_copy(update={"original": original, "reproduce": reproduce})


def _coverage(coverage: CoverageSummary, folder: str) -> CoverageSummary:
    files = tuple(file.model_copy(update={"path": repository_path(file.path, folder)}) for file in coverage.files)
    return coverage.model_copy(update={"files": files})


def in_repository(report: Report, folder: str) -> Report:
    """The report with paths relative to the repository, for a project in ``folder`` (from :func:`project_folder`)."""
    if not folder:
        return report
    return report.model_copy(
        update={
            "failures": tuple(_failure(failure, folder) for failure in report.failures),
            "latent": tuple(_failure(failure, folder) for failure in report.latent),
            "coverage": _coverage(report.coverage, folder) if report.coverage is not None else None,
        }
    )
