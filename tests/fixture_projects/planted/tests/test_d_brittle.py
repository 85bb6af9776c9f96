import pkg.state


def test_needs_ready():
    """Planted brittle test: passes only after tests/test_e_setter.py::test_make_ready."""
    assert pkg.state.READY
