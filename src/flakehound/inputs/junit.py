"""PURE. JUnit XML in and out: pytest's ``--junitxml`` files to ``TestResult`` and back.

Reading: ``parse_junit``
========================

One ``TestResult`` per ``<testcase>``, in document order across the documents given (the "original
order"), whether the root is ``<testsuites>`` or a bare ``<testsuite>`` and however deeply suites
nest. pytest writes a test that fails in its call and again in its teardown as two ``<testcase>``
elements with the same name (a JUnit testcase may not hold both ``<failure>`` and ``<error>``); the
second is folded into the first, which keeps the call failure, as flakehound's own plugin does.

Node ids. pytest's ``mangle_test_address`` turns ``tests/sub/test_mod.py::TestA::TestB::test_x[1.5-a.b]``
into ``classname="tests.sub.test_mod.TestA.TestB"`` and ``name="test_x[1.5-a.b]"``: the part before
the first ``[`` is split on ``::``, the file's ``/`` become ``.`` and ``.py`` is dropped, and the
parametrize id is left alone. We undo that:

1. if the testcase has a ``file`` attribute (``junit_family=xunit1``) whose dotted form starts
   ``classname``, that file is the module and the rest of ``classname`` are class names. A ``file``
   that does not fit is ignored: pytest writes where the function is *defined*, which for an
   inherited test method is the base class's module;
2. otherwise the longest dotted prefix of ``classname`` that names a file in ``project_files`` is
   the module (``tests.sub.test_mod`` -> ``tests/sub/test_mod.py``; a directory with a dot in its
   name works too, because the files are indexed by their dotted form) and the rest are class names,
   nested classes included;
3. otherwise the whole ``classname`` is taken as the module path (``a.b`` -> ``a/b.py``). That is a
   guess, and the result says so: its ``path`` is None, where a mapped test has its file there.

``name`` is appended unchanged, so parametrize ids with dots, brackets, spaces or ``::`` survive. A
testcase with an empty ``classname`` is pytest's record of a module that failed to collect (or was
skipped at collection): its ``name`` is the dotted module path, and its node id is the file path.

Outcomes. ``<failure>`` is ``failed`` in the call phase (a strict XPASS is a ``<failure>`` whose
message starts ``[XPASS(strict)]``, and pytest counts it failed too). ``<error>`` is ``error``;
pytest words its message ``failed on setup with "<reason>"`` (or teardown), which gives the phase
and the message. ``<skipped type="pytest.xfail">`` (or a message starting ``xfail`` or ``expected
test failure``, older pytest) is ``xfailed``; ``<skipped message="xfail-marked test passes
unexpectedly">`` is ``xpassed``; any other ``<skipped>`` is ``skipped``. A non-strict XPASS is
written by pytest as a plain pass, so it reads as ``passed``. The exception type is the ``type``
attribute, else the type pytest prints on the traceback's last line (``tests/t.py:3: KeyError``),
else a ``Type:`` prefix of the message; that prefix is then taken off the message. ``path`` and
``line`` are the deepest traceback location inside the project (as flakehound's plugin reports
them), else the test's file and, from an xunit1 ``line`` attribute (0-based in pytest), its line.
Tracebacks keep their last 4,000 characters, ``system-out`` plus ``system-err`` their last 2,000.

Untrusted input. The text is refused if it declares a DOCTYPE; see ``_strip_prolog`` for why.

Writing: ``render_junit``
=========================

The original run as JUnit XML, with every investigated test (``report.failures`` and
``report.latent``) carrying its reruns the way Maven Surefire's ``rerunFailingTestsCount`` does
(surefire-test-report XSD: ``rerunFailure``/``rerunError`` and ``flakyFailure``/``flakyError``, each
with ``message``, ``type`` and a ``stackTrace`` child). Surefire writes ``flaky*`` only for a test
whose verdict is a pass (it passed on a rerun, so consumers count it green), and ``rerun*`` next to
the first ``<failure>``/``<error>`` of a test that stays failed. flakehound never turns a red test
green, so:

* a test that failed in the original run keeps its ``<failure>``/``<error>``; each failed rerun adds
  a ``<rerunFailure>`` (``<rerunError>`` for an error). Passing reruns have no element in Surefire's
  vocabulary for a failing test; they are counted in the properties;
* a latent test (it passed in the original run and failed on a rerun) stays a pass; each failed
  rerun adds a ``<flakyFailure>`` (``<flakyError>``), which is exactly Surefire's "passed, but
  flaky" record.

Each rerun element's ``message`` names the run (purpose, id, seed); its ``type`` is the rerun's
outcome, because the report keeps no exception per rerun, and its ``stackTrace`` is empty for the
same reason. Investigated testcases also get ``<properties>``: ``flakehound.classification``,
``flakehound.reproduce``, ``flakehound.reruns``, ``flakehound.rerun_failures`` and, when the report
has one, ``flakehound.failure_rate`` with ``_low``/``_high`` (the 95% interval). Reruns are the
``report.runs`` whose outcomes name the test, except the original run. The output reads back
through ``parse_junit`` to the same node ids, outcomes, phases, exceptions, messages, tracebacks and
output.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, cast

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestCase

from flakehound.errors import ConfigError
from flakehound.models import Outcome, Phase, RunPurpose, TestResult

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from flakehound.models import ClassifiedFailure, Report, RunRecord

__all__ = ["parse_junit", "render_junit"]

TRACEBACK_LIMIT = 4000
OUTPUT_LIMIT = 2000
MESSAGE_LIMIT = 1000

_ADVICE = "pass the file pytest wrote with --junitxml"
_DECLARATION = re.compile(r"<\?xml\s.*?\?>", re.DOTALL)
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_WRAPPED_ERROR = re.compile(r'failed on (?P<phase>setup|teardown) with "(?P<reason>.*)"', re.DOTALL)
_TYPE_PREFIX = re.compile(r"(?P<type>[A-Za-z_][\w.]*):(?:\s+|$)")
_TRACEBACK_TYPE = re.compile(r"\S[^\n]*:\d+: (?P<type>[A-Za-z_][\w.]*)")
_LOCATION = re.compile(r"^(?P<path>[^\s:][^:\n]*):(?P<line>\d+):", re.MULTILINE)
_XPASS_MESSAGE = "xfail-marked test passes unexpectedly"
_XFAIL_MESSAGES = ("xfail", "expected test failure")
# XML 1.0 forbids these characters even escaped; pytest's bin_xml_escape writes them as #xNN.
_ILLEGAL_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def parse_junit(documents: Sequence[tuple[str, str]], project_files: frozenset[str]) -> list[TestResult]:
    """Read every testcase of the (display name, XML text) documents, in document order.

    ``project_files`` holds the POSIX paths, relative to the rootdir, of the project's ``.py`` files;
    it turns pytest's dotted ``classname`` back into a node id (see the module docstring).
    """
    modules = _index_modules(project_files)
    results: list[TestResult] = []
    for name, text in documents:
        results.extend(_read_document(_load_document(name, text), modules))
    if not results:
        names = ", ".join(repr(name) for name, _ in documents) or "(none)"
        msg = f"--junit files {names} hold no <testcase> at all; {_ADVICE} after a run that collected tests"
        raise ConfigError(msg)
    return results


def _strip_prolog(name: str, text: str) -> tuple[str, int]:
    """Drop the XML declaration and refuse a DOCTYPE; return the text and where its root starts.

    junitparser parses with lxml when lxml happens to be importable and with the standard library
    otherwise, and exposes no parser options. lxml before 5.0 resolves external entities (it reads
    ``file:`` URLs) and expat's guard against entity expansion ("billion laughs") depends on the
    expat version the interpreter was built with, so junitparser alone cannot promise either
    defence. Entities can only be declared inside a DOCTYPE, and JUnit XML never needs one (pytest,
    Surefire and the JUnit schemas write none), so a document that declares a DOCTYPE is refused
    before any parser sees it: whatever parser junitparser picks, there is nothing to expand or
    fetch. That makes defusedxml unnecessary. The declaration is dropped because the text is
    already decoded and lxml refuses a ``str`` that names an encoding.
    """
    text = text.removeprefix("\ufeff")
    declaration = _DECLARATION.match(text)
    if declaration is not None:
        text = text[declaration.end() :]
    position = 0
    while (item := _PROLOG_ITEM.match(text, position)) is not None:
        position = item.end()
    if text.startswith("<!DOCTYPE", position):
        msg = (
            f"--junit file {name!r} declares a DOCTYPE, which JUnit XML never has and which could expand"
            f" entities or read local files; {_ADVICE}"
        )
        raise ConfigError(msg)
    return text, position


def _load_document(name: str, text: str) -> JUnitXml:
    if not text.strip():
        msg = f"--junit file {name!r} is empty; {_ADVICE}"
        raise ConfigError(msg)
    body, root_at = _strip_prolog(name, text)
    try:
        return JUnitXml.fromstring(body)
    except SyntaxError as exc:  # the standard library's ParseError and lxml's XMLSyntaxError both are
        msg = f"--junit file {name!r} is not well-formed XML ({exc}); {_ADVICE}"
        raise ConfigError(msg) from exc
    except JUnitXmlError as exc:
        root_tag = re.split(r"[\s/>]", body[root_at + 1 :], maxsplit=1)[0]  # parsed: body[root_at] is "<"
        msg = (
            f"--junit file {name!r} is XML but not JUnit: its root is <{root_tag}>,"
            f" not <testsuites> or <testsuite>; {_ADVICE}"
        )
        raise ConfigError(msg) from exc


def _read_document(xml: JUnitXml, modules: Mapping[str, str]) -> list[TestResult]:
    results: list[TestResult] = []
    first_index: dict[str, int] = {}
    for attributes, case in _testcases(xml):
        result = _read_case(attributes, case, modules)
        earlier = first_index.get(result.nodeid)
        if earlier is not None and result.phase is Phase.TEARDOWN and results[earlier].outcome.is_failure:
            # pytest's second testcase for a call failure plus a teardown error: one test, one result.
            kept = results[earlier]
            results[earlier] = kept.model_copy(update={"duration": kept.duration + result.duration})
            continue
        first_index.setdefault(result.nodeid, len(results))
        results.append(result)
    return results


def _testcases(xml: JUnitXml) -> Iterator[tuple[Mapping[str, str], TestCase]]:
    """Yield each ``<testcase>`` at any depth in document order, with its attributes.

    junitparser's own iteration lists a suite's cases before its nested suites' cases, which is not
    document order, so the walk goes over the element tree junitparser parsed.
    """
    for elem in xml._elem.iter("testcase"):  # noqa: SLF001 - junitparser has no document-order walk
        case = TestCase.fromelem(elem)  # type: ignore[no-untyped-call]  # junitparser leaves it unannotated
        yield cast("Mapping[str, str]", elem.attrib), cast("TestCase", case)


def _read_case(attributes: Mapping[str, str], case: TestCase, modules: Mapping[str, str]) -> TestResult:
    nodeid, test_path, test_line = _locate_test(attributes, modules)
    outcome, entry = _decide_outcome(case)
    phase = Phase.CALL
    fields: dict[str, Any] = {"path": test_path, "line": test_line}
    if entry is not None and outcome.is_failure:
        fields.update(_describe_failure(outcome, entry, modules))
        phase = fields.pop("phase")
    elif entry is not None and outcome is not Outcome.XPASSED:
        fields["message"] = _trim_tail(_text_or_none(entry.message), MESSAGE_LIMIT)
    streams = (_text_or_none(case.system_out), _text_or_none(case.system_err))
    output = "\n".join(text for text in streams if text)
    return TestResult(
        nodeid=nodeid,
        outcome=outcome,
        phase=phase,
        duration=_parse_duration(attributes.get("time")),
        output=_trim_tail(output, OUTPUT_LIMIT),
        **fields,
    )


def _decide_outcome(case: TestCase) -> tuple[Outcome, Any]:
    """Return the outcome and the element that decided it (None for a pass)."""
    entries = list(case.result)
    for kind in (Failure, Error, Skipped):
        entry = next((entry for entry in entries if isinstance(entry, kind)), None)
        if entry is not None:
            break
    else:
        return Outcome.PASSED, None
    if isinstance(entry, Failure):
        return Outcome.FAILED, entry
    if isinstance(entry, Error):
        return Outcome.ERROR, entry
    message = _text_or_none(entry.message) or ""
    if message == _XPASS_MESSAGE:
        return Outcome.XPASSED, entry
    if entry.type == "pytest.xfail" or message.startswith(_XFAIL_MESSAGES):
        return Outcome.XFAILED, entry
    return Outcome.SKIPPED, entry


def _describe_failure(outcome: Outcome, entry: Any, modules: Mapping[str, str]) -> dict[str, Any]:  # noqa: ANN401 - junitparser's result types are unannotated
    message = _text_or_none(entry.message)
    phase = Phase.CALL
    wrapped = _WRAPPED_ERROR.fullmatch(message or "") if outcome is Outcome.ERROR else None
    if wrapped is not None:
        phase, message = Phase(wrapped["phase"]), wrapped["reason"]
    traceback = _text_or_none(entry.text) or ""
    exception = _text_or_none(entry.type) or _type_from_traceback(traceback) or _type_from_message(message)
    fields: dict[str, Any] = {
        "phase": phase,
        "exception": exception,
        "message": _trim_tail(_strip_type(message, exception), MESSAGE_LIMIT),
        "traceback": _trim_tail(traceback, TRACEBACK_LIMIT),
    }
    location = _failure_location(traceback, modules)
    if location is not None:
        fields["path"], fields["line"] = location
    return fields


def _type_from_traceback(traceback: str) -> str | None:
    """Read the type from the last line of pytest's long traceback: ``path:line: ExceptionType``."""
    lines = traceback.rstrip().splitlines()
    match = _TRACEBACK_TYPE.fullmatch(lines[-1]) if lines else None
    return match["type"] if match is not None else None


def _type_from_message(message: str | None) -> str | None:
    """Read a ``Type: text`` prefix whose last dotted part is a class name (starts upper-case)."""
    match = _TYPE_PREFIX.match(message or "")
    if match is None or not match["type"].rsplit(".", 1)[-1][:1].isupper():
        return None
    return match["type"]


def _strip_type(message: str | None, exception: str | None) -> str | None:
    """Take off a ``Type:`` prefix that names the exception (qualified or not)."""
    match = _TYPE_PREFIX.match(message or "")
    if message is None or match is None or exception is None:
        return message or None
    short = exception.rsplit(".", 1)[-1]
    prefix = match["type"]
    if prefix in {exception, short} or prefix.endswith("." + short):
        return message[match.end() :] or None
    return message


def _failure_location(traceback: str, modules: Mapping[str, str]) -> tuple[str, int] | None:
    """Find the deepest ``path:line:`` of the traceback that is a project file."""
    project_paths = set(modules.values())
    found = None
    for match in _LOCATION.finditer(traceback):
        if match["path"] in project_paths:
            found = (match["path"], int(match["line"]))
    return found


def _index_modules(project_files: frozenset[str]) -> dict[str, str]:
    """Map each ``.py`` file's dotted module path to the file (the first path wins a clash)."""
    modules: dict[str, str] = {}
    for path in sorted(project_files):
        if path.endswith(".py"):
            modules.setdefault(path.removesuffix(".py").replace("/", "."), path)
    return modules


def _locate_test(attributes: Mapping[str, str], modules: Mapping[str, str]) -> tuple[str, str | None, int | None]:
    """Return the node id, the test's file (None when guessed) and its 1-based line if known."""
    classname = attributes.get("classname", "")
    name = attributes.get("name", "")
    if not classname:  # pytest's record of a module that failed (or was skipped) at collection
        classname, name = name, ""
    file = attributes.get("file", "").replace("\\", "/")
    dotted = re.sub(r"\.py$", "", file).replace("/", ".")  # pytest's own mangling of the file
    line = None
    if file and (classname == dotted or classname.startswith(dotted + ".")):
        path: str | None = file
        classes = classname[len(dotted) + 1 :].split(".")
        line = _parse_line(attributes.get("line"))
    else:
        path, classes = _split_classname(classname, modules)
    module = path if path is not None else classname.replace(".", "/") + ".py"
    parts = [module, *(part for part in classes if part), *((name,) if name else ())]
    return "::".join(parts), path, line


def _split_classname(classname: str, modules: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """Find the longest dotted prefix of ``classname`` that is a module; return it and the classes."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        module = modules.get(".".join(parts[:cut]))
        if module is not None:
            return module, parts[cut:]
    return None, []


def _parse_line(raw: str | None) -> int | None:
    """Make pytest's 0-based ``line`` attribute 1-based, as flakehound's lines are."""
    return int(raw) + 1 if raw is not None and raw.strip().isdigit() else None


def _parse_duration(raw: str | None) -> float:
    try:
        duration = float((raw or "0").replace(",", ""))
    except ValueError:
        return 0.0
    return duration if math.isfinite(duration) and duration >= 0 else 0.0


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _trim_tail(text: str | None, limit: int) -> str | None:
    """Keep the last ``limit`` characters, marked with a leading ellipsis when cut (idempotent)."""
    if not text:
        return None
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def render_junit(original: Sequence[TestResult], report: Report) -> str:
    """Write the original run as JUnit XML, each investigated test carrying its reruns (see above)."""
    investigated = {failure.nodeid: failure for failure in (*report.failures, *report.latent)}
    reruns = [run for run in report.runs if run.purpose is not RunPurpose.ORIGINAL]
    root = ET.Element("testsuites", name="flakehound")
    suite = ET.SubElement(root, "testsuite", name="pytest")
    for result in original:
        _render_case(suite, result, investigated.get(result.nodeid), reruns)
    for element in (root, suite):
        element.attrib.update(_render_counts(original))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _render_counts(results: Sequence[TestResult]) -> dict[str, str]:
    def count(*outcomes: Outcome) -> str:
        return str(sum(result.outcome in outcomes for result in results))

    return {
        "tests": str(len(results)),
        "failures": count(Outcome.FAILED),
        "errors": count(Outcome.ERROR),
        "skipped": count(Outcome.SKIPPED, Outcome.XFAILED, Outcome.XPASSED),
        "time": f"{sum(result.duration for result in results):.3f}",
    }


def _render_case(
    suite: ET.Element, result: TestResult, failure: ClassifiedFailure | None, reruns: Sequence[RunRecord]
) -> None:
    module = result.nodeid.partition("[")[0].split("::")[0]
    classname, name = _mangle_nodeid(result.nodeid)
    case = ET.SubElement(
        suite,
        "testcase",
        classname=classname,
        name=name,
        file=_xml_text(module),
        time=f"{result.duration:.3f}",
    )
    rerun_outcomes = [(run, run.outcomes[result.nodeid]) for run in reruns if result.nodeid in run.outcomes]
    if failure is not None:
        _render_properties(case, failure, [outcome for _, outcome in rerun_outcomes])
    _render_outcome(case, result)
    if failure is not None:
        prefix = "rerun" if result.outcome.is_failure else "flaky"
        for run, outcome in rerun_outcomes:
            if outcome.is_failure:
                kind = "Failure" if outcome is Outcome.FAILED else "Error"
                seed = "" if run.seed is None else f" with seed {run.seed}"
                message = f"{run.purpose.value} run {run.id}{seed}: {outcome.value}"
                rerun = ET.SubElement(case, prefix + kind, message=message, type=outcome.value)
                ET.SubElement(rerun, "stackTrace")
    if result.output:
        ET.SubElement(case, "system-out").text = _xml_text(result.output)


def _mangle_nodeid(nodeid: str) -> tuple[str, str]:
    """Split a node id into (classname, name) as pytest's ``mangle_test_address`` does."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return _xml_text(".".join(names[:-1])), _xml_text(names[-1])


def _render_properties(case: ET.Element, failure: ClassifiedFailure, rerun_outcomes: Sequence[Outcome]) -> None:
    values = {
        "flakehound.classification": failure.classification.value,
        "flakehound.reproduce": failure.reproduce,
        "flakehound.reruns": str(len(rerun_outcomes)),
        "flakehound.rerun_failures": str(sum(outcome.is_failure for outcome in rerun_outcomes)),
    }
    rate = failure.failure_rate
    if rate is not None:
        values["flakehound.failure_rate"] = f"{rate.estimate:.4f}"
        values["flakehound.failure_rate_low"] = f"{rate.low:.4f}"
        values["flakehound.failure_rate_high"] = f"{rate.high:.4f}"
    properties = ET.SubElement(case, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))


def _render_outcome(case: ET.Element, result: TestResult) -> None:
    """Add the ``<failure>``/``<error>``/``<skipped>`` pytest would write for this outcome, if any."""
    attributes = {}
    message = result.message
    if result.outcome is Outcome.ERROR and result.phase is not Phase.CALL:
        message = f'failed on {result.phase.value} with "{message or ""}"'
    tag = {
        Outcome.FAILED: "failure",
        Outcome.ERROR: "error",
        Outcome.SKIPPED: "skipped",
        Outcome.XFAILED: "skipped",
        Outcome.XPASSED: "skipped",
    }.get(result.outcome)
    if tag is None:
        return
    if result.outcome is Outcome.XPASSED:
        message = _XPASS_MESSAGE
    elif result.outcome in {Outcome.SKIPPED, Outcome.XFAILED}:
        attributes["type"] = "pytest.skip" if result.outcome is Outcome.SKIPPED else "pytest.xfail"
    elif result.exception:
        attributes["type"] = _xml_text(result.exception)
    if message:
        attributes["message"] = _xml_text(message)
    element = ET.SubElement(case, tag, attributes)
    if result.outcome.is_failure and result.traceback:
        element.text = _xml_text(result.traceback)


def _xml_text(text: str) -> str:
    """Make text XML 1.0 can carry: forbidden characters become ``#xNN``, as pytest writes them."""
    return _ILLEGAL_XML.sub(lambda match: f"#x{ord(match.group()):02X}", text)
