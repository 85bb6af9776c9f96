import os
from pathlib import Path


def test_flips_every_other_run():
    """Intermittent: fails on odd invocations; the counter lives outside the project (the test sets it)."""
    counter = Path(os.environ["FLAKEHOUND_SAMPLE_STATE"]) / "counter"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    assert count % 2 == 0


def test_steady():
    assert True
