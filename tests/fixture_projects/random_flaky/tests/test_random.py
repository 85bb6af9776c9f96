import os


def test_coin_flip():
    """Truly random: fails about half the time, drawn from the operating system."""
    assert os.urandom(1)[0] % 2 == 0


def test_steady():
    assert True
