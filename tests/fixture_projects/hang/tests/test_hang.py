import os
import time
from pathlib import Path


def test_before():
    assert True


def test_hangs():
    """Planted hang: sleeps far past any timeout the tests use (and says so in a pid file)."""
    state = os.environ.get("FLAKEHOUND_SAMPLE_STATE")
    if state:
        (Path(state) / "hang.pid").write_text(str(os.getpid()))
    time.sleep(600)


def test_after():
    assert True
