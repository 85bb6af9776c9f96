from app import prices


def test_total():
    assert prices.total([1.25, 2.50]) == 3.75


def test_price_list():
    assert prices.price_list()["tea"] == "2.50"
