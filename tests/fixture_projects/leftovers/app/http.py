import asyncio


class Session:
    """Like an aiohttp ClientSession: bound, for good, to the event loop it was made in."""

    def __init__(self):
        self._loop = asyncio.get_event_loop_policy().new_event_loop()

    def get(self, url):
        return self._loop.run_until_complete(asyncio.sleep(0, f"200 {url}"))


_session = None


def session():
    global _session
    if _session is None:
        _session = Session()
    return _session
