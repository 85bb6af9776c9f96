import os
import sys
from pathlib import Path


def test_every_third_call():
    """Intermittent: fails on every third invocation; the counter lives outside the project (the test sets it)."""
    counter = Path(os.environ["FLAKEHOUND_SAMPLE_STATE"]) / "every_third"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    assert count % 3 != 0


def test_breaks_under_fast_thread_switching():
    """Stands in for a race that only shows when threads switch very often: plain runs never show it."""
    assert sys.getswitchinterval() >= 1e-3


def test_steady():
    """Always passes."""
    assert True
