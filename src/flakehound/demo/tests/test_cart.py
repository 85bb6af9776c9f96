import pytest

from app.cart import total


@pytest.fixture
def printer():
    raise ConnectionRefusedError("receipt printer is offline")  # planted error in a fixture


def test_total_without_discount():
    assert total([10, 20], 0) == 30


def test_total_with_discount():
    assert total([100], 10) == 90  # planted plain bug in app/cart.py


def test_receipt(printer):
    assert printer
