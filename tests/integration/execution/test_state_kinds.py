"""The state kinds that need more than a repr, read in this process from real sqlite files and objects."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import warnings
from typing import TYPE_CHECKING

import pytest

from flakehound.execution import _state_kinds, _state_plugin

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def make_database(path: Path, rows: int) -> None:
    """A sqlite file with a table ``users`` of ``rows`` rows and an empty table with a quote in its name."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
        connection.execute('CREATE TABLE "odd ""name"" table" (x)')
        connection.executemany("INSERT INTO users VALUES (?)", [(f"user{index}",) for index in range(rows)])
    connection.close()


def rows_of(root: Path, *, held: tuple[str, ...] = ()) -> dict[str, str]:
    """Count the rows of the databases among the files under ``root``, named relative to it."""
    files = {path.relative_to(root).as_posix(): "" for path in root.rglob("*") if path.is_file()}
    return _state_kinds.database_rows(files, root.joinpath, held)


def test_sqlite_tables_are_counted_and_other_files_skipped(tmp_path):
    """Only real sqlite files (by header, among the database endings) are read; each table gives its row count."""
    make_database(tmp_path / "app.db", 2)
    (tmp_path / "notes.db").write_text("not a database at all, despite the name")
    make_database(tmp_path / "app.bin", 1)  # a database, but under an ending not looked at
    assert rows_of(tmp_path) == {"app.db:users": "2", 'app.db:odd "name" table': "0"}


def test_reading_a_database_leaves_it_untouched(tmp_path):
    """The read-only count writes nothing: same bytes, no journal left beside it."""
    make_database(tmp_path / "app.db", 3)
    before = (tmp_path / "app.db").read_bytes()
    assert rows_of(tmp_path)["app.db:users"] == "3"
    assert (tmp_path / "app.db").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["app.db"]


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A database another connection of this process holds an exclusive lock on."""
    path = tmp_path / "locked.sqlite"
    make_database(path, 1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield path
    holder.execute("ROLLBACK")
    holder.close()


def test_a_locked_database_is_unreadable_rather_than_empty(locked):
    """A database that cannot be read says so under ``FILE:*``; no table is claimed to be gone."""
    assert rows_of(locked.parent, held=(str(locked),)) == {"locked.sqlite:*": "unreadable: database is locked"}


def test_a_database_this_process_holds_open_is_checked_by_sqlite_itself(tmp_path):
    """A held file's header is not read by Python (that would drop the process's locks); sqlite still counts it."""
    make_database(tmp_path / "held.db", 4)
    (tmp_path / "held-text.db").write_text("plain text")
    held = (str(tmp_path / "held.db"), str(tmp_path / "held-text.db"))
    assert rows_of(tmp_path, held=held) == {
        "held.db:users": "4",
        'held.db:odd "name" table': "0",
        "held-text.db:*": "unreadable: file is not a database",
    }


def test_big_and_vanished_files_are_not_opened(tmp_path):
    """A database over the size limit, or a file gone since the walk, is left out."""
    big = tmp_path / "big.db"
    make_database(big, 1)
    with big.open("r+b") as handle:
        handle.truncate(_state_kinds.MAX_DATABASE_BYTES + 1)
    files = {"big.db": "", "gone.db": ""}
    assert _state_kinds.database_rows(files, tmp_path.joinpath, ()) == {}


class _Session:
    """Like an aiohttp ClientSession: keeps the loop it was made in."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop


class _Client:
    """Holds a session, as an API client does."""

    def __init__(self, session: object) -> None:
        self.session = session
        self.retries = 3


@pytest.fixture
def closed_loop() -> asyncio.AbstractEventLoop:
    """A new event loop, already closed."""
    loop = asyncio.new_event_loop()
    loop.close()
    return loop


@pytest.fixture
def open_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop, closed after the test."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_closed_loops_and_objects_bound_to_them_are_found(closed_loop, open_loop):
    """A closed loop, an object keeping one and an object whose attribute keeps one are named; open ones not."""
    attributes = [
        ("app.LOOP", closed_loop),
        ("app.session", _Session(closed_loop)),
        ("app.client", _Client(_Session(closed_loop))),
        ("app.fresh", _Session(open_loop)),
        ("app.fresh_client", _Client(_Session(open_loop))),
        ("app.Session", _Session),
        ("app.number", 3),
    ]
    assert _state_kinds.closed_loop_bindings(attributes, (type,)) == {
        "app.LOOP": "closed loop",
        "app.session": "bound to a closed loop",
        "app.client.session": "bound to a closed loop",
    }


def test_warnings_filters_read_in_the_w_option_syntax():
    """Each filter reads as ``-W`` would take it, empty trailing fields dropped."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("ignore", message="old api", category=DeprecationWarning, module="pkg", lineno=3)
        warnings.simplefilter("error")
        assert _state_kinds.warnings_filters() == ["error::Warning", "ignore:old api:DeprecationWarning:pkg:3"]


@pytest.mark.parametrize(
    ("handler", "name"),
    [(None, "not set from Python"), (functools.partial(print), "partial"), (print, "print")],
    ids=["set-outside-python", "no-qualname", "function"],
)
def test_signal_handlers_are_named_for_a_reader(handler, name):
    """A handler reads as its name; one set outside Python, or without a name of its own, says so."""
    assert _state_kinds.handler_name(handler) == name


class _Proxy:
    """Like werkzeug's ``request`` outside a request: looking at its attributes raises."""

    @property
    def __dict__(self) -> dict[str, object]:
        msg = "working outside of request context"
        raise RuntimeError(msg)

    def __repr__(self) -> str:
        return "<LocalProxy unbound>"


def test_a_proxy_that_raises_on_its_attributes_is_read_by_its_repr():
    """A module global that raises when its attributes are read is shown by its repr and holds no loop."""
    proxy = _Proxy()
    assert _state_kinds.namespace(proxy) is None
    assert _state_kinds.closed_loop_bindings([("app.request", proxy), ("app.view", _Client(proxy))], (type,)) == {}
    assert _state_plugin.shown(proxy) == "<LocalProxy unbound>"
    assert _state_plugin.fingerprint(proxy).startswith("_Proxy@")
