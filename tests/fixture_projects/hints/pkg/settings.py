import os


def mode():
    return os.environ.get("APP_MODE", "production")
