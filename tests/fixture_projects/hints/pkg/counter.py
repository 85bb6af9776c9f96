import threading


class Hits:
    def __init__(self):
        self.value = 0

    def record(self, times):
        for _ in range(times):
            self.value = self.plus_one(self.value)  # planted race: a read-modify-write without a lock

    def plus_one(self, value):
        return value + 1


def record_from_threads(hits, threads=4, times=6_000):
    """Each worker's share takes one or two milliseconds: the default 5 ms switch interval lets it finish alone."""
    start = threading.Barrier(threads)

    def work():
        start.wait()
        hits.record(times)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
