"""Paths that leave flakehound for GitHub are relative to the repository, not to the project folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from flakehound.errors import ConfigError
from flakehound.github.repository import given_folder, in_repository, project_folder, repository_path
from flakehound.models import (
    ClassifiedFailure,
    CoverageFile,
    CoverageSummary,
    DiffCoverage,
    Evidence,
    FailureKind,
    GateResult,
    Original,
    Outcome,
    Report,
    ReportSettings,
    Summary,
    Tool,
    UncoveredFile,
)


@pytest.mark.parametrize(
    ("text", "folder"),
    [("", ""), (".", ""), ("./", ""), ("services/api", "services/api"), ("./services//api/", "services/api")],
)
def test_a_given_folder_is_normalized_relative_to_the_root(text, folder):
    """`flakehound publish --working-directory` takes the Action's working_directory as the user wrote it."""
    assert given_folder(text, "--working-directory") == folder


@pytest.mark.parametrize("text", ["/home/runner/work/r", "..", "../other", "a/../../b"])
def test_a_folder_outside_the_repository_is_refused_naming_the_option(text):
    """An absolute path or one that climbs out of the repository names no folder in it."""
    with pytest.raises(ConfigError, match=r"^--working-directory '.*' must be a folder inside the repository"):
        given_folder(text, "--working-directory")


@pytest.mark.parametrize(
    ("path", "folder", "expected"),
    [
        pytest.param("tests/test_x.py", "pkg/app", "pkg/app/tests/test_x.py", id="prefixed"),
        pytest.param("./tests/test_x.py", "pkg/app", "pkg/app/tests/test_x.py", id="no-dot-slash"),
        pytest.param("../lib/x.py", "pkg/app", "pkg/lib/x.py", id="normalized"),
        pytest.param("./tests/test_x.py", "", "tests/test_x.py", id="root"),
        pytest.param("/usr/lib/x.py", "pkg", "/usr/lib/x.py", id="absolute-kept"),
        pytest.param("", "pkg", "", id="empty"),
    ],
)
def test_repository_path(path: str, folder: str, expected: str) -> None:
    """A project-relative path gets the project folder's prefix, normalized."""
    assert repository_path(path, folder) == expected


@pytest.mark.parametrize(
    ("cwd", "expected"),
    [
        pytest.param("/w/pkg/my app", "pkg/my app", id="nested"),
        pytest.param("/w", "", id="root"),
        pytest.param("/elsewhere", "", id="outside"),
    ],
)
def test_project_folder(cwd: str, expected: str) -> None:
    """The project folder relative to the workspace; the root and a folder outside it have no prefix."""
    assert project_folder(Path(cwd), Path("/w")) == expected


def _failure(nodeid: str, path: str | None) -> ClassifiedFailure:
    return ClassifiedFailure(
        nodeid=nodeid,
        classification=FailureKind.DETERMINISTIC,
        original=Original(outcome=Outcome.FAILED, path=path, line=3),
        evidence=Evidence(),
        reproduce=f"python -m pytest {nodeid}",
    )


def _report(**update: object) -> Report:
    return Report(
        tool=Tool(version="0"),
        created_at="2024-05-01T12:00:00Z",
        command=("flakehound", "action"),
        settings=ReportSettings(
            seed=1, reruns=1, replays=1, orders=0, max_failures=5, min_pass_rate=100.0, timeout=60.0, cwd="/w/a b"
        ),
        summary=Summary(total=2, failed=2, pass_rate=0.0),
        gate=GateResult(passed=False),
    ).model_copy(update=update)


def test_in_repository_prefixes_locations_and_coverage_files_and_cds_into_the_folder() -> None:
    """Failure locations and coverage files get the prefix; reproduce commands cd (quoted); diff paths stay."""
    coverage = CoverageSummary(
        total_percent=50.0,
        line_percent=50.0,
        files=(CoverageFile(path="pkg/mod.py", percent=50.0, statements=4, missing=("3-4",)),),
        diff=DiffCoverage(
            base="main", percent=0.0, changed_lines=1, uncovered=(UncoveredFile(path="a b/pkg/mod.py", ranges=("3",)),)
        ),
    )
    report = _report(
        failures=(_failure("tests/t.py::test_a", "tests/t.py"), _failure("tests/t.py::test_b", None)),
        latent=(_failure("tests/u.py::test_c", "./tests/u.py"),),
        coverage=coverage,
    )
    shown = in_repository(report, "a b")
    assert [failure.original.path for failure in (*shown.failures, *shown.latent)] == [
        "a b/tests/t.py",
        None,
        "a b/tests/u.py",
    ]
    assert shown.failures[0].reproduce == "cd 'a b' && python -m pytest tests/t.py::test_a"
    assert shown.coverage is not None
    assert [file.path for file in shown.coverage.files] == ["a b/pkg/mod.py"]
    assert shown.coverage.diff == coverage.diff
    assert report.failures[0].original.path == "tests/t.py"  # the saved report keeps the project's paths


def test_in_repository_changes_nothing_at_the_root() -> None:
    """A project at the repository's root needs no prefix and no cd; a report without coverage stays so."""
    report = _report(failures=(_failure("tests/t.py::test_a", "tests/t.py"),))
    assert in_repository(report, "") is report
    assert in_repository(report, "sub").coverage is None
