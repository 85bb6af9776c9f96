"""IO. Put the project folder back as it was before the first run, after every run.

A test that leaves a lock file or a sqlite database inside the project would otherwise make every
later run fail, alone included, and a victim would look deterministic. ``ProjectSnapshot.take``
records every file (size, mtime, mode) and keeps a copy of its content; ``restore`` deletes what a
run created, and copies back what it changed or deleted. Version-control folders, virtual
environments and tool caches are left alone.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SKIPPED_DIRS", "ProjectSnapshot"]

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)

_Stat = tuple[int, int, int]


def _is_skipped(directory: Path, name: str) -> bool:
    return name in SKIPPED_DIRS or name.endswith(".egg-info") or (directory / name / "pyvenv.cfg").exists()


def _walk(root: Path) -> tuple[dict[str, _Stat], set[str]]:
    files: dict[str, _Stat] = {}
    directories: set[str] = set()
    for current, dirnames, filenames in os.walk(root):
        here = Path(current)
        dirnames[:] = sorted(name for name in dirnames if not _is_skipped(here, name))
        for name in dirnames:
            directories.add((here / name).relative_to(root).as_posix())
        for name in filenames:
            path = here / name
            try:
                stat = path.lstat()
            except FileNotFoundError:  # pragma: no cover - deleted between listing and stat by another process
                continue
            files[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
    return files, directories


@dataclass
class ProjectSnapshot:
    """The project's files as they were before the first run, with a copy of their content."""

    root: Path
    backup: Path
    files: dict[str, _Stat]
    directories: set[str]

    @classmethod
    def take(cls, root: Path, backup: Path) -> ProjectSnapshot:
        """Record and copy every file under ``root`` into ``backup``."""
        files, directories = _walk(root)
        for relative in files:
            target = backup / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target, follow_symlinks=False)
        return cls(root=root, backup=backup, files=files, directories=directories)

    def restore(self) -> tuple[str, ...]:
        """Undo what a run did to the project; return the paths that were put back or removed."""
        files, directories = _walk(self.root)
        touched: list[str] = []
        for relative, stat in files.items():
            if relative not in self.files:
                (self.root / relative).unlink()
                touched.append(relative)
            elif stat != self.files[relative]:
                self._copy_back(relative)
                touched.append(relative)
        for relative in self.files.keys() - files.keys():
            self._copy_back(relative)
            touched.append(relative)
        for relative in sorted(directories - self.directories, reverse=True):
            shutil.rmtree(self.root / relative, ignore_errors=True)
            touched.append(relative + "/")
        return tuple(sorted(touched))

    def _copy_back(self, relative: str) -> None:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copy2(self.backup / relative, target, follow_symlinks=False)
