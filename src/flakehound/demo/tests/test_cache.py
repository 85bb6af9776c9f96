from app.settings import CACHE


def test_cache_is_warm():
    assert CACHE.get("warm") is True, "cache was never warmed"  # planted brittle test: needs a state-setter
