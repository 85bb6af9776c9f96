def pytest_collection_modifyitems(items):
    raise RuntimeError("a broken conftest hook")  # planted: pytest itself fails (INTERNALERROR, exit 3)
