"""The child-side plugin, run in-process with pytester: order, outcomes, exceptions and the stream."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest
import helper


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


@pytest.fixture
def bad_teardown():
    yield
    raise OSError("teardown exploded")


def test_ok():
    pass


def test_fail():
    assert 1 == 2, "nope"


def test_in_helper():
    helper.explode()


def test_err(broken):
    pass


def test_teardown(bad_teardown):
    pass


def test_fail_and_teardown(bad_teardown):
    raise ValueError("both")


@pytest.mark.xfail(reason="known")
def test_xf():
    raise AssertionError


@pytest.mark.xfail(reason="known")
def test_xp():
    pass


def test_skip():
    pytest.skip("not today")


@pytest.mark.skip(reason="never")
def test_marked_skip():
    pass


def test_exit():
    raise SystemExit(4)
"""


def events(path):
    """The JSON-lines events the plugin streamed."""
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def suite(pytester):
    """A suite with every outcome, plus a helper module outside the test file."""
    pytester.makepyfile(helper="def explode():\n    raise KeyError('deep')\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(pytester, *args):
    """Run the suite in-process with the plugin and return the streamed events by kind."""
    stream = pytester.path / "results.jsonl"
    pytester.runpytest_inprocess("-p", "flakehound.execution.pytest_plugin", f"--flakehound-results={stream}", *args)
    found: dict[str, list[dict]] = {}
    for event in events(stream):
        found.setdefault(event["event"], []).append(event)
    return found


def test_every_outcome_and_phase_is_recorded(suite):
    """Outcomes, phases and exception types come out as pytest decided them."""
    results = {event["nodeid"].split("::")[1]: event for event in run(suite)["result"]}
    table = {name: (event["outcome"], event["phase"], event.get("exception")) for name, event in results.items()}
    assert table == {
        "test_ok": ("passed", "call", None),
        "test_fail": ("failed", "call", "AssertionError"),
        "test_in_helper": ("failed", "call", "KeyError"),
        "test_err": ("error", "setup", "RuntimeError"),
        "test_teardown": ("error", "teardown", "OSError"),
        "test_fail_and_teardown": ("failed", "call", "ValueError"),
        "test_xf": ("xfailed", "call", None),
        "test_xp": ("xpassed", "call", None),
        "test_skip": ("skipped", "call", None),
        "test_marked_skip": ("skipped", "setup", None),
        "test_exit": ("failed", "call", "SystemExit"),
    }
    assert results["test_skip"]["message"] == "Skipped: not today"
    assert results["test_fail"]["message"] == "nope\nassert 1 == 2"
    assert (results["test_in_helper"]["path"], results["test_in_helper"]["line"]) == ("helper.py", 2)


def test_order_file_reorders_filters_and_reports_missing(suite):
    """Only the listed ids run, in the listed order (a repeat runs twice); unknown ids are reported."""
    order = suite.path / "order.txt"
    order.write_text("test_suite.py::test_fail\ntest_suite.py::test_ok\ntest_suite.py::test_ok\ntest_suite.py::gone\n")
    found = run(suite, f"--flakehound-order={order}")
    assert [event["nodeid"] for event in found["start"]] == [
        "test_suite.py::test_fail",
        "test_suite.py::test_ok",
        "test_suite.py::test_ok",
    ]
    assert found["missing"] == [{"event": "missing", "nodeids": ["test_suite.py::gone"]}]
    assert found["collected"][0]["nodeids"][0] == "test_suite.py::test_fail"


def test_exitfirst_is_neutralised(suite):
    """-x cannot stop the run early: flakehound needs every test's outcome."""
    assert len(run(suite, "-x")["result"]) == 11


def test_collection_error_names_the_real_exception(pytester):
    """An import error in a test module is streamed with the real exception type and the module path."""
    pytester.makepyfile(test_broken="import not_a_module_anywhere\n")
    (error,) = run(pytester)["collect_error"]
    assert (error["nodeid"], error["exception"], error["path"]) == (
        "test_broken.py",
        "ModuleNotFoundError",
        "test_broken.py",
    )
    assert error["message"] == "No module named 'not_a_module_anywhere'"


def test_without_a_results_file_nothing_is_streamed(suite):
    """Loaded without --flakehound-results, the plugin only neutralises and orders."""
    result = suite.runpytest_inprocess("-p", "flakehound.execution.pytest_plugin")
    result.assert_outcomes(passed=2, failed=4, errors=3, skipped=2, xfailed=1, xpassed=1)
    assert not (suite.path / "results.jsonl").exists()


def test_order_of_everything_deselects_nothing(pytester):
    """An order file naming every test, in a new order, deselects nothing and reports nothing missing."""
    pytester.makepyfile(test_two="def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    order = pytester.path / "order.txt"
    order.write_text("test_two.py::test_b\ntest_two.py::test_a\n")
    found = run(pytester, f"--flakehound-order={order}")
    assert [event["nodeid"] for event in found["result"]] == ["test_two.py::test_b", "test_two.py::test_a"]
    assert "missing" not in found


def test_order_without_a_results_file(pytester):
    """The order file works on its own (no stream), and unknown ids are simply not run."""
    pytester.makepyfile(test_two="def test_a():\n    pass\n\n\ndef test_b():\n    assert False\n")
    order = pytester.path / "order.txt"
    order.write_text("test_two.py::test_b\ntest_two.py::nope\n")
    result = pytester.runpytest_inprocess("-p", "flakehound.execution.pytest_plugin", f"--flakehound-order={order}")
    result.assert_outcomes(failed=1)
