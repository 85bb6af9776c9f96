"""Comparing two state snapshots and ranking the changes by what the victim's failure mentions."""

from __future__ import annotations

import pytest

from flakehound.engine.statediff import KIND_ORDER, describe_change, diff_states, rank_changes
from flakehound.models import StateChange


def change(kind: str, name: str, before: str | None = "a", after: str | None = "b") -> StateChange:
    """Build a StateChange with placeholder values."""
    return StateChange(kind=kind, name=name, before=before, after=after)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {}, []),
        ({"env": {"HOME": "/root"}}, {"env": {"HOME": "/root"}}, []),
        ({"env": {}}, {"env": {"APP_MODE": "x"}}, [change("env", "APP_MODE", None, "x")]),
        ({"env": {"APP_MODE": "x"}}, {"env": {}}, [change("env", "APP_MODE", "x", None)]),
        (
            {"module-attribute": {"state.CACHE": "dict len=0"}},
            {"module-attribute": {"state.CACHE": "dict len=1"}},
            [change("module-attribute", "state.CACHE", "dict len=0", "dict len=1")],
        ),
        ({}, {"file": {"out.txt": "size=1"}}, [change("file", "out.txt", None, "size=1")]),
        ({"thread": {"worker": "present"}}, {}, [change("thread", "worker", "present", None)]),
        (
            {"env": {"B": "1", "A": "1"}, "cwd": {"cwd": "/p"}},
            {"env": {"B": "2", "A": "2"}, "cwd": {"cwd": "/q"}},
            [change("env", "A", "1", "2"), change("env", "B", "1", "2"), change("cwd", "cwd", "/p", "/q")],
        ),
    ],
    ids=["empty", "unchanged", "added", "removed", "changed", "new-kind", "vanished-kind", "sorted"],
)
def test_diff_lists_added_removed_and_changed_names_sorted(before, after, expected):
    """The diff has one change per differing name, None for the missing side, by KIND_ORDER then name."""
    assert diff_states(before, after) == expected


def test_victim_mention_ranks_first():
    """A change whose name the victim's traceback mentions comes before unmentioned ones of any kind."""
    changes = [change("env", "NOISE"), change("module", "getpass"), change("module-attribute", "state.CACHE")]
    ranked = rank_changes(changes, "    assert state.CACHE == {}\nE   AssertionError")
    assert ranked[0].name == "state.CACHE"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("state.CACHE", "assert CACHE == {}"),
        ("pkg.mod.Registry._loop", "Registry._loop is closed"),
        ("APP_MODE", "KeyError: 'APP_MODE'"),
        ("data/cache.json", "FileExistsError: /tmp/p/data/cache.json"),
        ("data/cache.json", "fixture 'cache' uses a stale file"),
        ("C:\\proj\\app.db", "sqlite3.IntegrityError in app.db"),
    ],
    ids=["attribute-tail", "class-attribute", "env", "file-path", "file-stem", "windows-path"],
)
def test_name_parts_count_as_mentions(name, text):
    """Tails of dotted names, env names, path tails and file stems count as mentions."""
    mentioned, other = change("module-attribute", name), change("env", "UNRELATED_VARIABLE")
    assert rank_changes([other, mentioned], text) == [mentioned, other]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("state.k", "assert k == 1"),
        ("state.CACHE", "assert CACHES == {}"),
        ("data/cache.json", "nothing relevant"),
    ],
    ids=["too-short", "not-a-whole-word", "absent"],
)
def test_short_or_partial_words_are_not_mentions(name, text):
    """Name parts under three characters or inside a longer word do not count as mentions."""
    first, second = change("env", "A_VARIABLE"), change("module", name)
    assert rank_changes([second, first], text) == [first, second]


def test_more_specific_mention_ranks_higher():
    """Of two mentioned changes, the one whose matching part is longer comes first."""
    loose, exact = change("module-attribute", "other.state"), change("module-attribute", "app.state.CACHE")
    assert rank_changes([loose, exact], "app.state.CACHE was {'k': 1}") == [exact, loose]


def test_unmentioned_changes_follow_kind_order_then_input_order():
    """Without mentions, kinds follow KIND_ORDER (unknown kinds last) and ties keep their order."""
    changes = [
        change("module", "json"),
        change("custom", "thing"),
        change("env", "B_VAR"),
        change("module-attribute", "m.x"),
        change("env", "A_VAR"),
    ]
    ranked = rank_changes(changes, "")
    assert [(item.kind, item.name) for item in ranked] == [
        ("module-attribute", "m.x"),
        ("env", "B_VAR"),
        ("env", "A_VAR"),
        ("module", "json"),
        ("custom", "thing"),
    ]
    assert KIND_ORDER.index("module-attribute") < KIND_ORDER.index("module")


def test_a_fingerprint_change_behind_an_equal_shown_value_is_reported():
    """Equal shown values with different fingerprints: the change is kept and marked as beyond what is shown."""
    before = {"module-attribute": {"app.ROWS": "[0, 1, …"}, "module-attribute:identity": {"app.ROWS": "list@1 crc=1"}}
    after = {"module-attribute": {"app.ROWS": "[0, 1, …"}, "module-attribute:identity": {"app.ROWS": "list@1 crc=2"}}
    (found,) = diff_states(before, after)
    assert (found.kind, found.name, found.beyond_shown) == ("module-attribute", "app.ROWS", True)
    assert describe_change(found) == (
        "changes app.ROWS beyond what its value shows ([0, 1, …): replaced or mutated deep inside"
    )
    assert diff_states(before, before) == []


def test_the_descriptor_count_is_reported_only_when_nothing_else_changed():
    """The fd count beside a real change is noise and is left out; alone, it is the only clue and is kept."""
    only_fd = diff_states({"fd": {"count": "12"}}, {"fd": {"count": "14"}})
    assert only_fd == [change("fd", "count", "12", "14")]
    with_file = diff_states({"fd": {"count": "12"}}, {"fd": {"count": "14"}, "file": {"app.db": "size=1"}})
    assert with_file == [change("file", "app.db", None, "size=1")]


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (change("file", ".state/app.db", None, "size=12288 mtime_ns=1"), "creates .state/app.db"),
        (change("file", ".state/app.db", "size=1 mtime_ns=1", None), "deletes .state/app.db"),
        (change("file", "$TMPDIR/lock", "size=1 mtime_ns=1", "size=2 mtime_ns=2"), "changes $TMPDIR/lock"),
        (
            change("module-attribute", "pkg.MODE", "'production'", "'test'"),
            "changes pkg.MODE from 'production' to 'test'",
        ),
        (change("env", "TZ", None, "UTC"), "sets the environment variable TZ=UTC"),
        (change("env", "TZ", "UTC", None), "unsets the environment variable TZ"),
        (change("cwd", "cwd", "/p", "/q"), "changes the working directory from /p to /q"),
        (change("sys.path", "/extra", None, "present"), "adds /extra to sys.path"),
        (change("thread", "worker daemon=True", None, "present"), "leaves daemon thread worker running"),
        (change("warnings-filter", "('error', ...)", "present", None), "removes the warnings filter ('error', ...)"),
        (change("locale", "LC_TIME", "C", "de_DE"), "changes locale LC_TIME from C to de_DE"),
        (change("locale", "LC_NEW", None, "C"), "adds locale LC_NEW = C"),
        (change("locale", "LC_OLD", "C", None), "removes locale LC_OLD"),
    ],
    ids=[
        "file-created",
        "file-deleted",
        "file-modified",
        "attribute",
        "env-set",
        "env-unset",
        "cwd",
        "sys-path",
        "thread",
        "warnings",
        "other-changed",
        "other-added",
        "other-removed",
    ],
)
def test_a_change_in_words(found, words):
    """Each kind reads as a verb phrase, files by what happened to them, never by size and mtime."""
    assert describe_change(found) == words
