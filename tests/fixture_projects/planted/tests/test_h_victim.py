import pkg.state


def test_default_mode():
    """Planted victim of tests/test_a_polluter.py::test_configure_test_mode, 41 tests earlier."""
    assert pkg.state.MODE == "production"
