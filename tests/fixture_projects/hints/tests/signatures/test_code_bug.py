from pkg.billing import add


def test_add():
    assert add(2, 2) == 4
