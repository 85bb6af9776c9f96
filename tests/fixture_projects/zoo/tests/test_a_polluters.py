import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path

import zoo.clock
import zoo.state
from zoo.client import get_client


def test_sets_env():
    os.environ["ZOO_MODE"] = "test"


def test_writes_cache_file():
    (Path(__file__).parent.parent / "zoo.cache").write_text("stale")


def test_inserts_user():
    with sqlite3.connect(Path(tempfile.gettempdir()) / "zoo.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS users (name TEXT UNIQUE)")
        db.execute("INSERT INTO users VALUES ('alice')")


def test_patches_clock():
    zoo.clock.now = lambda: 0  # a monkeypatch that is never undone


def test_first_client():
    async def use():
        return await get_client().ping()

    assert asyncio.run(use()) == "pong"


def test_pair_a():
    zoo.state.PAIR_A = True


def test_pair_b():
    zoo.state.PAIR_B = True


def test_sets_country():
    zoo.state.COUNTRY = "FR"


def test_sets_far():
    zoo.state.FAR = True
