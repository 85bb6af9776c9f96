import asyncio


async def answer():
    return 42


def test_runs_on_its_own_loop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # planted: the closed loop stays the current one
    assert loop.run_until_complete(answer()) == 42
    loop.close()


def test_uses_the_current_loop():
    loop = asyncio.get_event_loop()
    assert loop.run_until_complete(answer()) == 42
