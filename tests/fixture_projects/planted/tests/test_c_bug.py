import pytest


def add(a, b):
    return a - b  # planted plain bug


@pytest.fixture
def database():
    raise ConnectionRefusedError("database is not running")  # planted error in a fixture


def test_add():
    assert add(2, 2) == 4


def test_query(database):
    assert database
