import os
from pathlib import Path


def test_flips_every_other_run():
    """Planted intermittent test: fails on odd invocations; the counter lives outside the project."""
    counter = Path(os.environ["FLAKEHOUND_SAMPLE_STATE"]) / "counter"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    assert count % 2 == 0
