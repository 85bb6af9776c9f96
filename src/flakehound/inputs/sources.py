"""IO. Read the JUnit XML files named by ``--junit`` and hand their text to ``junit.parse_junit``.

This is the thin shell around the pure parser: glob expansion, reading and decoding files, and
listing the project's ``.py`` files that map pytest's dotted class names back to node ids.

Size. A file larger than ``MAX_JUNIT_BYTES`` is refused once that many bytes and one more have
been read (a pipe or a special file has no size to ask for beforehand), so memory stays bounded.
The parser holds the whole document, its tree and one result per testcase in memory: about 30 times the file's
size for a file of passing testcases (10 MiB, 150,000 tests: 300 MiB and 7 s). 32 MiB, about
300,000 tests as pytest writes them, keeps that near 1 GiB and half a minute, which a CI runner
can afford; a bigger file is almost always captured output or a file that is not a test report.
"""

from __future__ import annotations

import codecs
import glob
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from flakehound.errors import ConfigError
from flakehound.inputs.junit import parse_junit

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flakehound.models import TestResult

__all__ = ["MAX_JUNIT_BYTES", "find_project_files", "read_junit"]

#: The largest ``--junit`` file read (see the module docstring).
MAX_JUNIT_BYTES = 32 * 1024 * 1024

#: Directories never searched for project files: tooling, environments and caches.
SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "site-packages"})

_ADVICE = "pass the file pytest wrote with --junitxml"
_PATTERN_ADVICE = "pass the path pytest wrote with --junitxml"
_ENCODING = re.compile(rb"""<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def read_junit(patterns: Sequence[str], cwd: Path, *, max_bytes: int = MAX_JUNIT_BYTES) -> list[TestResult]:
    """Read every file the glob ``patterns`` match (relative to ``cwd``), in the order given.

    A file larger than ``max_bytes`` is refused with a ``ConfigError`` before it is read.
    """
    paths: list[Path] = []
    for pattern in patterns:
        for path in _expand(pattern, cwd):
            if path not in paths:  # a file two patterns match is read once
                paths.append(path)
    documents = [(str(path), _read_text(path, max_bytes)) for path in paths]
    return parse_junit(documents, find_project_files(cwd))


def find_project_files(root: Path) -> frozenset[str]:
    """Return the POSIX paths, relative to ``root``, of its ``.py`` files outside ``SKIPPED_DIRS``."""
    found: set[str] = set()
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if name not in SKIPPED_DIRS]
        relative = Path(directory).relative_to(root)
        found.update((relative / name).as_posix() for name in filenames if name.endswith(".py"))
    return frozenset(found)


def _expand(pattern: str, cwd: Path) -> list[Path]:
    """Return the paths a glob pattern matches, sorted; a path that exists is taken as it is."""
    literal = cwd / pattern
    if literal.exists():  # a real file name may hold glob characters such as "[1]"
        return [literal]
    matches = sorted(glob.glob(pattern, root_dir=cwd, recursive=True))  # noqa: PTH207 - Path.glob takes no absolute pattern
    if not matches:
        msg = f"--junit pattern {pattern!r} matched no file in {cwd}; {_PATTERN_ADVICE}"
        raise ConfigError(msg)
    return [cwd / match for match in matches]


def _read_text(path: Path, max_bytes: int) -> str:
    """Decode a JUnit file: UTF-16 by its byte-order mark, else the declared encoding, else UTF-8."""
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # never more than one byte past the limit, whatever stat says
    except OSError as exc:
        msg = f"--junit file {str(path)!r} could not be read ({exc.strerror}); {_ADVICE}"
        raise ConfigError(msg) from exc
    if len(data) > max_bytes:
        msg = (
            f"--junit file {str(path)!r} is larger than {max_bytes:,} bytes, the most flakehound reads; "
            "pass a smaller report: split the suite over several --junitxml files or drop captured output "
            "(pytest -o junit_logging=no)"
        )
        raise ConfigError(msg)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in data:
        msg = f"--junit file {str(path)!r} is binary, not JUnit XML; {_ADVICE}"
        raise ConfigError(msg)
    else:
        declared = _ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared is not None else "utf-8"
    try:
        codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding  # drops a UTF-8 BOM
        return data.decode(codec)
    except (LookupError, UnicodeDecodeError) as exc:
        msg = f"--junit file {str(path)!r} is not text in {encoding!r} ({exc}); {_ADVICE}"
        raise ConfigError(msg) from exc
