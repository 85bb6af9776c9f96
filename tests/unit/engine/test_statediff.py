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


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (change("file", "data/x.json", "size=2 mtime_ns=1", "size=2 mtime_ns=9"), "rewrites data/x.json (same size)"),
        (
            change("fixture", "session:config", "{'debug': False}", "{'debug': True}"),
            "changes session fixture config from {'debug': False} to {'debug': True}",
        ),
        (
            StateChange(kind="fixture", name="module:rows", before="[…", after="[…", beyond_shown=True),
            "changes module fixture rows beyond what its value shows ([…): replaced or mutated deep inside",
        ),
        (change("database", ".state/app.db:users", "0", "1"), "adds 1 row to table users in .state/app.db"),
        (change("database", "$TMPDIR/a.db:users", "5", "2"), "removes 3 rows from table users in $TMPDIR/a.db"),
        (change("database", "a.db:users", None, "2"), "creates table users in a.db with 2 rows"),
        (change("database", "a.db:users", "2", None), "drops table users from a.db"),
        (
            change("database", "a.db:*", None, "unreadable: database is locked"),
            "leaves a.db unreadable (database is locked)",
        ),
        (change("database", "a.db:*", "unreadable: database is locked", None), "makes a.db readable again"),
        (
            change("event-loop-binding", "app.http._session", None, "bound to a closed loop"),
            "leaves app.http._session bound to a closed event loop",
        ),
        (
            change("event-loop-binding", "app.Pool._loop", None, "closed loop"),
            "leaves app.Pool._loop holding a closed event loop",
        ),
        (
            change("event-loop-binding", "app.http._session", "bound to a closed loop", None),
            "releases app.http._session from a closed event loop",
        ),
        (change("logger", "app:level", "WARNING", "DEBUG"), "sets the level of logger 'app' from WARNING to DEBUG"),
        (change("logger", "app:level", "DEBUG", None), "sets the level of logger 'app' from DEBUG to NOTSET"),
        (change("logger", "root:level", "WARNING", "ERROR"), "sets the level of the root logger from WARNING to ERROR"),
        (change("logger", "app:propagate", None, "off"), "turns propagation off for logger 'app'"),
        (change("logger", "app:propagate", "off", None), "turns propagation back on for logger 'app'"),
        (change("logger", "app:disabled", None, "yes"), "disables logger 'app'"),
        (change("logger", "app:disabled", "yes", None), "enables logger 'app' again"),
        (change("logger", "app:handler StreamHandler", None, "present"), "adds a StreamHandler to logger 'app'"),
        (change("logger", "app:handler Handler #2", None, "present"), "adds another Handler to logger 'app'"),
        (change("logger", "app:handler EmailHandler", "present", None), "removes an EmailHandler from logger 'app'"),
        (
            change("logger", "app:handler StreamHandler level", None, "DEBUG"),
            "sets the level of the StreamHandler on logger 'app' from NOTSET to DEBUG",
        ),
        (
            change("logger", "app:handler FileHandler #2 formatter", None, "Formatter('%(message)s')"),
            "sets the formatter of the FileHandler #2 on logger 'app' from none to Formatter('%(message)s')",
        ),
        (change("asyncio", "current loop", "none", "open"), "leaves an open event loop set as the current one"),
        (change("asyncio", "current loop", "closed", "none"), "unsets the current event loop (it was closed)"),
        (
            change("asyncio", "policy", "DefaultEventLoopPolicy", "UvloopPolicy"),
            "changes the asyncio event loop policy from DefaultEventLoopPolicy to UvloopPolicy",
        ),
        (change("thread", "poller daemon=False", "present", None), "ends thread poller"),
        (change("thread", "poller daemon=True #2", "present", "other"), "changes daemon thread poller"),
        (change("open-file", "a socket", None, "1"), "leaves a socket open"),
        (change("open-file", ".state/app.db", None, "2"), "leaves .state/app.db open (2 descriptors)"),
        (change("open-file", "a pipe", "1", "3"), "opens a pipe 2 more times"),
        (change("open-file", "$TMPDIR/log", "3", "2"), "closes 1 descriptor on $TMPDIR/log"),
        (change("module", "json", None, "present"), "imports json"),
        (change("module", "json", "present", None), "removes json from sys.modules"),
        (change("sys.path", "/x", "present", "other"), "changes /x on sys.path"),
        (change("warnings-filter", "error::Warning", None, "present"), "adds the warnings filter error::Warning"),
        (change("signal", "SIGTERM", "default", "stop"), "changes the SIGTERM handler from default to stop"),
        (change("fd", "count", "12", "14"), "changes the number of open file descriptors from 12 to 14"),
        (
            StateChange(kind="custom", name="x", before="1", after="1", beyond_shown=True),
            "changes custom x beyond what its value shows (1)",
        ),
        (change("env", "TOKEN", None, "a\u200bb\x1b"), "sets the environment variable TOKEN=a\\u200bb\\x1b"),
        (change("module-attribute", "app.obj", None, "<Thing at 0x7f3a9c>"), "adds app.obj = <Thing>"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_each_kind_of_change_reads_as_words(found, words):
    """Every kind reads as a verb phrase: no sizes, mtimes, addresses or invisible characters."""
    assert describe_change(found) == words


def test_row_counts_replace_the_raw_change_of_the_database_file_and_its_journals():
    """When a database's rows changed, its file's (and its -wal's) size/mtime change is not listed."""
    before = {"file": {"app.db": "size=1 mtime_ns=1", "app.db-wal": "size=0 mtime_ns=1"}, "database": {"app.db:t": "0"}}
    after = {"file": {"app.db": "size=2 mtime_ns=2", "app.db-wal": "size=9 mtime_ns=2"}, "database": {"app.db:t": "1"}}
    assert diff_states(before, after) == [change("database", "app.db:t", "0", "1")]


def test_a_deleted_database_is_said_as_a_deleted_file_not_as_dropped_tables():
    """A database file that is gone reads "deletes app.db", not one "drops table" per table."""
    before = {"file": {"app.db": "size=1 mtime_ns=1"}, "database": {"app.db:t": "0", "app.db:u": "3"}}
    after: dict[str, dict[str, str]] = {"file": {}, "database": {}}
    assert diff_states(before, after) == [change("file", "app.db", "size=1 mtime_ns=1", None)]


def test_an_unreadable_database_hides_the_tables_it_could_not_show():
    """A database locked after the polluter is named as unreadable; its tables are not claimed dropped."""
    before = {"database": {"app.db:users": "1"}}
    after = {"database": {"app.db:*": "unreadable: database is locked"}}
    assert diff_states(before, after) == [change("database", "app.db:*", None, "unreadable: database is locked")]


def test_noise_is_dropped_beside_a_real_change_and_kept_alone():
    """Imports, a new module's globals, same-size file rewrites and fd counts go when anything telling changed."""
    noise_before = {"module": {}, "file": {"a.txt": "size=1 mtime_ns=1"}, "fd": {"count": "3"}, "module-attribute": {}}
    noise_after = {
        "module": {"pkg.lazy": "present"},
        "module-attribute": {"pkg.lazy.VALUE": "1", "pkg.lazy.Thing.flag": "True"},
        "file": {"a.txt": "size=1 mtime_ns=2"},
        "fd": {"count": "4"},
    }
    only_noise = diff_states(noise_before, noise_after)
    assert [found.kind for found in only_noise] == ["module-attribute", "module-attribute", "file", "module", "fd"]
    telling = diff_states({**noise_before, "env": {}}, {**noise_after, "env": {"MODE": "x"}})
    assert telling == [change("env", "MODE", None, "x")]


def test_the_most_telling_kinds_come_first():
    """A closed-loop binding, fixture, database row and attribute come before logging, env, files and threads."""
    after = {
        "thread": {"t daemon=True": "present"},
        "file": {"out.txt": "size=1 mtime_ns=1"},
        "env": {"MODE": "x"},
        "logger": {"app:level": "DEBUG"},
        "module-attribute": {"app.CACHE": "{}"},
        "database": {"a.db:users": "1"},
        "fixture": {"session:config": "{}"},
        "event-loop-binding": {"app.s": "bound to a closed loop"},
    }
    kinds = [found.kind for found in diff_states({}, after)]
    assert kinds == [
        "event-loop-binding",
        "fixture",
        "database",
        "module-attribute",
        "logger",
        "env",
        "file",
        "thread",
    ]


@pytest.mark.parametrize(
    ("found", "text"),
    [
        (change("fixture", "session:config"), "config = {'debug': True}"),
        (change("database", ".state/app.db:users"), "UNIQUE constraint failed: users.name"),
        (change("logger", "app.audit:level"), "no log record from app.audit"),
        (change("thread", "poller daemon=True"), "poller still running"),
    ],
    ids=["fixture-name", "table", "logger", "thread"],
)
def test_the_names_inside_structured_names_count_as_mentions(found, text):
    """A fixture's name, a table, a logger and a thread are found in a traceback without their decorations."""
    other = change("env", "UNRELATED_VARIABLE")
    assert rank_changes([other, found], text) == [found, other]
