from pkg.billing import total


def test_total_price():
    assert total([0.1, 0.2]) == 0.3
