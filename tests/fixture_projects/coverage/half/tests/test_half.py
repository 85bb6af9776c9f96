import half_pkg


def test_used():
    """Only used() runs."""
    assert half_pkg.used() == 1
