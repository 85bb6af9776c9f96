"""IO. Put the project folder back as it was before the first run, after every run.

A test that leaves a lock file or a sqlite database inside the project would otherwise make every
later run fail, alone included, and a victim would look deterministic. ``ProjectSnapshot.take``
records every file (size, mtime, mode) and keeps a copy of its content; ``restore`` deletes what a
run created, and copies back what it changed or deleted. Version-control folders, virtual
environments and tool caches are left alone.

``retake`` records the project again later, copying only the files that changed since: the fork
executor's baseline, the project as its server left it after collection (files a conftest or a
module made at import included), which every forked child is put back to, while a fresh process
is put back to the first snapshot, before any import.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
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
    """The project's files as they were when it was taken, with a copy of their content."""

    root: Path
    backup: Path
    files: dict[str, _Stat]
    directories: set[str]
    #: The copies an earlier snapshot kept, of the files that had not changed when this one was retaken.
    kept: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def take(cls, root: Path, backup: Path) -> ProjectSnapshot:
        """Record and copy every file under ``root`` into ``backup``."""
        files, directories = _walk(root)
        for relative in files:
            _copy_into(root / relative, backup / relative)
        return cls(root=root, backup=backup, files=files, directories=directories)

    def retake(self, backup: Path) -> ProjectSnapshot:
        """The project as it is now; only files that changed since this snapshot are copied (into ``backup``)."""
        files, directories = _walk(self.root)
        kept: dict[str, Path] = {}
        for relative, stat in files.items():
            if self.files.get(relative) == stat:
                kept[relative] = self._copy_of(relative)
            else:
                _copy_into(self.root / relative, backup / relative)
        return ProjectSnapshot(root=self.root, backup=backup, files=files, directories=directories, kept=kept)

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
        shutil.copy2(self._copy_of(relative), target, follow_symlinks=False)

    def _copy_of(self, relative: str) -> Path:
        return self.kept.get(relative, self.backup / relative)


def _copy_into(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target, follow_symlinks=False)
