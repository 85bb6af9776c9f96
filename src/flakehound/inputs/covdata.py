"""IO-light: measure the original run with coverage.py and read coverage data into a CoverageSummary.

Numbers come from coverage.py's own analysis (the ``Numbers`` of each file, summed the way
``coverage report`` sums them), never from its text output, so ``total_percent`` is the exact
float behind what ``coverage report --precision=6`` prints for the same data.

Three things coverage.py decides from the process, not from arguments, and how we handle them:

* **The working directory.** coverage.py finds ``.coveragerc`` / ``setup.cfg`` / ``tox.ini`` /
  ``pyproject.toml``, resolves relative ``source`` and ``omit`` patterns and names files relative
  to ``os.getcwd()``. Reading therefore happens inside ``_working_directory(cwd)``, which restores
  the directory (and coverage.py's cached relative directory) afterwards.
* **Outer measurement (the nesting problem).** When flakehound itself runs under coverage.py with
  ``[run] patch = ["subprocess"]`` (our own CI does), coverage.py puts its serialized configuration
  in ``COVERAGE_PROCESS_CONFIG``; the ``a1_coverage.pth`` file coverage.py installs then starts
  measurement in every Python child that inherits it (``COVERAGE_PROCESS_START`` does the same for
  the older recipe). The project's ``coverage run`` would switch that inherited measurement's saving
  off, so the project's numbers stay right, but any Python process the project's tests start would
  be measured into the *outer* data. ``child_coverage_env`` drops those variables (and
  ``COVERAGE_FILE``, which names the outer data file) from the child's environment. Projects that
  measure their own subprocesses use ``patch = ["subprocess"]`` in their config, which the child's
  ``coverage run`` applies with our data file, so nothing is lost.
* **Creating a Coverage object switches off auto-started measurement.** ``coverage.Coverage()``
  tells a measurement started by ``process_startup`` (the ``.pth`` hook) not to save, because it
  assumes the process now measures itself. Reading data is not measuring, so
  ``_keep_auto_measurement`` puts the flag back; otherwise a flakehound process measured by an
  outer coverage run would silently lose its own data.

Data files are copied into a temporary directory and combined there, so reading never writes to,
deletes or "repairs" the files it was given.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import coverage
from coverage.exceptions import CoverageException, NoDataError
from coverage.files import set_relative_directory
from coverage.report_core import get_analysis_to_report
from coverage.results import Numbers

from flakehound.errors import ConfigError
from flakehound.inputs.cobertura import DATA_HINT, Analysed, percent, read_cobertura
from flakehound.inputs.diffcov import ExecutableLines, measure_diff, parse_diff
from flakehound.models import CoverageFile, CoverageSummary, DiffCoverage

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "OUTER_MEASUREMENT_VARS",
    "child_coverage_env",
    "measure_argv",
    "read_coverage_files",
    "read_measured",
]

OUTER_MEASUREMENT_VARS = frozenset({"COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "COVERAGE_FILE"})
"""Variables that carry the measurement of whoever started flakehound, not the project's."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_OWN_PACKAGE = Path(__file__).resolve().parents[1]
_LEGACY_JSON_MAGIC = b"!coverage.py:"
_FULL = 100.0


def measure_argv(python: str, data_file: Path, *, rcfile: Path | None = None) -> list[str]:
    """Return the argv prefix that runs pytest under coverage.py; the executor appends pytest's arguments.

    ``--branch`` turns branch coverage on whatever the config says. The project's config is found
    from the child's working directory exactly as ``coverage run`` always finds it, so ``source``,
    ``omit``, ``plugins``, ``parallel`` and ``patch`` apply; pass ``rcfile`` only for a config in an
    unusual place. With ``parallel = true`` (or ``patch = ["subprocess"]``) data lands in
    ``data_file.<suffix>`` files next to ``data_file``; ``read_measured`` combines them.
    A project with ``concurrency = multiprocessing`` must set ``branch = true`` in its config:
    coverage.py refuses ``--branch`` on the command line in that mode.
    """
    argv = [python, "-m", "coverage", "run", "--branch", f"--data-file={data_file}"]
    if rcfile is not None:
        argv.append(f"--rcfile={rcfile}")
    return [*argv, "-m", "pytest"]


def child_coverage_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Return ``environ`` without the outer measurement's variables, for the measured original run.

    ``COVERAGE_RCFILE``, ``COVERAGE_CORE`` and ``COVERAGE_DEBUG`` stay: a user who sets them means
    them for the project, and flakehound reads the data back in its own process with the same
    environment, so both sides see the same config.
    """
    return {name: value for name, value in environ.items() if name not in OUTER_MEASUREMENT_VARS}


def read_measured(
    data_file: Path,
    cwd: Path,
    *,
    threshold: float,
    diff_threshold: float,
    base: str | None,
    rcfile: Path | None = None,
) -> CoverageSummary:
    """Read (and combine) the data the original run wrote at ``data_file`` and its ``.<suffix>`` siblings."""
    siblings = data_file.parent.glob(f"{glob.escape(data_file.name)}.*")
    inputs = ([data_file] if data_file.is_file() else []) + sorted(path for path in siblings if path.is_file())
    if not inputs:
        msg = (
            f"the original run wrote no coverage data at {str(data_file)!r}; check that the tests ran"
            " under 'coverage run' and that the project's coverage config does not set data_file"
        )
        raise ConfigError(msg)
    labels = [f"coverage data {str(path)!r} from the original run" for path in inputs]
    return _summarize_data(
        inputs,
        labels,
        cwd,
        threshold=threshold,
        diff_threshold=diff_threshold,
        base=base,
        rcfile=rcfile,
        source="measured",
    )


def read_coverage_files(
    paths: Sequence[Path],
    cwd: Path,
    *,
    threshold: float,
    diff_threshold: float,
    base: str | None,
    rcfile: Path | None = None,
) -> CoverageSummary:
    """Read ``--coverage-file`` inputs: one or more .coverage data files (combined) or one Cobertura XML.

    ``source`` in the summary is ``"coverage-data"`` or ``"cobertura"``.
    """
    if not paths:
        msg = "--coverage-file was given no paths; pass a .coverage data file or a coverage.xml"
        raise ConfigError(msg)
    labels = [f"--coverage-file {str(path)!r}" for path in paths]
    kinds = [_kind_of(path, label) for path, label in zip(paths, labels, strict=True)]
    if "cobertura" not in kinds:
        return _summarize_data(
            list(paths),
            labels,
            cwd,
            threshold=threshold,
            diff_threshold=diff_threshold,
            base=base,
            rcfile=rcfile,
            source="coverage-data",
        )
    if len(paths) > 1:
        xml_label = labels[kinds.index("cobertura")]
        msg = (
            f"{xml_label} is Cobertura XML, which cannot be combined with other files;"
            " pass one coverage.xml, or only .coverage data files"
        )
        raise ConfigError(msg)
    files, total, line, branch = read_cobertura(paths[0], labels[0], cwd)
    diff = _diff_coverage(cwd, base, [(file.path, abs_path, lines) for file, abs_path, lines in files])
    return CoverageSummary(
        total_percent=total,
        line_percent=line,
        branch_percent=branch,
        files=_worst_first(file for file, _, _ in files),
        diff=diff,
        threshold=threshold,
        diff_threshold=diff_threshold,
        source="cobertura",
    )


# --- coverage.py data -------------------------------------------------------------------------


def _kind_of(path: Path, label: str) -> str:
    """Tell ``"data"`` from ``"cobertura"`` by content; anything else is a ConfigError."""
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        msg = f"{label} {what}; {DATA_HINT}"
        raise ConfigError(msg)
    with path.open("rb") as stream:
        head = stream.read(256)
    if not head:
        msg = f"{label} is empty; {DATA_HINT}"
        raise ConfigError(msg)
    if head.startswith(_SQLITE_MAGIC):
        return "data"
    if head.startswith(_LEGACY_JSON_MAGIC):
        msg = (
            f"{label} is a coverage.py data file from before version 5 (JSON),"
            f" which coverage.py {coverage.__version__} cannot read; re-run the tests with coverage.py 7"
        )
        raise ConfigError(msg)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "cobertura"
    msg = f"{label} is neither coverage.py data nor XML (it starts with {head[:16]!r}); {DATA_HINT}"
    raise ConfigError(msg)


def _check_data_file(copy: Path, label: str) -> None:
    """Raise ConfigError unless ``copy`` is coverage.py data this version reads, with measured files."""
    try:
        data = coverage.CoverageData(basename=str(copy))
        data.read()
        measured = data.measured_files()
    except CoverageException as exc:
        msg = f"{label} cannot be read by coverage.py {coverage.__version__}: {exc}; {DATA_HINT}"
        raise ConfigError(msg) from exc
    if not measured:
        msg = (
            f"{label} holds no measured files; check that the tests ran under coverage"
            " and that its 'source' setting names the project's code"
        )
        raise ConfigError(msg)


def _summarize_data(
    inputs: Sequence[Path],
    labels: Sequence[str],
    cwd: Path,
    *,
    threshold: float,
    diff_threshold: float,
    base: str | None,
    rcfile: Path | None,
    source: str,
) -> CoverageSummary:
    """Combine copies of ``inputs`` with the project's config and turn the analysis into a summary."""
    for path, label in zip(inputs, labels, strict=True):
        _kind_of(path, label)
    with (
        tempfile.TemporaryDirectory(prefix="flakehound-cov-", ignore_cleanup_errors=True) as tmp,
        _working_directory(cwd),
        _keep_auto_measurement(),
    ):
        copies = []
        for index, (path, label) in enumerate(zip(inputs, labels, strict=True)):
            copy = Path(tmp, f"input-{index}")
            shutil.copyfile(path, copy)
            _check_data_file(copy, label)
            copies.append(str(copy))
        where = f"the coverage config for {str(cwd)!r}"
        try:
            cov = coverage.Coverage(data_file=str(Path(tmp, "combined")), config_file=rcfile or True)
            cov.combine(copies, strict=True, keep=True)
            files, numbers, has_arcs = _analyze(cov)
        except NoDataError as exc:
            msg = f"{' + '.join(labels)} has nothing to report under {where}: {exc}; check its omit/include settings"
            raise ConfigError(msg) from exc
        except CoverageException as exc:
            msg = (
                f"{' + '.join(labels)} could not be analysed with {where}: {exc};"
                " run flakehound in the directory the data was measured in, with the same sources"
            )
            raise ConfigError(msg) from exc
    line = percent(numbers.n_statements - numbers.n_missing, numbers.n_statements)
    branch = percent(numbers.n_branches - numbers.n_missing_branches, numbers.n_branches)
    return CoverageSummary(
        total_percent=numbers.pc_covered,
        line_percent=line,
        branch_percent=branch if has_arcs else None,
        files=_worst_first(file for file, _, _ in files),
        diff=_diff_coverage(cwd, base, [(file.path, abs_path, lines) for file, abs_path, lines in files]),
        threshold=threshold,
        diff_threshold=diff_threshold,
        source=source,
    )


def _analyze(cov: coverage.Coverage) -> tuple[list[Analysed], Numbers, bool]:
    """Analyse each file and sum the numbers exactly as ``coverage report`` does."""
    data = cov.get_data()
    data.set_query_contexts(cov.config.report_contexts)
    files: list[Analysed] = []
    total = Numbers(precision=cov.config.precision)
    for reporter, analysis in get_analysis_to_report(cov, None):
        if Path(analysis.filename).resolve().is_relative_to(_OWN_PACKAGE):
            continue  # our pytest plugin runs inside the measured process; it is not the project's code
        numbers = analysis.numbers
        total += numbers
        shown = [part for part in analysis.missing_formatted(branches=True).split(", ") if part]
        file = CoverageFile(
            path=reporter.relative_filename(),
            percent=numbers.pc_covered,
            statements=numbers.n_statements,
            missing=tuple(part for part in shown if "->" not in part),
            partial_branches=tuple(part for part in shown if "->" in part),
        )
        lines = ExecutableLines(statements=frozenset(analysis.statements), missing=frozenset(analysis.missing))
        files.append((file, Path(analysis.filename), lines))
    return files, total, data.has_arcs()


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    """Run coverage.py as if started in ``path``, then restore the directory and coverage's notion of it."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
        set_relative_directory()


@contextlib.contextmanager
def _keep_auto_measurement() -> Iterator[None]:
    """Undo coverage.py switching off a ``.pth``-started measurement of this process (see module doc)."""
    auto = getattr(coverage.process_startup, "coverage", None)
    saving = getattr(auto, "_auto_save", None)
    try:
        yield
    finally:
        if auto is not None:
            auto._auto_save = saving  # noqa: SLF001 -- no public switch exists; see the module docstring


def _worst_first(files: Iterator[CoverageFile] | Sequence[CoverageFile]) -> tuple[CoverageFile, ...]:
    """Keep files that are not fully covered, lowest percentage first, then by path."""
    return tuple(sorted((file for file in files if file.percent < _FULL), key=lambda f: (f.percent, f.path)))


# --- Cobertura XML ---------------------------------------------------------------------------


# --- changed lines ---------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git with an argv list (never a shell) and capture its output."""
    try:
        return subprocess.run(
            ["git", *args],  # noqa: S607 -- git is found on PATH like any developer tool
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except FileNotFoundError as exc:  # pragma: no cover -- our test machines always have git
        msg = f"changed-line coverage needs git, which is not on PATH ({exc}); install git or drop --base"
        raise ConfigError(msg) from exc


def _diff_coverage(
    cwd: Path, base: str | None, files: Sequence[tuple[str, Path, ExecutableLines]]
) -> DiffCoverage | None:
    """Measure changed-line coverage against the merge base of ``base`` and HEAD (None without a base).

    The diff runs from the merge base to the *working tree*, so uncommitted edits to tracked files
    count as changed: coverage was measured on the working tree, and line numbers must describe the
    same text the data does. Untracked files are not part of any diff and add nothing.
    """
    if base is None:
        return None
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        msg = f"--base {base!r} needs a git repository, but {str(cwd)!r} is not in one: {top.stderr.strip()}"
        raise ConfigError(msg)
    root = Path(top.stdout.strip()).resolve()
    merge_base = _git(cwd, "merge-base", base, "HEAD")
    if merge_base.returncode != 0:
        msg = (
            f"--base {base!r} has no merge base with HEAD in {str(root)!r}"
            f" ({merge_base.stderr.strip() or 'no common history'});"
            " fetch it first (actions/checkout with fetch-depth: 0) or pass an existing branch, tag or commit"
        )
        raise ConfigError(msg)
    diff = _git(
        cwd,
        "-c",
        "core.quotePath=false",
        "diff",
        "--unified=0",
        "--no-color",
        "--no-ext-diff",
        "--find-renames",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        merge_base.stdout.strip(),
        "--",
    )
    measured: dict[str, ExecutableLines] = {}
    for _, abs_path, lines in files:
        with contextlib.suppress(ValueError):
            measured[abs_path.resolve().relative_to(root).as_posix()] = lines
    return measure_diff(base, parse_diff(diff.stdout), measured)
