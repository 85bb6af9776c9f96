import os

from pkg import settings


def test_debug_mode_is_honoured():
    os.environ["APP_MODE"] = "debug"  # planted: never restored
    assert settings.mode() == "debug"


def test_default_mode():
    assert settings.mode() == "production"
