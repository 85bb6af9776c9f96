import os
from pathlib import Path


def test_takes_lock():
    """Leaves run.lock in the project: passes only if every run starts from a clean project folder."""
    fd = os.open(Path(__file__).parent.parent / "run.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.close(fd)
