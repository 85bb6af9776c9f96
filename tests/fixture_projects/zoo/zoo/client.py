import asyncio

_CLIENT = None


class Client:
    def __init__(self):
        self.loop = asyncio.get_running_loop()

    async def ping(self):
        future = self.loop.create_future()
        self.loop.call_soon(future.set_result, "pong")
        return await future


def get_client():
    """A singleton bound to the event loop of whoever asked first."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = Client()
    return _CLIENT
