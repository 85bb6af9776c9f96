import sys


def test_megabytes():
    print("x" * 5_000_000)
    raise AssertionError("noisy failure")


def test_bad_bytes():
    sys.stdout.buffer.write(b"\xff\xfe\x80 not utf-8\n")
    print("caf\udce9")
    raise AssertionError("bytes \udcff in message")


def test_recursion():
    def recurse(depth):
        return recurse(depth + 1)

    recurse(0)


def test_system_exit():
    sys.exit(3)


def test_keyboard_interrupt():
    raise KeyboardInterrupt


def test_after():
    assert True
