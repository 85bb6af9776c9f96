import time


def test_before():
    assert True


def test_hangs():
    """Planted hang: sleeps far past any timeout the tests use."""
    time.sleep(600)


def test_after():
    assert True
