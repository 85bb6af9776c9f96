import os
import time
from pathlib import Path


def test_fails_then_hangs():
    """Fails in the original run, then hangs in every rerun, leaving its pid for the test to watch."""
    state = Path(os.environ["FLAKEHOUND_SAMPLE_STATE"])
    counter = state / "invocations"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    assert count > 1, "the first run fails"
    (state / "sleeper.pid").write_text(str(os.getpid()))
    time.sleep(600)


def test_quick():
    assert True
