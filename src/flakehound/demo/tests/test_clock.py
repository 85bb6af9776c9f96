import os
import tempfile
from pathlib import Path


def _invocation():
    state = Path(os.environ.get("FLAKEHOUND_DEMO_STATE", tempfile.gettempdir()))
    counter = state / "clock-counter"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    return count


def test_sync_is_fast():
    # planted intermittent test: fails on odd invocations (the counter lives outside the project)
    assert _invocation() % 2 == 0, "clock sync took too long"
