import ctypes


def test_before():
    assert True


def test_segfaults():
    """Planted crash: reads address 0, and the interpreter dies of SIGSEGV."""
    ctypes.string_at(0)


def test_after():
    assert True
