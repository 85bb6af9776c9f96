import random

#: One replica lags behind: a read that lands on it sees stale data.
REPLICAS = {"replica-a": "fresh", "replica-b": "stale"}


def pick_replica():
    return random.choice(sorted(REPLICAS))  # planted: an unseeded random choice
