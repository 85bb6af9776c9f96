import asyncio

from app import http


def test_session_is_reused():
    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(http.session())
        assert loop.run_until_complete(http.session()) is first
    finally:
        loop.close()  # planted: the module-level session stays bound to this closed loop


def test_status():
    assert asyncio.run(http.status("/health")) == 200
