import pkg.state


def test_configure_test_mode():
    """Planted polluter: rebinds a module global and never restores it."""
    pkg.state.MODE = "test"
