import pkg.state


def test_make_ready():
    pkg.state.READY = True
