from app.settings import CACHE


def test_warm_cache():
    CACHE["warm"] = True  # planted state-setter, runs after its brittle dependant in the usual order
