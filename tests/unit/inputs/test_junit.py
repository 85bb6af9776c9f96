import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from junitparser import JUnitXml

from flakehound.errors import ConfigError
from flakehound.inputs.junit import parse_junit, render_junit
from flakehound.models import (
    ClassifiedFailure,
    Evidence,
    FailureKind,
    FailureRate,
    GateResult,
    Original,
    Outcome,
    Phase,
    Report,
    ReportSettings,
    RunEnd,
    RunPurpose,
    RunRecord,
    Summary,
    TestResult,
    Tool,
)

FILES = frozenset(
    {
        "tests/sub/test_mod.py",
        "tests/sub.py",
        "tests/sub.dir/test_dotted.py",
        "tests/conftest.py",
        "test_root.py",
        "docs/guide.txt",
    }
)


def junit(*cases: str, root: str = "testsuites") -> str:
    """Wrap <testcase> elements in one suite, under <testsuites> or as a bare <testsuite>."""
    suite = f'<testsuite name="pytest">{"".join(cases)}</testsuite>'
    body = f"<testsuites>{suite}</testsuites>" if root == "testsuites" else suite
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body


def case(inner: str = "", classname: str = "tests.sub.test_mod", name: str = "test_a", **attrs: str) -> str:
    """Write one <testcase> with the given children and extra attributes."""
    extra = "".join(f' {key}="{value}"' for key, value in attrs.items())
    return f'<testcase classname="{classname}" name="{name}"{extra}>{inner}</testcase>'


def parse_one(text: str, files: frozenset[str] = FILES) -> list[TestResult]:
    """Parse one document named report.xml."""
    return parse_junit([("report.xml", text)], files)


# --- node ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "nodeid", "path"),
    [
        pytest.param(
            {"classname": "tests.sub.test_mod", "name": "test_a"},
            "tests/sub/test_mod.py::test_a",
            "tests/sub/test_mod.py",
            id="module-level",
        ),
        pytest.param(
            {"classname": "tests.sub.test_mod.TestClass", "name": "test_x[1.5-a.b]"},
            "tests/sub/test_mod.py::TestClass::test_x[1.5-a.b]",
            "tests/sub/test_mod.py",
            id="class-and-dotted-params",
        ),
        pytest.param(
            {"classname": "tests.sub.test_mod.TestA.TestB", "name": "test_x"},
            "tests/sub/test_mod.py::TestA::TestB::test_x",
            "tests/sub/test_mod.py",
            id="nested-classes",
        ),
        pytest.param(
            {"classname": "tests.sub.test_mod.TestA", "name": "test_x[c::d-e[f]-g h]"},
            "tests/sub/test_mod.py::TestA::test_x[c::d-e[f]-g h]",
            "tests/sub/test_mod.py",
            id="params-with-colons-brackets-spaces",
        ),
        pytest.param(
            {"classname": "tests.sub.dir.test_dotted.TestD", "name": "test_d"},
            "tests/sub.dir/test_dotted.py::TestD::test_d",
            "tests/sub.dir/test_dotted.py",
            id="directory-with-a-dot",
        ),
        pytest.param(
            {"classname": "tests.sub.TestInSub", "name": "test_s"},
            "tests/sub.py::TestInSub::test_s",
            "tests/sub.py",
            id="shorter-module-when-longer-is-not-a-file",
        ),
        pytest.param(
            {"classname": "test_root", "name": "test_r"},
            "test_root.py::test_r",
            "test_root.py",
            id="file-at-the-root",
        ),
        pytest.param(
            {"classname": "", "name": "tests.sub.test_mod"},
            "tests/sub/test_mod.py",
            "tests/sub/test_mod.py",
            id="collection-error-names-the-module",
        ),
        pytest.param(
            {"classname": "pkg.test_gone.TestX", "name": "test_y"},
            "pkg/test_gone/TestX.py::test_y",
            None,
            id="unknown-module-falls-back-to-whole-classname",
        ),
        pytest.param(
            {
                "classname": "elsewhere.test_e.TestE",
                "name": "test_e",
                "file": "elsewhere/test_e.py",
                "line": "9",
            },
            "elsewhere/test_e.py::TestE::test_e",
            "elsewhere/test_e.py",
            id="file-attribute-preferred",
        ),
        pytest.param(
            {"classname": "elsewhere.test_e", "name": "test_e", "file": "elsewhere\\test_e.py"},
            "elsewhere/test_e.py::test_e",
            "elsewhere/test_e.py",
            id="file-attribute-with-backslashes",
        ),
        pytest.param(
            {
                "classname": "tests.sub.test_mod.TestChild",
                "name": "test_inherited",
                "file": "tests/conftest.py",
            },
            "tests/sub/test_mod.py::TestChild::test_inherited",
            "tests/sub/test_mod.py",
            id="inherited-test-file-attribute-ignored",
        ),
        pytest.param(
            {"classname": "docs.guide.txt", "name": "guide.txt", "file": "docs/guide.txt"},
            "docs/guide.txt::guide.txt",
            "docs/guide.txt",
            id="doctest-text-file",
        ),
    ],
)
def test_node_ids_are_mapped_back_from_classname_and_name(attrs, nodeid, path):
    """The dotted classname and name pytest writes map back to the node id and the test's file."""
    element = "<testcase" + "".join(f' {key}="{value}"' for key, value in attrs.items()) + "/>"
    [result] = parse_one(junit(element))
    assert (result.nodeid, result.path) == (nodeid, path)


@pytest.mark.parametrize(
    ("attrs", "line"),
    [
        pytest.param({"file": "tests/sub/test_mod.py", "line": "12"}, 13, id="zero-based-made-one-based"),
        pytest.param({"file": "tests/sub/test_mod.py", "line": "x"}, None, id="not-a-number"),
        pytest.param({"file": "tests/sub/test_mod.py"}, None, id="absent"),
        pytest.param({"line": "12"}, None, id="line-without-file"),
    ],
)
def test_line_attribute_of_passing_test(attrs, line):
    """An xunit1 ``line`` (0-based in pytest) becomes the test's 1-based line."""
    [result] = parse_one(junit(case(**attrs)))
    assert result.line == line


# --- outcomes -------------------------------------------------------------------------------------

TRACEBACK = "def test_a():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/sub/test_mod.py:20: AssertionError"


@pytest.mark.parametrize(
    ("inner", "outcome", "phase", "exception", "message"),
    [
        pytest.param("", Outcome.PASSED, Phase.CALL, None, None, id="passed"),
        pytest.param(
            f'<failure message="assert 1 == 2">{TRACEBACK}</failure>',
            Outcome.FAILED,
            Phase.CALL,
            "AssertionError",
            "assert 1 == 2",
            id="rewritten-assert-type-from-traceback",
        ),
        pytest.param(
            '<failure message="AssertionError: assert 0">tests/sub/test_mod.py:3: AssertionError</failure>',
            Outcome.FAILED,
            Phase.CALL,
            "AssertionError",
            "assert 0",
            id="type-prefix-taken-off",
        ),
        pytest.param(
            '<failure message="json.decoder.JSONDecodeError: Expecting value">x.py:3: JSONDecodeError</failure>',
            Outcome.FAILED,
            Phase.CALL,
            "JSONDecodeError",
            "Expecting value",
            id="qualified-prefix-taken-off",
        ),
        pytest.param(
            '<failure message="boom" type="java.lang.RuntimeException">trace</failure>',
            Outcome.FAILED,
            Phase.CALL,
            "java.lang.RuntimeException",
            "boom",
            id="type-attribute",
        ),
        pytest.param(
            '<failure message="OSError: disk" type="ValueError"/>',
            Outcome.FAILED,
            Phase.CALL,
            "ValueError",
            "OSError: disk",
            id="prefix-of-another-type-kept",
        ),
        pytest.param(
            '<failure message="ValueError: bad"/>',
            Outcome.FAILED,
            Phase.CALL,
            "ValueError",
            "bad",
            id="type-from-message-only",
        ),
        pytest.param(
            '<failure message="Failed: explicit">tests/sub/test_mod.py:47: Failed</failure>',
            Outcome.FAILED,
            Phase.CALL,
            "Failed",
            "explicit",
            id="pytest-fail",
        ),
        pytest.param(
            '<failure message="note: lower-case prefix"/>',
            Outcome.FAILED,
            Phase.CALL,
            None,
            "note: lower-case prefix",
            id="lower-case-prefix-is-no-type",
        ),
        pytest.param(
            '<failure message="ValueError:"/>',
            Outcome.FAILED,
            Phase.CALL,
            "ValueError",
            None,
            id="message-is-only-the-type",
        ),
        pytest.param("<failure/>", Outcome.FAILED, Phase.CALL, None, None, id="bare-failure"),
        pytest.param(
            '<failure message="[XPASS(strict)] strictly">[XPASS(strict)] strictly</failure>',
            Outcome.FAILED,
            Phase.CALL,
            None,
            "[XPASS(strict)] strictly",
            id="strict-xpass",
        ),
        pytest.param(
            '<error message="failed on setup with &quot;ValueError: fixture boom&quot;">x.py:5: ValueError</error>',
            Outcome.ERROR,
            Phase.SETUP,
            "ValueError",
            "fixture boom",
            id="setup-error",
        ),
        pytest.param(
            '<error message="failed on teardown with &quot;RuntimeError: gone&quot;">x.py:9: RuntimeError</error>',
            Outcome.ERROR,
            Phase.TEARDOWN,
            "RuntimeError",
            "gone",
            id="teardown-error",
        ),
        pytest.param(
            '<error message="collection failure">E   ModuleNotFoundError: nope</error>',
            Outcome.ERROR,
            Phase.CALL,
            None,
            "collection failure",
            id="collection-error",
        ),
        pytest.param(
            '<failure message="AssertionError: a"/><error message="failed on teardown with &quot;&quot;"/>',
            Outcome.FAILED,
            Phase.CALL,
            "AssertionError",
            "a",
            id="failure-wins-over-error",
        ),
        pytest.param(
            '<skipped type="pytest.skip" message="nope">/x/tests/sub/test_mod.py:32: nope</skipped>',
            Outcome.SKIPPED,
            Phase.CALL,
            None,
            "nope",
            id="skipped",
        ),
        pytest.param("<skipped/>", Outcome.SKIPPED, Phase.CALL, None, None, id="bare-skipped"),
        pytest.param(
            '<skipped type="pytest.xfail" message="known"/>',
            Outcome.XFAILED,
            Phase.CALL,
            None,
            "known",
            id="xfailed",
        ),
        pytest.param(
            '<skipped message="expected test failure"/>',
            Outcome.XFAILED,
            Phase.CALL,
            None,
            "expected test failure",
            id="xfailed-older-pytest",
        ),
        pytest.param(
            '<skipped message="xfail: flaky on py3.10"/>',
            Outcome.XFAILED,
            Phase.CALL,
            None,
            "xfail: flaky on py3.10",
            id="xfailed-message-prefix",
        ),
        pytest.param(
            '<skipped message="xfail-marked test passes unexpectedly"/>',
            Outcome.XPASSED,
            Phase.CALL,
            None,
            None,
            id="xpassed",
        ),
    ],
)
def test_outcome_phase_exception_and_message(inner, outcome, phase, exception, message):
    """Each JUnit result element reads as pytest's outcome, phase, exception type and message."""
    [result] = parse_one(junit(case(inner)))
    assert (result.outcome, result.phase, result.exception, result.message) == (
        outcome,
        phase,
        exception,
        message,
    )


@pytest.mark.parametrize(
    ("traceback", "path", "line"),
    [
        pytest.param(
            "tests/sub/test_mod.py:5: \n_ _ _\ntests/sub/test_mod.py:3: in helper\n"
            "/usr/lib/python3/json/decoder.py:353: JSONDecodeError",
            "tests/sub/test_mod.py",
            3,
            id="deepest-project-frame",
        ),
        pytest.param(
            "/usr/lib/python3/json/decoder.py:353: JSONDecodeError",
            "tests/sub/test_mod.py",
            None,
            id="no-project-frame",
        ),
    ],
)
def test_failure_location_is_the_deepest_project_frame(traceback, path, line):
    """A failure's path and line are the deepest traceback frame in the project, else the test file."""
    [result] = parse_one(junit(case(f"<failure>{traceback}</failure>")))
    assert (result.path, result.line) == (path, line)


@pytest.mark.parametrize(
    ("time", "duration"),
    [
        pytest.param('time="0.25"', 0.25, id="plain"),
        pytest.param('time="1,234.5"', 1234.5, id="thousands-separator"),
        pytest.param("", 0.0, id="absent"),
        pytest.param('time="soon"', 0.0, id="not-a-number"),
        pytest.param('time="-1"', 0.0, id="negative"),
        pytest.param('time="nan"', 0.0, id="nan"),
    ],
)
def test_duration_from_time_attribute(time, duration):
    """The ``time`` attribute is the duration; a missing or nonsensical one is 0."""
    [result] = parse_one(junit(f'<testcase classname="tests.sub.test_mod" name="t" {time}/>'))
    assert result.duration == duration


def test_output_joins_stdout_and_stderr_and_keeps_the_tail():
    """system-out and system-err are joined and trimmed to their last 2,000 characters."""
    out = "o" * 1500 + "OUT-END"
    err = "e" * 1500 + "ERR-END"
    [result] = parse_one(junit(case(f"<system-out>{out}</system-out><system-err>{err}</system-err>")))
    assert result.output is not None
    assert len(result.output) == 2000
    assert result.output.startswith("…")
    assert result.output.endswith("\n" + err)


def test_long_traceback_and_message_keep_their_tails():
    """Tracebacks keep their last 4,000 characters and messages their last 1,000."""
    traceback = "t" * 5000 + "\ntests/sub/test_mod.py:7: KeyError"
    message = "m" * 3000 + "END"
    [result] = parse_one(junit(case(f'<failure message="{message}">{traceback}</failure>')))
    assert result.traceback is not None
    assert result.message is not None
    assert (len(result.traceback), len(result.message)) == (4000, 1000)
    assert result.traceback.endswith("tests/sub/test_mod.py:7: KeyError")
    assert result.message.endswith("END")
    assert (result.exception, result.line) == ("KeyError", 7)


# --- documents ------------------------------------------------------------------------------------


def test_bare_testsuite_root_is_read():
    """A document whose root is <testsuite> (no <testsuites>) is read."""
    [result] = parse_one(junit(case(), root="testsuite"))
    assert result.nodeid == "tests/sub/test_mod.py::test_a"


def test_nested_suites_keep_document_order():
    """Testcases of nested suites come out in document order, not suite by suite."""
    text = (
        "<testsuites><testsuite name='outer'>"
        f"<testsuite name='inner'>{case(name='test_first')}</testsuite>"
        f"{case(name='test_second')}"
        f"<testsuite name='inner2'><testsuite name='deep'>{case(name='test_third')}</testsuite></testsuite>"
        "</testsuite></testsuites>"
    )
    names = [result.nodeid.rsplit("::", 1)[1] for result in parse_one(text)]
    assert names == ["test_first", "test_second", "test_third"]


def test_documents_are_concatenated_in_the_given_order():
    """Several documents give their results one after the other, in the order passed."""
    documents = [
        ("b.xml", junit(case(name="test_b"))),
        ("empty.xml", junit()),
        ("a.xml", junit(case(name="test_a"), root="testsuite")),
    ]
    names = [result.nodeid.rsplit("::", 1)[1] for result in parse_junit(documents, FILES)]
    assert names == ["test_b", "test_a"]


def test_call_failure_and_teardown_error_are_one_result():
    """The two testcases pytest writes for a call failure and a teardown error are one failed result."""
    failure = case('<failure message="assert False">x</failure>', name="test_td", time="0.5")
    teardown = case(
        '<error message="failed on teardown with &quot;RuntimeError: td&quot;">y</error>',
        name="test_td",
        time="0.25",
    )
    [result] = parse_one(junit(failure, teardown))
    assert (result.outcome, result.phase, result.message, result.duration) == (
        Outcome.FAILED,
        Phase.CALL,
        "assert False",
        0.75,
    )


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(case(name="test_same"), id="repeated-pass"),
        pytest.param(
            case('<error message="failed on teardown with &quot;x&quot;"/>', name="test_same"),
            id="teardown-error-after-a-pass",
        ),
    ],
)
def test_other_repeated_testcases_stay_separate(second):
    """A repeated testcase that is not a failure's teardown record stays a result of its own."""
    results = parse_one(junit(case(name="test_same"), second))
    assert [result.nodeid for result in results] == ["tests/sub/test_mod.py::test_same"] * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("  \n\t", "is empty", id="whitespace"),
        pytest.param("hello, not xml", "is not well-formed XML", id="not-xml"),
        pytest.param("<testsuites><testsuite name='x'><testcase", "is not well-formed XML", id="truncated"),
        pytest.param("<testsuites>&undefined;</testsuites>", "is not well-formed XML", id="undeclared-entity"),
        pytest.param(
            '<?xml version="1.0"?>\n<!-- c --><html><body/></html>',
            "is XML but not JUnit: its root is <html>, not <testsuites> or <testsuite>",
            id="not-junit",
        ),
        pytest.param("<results/>", "its root is <results>", id="empty-element-not-junit"),
        pytest.param("<!DOCTYPE testsuites><testsuites/>", "declares a DOCTYPE", id="plain-doctype"),
        pytest.param(
            '<?xml version="1.0"?>\n<?pi data?>\n<!-- a -->\n<!DOCTYPE t [<!ENTITY a "b">]><t>&a;</t>',
            "declares a DOCTYPE",
            id="doctype-after-pi-and-comment",
        ),
        pytest.param("\ufeff<!DOCTYPE t><t/>", "declares a DOCTYPE", id="doctype-after-bom"),
    ],
)
def test_bad_input_is_a_config_error_naming_the_file(text, expected):
    """Empty, malformed, non-JUnit or DTD-carrying text is a ConfigError naming the file."""
    with pytest.raises(ConfigError) as raised:
        parse_one(text)
    message = str(raised.value)
    assert expected in message
    assert message.startswith("--junit file 'report.xml' ")
    assert message.endswith("pass the file pytest wrote with --junitxml")


@pytest.mark.parametrize(
    ("documents", "names"),
    [
        pytest.param([("a.xml", junit()), ("b.xml", "<testsuite/>")], "'a.xml', 'b.xml'", id="two-empty-suites"),
        pytest.param([], "(none)", id="no-documents"),
    ],
)
def test_no_testcase_in_any_document_is_a_config_error(documents, names):
    """Documents that hold no testcase at all are a ConfigError naming every file."""
    with pytest.raises(ConfigError, match="hold no <testcase> at all") as raised:
        parse_junit(documents, FILES)
    assert names in str(raised.value)


def test_external_entity_is_never_read(tmp_path):
    """A document whose entity points at a local file is refused, and the file's text appears nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    text = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE testsuites [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>\n'
        '<testsuites><testsuite><testcase classname="t" name="x">'
        "<failure message='&leak;'>&leak;</failure></testcase></testsuite></testsuites>"
    )
    with pytest.raises(ConfigError, match="declares a DOCTYPE") as raised:
        parse_one(text)
    assert "TOP-SECRET-CONTENT" not in str(raised.value)


def test_billion_laughs_is_refused_unexpanded():
    """The billion-laughs document is refused before any entity is expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10)
    ]
    text = (
        f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{"".join(entities)}]>\n'
        '<testsuites><testsuite><testcase classname="t" name="&lol9;"/></testsuite></testsuites>'
    )
    with pytest.raises(ConfigError, match="declares a DOCTYPE") as raised:
        parse_one(text)
    assert "lollol" not in str(raised.value)


# --- XML written by a real pytest run -------------------------------------------------------------

REAL_SUITE = """
import pytest


@pytest.fixture
def broken():
    raise ValueError("fixture boom")


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown boom")


class TestClass:
    class TestInner:
        @pytest.mark.parametrize("x", [1.5, "a.b", "c::d", "e[f]", "g h"])
        def test_x(self, x):
            print("value", x)
            assert x != "c::d"


def test_fail():
    assert 1 == 2


def test_error(broken):
    pass


def test_fail_then_teardown_error(bad_teardown):
    raise KeyError("k")


def test_skip():
    pytest.skip("not here")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="fixed already")
def test_xpass():
    pass


@pytest.mark.xfail(reason="must fail", strict=True)
def test_xpass_strict():
    pass
"""

REAL_OUTCOMES = {
    "tests/sub.dir/test_real.py::TestClass::TestInner::test_x[1.5]": (Outcome.PASSED, None),
    "tests/sub.dir/test_real.py::TestClass::TestInner::test_x[a.b]": (Outcome.PASSED, None),
    "tests/sub.dir/test_real.py::TestClass::TestInner::test_x[c::d]": (Outcome.FAILED, "AssertionError"),
    "tests/sub.dir/test_real.py::TestClass::TestInner::test_x[e[f]]": (Outcome.PASSED, None),
    "tests/sub.dir/test_real.py::TestClass::TestInner::test_x[g h]": (Outcome.PASSED, None),
    "tests/sub.dir/test_real.py::test_fail": (Outcome.FAILED, "AssertionError"),
    "tests/sub.dir/test_real.py::test_error": (Outcome.ERROR, "ValueError"),
    "tests/sub.dir/test_real.py::test_fail_then_teardown_error": (Outcome.FAILED, "KeyError"),
    "tests/sub.dir/test_real.py::test_skip": (Outcome.SKIPPED, None),
    "tests/sub.dir/test_real.py::test_xfail": (Outcome.XFAILED, None),
    "tests/sub.dir/test_real.py::test_xpass": (
        Outcome.PASSED,
        None,
    ),  # pytest writes a non-strict XPASS as a pass
    "tests/sub.dir/test_real.py::test_xpass_strict": (Outcome.FAILED, None),
}


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` with only its built-in plugins, so installed ones cannot change the XML."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def real_project(tmp_path):
    """Write a tiny suite in a directory whose name has a dot, with its own pytest.ini as rootdir."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    module = tmp_path / "tests" / "sub.dir" / "test_real.py"
    module.parent.mkdir(parents=True)
    module.write_text(textwrap.dedent(REAL_SUITE), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_real_pytest_junit_maps_to_the_node_ids_pytest_collects(real_project, family):
    """JUnit XML from a real pytest run reads back to pytest's own node ids, in order, with its outcomes."""
    collected = run_pytest(real_project, "--collect-only", "-q")
    nodeids = [line for line in collected.stdout.splitlines() if "::" in line]
    ran = run_pytest(real_project, "--junitxml=out.xml", "-o", f"junit_family={family}", "-o", "junit_logging=all")
    assert ran.returncode == 1, ran.stdout + ran.stderr  # tests failed; pytest itself did not
    xml = (real_project / "out.xml").read_text(encoding="utf-8")

    results = parse_junit([("out.xml", xml)], frozenset({"tests/sub.dir/test_real.py"}))

    assert nodeids == list(REAL_OUTCOMES)
    assert [result.nodeid for result in results] == nodeids
    assert {result.nodeid: (result.outcome, result.exception) for result in results} == REAL_OUTCOMES
    by_id = {result.nodeid: result for result in results}
    error = by_id["tests/sub.dir/test_real.py::test_error"]
    assert (error.phase, error.message, error.path, error.line) == (
        Phase.SETUP,
        "fixture boom",
        "tests/sub.dir/test_real.py",
        7,
    )
    failed = by_id["tests/sub.dir/test_real.py::TestClass::TestInner::test_x[c::d]"]
    assert failed.output is not None
    assert "value c::d" in failed.output
    assert failed.message == "assert 'c::d' != 'c::d'"


def test_real_pytest_collection_error_is_an_error_on_the_module(tmp_path):
    """A module that fails to import reads back as an error whose node id is the module's path."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_broken.py").write_text("import no_such_module_here\n", encoding="utf-8")
    ran = run_pytest(tmp_path, "--junitxml=out.xml")
    assert ran.returncode == 2, ran.stdout + ran.stderr  # interrupted by the collection error

    [result] = parse_junit(
        [("out.xml", (tmp_path / "out.xml").read_text(encoding="utf-8"))], frozenset({"tests/test_broken.py"})
    )

    assert (result.nodeid, result.outcome, result.message) == (
        "tests/test_broken.py",
        Outcome.ERROR,
        "collection failure",
    )
    assert result.traceback is not None
    assert "no_such_module_here" in result.traceback


# --- rendering ------------------------------------------------------------------------------------

FAILING = "tests/sub/test_mod.py::TestClass::test_x[1.5-a.b]"
INTERMITTENT = "tests/sub/test_mod.py::test_sometimes"
LATENT = "tests/sub/test_mod.py::test_latent"
SETUP_ERROR = "tests/sub.dir/test_dotted.py::test_fixture"

ORIGINAL = [
    TestResult(
        nodeid=FAILING,
        outcome=Outcome.FAILED,
        duration=0.5,
        exception="AssertionError",
        message="assert 'x' == \"y\"\n  - y\n  + x",
        path="tests/sub/test_mod.py",
        line=20,
        traceback="def test_x():\n>       assert x == y\n\ntests/sub/test_mod.py:20: AssertionError",
        output="captured <stdout> & more",
    ),
    TestResult(
        nodeid=INTERMITTENT,
        outcome=Outcome.FAILED,
        duration=0.125,
        exception="TimeoutError",
        message="took too long",
        path="tests/sub/test_mod.py",
        line=31,
        traceback="tests/sub/test_mod.py:31: TimeoutError",
    ),
    TestResult(nodeid=LATENT, outcome=Outcome.PASSED, duration=0.25, path="tests/sub/test_mod.py"),
    TestResult(
        nodeid=SETUP_ERROR,
        outcome=Outcome.ERROR,
        phase=Phase.SETUP,
        exception="ValueError",
        message="fixture boom",
        path="tests/sub.dir/test_dotted.py",
        line=4,
        traceback="tests/sub.dir/test_dotted.py:4: ValueError",
    ),
    TestResult(
        nodeid="tests/test_broken.py",
        outcome=Outcome.ERROR,
        message="collection failure",
        path="tests/test_broken.py",
    ),
    TestResult(nodeid="test_root.py::test_skip", outcome=Outcome.SKIPPED, message="not here", path="test_root.py"),
    TestResult(nodeid="test_root.py::test_xfail", outcome=Outcome.XFAILED, message="known", path="test_root.py"),
    TestResult(nodeid="test_root.py::test_xpass", outcome=Outcome.XPASSED, path="test_root.py"),
    TestResult(nodeid="test_root.py::test_bare_failure", outcome=Outcome.FAILED, path="test_root.py"),
    TestResult(
        nodeid="test_root.py::test_teardown",
        outcome=Outcome.ERROR,
        phase=Phase.TEARDOWN,
        path="test_root.py",
        traceback="E   OSError",
    ),
]


def classified(nodeid: str, kind: FailureKind, outcome: Outcome, rate: FailureRate | None = None):
    """Make a ClassifiedFailure with only what render_junit reads."""
    return ClassifiedFailure(
        nodeid=nodeid,
        classification=kind,
        original=Original(outcome=outcome),
        evidence=Evidence(),
        failure_rate=rate,
        reproduce=f"flakehound run -- '{nodeid}'",
    )


def run(run_id: int, purpose: RunPurpose, outcomes: dict[str, Outcome], seed: int | None = None) -> RunRecord:
    """Make a RunRecord of a rerun with the given outcomes."""
    return RunRecord(
        id=run_id,
        purpose=purpose,
        seed=seed,
        tests=len(outcomes),
        outcomes=outcomes,
        duration=1.0,
        ended=RunEnd.COMPLETED,
    )


def make_report(failures=(), latent=(), runs=()) -> Report:
    """Make a Report with only what render_junit reads."""
    return Report(
        tool=Tool(version="0.1.0"),
        created_at="2026-01-01T00:00:00+00:00",
        command=("flakehound", "run"),
        settings=ReportSettings(
            seed=1,
            reruns=3,
            replays=1,
            orders=2,
            max_failures=10,
            min_pass_rate=100.0,
            timeout=60.0,
            cwd="/p",
        ),
        summary=Summary(),
        failures=tuple(failures),
        latent=tuple(latent),
        runs=tuple(runs),
        gate=GateResult(passed=False),
    )


REPORT = make_report(
    failures=[
        classified(FAILING, FailureKind.DETERMINISTIC, Outcome.FAILED),
        classified(
            INTERMITTENT,
            FailureKind.INTERMITTENT,
            Outcome.FAILED,
            FailureRate(estimate=0.5, low=0.15, high=0.85, runs=4, failures=2),
        ),
    ],
    latent=[classified(LATENT, FailureKind.ORDER_DEPENDENT, Outcome.PASSED)],
    runs=[
        run(
            0,
            RunPurpose.ORIGINAL,
            {FAILING: Outcome.FAILED, INTERMITTENT: Outcome.FAILED, LATENT: Outcome.PASSED},
        ),
        run(1, RunPurpose.ALONE, {FAILING: Outcome.FAILED, INTERMITTENT: Outcome.PASSED}),
        run(2, RunPurpose.ALONE, {FAILING: Outcome.ERROR, INTERMITTENT: Outcome.FAILED}),
        run(3, RunPurpose.PERMUTED, {FAILING: Outcome.FAILED, LATENT: Outcome.FAILED}, seed=1234),
        run(4, RunPurpose.PERMUTED, {LATENT: Outcome.PASSED, INTERMITTENT: Outcome.PASSED}, seed=99),
        run(5, RunPurpose.REVERSED, {LATENT: Outcome.ERROR}),
    ],
)


def rendered_case(name: str) -> dict:
    """Find the testcase ``name`` in the rendered report; return its children and properties."""
    root = ET.fromstring(render_junit(ORIGINAL, REPORT))  # noqa: S314 - our own output
    for element in root.iter("testcase"):
        if element.get("name") == name:
            properties = {prop.get("name"): prop.get("value") for prop in element.iter("property")}
            children = [(child.tag, child.get("message"), child.get("type")) for child in element]
            return {"children": children, "properties": properties}
    raise AssertionError(name)


def test_failing_test_keeps_its_failure_and_adds_a_rerun_element_per_failed_rerun():
    """A test that failed originally keeps <failure>; each failed rerun adds rerunFailure/rerunError."""
    rendered = rendered_case("test_x[1.5-a.b]")
    assert rendered["children"] == [
        ("properties", None, None),
        ("failure", "assert 'x' == \"y\"\n  - y\n  + x", "AssertionError"),
        ("rerunFailure", "alone run 1: failed", "failed"),
        ("rerunError", "alone run 2: error", "error"),
        ("rerunFailure", "permuted run 3 with seed 1234: failed", "failed"),
        ("system-out", None, None),
    ]
    assert rendered["properties"] == {
        "flakehound.classification": "deterministic",
        "flakehound.reproduce": f"flakehound run -- '{FAILING}'",
        "flakehound.reruns": "3",
        "flakehound.rerun_failures": "3",
    }


def test_intermittent_test_carries_its_failure_rate_and_counts_passing_reruns():
    """An intermittent test's properties hold its failure rate; passing reruns are only counted."""
    rendered = rendered_case("test_sometimes")
    assert [tag for tag, _, _ in rendered["children"]] == ["properties", "failure", "rerunFailure"]
    assert rendered["properties"] == {
        "flakehound.classification": "intermittent",
        "flakehound.reproduce": f"flakehound run -- '{INTERMITTENT}'",
        "flakehound.reruns": "3",
        "flakehound.rerun_failures": "1",
        "flakehound.failure_rate": "0.5000",
        "flakehound.failure_rate_low": "0.1500",
        "flakehound.failure_rate_high": "0.8500",
    }


def test_latent_test_stays_a_pass_with_flaky_elements():
    """A test that passed originally but failed on reruns stays a pass, with flakyFailure/flakyError."""
    rendered = rendered_case("test_latent")
    assert rendered["children"] == [
        ("properties", None, None),
        ("flakyFailure", "permuted run 3 with seed 1234: failed", "failed"),
        ("flakyError", "reversed run 5: error", "error"),
    ]
    assert rendered["properties"]["flakehound.classification"] == "order-dependent"


def test_tests_not_investigated_have_no_properties_or_reruns():
    """A test flakehound did not investigate is written as pytest would, with no extra elements."""
    assert rendered_case("test_xfail")["children"] == [("skipped", "known", "pytest.xfail")]


def test_rendered_counts_agree_with_junitparser():
    """The suite's tests/failures/errors/skipped counts are the ones junitparser computes."""
    xml = JUnitXml.fromstring(render_junit(ORIGINAL, REPORT))
    written = [(suite.tests, suite.failures, suite.errors, suite.skipped) for suite in xml]
    xml.update_statistics()
    assert written == [(suite.tests, suite.failures, suite.errors, suite.skipped) for suite in xml]
    assert written == [(10, 3, 3, 3)]
    assert (xml.tests, xml.time) == (10, 0.875)


def test_rendered_xml_reads_back_to_the_original_results():
    """render_junit's output parses back to the very results it was made from."""
    assert parse_junit([("out.xml", render_junit(ORIGINAL, REPORT))], FILES) == ORIGINAL


def test_rendered_node_ids_survive_without_project_files():
    """The ``file`` attribute carries the module, so node ids read back even without project files."""
    results = parse_junit([("out.xml", render_junit(ORIGINAL, REPORT))], frozenset())
    assert [result.nodeid for result in results] == [result.nodeid for result in ORIGINAL]


def test_characters_xml_cannot_carry_are_escaped_as_pytest_does():
    """Control characters in output become #xNN instead of breaking the XML."""
    result = TestResult(nodeid="test_root.py::test_c", outcome=Outcome.PASSED, output="\x1b[31mred\x00")
    [read] = parse_junit([("out.xml", render_junit([result], make_report()))], FILES)
    assert read.output == "#x1B[31mred#x00"


@given(
    param=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
        max_size=30,
    )
)
def test_any_parametrize_id_survives_the_round_trip(param):
    """Whatever a parametrize id holds (dots, brackets, '::', spaces), the node id reads back unchanged."""
    nodeid = f"tests/sub/test_mod.py::TestClass::test_x[{param}]"
    [read] = parse_junit(
        [("out.xml", render_junit([TestResult(nodeid=nodeid, outcome=Outcome.PASSED)], make_report()))], FILES
    )
    assert read.nodeid == nodeid
