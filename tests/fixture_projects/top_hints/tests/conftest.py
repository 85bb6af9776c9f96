import pytest

from app import accounts


@pytest.fixture(scope="session", autouse=True)
def empty_database():
    accounts.reset()  # every session starts with no accounts
    return accounts.DATABASE
