"""Ctrl-C as the tests send it: SIGINT to the main thread once it waits, as a terminal's reaches a process.

A terminal's SIGINT goes to the process, and the kernel gives it to the main thread where it sleeps in a
lock wait; the wait then raises KeyboardInterrupt at once. A signal raised in another thread instead
(``signal.raise_signal`` there) is handled whenever the main thread next runs Python code, which may be
inside a finalizer, where a KeyboardInterrupt is swallowed ("Exception ignored in ..."). Tests that use
this also take the ``ctrl_c`` fixture, so that SIGINT raises at all.
"""

from __future__ import annotations

import signal
import sys
import threading
import time


def interrupt_the_waiting_main_thread() -> None:
    """Send SIGINT to the main thread as soon as it waits in ``threading.Condition.wait`` (a future's result)."""
    main = threading.main_thread()
    assert main.ident is not None
    while sys._current_frames()[main.ident].f_code.co_name != "wait":  # noqa: SLF001 - no public way to look
        time.sleep(0.001)
    signal.pthread_kill(main.ident, signal.SIGINT)
