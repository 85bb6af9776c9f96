"""covdata against real ``coverage run`` subprocesses on copies of tests/fixture_projects/coverage."""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import coverage
import pytest
from coverage.results import display_covered

from flakehound.errors import ConfigError
from flakehound.inputs.covdata import child_coverage_env, measure_argv, read_coverage_files, read_measured
from flakehound.models import UncoveredFile

PROJECTS = Path(__file__).parents[2] / "fixture_projects" / "coverage"
ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<stmts>\d+)\s+(?P<miss>\d+)\s+\d+\s+\d+\s+(?P<cover>[\d.]+)%(?:\s+(?P<missing>.+))?$"
)
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
THRESHOLDS = {"threshold": 100.0, "diff_threshold": 100.0}


@pytest.fixture
def copy_coverage_project(tmp_path):
    """Copy a coverage sample project into tmp_path so runs never share state."""

    def copy(name):
        target = tmp_path / name
        shutil.copytree(PROJECTS / name, target)
        return target

    return copy


def clean_env():
    """Return our environment without any outer coverage measurement."""
    return child_coverage_env(os.environ)


def measure(project, data_file, *pytest_args, env=None):
    """Run the project's tests the way flakehound's original run does."""
    argv = [*measure_argv(sys.executable, data_file), "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*argv, *pytest_args],
        cwd=project,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def coverage_cli(project, *args):
    """Run the coverage command line in the project, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "coverage", *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def printed_report(project, data_file):
    """Return what ``coverage report --precision=6`` prints: the total and each table row."""
    if list(data_file.parent.glob(f"{data_file.name}.*")):
        coverage_cli(project, "combine", "--keep", f"--data-file={data_file}")
    total = coverage_cli(project, "report", "--format=total", "--precision=6", f"--data-file={data_file}")
    table = coverage_cli(project, "report", "--precision=6", "--show-missing", f"--data-file={data_file}")
    rows = {match["name"]: match for match in map(ROW.match, table.splitlines()) if match}
    return total.strip(), rows


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("full", (100.0, 100.0, 100.0), id="full"),
        pytest.param("one_branch", (100.0 * 126 / 127, 100.0, 50.0), id="one-branch-parallel"),
        pytest.param("half", (50.0, 50.0, 100.0), id="half-coveragerc"),
    ],
)
def test_measured_numbers_equal_coverage_report(copy_coverage_project, tmp_path, name, expected):
    """read_measured gives coverage.py's exact numbers, the ones `coverage report --precision=6` prints."""
    project = copy_coverage_project(name)
    data_file = tmp_path / "data" / ".coverage"
    data_file.parent.mkdir()
    measure(project, data_file)

    summary = read_measured(data_file, project, base=None, **THRESHOLDS)

    total, rows = printed_report(project, data_file)
    assert display_covered(summary.total_percent, 6) == total
    assert (summary.total_percent, summary.line_percent, summary.branch_percent) == expected
    assert rows["TOTAL"]["cover"] == total
    for file in summary.files:
        row = rows[file.path]
        assert (display_covered(file.percent, 6), file.statements) == (row["cover"], int(row["stmts"]))
        assert set(file.missing) | set(file.partial_branches) == set(row["missing"].split(", "))
    assert {file.path for file in summary.files} == {
        row for row in rows if row != "TOTAL" and rows[row]["cover"] != "100.000000"
    }
    assert summary.source == "measured"
    assert Path.cwd() != project


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("one_branch", ("branchy/__init__.py", (), ("127->129",)), id="one-branch"),
        pytest.param("half", ("half_pkg/__init__.py", ("9-11",), ()), id="half"),
    ],
)
def test_files_list_missing_lines_and_partial_branches(copy_coverage_project, tmp_path, name, expected):
    """Files below 100% carry their missing line ranges and missed branch arcs."""
    project = copy_coverage_project(name)
    data_file = tmp_path / ".coverage"
    measure(project, data_file)

    summary = read_measured(data_file, project, base=None, **THRESHOLDS)

    assert [(f.path, f.missing, f.partial_branches) for f in summary.files] == [expected]


def test_coverage_files_are_combined(copy_coverage_project, tmp_path):
    """Two data files that each miss one branch combine to 100%, and the inputs are left untouched."""
    project = copy_coverage_project("full")
    negative, positive = tmp_path / "negative.cov", tmp_path / "positive.cov"
    measure(project, negative, "tests/test_calc.py::test_negative")
    measure(project, positive, "tests/test_calc.py::test_positive")
    before = (negative.read_bytes(), positive.read_bytes())

    alone = read_coverage_files([negative], project, base=None, **THRESHOLDS)
    combined = read_coverage_files([negative, positive], project, base=None, **THRESHOLDS)

    assert alone.total_percent < 100.0
    assert (combined.total_percent, combined.files, combined.source) == (100.0, (), "coverage-data")
    assert (negative.read_bytes(), positive.read_bytes()) == before


@pytest.mark.parametrize("name", ["full", "one_branch", "half"])
def test_cobertura_from_coverage_xml_matches_data(copy_coverage_project, tmp_path, name):
    """A coverage.xml written by `coverage xml` gives the same numbers as the data it came from."""
    project = copy_coverage_project(name)
    data_file = tmp_path / ".coverage"
    measure(project, data_file)
    from_data = read_measured(data_file, project, base=None, **THRESHOLDS)
    xml = tmp_path / "coverage.xml"
    printed_report(project, data_file)  # combines parallel files first
    coverage_cli(project, "xml", f"--data-file={data_file}", "-o", str(xml))

    from_xml = read_coverage_files([xml], project, base=None, **THRESHOLDS)

    assert from_xml.model_dump(exclude={"source"}) == from_data.model_dump(exclude={"source"})
    assert from_xml.source == "cobertura"


def test_cobertura_from_another_tool(tmp_path):
    """Branch counts without destinations, several classes per file and <source> roots are understood."""
    xml = tmp_path / "coverage.xml"
    xml.write_text(
        textwrap.dedent("""\
            <?xml version="1.0" ?>
            <coverage line-rate="0.5" branch-rate="0.5">
              <sources><source>src</source></sources>
              <packages><package name="p"><classes>
                <class name="A" filename="p/a.py"><lines>
                  <line number="1" hits="3"/>
                  <line number="2" hits="1" branch="true" condition-coverage="50% (1/2)"/>
                  <line number="3" hits="0"/>
                </lines></class>
                <class name="B" filename="p/a.py"><lines>
                  <line number="4" hits="0" branch="true" condition-coverage="0% (0/2)"/>
                  <line number="5" hits="2"/>
                </lines></class>
              </classes></package></packages>
            </coverage>
            """),
    )

    summary = read_coverage_files([xml], tmp_path, base=None, **THRESHOLDS)

    assert (summary.total_percent, summary.line_percent, summary.branch_percent) == (100 * 4 / 9, 60.0, 25.0)
    [file] = summary.files
    assert (file.path, file.statements, file.missing, file.partial_branches) == (
        "p/a.py",
        5,
        ("3-4",),
        ("2 (1/2)",),
    )


def test_cobertura_without_branches_has_no_branch_percent(tmp_path):
    """A line-only Cobertura report has line coverage and no branch percentage."""
    xml = tmp_path / "coverage.xml"
    xml.write_text(
        '<coverage><packages><package><classes><class filename="m.py"><lines>'
        '<line number="1" hits="1"/></lines></class></classes></package></packages></coverage>'
    )

    summary = read_coverage_files([xml], tmp_path, base=None, **THRESHOLDS)

    assert (summary.total_percent, summary.branch_percent, summary.files) == (100.0, None, ())


def git(repo, *args):
    """Run git in the temporary repository."""
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True, timeout=60)


UNCOVERED_FUNCTION = """

def never_called(value):
    doubled = value * 2
    # a comment is not a statement
    return doubled
"""


@pytest.fixture
def repo_with_change(copy_coverage_project):
    """Commit the full project on main, then add a function no test calls on a feature branch."""
    project = copy_coverage_project("full")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    git(project, "checkout", "-q", "-b", "feature")
    module = project / "calc" / "__init__.py"
    first_new = len(module.read_text().splitlines()) + 1
    module.write_text(module.read_text() + UNCOVERED_FUNCTION)
    return project, first_new


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "uncommitted"])
def test_changed_uncovered_function_is_reported(repo_with_change, tmp_path, committed):
    """Exactly the new function's body shows as uncovered changed lines; its def line ran at import."""
    project, first_new = repo_with_change
    if committed:
        git(project, "commit", "-q", "-am", "add never_called")
    data_file = tmp_path / ".coverage"
    measure(project, data_file)

    summary = read_measured(data_file, project, base="main", **THRESHOLDS)

    body = first_new + 3
    assert summary.diff is not None
    assert (summary.diff.base, summary.diff.changed_lines, summary.diff.percent) == ("main", 3, 100 / 3)
    assert summary.diff.uncovered == (UncoveredFile(path="calc/__init__.py", ranges=(f"{body}-{body + 2}",)),)


def test_diff_maps_paths_from_a_project_in_a_subdirectory(copy_coverage_project, tmp_path):
    """Paths are repository-relative even when the project is a subdirectory of the repository."""
    repo = tmp_path / "repo"
    repo.mkdir()
    project = copy_coverage_project("half")
    shutil.move(project, repo / "half")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    data_file = tmp_path / ".coverage"
    measure(repo / "half", data_file)

    summary = read_measured(data_file, repo / "half", base="main", **THRESHOLDS)

    assert summary.diff is not None
    assert (summary.diff.changed_lines, summary.diff.percent, summary.diff.uncovered) == (0, None, ())


# --- bad input -------------------------------------------------------------------------------


@pytest.fixture
def measured_half(copy_coverage_project, tmp_path):
    """Return the half project and a data file from one real run of it."""
    project = copy_coverage_project("half")
    data_file = tmp_path / "measured" / ".coverage"
    data_file.parent.mkdir()
    measure(project, data_file)
    return project, data_file


def write_bytes(path, content):
    """Write a bad input file."""
    path.write_bytes(content)
    return path


def foreign_schema(data_file, target):
    """Copy real data and claim a schema version this coverage.py does not know."""
    shutil.copyfile(data_file, target)
    with sqlite3.connect(target) as db:
        db.execute("update coverage_schema set version = 99")
    return target


def other_sqlite(_data_file, target):
    """Write an SQLite database that is not coverage data."""
    with sqlite3.connect(target) as db:
        db.execute("create table people (name text)")
    return target


BAD_FILES = [
    pytest.param(lambda _d, t: t / "missing", "does not exist", id="missing"),
    pytest.param(lambda _d, t: t, "is a directory", id="directory"),
    pytest.param(lambda _d, t: write_bytes(t / "empty", b""), "is empty", id="empty"),
    pytest.param(
        lambda _d, t: write_bytes(t / "c", b"SQLite format 3\x00" + b"\xff" * 200),
        "cannot be read",
        id="corrupt",
    ),
    pytest.param(lambda d, t: foreign_schema(d, t / "f"), "wrong schema", id="foreign-version"),
    pytest.param(lambda d, t: other_sqlite(d, t / "s"), "holds no measured files", id="other-sqlite"),
    pytest.param(
        lambda _d, t: write_bytes(t / "j", b"!coverage.py: This is a private format"),
        "before version 5",
        id="json",
    ),
    pytest.param(lambda _d, t: write_bytes(t / "x", b"hello"), "neither coverage.py data nor XML", id="text"),
    pytest.param(lambda _d, t: write_bytes(t / "b.xml", b"<coverage><oops"), "not well-formed XML", id="bad-xml"),
    pytest.param(lambda _d, t: write_bytes(t / "j.xml", b"<testsuites/>"), "not a Cobertura report", id="junit-xml"),
    pytest.param(
        lambda _d, t: write_bytes(t / "e.xml", b'<!DOCTYPE c [<!ENTITY a "x">]><coverage>&a;</coverage>'),
        "DOCTYPE or ENTITY",
        id="entities",
    ),
    pytest.param(
        lambda _d, t: write_bytes(t / "n.xml", b"<coverage><packages/></coverage>"),
        "no measured files",
        id="cobertura-empty",
    ),
    pytest.param(
        lambda _d, t: write_bytes(t / "f.xml", b"<coverage><packages><class/></packages></coverage>"),
        "without a filename",
        id="cobertura-class-without-filename",
    ),
    pytest.param(
        lambda _d, t: write_bytes(
            t / "h.xml",
            b'<coverage><packages><class filename="a.py"><line number="1" hits="x"/></class></packages></coverage>',
        ),
        "hits='x' is not an integer",
        id="cobertura-bad-hits",
    ),
]


@pytest.mark.parametrize(("make", "message"), BAD_FILES)
def test_bad_coverage_file_is_a_config_error(measured_half, tmp_path, make, message):
    """Each unreadable --coverage-file is one ConfigError sentence naming the file."""
    project, data_file = measured_half
    bad = make(data_file, tmp_path)

    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        read_coverage_files([bad], project, base=None, **THRESHOLDS)

    assert f"--coverage-file {str(bad)!r}" in str(raised.value)
    assert not str(raised.value).startswith("Error")


def test_no_paths_is_a_config_error(tmp_path):
    """An empty --coverage-file list is refused."""
    with pytest.raises(ConfigError, match="was given no paths"):
        read_coverage_files([], tmp_path, base=None, **THRESHOLDS)


def test_cobertura_cannot_be_combined(measured_half, tmp_path):
    """Cobertura XML is refused alongside other inputs rather than silently dropped."""
    project, data_file = measured_half
    xml = write_bytes(tmp_path / "c.xml", b"<coverage/>")

    with pytest.raises(ConfigError, match=r"c\.xml' is Cobertura XML, which cannot be combined"):
        read_coverage_files([data_file, xml], project, base=None, **THRESHOLDS)


def test_missing_measured_data_is_a_config_error(tmp_path):
    """An original run that wrote no data file is reported with the path it should have used."""
    with pytest.raises(ConfigError, match="wrote no coverage data at"):
        read_measured(tmp_path / ".coverage", tmp_path, base=None, **THRESHOLDS)


def test_data_whose_sources_are_gone_is_a_config_error(measured_half):
    """Data naming a source file that no longer exists cannot be analysed, and says so."""
    project, data_file = measured_half
    (project / "half_pkg" / "__init__.py").unlink()

    with pytest.raises(ConfigError, match="could not be analysed") as raised:
        read_measured(data_file, project, base=None, **THRESHOLDS)

    assert "No source for code" in str(raised.value)
    assert Path.cwd() != project


def test_config_that_omits_everything_is_a_config_error(measured_half, tmp_path):
    """A report config that leaves no file to report is named in the error."""
    _, data_file = measured_half
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".coveragerc").write_text("[report]\nomit = *\n")

    with pytest.raises(ConfigError, match="has nothing to report"):
        read_measured(data_file, elsewhere, base=None, **THRESHOLDS)


def test_unknown_base_is_a_config_error(repo_with_change, tmp_path):
    """A --base ref that does not exist is refused with a hint to fetch it."""
    project, _ = repo_with_change
    data_file = tmp_path / ".coverage"
    measure(project, data_file)

    with pytest.raises(ConfigError, match=r"--base 'origin/nope' has no merge base.*fetch-depth: 0"):
        read_measured(data_file, project, base="origin/nope", **THRESHOLDS)


def test_base_outside_git_is_a_config_error(measured_half):
    """--base in a directory that is not a git repository is refused."""
    project, data_file = measured_half

    with pytest.raises(ConfigError, match="is not in one"):
        read_measured(data_file, project, base="main", **THRESHOLDS)


# --- nesting: flakehound measured by an outer coverage run -----------------------------------


def outer_rcfile(tmp_path, source):
    """Write an outer measurement's config, as a CI measuring flakehound would have."""
    rcfile = tmp_path / "outer.rc"
    outer = tmp_path / "outer"
    outer.mkdir()
    rcfile.write_text(f"[run]\nparallel = true\ndata_file = {outer / '.coverage'}\nsource = {source}\n")
    return rcfile, outer


def test_child_coverage_env_drops_only_outer_measurement():
    """Only the variables that start or locate the outer measurement are removed."""
    environ = {
        "COVERAGE_PROCESS_CONFIG": "e30=",
        "COVERAGE_PROCESS_START": "/ci/.coveragerc",
        "COVERAGE_FILE": "/ci/.coverage",
        "COVERAGE_RCFILE": "/p/.coveragerc",
        "COVERAGE_CORE": "sysmon",
        "PATH": "/bin",
    }

    assert child_coverage_env(environ) == {
        "COVERAGE_RCFILE": "/p/.coveragerc",
        "COVERAGE_CORE": "sysmon",
        "PATH": "/bin",
    }


@pytest.mark.parametrize("stripped", [True, False], ids=["child-env", "inherited-env"])
def test_outer_measurement_stays_out_of_the_project_run(copy_coverage_project, tmp_path, stripped):
    """Under child_coverage_env the project's subprocesses stay out of the outer data (inherited: leak in)."""
    project = copy_coverage_project("full")
    rcfile, outer = outer_rcfile(tmp_path, project / "calc")
    outer_env = {**clean_env(), "COVERAGE_PROCESS_START": str(rcfile)}
    data_file = tmp_path / ".coverage"

    measure(project, data_file, env=child_coverage_env(outer_env) if stripped else outer_env)

    assert read_measured(data_file, project, base=None, **THRESHOLDS).total_percent == 100.0
    leaked = list(outer.glob(".coverage*"))
    assert (leaked == []) is stripped


DRIVERS = {
    "flakehound": (
        "import sys; from pathlib import Path; from flakehound.inputs.covdata import read_measured;"
        " read_measured(Path(sys.argv[1]), Path(sys.argv[2]), threshold=100, diff_threshold=100, base=None)"
    ),
    "bare-coverage": "import coverage; coverage.Coverage()",
}


@pytest.mark.parametrize(("driver", "saved"), [("flakehound", True), ("bare-coverage", False)])
def test_reading_keeps_an_auto_started_measurement(measured_half, tmp_path, driver, saved):
    """A process measured through the .pth hook still saves its data after flakehound reads coverage."""
    project, data_file = measured_half
    rcfile, outer = outer_rcfile(tmp_path, "flakehound")
    env = {**clean_env(), "COVERAGE_PROCESS_START": str(rcfile)}

    subprocess.run(
        [sys.executable, "-c", DRIVERS[driver], str(data_file), str(project)],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=120,
    )

    written = list(outer.glob(".coverage.*"))
    assert bool(written) is saved
    if saved:
        data = coverage.CoverageData(basename=str(written[0]))
        data.read()
        assert any(path.endswith("covdata.py") for path in data.measured_files())


def test_reading_restores_auto_save_in_process(measured_half, monkeypatch):
    """An auto-started Coverage in this process keeps saving after read_measured builds its own."""
    project, data_file = measured_half
    auto = coverage.Coverage(data_file=str(data_file.parent / "auto"))
    auto._auto_save = True  # noqa: SLF001 -- the flag coverage.py itself flips; no public API
    monkeypatch.setattr(coverage.process_startup, "coverage", auto, raising=False)

    read_measured(data_file, project, base=None, **THRESHOLDS)

    assert auto._auto_save is True  # noqa: SLF001 -- see above


def test_rcfile_in_an_unusual_place(copy_coverage_project, tmp_path):
    """A config passed as rcfile governs both the measured run and the reading."""
    project = copy_coverage_project("half")
    rcfile = project / "config" / "coverage.ini"
    rcfile.parent.mkdir()
    (project / ".coveragerc").rename(rcfile)
    data_file = tmp_path / ".coverage"
    argv = [*measure_argv(sys.executable, data_file, rcfile=rcfile), "-q", "-p", "no:randomly"]
    subprocess.run(argv, cwd=project, env=clean_env(), check=True, capture_output=True, timeout=120)

    summary = read_measured(data_file, project, base=None, rcfile=rcfile, **THRESHOLDS)

    assert [(file.path, file.percent) for file in summary.files] == [("half_pkg/__init__.py", 50.0)]


def test_cobertura_source_outside_cwd_keeps_the_reported_name(tmp_path):
    """A file found under a <source> outside the working directory keeps its name from the report."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "pkg").mkdir(parents=True)
    (elsewhere / "pkg" / "m.py").write_text("x = 1\ny = 2\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    xml = tmp_path / "coverage.xml"
    xml.write_text(
        f"<coverage><sources><source>{elsewhere}</source></sources><packages><package><classes>"
        '<class filename="pkg/m.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines>'
        "</class></classes></package></packages></coverage>"
    )

    summary = read_coverage_files([xml], cwd, base=None, **THRESHOLDS)

    assert [(file.path, file.missing) for file in summary.files] == [("pkg/m.py", ("2",))]


NESTED_DRIVER = """\
import json, os, subprocess, sys
from pathlib import Path
from flakehound.inputs.covdata import child_coverage_env, measure_argv, read_measured

project, data_file = Path(sys.argv[1]), Path(sys.argv[2])
argv = [*measure_argv(sys.executable, data_file), "-q", "-p", "no:randomly"]
subprocess.run(argv, cwd=project, env=child_coverage_env(os.environ), check=True, capture_output=True)
summary = read_measured(data_file, project, threshold=100, diff_threshold=100, base=None)
print(json.dumps([summary.total_percent, [file.path for file in summary.files]]))
"""


def test_flakehound_in_a_measured_process_reports_exact_numbers(copy_coverage_project, tmp_path):
    """Run as our e2e tests run it (inheriting whatever measures this suite), the numbers stay exact."""
    project = copy_coverage_project("one_branch")
    data_file = tmp_path / ".coverage"

    result = subprocess.run(
        [sys.executable, "-c", NESTED_DRIVER, str(project), str(data_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert result.stdout.strip() == f'[{100.0 * 126 / 127!r}, ["branchy/__init__.py"]]'


def test_reading_without_an_outer_measurement(measured_half, monkeypatch):
    """In a process no outer coverage measurement started (a user's flakehound), reading data still works."""
    monkeypatch.delattr(coverage.process_startup, "coverage", raising=False)
    project, data_file = measured_half
    summary = read_coverage_files([data_file], project, threshold=100, diff_threshold=100, base=None)
    assert summary.total_percent == 50.0
    assert not hasattr(coverage.process_startup, "coverage")
