import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
import zoo.clock
import zoo.state
from zoo.client import get_client


def test_env_victim():
    assert os.environ.get("ZOO_MODE") != "test"


def test_file_victim():
    assert not (Path(__file__).parent.parent / "zoo.cache").exists()


def test_sqlite_victim():
    with sqlite3.connect(Path(tempfile.gettempdir()) / "zoo.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS users (name TEXT UNIQUE)")
        db.execute("INSERT INTO users VALUES ('alice')")


def test_clock_victim():
    assert zoo.clock.now() == 42


def test_loop_victim():
    async def use():
        return await get_client().ping()

    assert asyncio.run(use()) == "pong"


def test_pair_victim():
    assert not (zoo.state.PAIR_A and zoo.state.PAIR_B)


def test_far_victim():
    assert not zoo.state.FAR


@pytest.mark.parametrize("city", ["nyc", "sf", "la"])
def test_country_victim(city):
    assert zoo.state.COUNTRY == "US", city
