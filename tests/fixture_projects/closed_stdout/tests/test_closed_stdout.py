import os
import sys


def test_a_green():
    print("before anything is closed")


def test_closes_fd_1():
    """Planted fault: closes file descriptor 1 under pytest's capture, then fails."""
    os.close(1)
    assert False, "closed fd 1"


def test_closes_sys_stdout():
    """Planted fault: closes Python's sys.stdout (pytest's capture), then fails."""
    sys.stdout.close()
    assert False, "closed sys.stdout"


def test_z_green():
    print("after stdout was closed")
