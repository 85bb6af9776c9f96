import pytest


@pytest.fixture(scope="session")
def config():
    return {"debug": False}
