"""The hint rules: signature matching on real-looking failure text, and the ranking of hints per label."""

from __future__ import annotations

import pytest

from flakehound.engine.hints import ExperimentResult, match_signatures, rank_hints
from flakehound.engine.signatures import Catalog, Signature, load_catalog
from flakehound.models import (
    ConfigurationCount,
    Evidence,
    FailureKind,
    Original,
    Outcome,
    Polluter,
    StateChange,
)

CATALOG = load_catalog()

ASYNC_TRACEBACK = """\
    def test_fetch():
>       loop.run_until_complete(fetch())

tests/test_api.py:12:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
/usr/lib/python3.11/asyncio/base_events.py:630: in run_until_complete
    self._check_closed()
E   RuntimeError: Event loop is closed
"""
ENV_TRACEBACK = """\
>       token = os.environ["API_TOKEN"]

tests/test_api.py:5:
/usr/lib/python3.11/os.py:679: in __getitem__
    raise KeyError(key) from None
E   KeyError: 'API_TOKEN'
"""
POOL_TRACEBACK = """\
>       results = list(pool.map(work, items))
tests/test_pool.py:9:
/usr/lib/python3.11/concurrent/futures/_base.py:619: in result_iterator
    yield _result_or_cancel(fs.pop())
E   ValueError: bad item
"""
NATIVE_TRACEBACK = """\
Traceback (most recent call last):
  File "C:\\Python311\\Lib\\unittest\\mock.py", line 1124, in __call__
    return self._mock_call(*args, **kwargs)
AttributeError: Mock object has no attribute 'total'
"""
TIMEOUT_TRACEBACK = """\
    def test_poll():
>       wait_until(ready, timeout=0.5)
E       TimeoutError: not ready
"""


def original(**fields) -> Original:
    """A failed test's original result with the given text fields."""
    return Original.model_validate({"outcome": Outcome.FAILED, **fields})


@pytest.mark.parametrize(
    ("fields", "category", "line"),
    [
        ({"exception": "RuntimeError", "message": "Event loop is closed"}, "async-event-loop", "Event loop is closed"),
        (
            {"exception": "RuntimeError", "message": "Task <Task pending> got Future attached to a different loop"},
            "async-event-loop",
            "attached to a different loop",
        ),
        (
            {
                "exception": "AssertionError",
                "message": "assert 1 == 2",
                "output": "coroutine 'fetch' was never awaited",
            },
            "async-event-loop",
            "coroutine 'fetch' was never awaited",
        ),
        ({"exception": "TimeoutError", "message": "timed out"}, "timing", "TimeoutError: timed out"),
        ({"exception": "ReadTimeout", "message": "read timeout=5"}, "timing", "ReadTimeout: read timeout=5"),
        ({"exception": "Failed", "message": "Timeout >5.0s"}, "timing", "Timeout >5.0s"),
        ({"exception": "flakehound.Timeout", "message": None}, "timing", "flakehound.Timeout"),
        ({"exception": "ConnectionRefusedError", "message": "[Errno 111]"}, "network", "[Errno 111]"),
        (
            {"exception": "ConnectError", "message": "[Errno 111] Connection refused"},
            "network",
            "[Errno 111] Connection refused",
        ),
        ({"exception": "gaierror", "message": "[Errno -2] Name or service not known"}, "network", "Name or service"),
        (
            {"exception": "SSLCertVerificationError", "message": "certificate verify failed"},
            "network",
            "certificate verify failed",
        ),
        ({"exception": "OperationalError", "message": "database is locked"}, "database", "database is locked"),
        (
            {"exception": "UniqueViolation", "message": 'duplicate key value violates unique constraint "users_pkey"'},
            "database",
            "duplicate key value",
        ),
        (
            {"exception": "ProgrammingError", "message": 'relation "users" already exists'},
            "database",
            'relation "users" already exists',
        ),
        (
            {
                "exception": "AssertionError",
                "message": "assert ['ann'] == []\n +  where ['ann'] = emails(<sqlite3.Connection object at 0x7f>)",
            },
            "database",
            "emails(<sqlite3.Connection object",
        ),
        ({"exception": "FileExistsError", "message": "[Errno 17] File exists: 'out.csv'"}, "filesystem", "File exists"),
        (
            {"exception": "FileNotFoundError", "message": "[Errno 2] No such file: '/home/ci/pytest-of-ci/x.json'"},
            "filesystem",
            "/home/ci/pytest-of-ci/x.json",
        ),
        ({"exception": "OSError", "message": "[Errno 24] Too many open files"}, "resource-leak", "Too many open files"),
        (
            {"exception": "AssertionError", "message": "assert 1 == 2", "output": "ResourceWarning: unclosed file"},
            "resource-leak",
            "ResourceWarning: unclosed file",
        ),
        (
            {"exception": "RuntimeError", "message": "dictionary changed size during iteration"},
            "concurrency",
            "changed size during iteration",
        ),
        ({"exception": "ValueError", "message": "bad item", "traceback": POOL_TRACEBACK}, "concurrency", "through"),
        (
            {"exception": "AssertionError", "message": "assert ['b', 'a'] == ['a', 'b']\n  At index 0 diff"},
            "unordered-collection",
            "the same 2 items in another order",
        ),
        (
            {"exception": "AssertionError", "message": "assert [1, 1, 2] == {1, 2}"},
            "unordered-collection",
            "the same items as sets, counted differently",
        ),
        (
            {"exception": "AssertionError", "message": "assert 'b,a' == 'a,b'"},
            "unordered-collection",
            "the same 2 items in another order",
        ),
        (
            {"exception": "AssertionError", "message": "assert 0.30000000000000004 == 0.3"},
            "floating-point",
            "1 ulp(s) apart",
        ),
        (
            {"exception": "AssertionError", "message": "assert (0.1 + 0.2) == (0.6 * 0.5)"},
            "floating-point",
            "ulp(s) apart",
        ),
        (
            {"exception": "AssertionError", "message": "assert -(0.1 + 0.2) == -0.3"},
            "floating-point",
            "-0.30000000000000004 and -0.3",
        ),
        (
            {
                "exception": "AssertionError",
                "message": "assert datetime.date(2026, 3, 1) == datetime.date(2026, 2, 28)",
            },
            "clock",
            "datetime.date(2026, 3, 1)",
        ),
        (
            {"exception": "TypeError", "message": "can't compare offset-naive and offset-aware datetimes"},
            "clock",
            "offset-naive",
        ),
        ({"exception": "ValueError", "message": "day is out of range for month"}, "clock", "day is out of range"),
        ({"exception": "AttributeError", "traceback": NATIVE_TRACEBACK}, "monkeypatch", "through C:/Python311/Lib"),
        (
            {"exception": "AssertionError", "message": "assert <MagicMock name='get()' id='1'> == 3"},
            "monkeypatch",
            "MagicMock",
        ),
        ({"exception": "KeyError", "message": "'API_TOKEN'", "traceback": ENV_TRACEBACK}, "environment", "os.py"),
        ({"exception": "ModuleNotFoundError", "message": "No module named 'lxml'"}, "environment", "No module named"),
        ({"exception": "ValueError", "message": "plugin 'csv' is already registered"}, "shared-state", "registered"),
        ({"exception": "FlakyFailure", "message": "Hypothesis saw"}, "randomness", "FlakyFailure: Hypothesis saw"),
        ({"exception": "NameError", "message": "name 'totl' is not defined"}, "code-bug", "NameError: name 'totl'"),
        (
            {"exception": "TimeoutError", "message": "not ready", "traceback": TIMEOUT_TRACEBACK},
            "timing",
            "TimeoutError: not ready",
        ),
    ],
    ids=[
        "loop-closed",
        "different-loop",
        "never-awaited-in-output",
        "timeout-error",
        "requests-read-timeout",
        "pytest-timeout",
        "flakehound-hang",
        "connection-refused",
        "connection-refused-message",
        "dns",
        "ssl",
        "sqlite-locked",
        "postgres-duplicate-key",
        "already-exists",
        "rows-left-in-sqlite",
        "file-exists",
        "temp-file-missing",
        "too-many-open-files",
        "resource-warning",
        "changed-during-iteration",
        "pool-frames",
        "same-items-list",
        "same-items-as-sets",
        "same-items-in-a-string",
        "floats-one-ulp",
        "floats-arithmetic",
        "floats-negative",
        "datetime-diff",
        "naive-aware",
        "calendar-edge",
        "mock-frames-windows",
        "mock-in-message",
        "missing-env-var",
        "missing-module",
        "already-registered",
        "hypothesis-flaky",
        "name-error",
        "timeout-first-of-two",
    ],
)
def test_failure_text_matches_its_signature(fields, category, line):
    """The first signature a failure's text matches has the expected category, and shows the matched line."""
    matches = match_signatures(original(**fields), CATALOG)
    assert matches, fields
    assert matches[0].signature.category == category
    assert line in matches[0].line


@pytest.mark.parametrize(
    "fields",
    [
        {"exception": "AssertionError", "message": "assert 3 == 4"},
        {"exception": "AssertionError", "message": "assert ['a', 'b'] == ['a', 'c']"},
        {"exception": "AssertionError", "message": "assert ['a'] == ['a']"},
        {"exception": "AssertionError", "message": "assert 'ab' == 'ba'"},
        {"exception": "AssertionError", "message": "assert [x] == [y]"},
        {"exception": "AssertionError", "message": "assert 0.1 == 0.2"},
        {"exception": "AssertionError", "message": "assert 1e308 * 10 == 1.0"},
        {"exception": "AssertionError", "message": "assert (a + 0.1) == 0.2"},
        {"exception": "AssertionError", "message": "assert (0.1 / 3) == 0.2"},
        {"exception": "AssertionError", "message": "assert True == 1.0000000000000002"},
        {"exception": "AssertionError", "message": "assert 0.1 < 0.2"},
        {"exception": "AssertionError", "message": "assert x in [1, 2]"},
        {"exception": "AssertionError", "message": "assert done"},
        {"exception": "AssertionError", "message": "assert f(\n"},
        {"exception": "AssertionError", "message": "items differ"},
        {"exception": "AssertionError", "message": None},
        {"exception": None, "message": "connection is fine"},
        {"exception": "KeyError", "message": "'x'", "traceback": "tests/test_x.py:3: KeyError"},
    ],
    ids=[
        "plain-inequality",
        "different-items",
        "equal-sides",
        "one-word-strings",
        "names-not-literals",
        "floats-far-apart",
        "infinite",
        "arithmetic-on-names",
        "division-is-not-evaluated",
        "bool-is-not-a-number",
        "less-than",
        "membership",
        "not-a-comparison",
        "not-python",
        "not-an-assert-line",
        "no-message",
        "no-exception",
        "keyerror-outside-os",
    ],
)
def test_unrelated_failure_text_matches_nothing(fields):
    """Plain assertion failures and look-alikes match no signature, so a bug is not mistaken for flakiness."""
    assert match_signatures(original(**fields), CATALOG) == []


def test_one_hint_per_category_and_title():
    """Two signatures with the same category and title (exception and message forms) give one match."""
    matches = match_signatures(original(exception="ConnectionRefusedError", message="Connection refused"), CATALOG)
    assert [match.signature.id for match in matches] == ["connection-refused"]


def test_user_signature_with_only_an_exception_shows_the_message():
    """A signature with no text condition shows the exception and the first message line as its evidence."""
    catalog = Catalog(
        signatures=(
            Signature(id="x", category="database", title="t", advice="a", exceptions=("tenants.MissingTenant",)),
        )
    )
    (match,) = match_signatures(original(exception="MissingTenant", message="tenant 7\nmore"), catalog)
    assert match.line == "MissingTenant: tenant 7"


def failure(make_failure, kind=FailureKind.INTERMITTENT, **fields):
    """A failure of ``kind`` that failed 2/5 alone unless the fields say otherwise."""
    values = {"evidence": Evidence(alone=ConfigurationCount(runs=5, failures=2)), **fields}
    return make_failure("tests/test_x.py::test_y", kind, **values)


def polluter(*changes: StateChange) -> Polluter:
    """A confirmed single polluter leaving these changes behind."""
    return Polluter(
        nodeids=("tests/test_a.py::test_a",), confirmed_runs=3, confirmed_failures=3, state_changes=tuple(changes)
    )


@pytest.mark.parametrize(
    ("change", "category", "words"),
    [
        (
            StateChange(kind="env", name="APP_MODE", before=None, after="debug"),
            "environment",
            "sets the environment variable APP_MODE=debug",
        ),
        (
            StateChange(kind="file", name=".state/out.csv", before=None, after="size=3 mtime_ns=1"),
            "filesystem",
            "creates .state/out.csv",
        ),
        (
            StateChange(kind="module-attribute", name="app.CACHE", before="{}", after="{'warm': True}"),
            "shared-state",
            "changes app.CACHE from {} to {'warm': True}",
        ),
        (
            StateChange(
                kind="module-attribute", name="app.rates.fetch", before="<function fetch>", after="<function fake>"
            ),
            "monkeypatch",
            "changes app.rates.fetch from <function fetch> to <function fake>",
        ),
        (
            StateChange(kind="module-attribute", name="app.client", before="Client(url='x')", after="<MagicMock>"),
            "monkeypatch",
            "changes app.client from Client(url='x') to <MagicMock>",
        ),
        (
            StateChange(kind="asyncio", name="current loop", before="none", after="closed"),
            "async-event-loop",
            "leaves a closed event loop set as the current one",
        ),
        (
            StateChange(kind="timezone", name="tzname", before="UTC", after="CET"),
            "clock",
            "changes the time zone (tzname) from UTC to CET",
        ),
        (
            StateChange(kind="thread", name="worker daemon=True", before=None, after="present"),
            "concurrency",
            "leaves daemon thread worker running",
        ),
        (
            StateChange(kind="fd", name="count", before="5", after="9"),
            "resource-leak",
            "changes the number of open file descriptors from 5 to 9",
        ),
        (
            StateChange(kind="database", name=".state/app.db:users", before="0", after="1"),
            "database",
            "adds 1 row to table users in .state/app.db",
        ),
        (
            StateChange(kind="event-loop-binding", name="app.http._session", after="bound to a closed loop"),
            "async-event-loop",
            "leaves app.http._session bound to a closed event loop",
        ),
        (
            StateChange(kind="fixture", name="session:config", before="{'debug': False}", after="{'debug': True}"),
            "shared-state",
            "changes session fixture config from {'debug': False} to {'debug': True}",
        ),
        (
            StateChange(kind="something-new", name="x", before="1", after="2"),
            "shared-state",
            "changes something-new x from 1 to 2",
        ),
    ],
    ids=[
        "env",
        "file",
        "global",
        "patched-function",
        "mock",
        "asyncio",
        "timezone",
        "thread",
        "fd",
        "database",
        "closed-loop-binding",
        "fixture",
        "unknown-kind",
    ],
)
def test_polluter_hint_is_first_and_named_by_its_leftover(make_failure, change, category, words):
    """An order-dependent failure's top hint names its polluter and, in words, the state it leaves."""
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, polluters=(polluter(change),))
    top = rank_hints(victim, [], CATALOG)[0]
    assert top.category == category
    assert top.title == f"fails after tests/test_a.py::test_a, which {words}"
    assert top.evidence == "fails 3/3 right after tests/test_a.py::test_a, fails 2/5 alone"
    assert top.confidence == "high"
    assert "teardown" in top.detail


def test_polluter_without_named_state_is_shared_state(make_failure):
    """When the polluter's state could not be named, the hint says so and calls it shared state."""
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, polluters=(polluter(),))
    (hint,) = rank_hints(victim, [], CATALOG)
    assert (hint.category, hint.title) == ("shared-state", "fails after tests/test_a.py::test_a")
    assert "could not be named" in hint.detail


def test_state_setter_hint_says_what_the_test_relies_on(make_failure):
    """A brittle failure's top hint names the test it needs first and the state that one sets up."""
    setter = Polluter(
        nodeids=("tests/test_a.py::test_setup",),
        confirmed_runs=3,
        confirmed_failures=0,
        state_changes=(StateChange(kind="env", name="READY", before=None, after="1"),),
    )
    victim = failure(make_failure, FailureKind.BRITTLE, state_setters=(setter,))
    (hint,) = rank_hints(victim, [], CATALOG)
    assert hint.category == "environment"
    assert hint.title == "passes only after tests/test_a.py::test_setup, which sets the environment variable READY=1"
    assert hint.evidence == "passes 3/3 right after tests/test_a.py::test_setup, fails 2/5 alone"
    assert "set it up in a fixture" in hint.detail


@pytest.mark.parametrize(
    ("factor", "category"),
    [
        ("hash-seed", "unordered-collection"),
        ("random-seed", "randomness"),
        ("network", "network"),
        ("cpu-load", "timing"),
        ("clock", "clock"),
        ("repetition", "shared-state"),
    ],
)
def test_experiment_evidence_outranks_a_text_match(make_failure, factor, category):
    """An experiment the outcome tracked gives the top hint, with its counts, above a matching signature."""
    text = Original(outcome=Outcome.FAILED, exception="TimeoutError", message="timed out")
    result = ExperimentResult(factor, "tracks", "fails 3/3 with X, 0/5 without")
    hints = rank_hints(failure(make_failure, original=text), [result], CATALOG)
    assert (hints[0].category, hints[0].evidence, hints[0].confidence) == (category, result.evidence, "high")
    assert hints[1].title == "an operation timed out"


def test_experiments_that_were_not_followed_give_no_hint(make_failure):
    """No-effect and inconclusive experiments add no hint; with no matching text there is none at all."""
    results = [
        ExperimentResult("hash-seed", "no-effect", "flips at a fixed seed"),
        ExperimentResult("network", "inconclusive", "no run finished"),
    ]
    assert rank_hints(failure(make_failure), results, CATALOG) == ()


def test_deterministic_failure_is_a_code_bug_with_its_failing_line(make_failure):
    """A deterministic failure with no signature gets one code-bug hint: the counts and the failing source line."""
    text = Original(
        outcome=Outcome.FAILED,
        exception="AssertionError",
        message="assert 0 == 4\n +  where 0 = add(2, 2)",
        path="tests/test_math.py",
        line=5,
        traceback="    def test_add():\n>       assert add(2, 2) == 4\nE       assert 0 == 4",
    )
    evidence = Evidence(
        alone=ConfigurationCount(runs=5, failures=5), original_order=ConfigurationCount(runs=4, failures=4)
    )
    (hint,) = rank_hints(
        failure(make_failure, FailureKind.DETERMINISTIC, original=text, evidence=evidence), [], CATALOG
    )
    assert (hint.category, hint.confidence) == ("code-bug", "high")
    assert hint.detail == "AssertionError: assert 0 == 4 at tests/test_math.py:5: assert add(2, 2) == 4"
    assert hint.evidence == "fails 5/5 alone, 4/4 in the original order"


def test_low_confidence_signature_stays_below_code_bug(make_failure):
    """A weak signature (a literal timeout in code) does not outrank a deterministic failure's code-bug hint."""
    text = Original(
        outcome=Outcome.ERROR,
        exception=None,
        message=None,
        traceback="    def test_x():\n>       time.sleep(2)\nE       Failed",
    )
    evidence = Evidence()
    hints = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC, original=text, evidence=evidence), [], CATALOG)
    assert [(hint.category, hint.confidence) for hint in hints] == [("code-bug", "high"), ("timing", "low")]
    assert hints[0].detail == "failed at time.sleep(2)"
    assert hints[0].evidence == "no reruns"


def test_deterministic_failure_with_a_strong_signature_names_the_kind_of_bug_first(make_failure):
    """A failure that fails every time: a strong signature says what kind of bug it is, code-bug comes after it."""
    text = Original(outcome=Outcome.FAILED, exception="IntegrityError", message="UNIQUE constraint failed: users.email")
    hints = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC, original=text), [], CATALOG)
    assert [hint.category for hint in hints] == ["database", "database", "code-bug"]
    assert (hints[0].title, hints[0].confidence) == ("a row with the same unique key already exists", "high")
    assert hints[0].evidence == "fails 2/5 alone; matched: UNIQUE constraint failed: users.email"
    assert hints[2].title == "fails every time, alone: a bug in the code or the test, not flakiness"
    assert hints[2].detail == "IntegrityError: UNIQUE constraint failed: users.email"


def test_deterministic_failure_with_only_weak_or_medium_text_is_a_code_bug_first(make_failure):
    """Without a strong signature, a failure that fails every time is code-bug first: no category is guessed."""
    text = Original(
        outcome=Outcome.FAILED, exception="IntegrityError", message="NOT NULL constraint failed: users.name"
    )
    hints = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC, original=text), [], CATALOG)
    assert hints[0].category == "code-bug"
    assert "database" in [hint.category for hint in hints[1:]]


def test_a_file_missing_every_time_is_a_code_bug_first_even_under_tmp(make_failure):
    """A missing file is the code's own doing when it fails every time: the temp-folder signature comes second.

    The path is under /tmp because the project is, which is all the strong filesystem signature saw.
    """
    text = Original(
        outcome=Outcome.FAILED,
        exception="FileNotFoundError",
        message="[Errno 2] No such file or directory: '/tmp/pytest-of-ci/project/app/data/price-lists.txt'",
    )
    hints = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC, original=text), [], CATALOG)
    assert [(hint.category, hint.confidence) for hint in hints[:2]] == [("code-bug", "high"), ("filesystem", "high")]
    assert hints[1].title == "a file in a temporary folder is missing"


@pytest.mark.parametrize(
    ("evidence", "title"),
    [
        (
            Evidence(alone=ConfigurationCount(runs=2, failures=2), permuted=ConfigurationCount(runs=3, failures=3)),
            "fails every time, alone and in every order",
        ),
        (
            Evidence(
                alone=ConfigurationCount(runs=2, failures=2), original_order=ConfigurationCount(runs=2, failures=2)
            ),
            "fails every time, alone and in the original order",
        ),
        (Evidence(original_order=ConfigurationCount(runs=2, failures=2)), "fails every time it ran"),
    ],
    ids=["every-order", "original-order", "not-alone"],
)
def test_code_bug_title_says_only_what_the_reruns_compared(make_failure, evidence, title):
    """The code-bug title names the configurations that ran, never one that did not."""
    (hint,) = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC, evidence=evidence), [], CATALOG)
    assert hint.title == f"{title}: a bug in the code or the test, not flakiness"


def test_deterministic_failure_an_experiment_explains_is_not_a_code_bug(make_failure):
    """When an experiment's factor decides the outcome, the failure is not 'every time' and gets no code-bug hint."""
    result = ExperimentResult("hash-seed", "tracks", "fails 3/3 at PYTHONHASHSEED=2, 0/3 at PYTHONHASHSEED=1")
    hints = rank_hints(failure(make_failure, FailureKind.DETERMINISTIC), [result], CATALOG)
    assert [hint.category for hint in hints] == ["unordered-collection"]


LOOP_CLOSED = Original(
    outcome=Outcome.FAILED, exception="RuntimeError", message="Event loop is closed", traceback=ASYNC_TRACEBACK
)
SESSION = StateChange(kind="module-attribute", name="app.http._session", before="None", after="Session(open=True)")


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (SESSION, "changes app.http._session from None to Session(open=True)"),
        (
            StateChange(kind="event-loop-binding", name="app.http._session", before=None, after="closed loop"),
            "leaves app.http._session holding a closed event loop",
        ),
    ],
    ids=["module-attribute", "event-loop-binding"],
)
def test_polluter_is_merged_into_the_specific_signature(make_failure, change, cause):
    """A closed-loop victim's top hint is async-event-loop, titled by the signature, caused by the polluter."""
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=LOOP_CLOSED, polluters=(polluter(change),))
    (top,) = rank_hints(victim, [], CATALOG)
    assert (top.category, top.confidence) == ("async-event-loop", "high")
    assert top.title == "the event loop was already closed"
    assert top.cause == f"fails after tests/test_a.py::test_a, which {cause}"
    assert top.evidence == (
        "fails 3/3 right after tests/test_a.py::test_a, fails 2/5 alone; matched: Event loop is closed"
    )
    assert "give each test its own loop" in top.detail


def test_state_setter_without_named_state_is_merged_by_the_failure_text(make_failure):
    """A brittle failure's state-setter, its state unnamed, still backs the signature its text matches."""
    setter = Polluter(nodeids=("tests/test_a.py::test_schema",), confirmed_runs=3, confirmed_failures=0)
    text = Original(outcome=Outcome.FAILED, exception="OperationalError", message="no such table: users")
    victim = failure(make_failure, FailureKind.BRITTLE, original=text, state_setters=(setter,))
    (top,) = rank_hints(victim, [], CATALOG)
    assert (top.category, top.title) == ("database", "a table does not exist")
    assert top.cause == "passes only after tests/test_a.py::test_schema"
    assert top.evidence == (
        "passes 3/3 right after tests/test_a.py::test_schema, fails 2/5 alone; matched: no such table: users"
    )


ROWS_LEFT = Original(
    outcome=Outcome.FAILED,
    exception="AssertionError",
    message="assert ['ann'] == []\n +  where ['ann'] = emails(<sqlite3.Connection object at 0x7f>)",
)


@pytest.mark.parametrize(
    "change",
    [
        StateChange(kind="file", name=".state/app.db", before="size=8192 mtime_ns=1", after="size=12288 mtime_ns=2"),
        StateChange(kind="database", name=".state/app.db:users", before="0", after="1"),
    ],
    ids=["sqlite-file", "database-table"],
)
def test_row_left_by_a_polluter_merges_into_the_weak_database_signature(make_failure, change):
    """A weak database match whose category is the polluter's state becomes the top hint, backed by the polluter."""
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=ROWS_LEFT, polluters=(polluter(change),))
    (top,) = rank_hints(victim, [], CATALOG)
    assert (top.category, top.confidence) == ("database", "high")
    assert top.title == "a query found other rows than the test expected"
    assert top.cause.startswith("fails after tests/test_a.py::test_a, which ")
    assert top.evidence.endswith("alone; matched: +  where ['ann'] = emails(<sqlite3.Connection object at 0x7f>)")


@pytest.mark.parametrize(
    ("change", "category"),
    [
        (StateChange(kind="file", name=".state/app.sqlite3", before=None, after="size=1"), "database"),
        (StateChange(kind="file", name="data/app.db-journal", before=None, after="size=1"), "database"),
        (StateChange(kind="file", name=".state/app.dbx", before=None, after="size=1"), "filesystem"),
        (StateChange(kind="database", name=".state/app.db:users", before="0", after="1"), "database"),
        (
            StateChange(kind="event-loop-binding", name="app.http._session", before=None, after="closed"),
            "async-event-loop",
        ),
    ],
    ids=["sqlite3-file", "journal", "not-a-database", "database-kind", "event-loop-binding"],
)
def test_generic_order_hint_is_categorised_by_the_state_kind(make_failure, change, category):
    """With no signature to merge into, a polluter's hint takes its category from the state it leaves."""
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, polluters=(polluter(change),))
    (hint,) = rank_hints(victim, [], CATALOG)
    assert hint.category == category
    assert hint.cause == ""
    assert hint.title.startswith("fails after tests/test_a.py::test_a, which ")


def test_weak_signature_of_another_category_is_not_merged_and_is_dropped(make_failure):
    """A low-confidence match the polluter's state does not back stays out; the generic order hint is the answer."""
    text = Original(outcome=Outcome.FAILED, exception="FileNotFoundError", message="[Errno 2] No such file: 'a.cfg'")
    change = StateChange(kind="env", name="APP_HOME", before=None, after="/srv")
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=text, polluters=(polluter(change),))
    (hint,) = rank_hints(victim, [], CATALOG)
    assert (hint.category, hint.cause) == ("environment", "")


def test_same_category_specific_signature_is_preferred_for_the_merge(make_failure):
    """Of two specific matches, the polluter merges into the one its state backs; the other ranks below it."""
    text = LOOP_CLOSED.model_copy(update={"output": "ResourceWarning: unclosed event loop"})
    change = StateChange(kind="open-file", name="logs/x.log", before=None, after="1")
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=text, polluters=(polluter(change),))
    hints = rank_hints(victim, [], CATALOG)
    assert [(hint.category, bool(hint.cause)) for hint in hints] == [
        ("resource-leak", True),
        ("async-event-loop", False),
    ]


def test_specific_signature_is_preferred_over_a_weak_one_of_the_polluters_category(make_failure):
    """A polluter creating a file merges into the specific 'program not installed' match, not the weak file one."""
    text = Original(
        outcome=Outcome.FAILED,
        exception="FileNotFoundError",
        message="[Errno 2] No such file or directory: 'convert'",
        traceback='  File "/usr/lib/python3.11/subprocess.py", line 1024, in __init__\n',
    )
    change = StateChange(kind="file", name="bin/convert", before="size=1 mtime_ns=1", after=None)
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=text, polluters=(polluter(change),))
    (top,) = rank_hints(victim, [], CATALOG)
    assert (top.category, top.cause) == (
        "environment",
        "fails after tests/test_a.py::test_a, which deletes bin/convert",
    )


def test_each_signature_takes_one_finding_and_the_rest_stay_generic(make_failure):
    """With two polluters and one matching signature, the second polluter keeps its own generic hint below."""
    other = Polluter(
        nodeids=("tests/test_b.py::test_b",),
        confirmed_runs=2,
        confirmed_failures=2,
        state_changes=(StateChange(kind="env", name="LOOP", before=None, after="uvloop"),),
    )
    victim = failure(
        make_failure, FailureKind.ORDER_DEPENDENT, original=LOOP_CLOSED, polluters=(polluter(SESSION), other)
    )
    hints = rank_hints(victim, [], CATALOG)
    assert [(hint.category, hint.cause[:30]) for hint in hints] == [
        ("async-event-loop", "fails after tests/test_a.py::t"),
        ("environment", ""),
    ]


def test_hints_are_ranked_by_tier(make_failure):
    """Experiment evidence, then signatures with a polluter merged in, then generic order evidence."""
    text = LOOP_CLOSED.model_copy(update={"output": "ResourceWarning: unclosed event loop"})
    others = tuple(
        Polluter(
            nodeids=(f"tests/test_b.py::test_{name}",),
            confirmed_runs=2,
            confirmed_failures=2,
            state_changes=(StateChange(kind="env", name=name, before=None, after="1"),),
        )
        for name in ("b", "c")
    )
    victim = failure(make_failure, FailureKind.ORDER_DEPENDENT, original=text, polluters=(polluter(SESSION), *others))
    result = ExperimentResult("repetition", "tracks", "fails every later time in 2/2 runs")
    hints = rank_hints(victim, [result], CATALOG)
    assert [(hint.category, hint.cause.split(",")[0]) for hint in hints] == [
        ("shared-state", ""),
        ("async-event-loop", "fails after tests/test_a.py::test_a"),
        ("resource-leak", "fails after tests/test_b.py::test_b"),
        ("environment", ""),
    ]
    assert hints[3].title == "fails after tests/test_b.py::test_c, which sets the environment variable c=1"


TIMEOUT_IN_CODE = Original(
    outcome=Outcome.FAILED, exception="AssertionError", message="assert 3 == 4", traceback=TIMEOUT_TRACEBACK
)


@pytest.mark.parametrize(
    ("fields", "results", "categories"),
    [
        ({}, [], ["timing"]),
        ({}, [ExperimentResult("network", "tracks", "fails 4/4 refused, 0/4 open")], ["network"]),
        ({"polluters": (polluter(StateChange(kind="env", name="A", before=None, after="1")),)}, [], ["environment"]),
        (
            {"original": TIMEOUT_IN_CODE.model_copy(update={"output": "ResourceWarning: unclosed file"})},
            [],
            ["resource-leak"],
        ),
    ],
    ids=["nothing-else", "experiment-tracks", "polluter-found", "specific-signature"],
)
def test_weak_text_match_is_dropped_when_the_cause_is_decided(make_failure, fields, results, categories):
    """A literal sleep in the code is a hint only while nothing else decided the cause, and never ranks first then."""
    victim = failure(make_failure, **{"original": TIMEOUT_IN_CODE, **fields})
    hints = rank_hints(victim, results, CATALOG)
    assert [hint.category for hint in hints] == categories
    assert all(hint.confidence == "low" for hint in hints) == (categories == ["timing"])
