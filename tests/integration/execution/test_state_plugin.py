"""The child-side state plugin, run in real pytest subprocesses on tiny suites with planted polluters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from executorkit import run_state_plugin

from flakehound.engine.statediff import diff_states, rank_changes
from flakehound.execution import _state_plugin

if TYPE_CHECKING:
    from pathlib import Path

POLLUTER = "test_suite.py::test_polluter"
VICTIM = "test_suite.py::test_victim"


def child_env(tmpdir: Path) -> dict[str, str]:
    """Our environment (it carries coverage's subprocess settings) without pytest's own variables."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    return env | {"TMPDIR": str(tmpdir), "TZ": "UTC", "LC_ALL": "C"}


def run_suite(
    tmp_path: Path, files: dict[str, str], after: str = POLLUTER, *extra: str, tmpdir: Path | None = None
) -> dict[str, Any]:
    """Write ``files`` into a project, run pytest with the state plugin on it and load the snapshot file."""
    project = tmp_path / "project"
    if tmpdir is None:
        tmpdir = tmp_path / "tmp"
        tmpdir.mkdir()
    for name, text in {"pytest.ini": "[pytest]\n", **files}.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    target = tmp_path / "state.json"
    completed = run_state_plugin(project, target, after, child_env(tmpdir), *extra)
    assert completed.returncode in {0, 1}, completed.stdout + completed.stderr
    document: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return document


def changes_of(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """Diff the two snapshots, keyed by (kind, name)."""
    return {
        (change.kind, change.name): (change.before, change.after)
        for change in diff_states(document["before"], document["after"])
    }


SQLITE_DB = """
    import sqlite3
    from pathlib import Path

    PATH = Path(__file__).parent / "app.db"
    with sqlite3.connect(PATH) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS users (name TEXT UNIQUE)")
    setup.close()

    def add_user(name):
        connection = sqlite3.connect(PATH)
        with connection:
            connection.execute("INSERT INTO users VALUES (?)", (name,))
        connection.close()
"""

CASES = {
    "module-global": (
        {
            "state.py": "CACHE = {}\n",
            "test_suite.py": """
                import state

                def test_polluter():
                    state.CACHE["user"] = "alice"

                def test_victim():
                    assert state.CACHE == {}
            """,
        },
        ("module-attribute", "state.CACHE"),
    ),
    "test-module-global": (
        {
            "test_suite.py": """
                CALLS = 0

                def test_polluter():
                    global CALLS
                    CALLS += 1

                def test_victim():
                    assert CALLS == 0
            """,
        },
        ("module-attribute", "test_suite.CALLS"),
    ),
    "environment-variable": (
        {
            "test_suite.py": """
                import os

                def test_polluter():
                    os.environ["APP_MODE"] = "maintenance"

                def test_victim():
                    assert "APP_MODE" not in os.environ
            """,
        },
        ("env", "APP_MODE"),
    ),
    "file-on-disk": (
        {
            "test_suite.py": """
                from pathlib import Path

                CACHE = Path(__file__).parent / "data" / "cache.json"

                def test_polluter():
                    CACHE.parent.mkdir(exist_ok=True)
                    CACHE.write_text("{}")

                def test_victim():
                    assert not CACHE.exists()
            """,
        },
        ("file", "data/cache.json"),
    ),
    "sqlite-unique-row": (
        {
            "db.py": SQLITE_DB,
            "test_suite.py": """
                import db

                def test_polluter():
                    db.add_user("alice")

                def test_victim():
                    db.add_user("alice")  # sqlite3.IntegrityError: UNIQUE constraint failed
            """,
        },
        ("database", "app.db:users"),
    ),
    "sqlite-in-the-temp-dir": (
        {
            "test_suite.py": """
                import sqlite3
                import tempfile
                from pathlib import Path

                def test_polluter():
                    with sqlite3.connect(Path(tempfile.gettempdir()) / "cache.sqlite") as db:
                        db.execute("CREATE TABLE items (key TEXT)")
                        db.execute("INSERT INTO items VALUES ('a'), ('b')")
                    db.close()

                def test_victim():
                    pass
            """,
        },
        ("database", "$TMPDIR/cache.sqlite:items"),
    ),
    "monkeypatch-never-undone": (
        {
            "clock.py": """
                import time

                def now():
                    return time.time()
            """,
            "test_suite.py": """
                import clock

                def test_polluter():
                    clock.now = lambda: 0.0  # patched by hand, never restored

                def test_victim():
                    assert clock.now() > 0
            """,
        },
        ("module-attribute", "clock.now"),
    ),
    "closed-loop-in-singleton": (
        {
            "loops.py": """
                import asyncio

                class LoopHolder:
                    def __init__(self):
                        self.loop = None

                    def get(self):
                        if self.loop is None:
                            self.loop = asyncio.new_event_loop()
                        return self.loop

                HOLDER = LoopHolder()
            """,
            "test_suite.py": """
                import asyncio
                import loops

                def test_polluter():
                    loop = loops.HOLDER.get()
                    loop.run_until_complete(asyncio.sleep(0))
                    loop.close()

                def test_victim():
                    assert loops.HOLDER.get().run_until_complete(asyncio.sleep(0, "ok")) == "ok"
            """,
        },
        ("module-attribute", "loops.HOLDER"),
    ),
    "closed-loop-in-class-attribute": (
        {
            "loops.py": """
                import asyncio

                class Pool:
                    _loop = None

                    @classmethod
                    def loop(cls):
                        if cls._loop is None:
                            cls._loop = asyncio.new_event_loop()
                        return cls._loop
            """,
            "test_suite.py": """
                import loops

                def test_polluter():
                    loops.Pool.loop().close()

                def test_victim():
                    assert not loops.Pool.loop().is_closed()
            """,
        },
        ("module-attribute", "loops.Pool._loop"),
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_planted_polluter_state_is_named_by_the_diff(tmp_path, files, expected):
    """The diff of the snapshots before the first test and after the polluter names what it left behind."""
    document = run_suite(tmp_path, files)
    changes = changes_of(document)
    assert expected in changes
    before, after = changes[expected]
    assert after is not None
    assert before != after


def test_victim_traceback_ranks_the_polluted_name_first(tmp_path):
    """Ranked against the victim's traceback text, the state it mentions comes first."""
    files, _ = CASES["module-global"]
    document = run_suite(
        tmp_path,
        {**files, "test_other.py": "import os\n\ndef test_noise():\n    os.environ['NOISE'] = '1'\n"},
    )
    changes = diff_states(document["before"], document["after"])
    ranked = rank_changes(changes, "    assert state.CACHE == {}\nE   AssertionError: assert {'user': 'alice'} == {}")
    assert (ranked[0].kind, ranked[0].name) == ("module-attribute", "state.CACHE")


def test_closed_singleton_loop_shows_closed_in_the_fingerprint(tmp_path):
    """A loop cached on a singleton and closed shows up as closed in the singleton's fingerprint."""
    files, expected = CASES["closed-loop-in-singleton"]
    _, after = changes_of(run_suite(tmp_path, files))[expected]
    assert after is not None
    assert "closed=True" in after


def test_sqlite_row_and_leaked_connection_are_both_seen(tmp_path):
    """A committed sqlite row is counted in its table, not as a file change; a connection left open is an open file."""
    files = {
        "db.py": SQLITE_DB,
        "test_suite.py": """
            import sqlite3
            import db

            LEAK = []

            def test_polluter():
                db.add_user("alice")
                LEAK.append(sqlite3.connect(db.PATH))

            def test_victim():
                db.add_user("alice")
        """,
    }
    document = run_suite(tmp_path, files)
    changes = changes_of(document)
    assert changes["database", "app.db:users"] == ("0", "1")
    assert ("file", "app.db") not in changes
    opened = [name for kind, name in changes if kind == "open-file"]
    assert any(name.endswith("app.db") for name in opened)
    assert ("fd", "count") not in changes  # the descriptor count is noise beside the open file it counts


def test_other_kinds_of_leftover_state_are_named(tmp_path):
    """cwd, sys.path, modules, threads, loop, signals, loggers, time zone, locale and temp files are named."""
    files = {
        "test_suite.py": """
            import asyncio
            import locale
            import logging
            import os
            import signal
            import sys
            import tempfile
            import threading
            import time
            from pathlib import Path

            def test_polluter(tmp_path_factory):
                os.chdir(tmp_path_factory.mktemp("elsewhere"))
                sys.path.insert(0, "/opt/leaked-plugins")
                import lazy_mod  # noqa: F401
                stop = threading.Event()
                threading.Thread(target=stop.wait, name="leaky-worker", daemon=True).start()
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                loop.close()
                signal.signal(signal.SIGUSR1, lambda *_: None)
                logging.getLogger("app").setLevel(logging.DEBUG)
                logging.getLogger("app").addHandler(logging.StreamHandler())
                os.environ["TZ"] = "Asia/Tokyo"
                time.tzset()
                locale.setlocale(locale.LC_NUMERIC, "C.utf8")
                (Path(tempfile.gettempdir()) / "app-lock").write_text("locked")

            def test_victim():
                pass
        """,
        "lazy_mod.py": "VALUE = 1\n",
    }
    document = run_suite(tmp_path, files)
    changes = changes_of(document)
    expected = {
        ("cwd", "cwd"),
        ("sys.path", "/opt/leaked-plugins"),
        ("thread", "leaky-worker daemon=True"),
        ("asyncio", "current loop"),
        ("signal", "SIGUSR1"),
        ("logger", "app:level"),
        ("logger", "app:handler StreamHandler"),
        ("env", "TZ"),
        ("timezone", "tzname"),
        ("locale", "LC_NUMERIC"),
        ("file", "$TMPDIR/app-lock"),
    }
    assert expected <= set(changes)
    assert changes["asyncio", "current loop"] == ("none", "closed")
    assert changes["signal", "SIGUSR1"] == ("default", "test_polluter.<locals>.<lambda>")
    assert changes["logger", "app:level"] == (None, "DEBUG")
    # the first import of a module is noise beside real changes, and so are its globals
    assert not {(kind, name) for kind, name in changes if "lazy_mod" in name}


def test_state_pytest_restores_itself_is_not_reported(tmp_path):
    """Warnings filters, captured log handlers and tmp_path files that pytest undoes are not reported."""
    files = {
        "test_suite.py": """
            import logging
            import warnings

            def test_polluter(tmp_path, caplog, monkeypatch):
                warnings.simplefilter("ignore")
                logging.getLogger().warning("captured")
                monkeypatch.setenv("PATCHED", "1")
                (tmp_path / "scratch.txt").write_text("x")

            def test_victim():
                pass
        """,
    }
    document = run_suite(tmp_path, files)
    changes = changes_of(document)
    assert {kind for kind, _ in changes} <= {"module"}  # tmp_path imports getpass & co. on first use


def test_named_test_that_never_ran_leaves_after_empty(tmp_path):
    """When the named test does not run, the file still holds the first snapshot and no second one."""
    files, _ = CASES["module-global"]
    document = run_suite(tmp_path, files, "test_suite.py::test_missing")
    assert document["after"] is None
    assert document["after_nodeid"] == "test_suite.py::test_missing"
    assert "state.CACHE" in document["before"]["module-attribute"]


def test_vcs_virtualenv_cache_symlinks_and_own_files_are_not_walked(tmp_path):
    """VCS, virtualenv and cache dirs, symlinks and the streamed results file are left out of the file map."""
    files = {
        "test_suite.py": "def test_polluter():\n    pass\n\ndef test_victim():\n    pass\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/thing.py": "",
        "node_modules/x.js": "",
        "src/app.py": "",
    }
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "link").symlink_to(tmp_path)
    results = tmp_path / "project" / "results.jsonl"
    document = run_suite(
        tmp_path,
        files,
        VICTIM,
        "-p",
        "flakehound.execution.pytest_plugin",
        f"--flakehound-results={results}",
    )
    assert results.stat().st_size > 0
    walked = set(document["before"]["file"]) | set(document["after"]["file"])
    assert {"src/app.py", "test_suite.py", "pytest.ini"} <= walked
    left_out = (".git/", "env/", "node_modules/", "link", "results.jsonl")
    assert not {name for name in walked if name.startswith(left_out)}


def test_project_inside_the_temp_dir_is_listed_once(tmp_path):
    """A project under the temp dir is walked as the project (relative names), not again as temp files."""
    files, _ = CASES["file-on-disk"]
    document = run_suite(tmp_path, files, POLLUTER, tmpdir=tmp_path)
    walked = document["after"]["file"]
    assert "data/cache.json" in walked
    assert not [name for name in walked if name.endswith("cache.json") and name != "data/cache.json"]


def test_plugin_without_a_state_file_does_nothing(tmp_path):
    """Loaded without --flakehound-state, the plugin records nothing and the run is unaffected."""
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    pass\n", encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "flakehound.execution._state_plugin",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout
    written = {path.name for path in tmp_path.iterdir()} - {"__pycache__", "test_ok.py"}
    assert {name for name in written if not name.startswith(".coverage")} == set()


def test_file_walk_stops_at_the_limit_and_says_so(tmp_path):
    """A tree larger than the limit is cut off with an entry saying where and at how many files."""
    for index in range(3):
        (tmp_path / f"f{index}.txt").write_text("x")
    found = _state_plugin.walk_files(tmp_path, tmp_path, set(), limit=2, prefix="$TMPDIR/")
    assert len(found) == 3
    assert found["$TMPDIR/(more files)"] == "cut off at 2 files"
    assert set(found) - {"$TMPDIR/(more files)"} <= {f"$TMPDIR/f{index}.txt" for index in range(3)}


def test_file_walk_of_a_missing_directory_is_empty(tmp_path):
    """A root that does not exist (removed meanwhile) yields no files rather than an error."""
    assert _state_plugin.walk_files(tmp_path / "gone", tmp_path, set()) == {}


def test_descriptors_without_proc_are_left_out(tmp_path):
    """Where there is no /proc/self/fd there are no descriptor targets (rather than none open)."""
    assert _state_plugin.descriptor_targets(tmp_path / "no-proc") is None


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError


class _Bag:
    def __init__(self, **attributes: object) -> None:
        self.__dict__.update(attributes)


class _Slotted:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "NoneType None"),
        ("x" * 200, "str '" + "x" * 118 + "…"),
        (_BadRepr(), "_BadRepr@"),
        (list(range(_state_plugin.MAX_HASHED_LEN + 1)), f"len={_state_plugin.MAX_HASHED_LEN + 1}"),
        ([_BadRepr()], "len=1 crc="),
        (_Slotted(), "_Slotted@"),
        (len, "builtin_function_or_method@"),
        (
            _Bag(rows=list(range(_state_plugin.MAX_HASHED_LEN + 1))),
            f"rows=<list len={_state_plugin.MAX_HASHED_LEN + 1}>",
        ),
        (_Bag(**{f"a{index}": index for index in range(200)}), "…} crc="),
    ],
    ids=[
        "none",
        "long-string",
        "raising-repr",
        "huge-list",
        "list-with-raising-repr",
        "slots",
        "builtin",
        "object-holding-huge-list",
        "object-with-many-attributes",
    ],
)
def test_fingerprint_never_raises_and_stays_short(value, expected):
    """Fingerprints show scalars by value, big containers by size, and survive a repr that raises."""
    fingerprint = _state_plugin.fingerprint(value)
    assert expected in fingerprint
    assert len(fingerprint) <= _state_plugin.MAX_SHOWN + 100


class _Plain:
    def __init__(self) -> None:
        self.warm = True
        self.hook = len


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, "{}"),
        ({"warm": True}, "{'warm': True}"),
        ("production", "'production'"),
        ("x" * 200, "'" + "x" * (_state_plugin.SHORT_REPR - 2) + "…"),
        (_Plain(), "_Plain(hook=<built-in function len>, warm=True)"),
        (_Slotted(), "<test_state_plugin._Slotted object>"),
        (_BadRepr(), "<_BadRepr whose repr raised>"),
        (len, "<builtin_function_or_method len>"),
        (list(range(_state_plugin.MAX_HASHED_LEN + 1)), f"<list of {_state_plugin.MAX_HASHED_LEN + 1} items>"),
    ],
    ids=["empty-dict", "dict", "string", "long-string", "plain-object", "slots", "raising-repr", "builtin", "huge"],
)
def test_shown_values_read_like_python_without_addresses_or_checksums(value, expected):
    """What a person reads of a module attribute: its repr, cut short, with no memory address and no hash."""
    shown = _state_plugin.shown(value)
    assert shown == expected
    assert "0x" not in shown
    assert len(shown) <= _state_plugin.SHORT_REPR


def test_logging_configuration_is_read_aspect_by_aspect(tmp_path):
    """Levels, propagation, disabling, handlers added and removed, handler formatters: each its own change."""
    files = {
        "logsetup.py": """
            import logging

            logging.getLogger("app.audit").addHandler(logging.NullHandler())
        """,
        "test_suite.py": """
            import logging

            import logsetup  # noqa: F401


            class Bare(logging.Formatter):
                def __init__(self):
                    pass  # no format string of its own


            def test_polluter():
                app = logging.getLogger("app")
                app.propagate = False
                logging.getLogger("app.db").disabled = True
                first = logging.StreamHandler()
                first.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
                app.addHandler(first)
                second = logging.StreamHandler()
                second.setFormatter(Bare())
                app.addHandler(second)
                audit = logging.getLogger("app.audit")
                audit.removeHandler(audit.handlers[0])
                logging.getLogger().setLevel(logging.ERROR)
                logging.getLogger("app.quiet.child")  # created with default settings: nothing to name

            def test_victim():
                pass
        """,
    }
    changes = changes_of(run_suite(tmp_path, files))
    assert {name: values for (kind, name), values in changes.items() if kind == "logger"} == {
        "app:propagate": (None, "off"),
        "app.db:disabled": (None, "yes"),
        "app:handler StreamHandler": (None, "present"),
        "app:handler StreamHandler formatter": (None, "Formatter('%(levelname)s %(message)s')"),
        "app:handler StreamHandler #2": (None, "present"),
        "app:handler StreamHandler #2 formatter": (None, "Bare"),
        "app.audit:handler NullHandler": ("present", None),
        "root:level": ("WARNING", "ERROR"),
    }


def test_fixtures_that_outlive_a_test_are_compared_as_set_up_and_after(tmp_path):
    """Session and module fixtures of the project: value after setup vs after the test; others are left out."""
    files = {
        "conftest.py": """
            import pytest

            @pytest.fixture(scope="session")
            def settings():
                return {"mode": "prod"}

            @pytest.fixture(scope="module")
            def early_only():
                return []

            @pytest.fixture
            def per_test():
                return {"n": 0}

            @pytest.fixture(scope="session")
            def broken():
                raise RuntimeError("cannot set up")
        """,
        "test_a.py": """
            def test_early(early_only, tmp_path):
                early_only.append(1)
        """,
        "test_suite.py": """
            import pytest

            @pytest.fixture(scope="session")
            def settings(settings):
                return settings  # overrides the conftest's, on top of it

            def test_broken(broken):
                pass

            def test_polluter(settings, per_test):
                settings["mode"] = "test"
                per_test["n"] = 1

            def test_victim(settings):
                assert settings == {"mode": "prod"}
        """,
    }
    document = run_suite(tmp_path, files)
    changes = changes_of(document)
    assert {name: values for (kind, name), values in changes.items() if kind == "fixture"} == {
        "session:settings": ("{'mode': 'prod'}", "{'mode': 'test'}"),
        "session:settings #2": ("{'mode': 'prod'}", "{'mode': 'test'}"),
    }
    assert document["before"]["fixture"].keys() == document["after"]["fixture"].keys()


def test_leaked_descriptors_are_named_without_inode_numbers(tmp_path):
    """A leaked socket, pipe and unnamed temporary file read as such; a project file by its relative path."""
    files = {
        "data.txt": "x",
        "test_suite.py": """
            import os
            import socket
            import tempfile
            from pathlib import Path

            LEAKS = []

            def test_polluter():
                LEAKS.append(socket.socket())
                LEAKS.append(os.pipe())
                LEAKS.append(tempfile.TemporaryFile())
                LEAKS.append((Path(__file__).parent / "data.txt").open())

            def test_victim():
                pass
        """,
    }
    changes = changes_of(run_suite(tmp_path, files))
    opened = {name: values for (kind, name), values in changes.items() if kind == "open-file"}
    assert opened["a socket"][1] is not None
    assert opened["data.txt"] == (None, "1")
    assert int(opened["a pipe"][1] or 0) - int(opened["a pipe"][0] or 0) == 2  # both ends of os.pipe()
    temporary = opened["an unnamed temporary file"]
    assert int(temporary[1] or 0) > int(temporary[0] or 0)
    assert not [name for name in opened if "[" in name or "#" in name]
