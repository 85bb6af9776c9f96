import os
import threading
import time
from pathlib import Path


def test_a_green():
    assert True


def test_forks_a_survivor():
    """Planted fault: forks a child that sleeps long after the test (and pytest) ends, then fails."""
    pid = os.fork()
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    with (Path(os.environ["FLAKEHOUND_SAMPLE_STATE"]) / "survivors.txt").open("a") as survivors:
        survivors.write(f"{pid}\n")
    assert False, "left a child behind"


def test_leaves_a_thread():
    """Planted fault: starts a non-daemon thread that never ends, then fails."""
    threading.Thread(target=threading.Event().wait, name="never-ends").start()
    assert False, "left a thread running"


def test_z_green():
    assert True
