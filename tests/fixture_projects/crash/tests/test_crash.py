import os


def test_before():
    assert True


def test_exits_hard():
    """Planted crash: the interpreter exits under pytest's feet."""
    os._exit(3)


def test_after():
    assert True
