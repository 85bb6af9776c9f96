"""The real `flakehound run` on fixture_projects/top_hints: the specific cause is the top hint (#19 items 5, 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flakehound import cli
from flakehound.models import FailureKind, Report

FIXTURES = Path(__file__).parents[1] / "fixture_projects"


@pytest.fixture(scope="session")
def top_hints(tmp_path_factory, run_cli, sample_env_at):
    """One investigation of the top_hints project (seed 1), shared by the assertions that read it."""
    root = tmp_path_factory.mktemp("top-hints")
    project = root / "top_hints"
    shutil.copytree(FIXTURES / "top_hints", project)
    (root / "state").mkdir()
    report_path = root / "report.json"
    args = ["run", "--seed", "1", "--no-coverage", "--budget-seconds", "900", "--report", str(report_path)]
    completed = run_cli(args, project, sample_env_at(root / "state"))
    assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr
    report = Report.model_validate_json(report_path.read_text())
    return {failure.nodeid: failure for failure in (*report.failures, *report.latent)}


def test_closed_event_loop_is_the_top_hint_with_its_polluter(top_hints):
    """A session bound to a loop the polluter closed: async-event-loop first, the polluter and its counts inside it."""
    failure = top_hints["tests/test_http.py::test_status"]
    assert failure.classification is FailureKind.ORDER_DEPENDENT
    top = failure.hints[0]
    assert (top.category, top.title, top.confidence) == (
        "async-event-loop",
        "the event loop was already closed",
        "high",
    )
    assert top.cause.startswith("fails after tests/test_http.py::test_session_is_reused, which ")
    assert "app.http._session" in top.cause
    assert top.evidence.startswith("fails 3/3 right after tests/test_http.py::test_session_is_reused, fails 0/")
    assert top.evidence.endswith("; matched: Event loop is closed")
    assert all(hint.category != "shared-state" for hint in failure.hints)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("test_sign_up", "a row with the same unique key already exists"),
        ("test_no_accounts_yet", "fails after tests/test_accounts.py::test_import_users, which "),
    ],
    ids=["unique-constraint", "rows-left"],
)
def test_row_left_in_sqlite_is_a_database_hint_naming_the_polluter(top_hints, name, title):
    """Rows the polluter left in .state/app.db: the top hint is database (not filesystem) and names the polluter."""
    failure = top_hints[f"tests/test_accounts.py::{name}"]
    assert failure.classification is FailureKind.ORDER_DEPENDENT
    top = failure.hints[0]
    assert (top.category, top.confidence) == ("database", "high"), failure.hints
    assert top.title.startswith(title)
    assert "tests/test_accounts.py::test_import_users" in top.cause + top.title
    assert top.evidence.startswith("fails 3/3 right after tests/test_accounts.py::test_import_users, fails 0/")


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("test_total", "AssertionError: assert 3 == 3.75 at tests/test_prices.py:5: assert prices.total("),
        ("test_price_list", "FileNotFoundError: [Errno 2] No such file or directory: "),
    ],
    ids=["assertion", "missing-file"],
)
def test_plain_bug_is_a_code_bug_first(top_hints, name, detail):
    """A failure that fails alone and in every order gets code-bug first, above any filesystem signature."""
    failure = top_hints[f"tests/test_prices.py::{name}"]
    assert failure.classification is FailureKind.DETERMINISTIC
    top = failure.hints[0]
    assert (top.category, top.confidence) == ("code-bug", "high")
    assert top.title == "fails every time, alone and in every order: a bug in the code or the test, not flakiness"
    assert top.detail.startswith(detail)
    assert top.evidence.startswith("fails 5/5 alone")
