import codecs

import pytest

from flakehound.errors import ConfigError
from flakehound.inputs.sources import SKIPPED_DIRS, find_project_files, read_junit
from flakehound.models import Outcome


def junit(*names: str, classname: str = "tests.sub.test_mod", encoding: str = "utf-8") -> str:
    """Write a JUnit document with one passing testcase per name."""
    cases = "".join(f'<testcase classname="{classname}" name="{name}"/>' for name in names)
    suites = f"<testsuites><testsuite>{cases}</testsuite></testsuites>"
    return f'<?xml version="1.0" encoding="{encoding}"?>\n{suites}'


@pytest.fixture
def project(tmp_path):
    """Make a project with one test module and a reports directory."""
    (tmp_path / "tests" / "sub").mkdir(parents=True)
    (tmp_path / "tests" / "sub" / "test_mod.py").write_text("def test_a(): pass\n", encoding="utf-8")
    (tmp_path / "reports").mkdir()
    return tmp_path


def nodeids(results):
    """Return the node ids of results, in order."""
    return [result.nodeid for result in results]


def test_glob_matches_are_read_in_sorted_order_and_mapped_with_the_project_files(project):
    """A glob reads every matching file, sorted, and maps classnames through the project's .py files."""
    (project / "reports" / "b.xml").write_text(junit("test_b"), encoding="utf-8")
    (project / "reports" / "a.xml").write_text(junit("test_a"), encoding="utf-8")

    results = read_junit(["reports/*.xml"], project)

    assert nodeids(results) == ["tests/sub/test_mod.py::test_a", "tests/sub/test_mod.py::test_b"]
    assert [result.path for result in results] == ["tests/sub/test_mod.py"] * 2


def test_patterns_concatenate_in_the_given_order_and_read_a_file_once(project):
    """Several patterns give their files in the order passed; a file two patterns match is read once."""
    (project / "reports" / "a.xml").write_text(junit("test_a"), encoding="utf-8")
    (project / "late.xml").write_text(junit("test_late"), encoding="utf-8")

    results = read_junit(["late.xml", "reports/*.xml", "reports/a.xml"], project)

    assert nodeids(results) == ["tests/sub/test_mod.py::test_late", "tests/sub/test_mod.py::test_a"]


def test_absolute_and_recursive_patterns(project, tmp_path_factory):
    """An absolute path outside the project and a recursive ``**`` pattern both work."""
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "outside.xml"
    elsewhere.write_text(junit("test_outside"), encoding="utf-8")
    (project / "reports" / "deep").mkdir()
    (project / "reports" / "deep" / "in.xml").write_text(junit("test_deep"), encoding="utf-8")

    results = read_junit([str(elsewhere), "**/in.xml"], project)

    assert nodeids(results) == ["tests/sub/test_mod.py::test_outside", "tests/sub/test_mod.py::test_deep"]


def test_file_name_with_glob_characters_is_taken_literally(project):
    """A file that exists under the given name is read even when the name holds glob characters."""
    (project / "results[1].xml").write_text(junit("test_literal"), encoding="utf-8")

    assert nodeids(read_junit(["results[1].xml"], project)) == ["tests/sub/test_mod.py::test_literal"]


def test_pattern_matching_nothing_is_a_config_error_naming_it(project):
    """A pattern that matches no file is a ConfigError naming the pattern, the directory and the fix."""
    with pytest.raises(ConfigError) as raised:
        read_junit(["reports/*.xml"], project)
    assert str(raised.value) == (
        f"--junit pattern 'reports/*.xml' matched no file in {project}; pass the path pytest wrote with --junitxml"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"<testsuites>\x00\x01\x02</testsuites>", "is binary, not JUnit XML", id="binary"),
        pytest.param(b"<testsuites>\xff\xfe\xfa</testsuites>", "is not text in 'utf-8'", id="not-utf8"),
        pytest.param(
            b'<?xml version="1.0" encoding="klingon"?><testsuites/>',
            "is not text in 'klingon'",
            id="unknown-encoding",
        ),
        pytest.param(b"", "is empty", id="empty-file"),
    ],
)
def test_unreadable_content_is_a_config_error_naming_the_file(project, data, expected):
    """Binary, undecodable or empty files are a ConfigError naming the file."""
    path = project / "reports" / "bad.xml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match="pass the file pytest wrote with --junitxml") as raised:
        read_junit(["reports/bad.xml"], project)
    assert str(raised.value).startswith(f"--junit file {str(path)!r} ")
    assert expected in str(raised.value)


def test_directory_is_a_config_error_saying_it_could_not_be_read(project):
    """A pattern that names a directory is a ConfigError saying the path could not be read."""
    with pytest.raises(ConfigError, match=r"could not be read \(Is a directory\)"):
        read_junit(["reports"], project)


@pytest.mark.parametrize(("extra", "is_read"), [(0, True), (1, False)], ids=["at-the-limit", "one-byte-over"])
def test_file_over_the_size_limit_is_refused_naming_it(project, extra, is_read):
    """A --junit file of max_bytes is read; one byte more is a ConfigError naming the file and the limit."""
    path = project / "reports" / "big.xml"
    path.write_bytes(junit("test_a").encode("utf-8"))
    limit = path.stat().st_size - extra
    if is_read:
        assert nodeids(read_junit(["reports/big.xml"], project, max_bytes=limit)) == ["tests/sub/test_mod.py::test_a"]
        return
    with pytest.raises(ConfigError) as raised:
        read_junit(["reports/big.xml"], project, max_bytes=limit)
    assert str(raised.value).startswith(f"--junit file {str(path)!r} is larger than {limit:,} bytes, ")


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        pytest.param(junit("test_é", encoding="iso-8859-1").encode("iso-8859-1"), "test_é", id="declared-latin-1"),
        pytest.param(codecs.BOM_UTF8 + junit("test_ü").encode("utf-8"), "test_ü", id="utf-8-with-bom"),
        pytest.param(junit("test_ß", encoding="UTF-8").encode("utf-8"), "test_ß", id="upper-case-utf-8"),
        pytest.param(
            codecs.BOM_UTF16_LE + junit("test_ω", encoding="utf-16").encode("utf-16-le"),
            "test_ω",
            id="utf-16-bom",
        ),
    ],
)
def test_files_are_decoded_by_bom_or_declared_encoding(project, encoded, name):
    """A file is decoded by its byte-order mark or its declared encoding, so non-ASCII names survive."""
    (project / "reports" / "enc.xml").write_bytes(encoded)

    assert nodeids(read_junit(["reports/enc.xml"], project)) == [f"tests/sub/test_mod.py::{name}"]


def test_project_files_skip_tooling_and_environment_directories(tmp_path):
    """Project files are the .py files under the root, except in .git, virtualenvs, caches and the like."""
    for relative in ["test_top.py", "tests/sub.dir/test_deep.py", "src/pkg/__init__.py", "tests/data.txt"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("", encoding="utf-8")
    for skipped in SKIPPED_DIRS:
        (tmp_path / "tests" / skipped).mkdir(parents=True)
        (tmp_path / "tests" / skipped / "test_hidden.py").write_text("", encoding="utf-8")

    assert find_project_files(tmp_path) == {
        "test_top.py",
        "tests/sub.dir/test_deep.py",
        "src/pkg/__init__.py",
    }


def test_classname_outside_the_walked_files_falls_back(project):
    """A classname whose module is not under the directory falls back to a guessed path with no file."""
    (project / "r.xml").write_text(junit("test_x", classname="vendored.test_v.TestV"), encoding="utf-8")

    [result] = read_junit(["r.xml"], project)

    assert (result.nodeid, result.path, result.outcome) == (
        "vendored/test_v/TestV.py::test_x",
        None,
        Outcome.PASSED,
    )
