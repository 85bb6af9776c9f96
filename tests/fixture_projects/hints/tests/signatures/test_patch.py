from pkg import rates


def test_convert_with_a_fixed_rate():
    rates.fetch_rate = lambda: 2.0  # planted: patched by hand, never undone
    assert rates.convert(10) == 20.0


def test_convert_with_the_real_rate():
    assert rates.convert(10) == 12.5
