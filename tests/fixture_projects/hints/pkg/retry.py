import random


def backoff(attempt, base=0.1):
    """Seconds to wait before retry ``attempt``: exponential, with unseeded jitter (planted)."""
    return base * 2**attempt * random.uniform(0.5, 1.5)
