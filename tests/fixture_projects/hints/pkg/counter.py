import threading


class Hits:
    def __init__(self):
        self.value = 0

    def record(self, times):
        for _ in range(times):
            self.value = self.plus_one(self.value)  # planted race: a read-modify-write without a lock

    def plus_one(self, value):
        return value + 1


def record_from_threads(hits, threads=4, times=20_000):
    workers = [threading.Thread(target=hits.record, args=(times,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
