import time

from app.cache import Cache


def render_page():
    time.sleep(0.02)  # the work between storing the session and reading it back


def test_session_is_still_cached_after_rendering():
    cache = Cache(ttl=0.01)  # planted: a time to live shorter than the work in between
    cache.put("session", "token", now=time.time())
    render_page()
    assert cache.get("session", now=time.time()) == "token"
