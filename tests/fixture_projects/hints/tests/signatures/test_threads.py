import threading


def test_snapshot_while_a_writer_runs():
    cache = {"a": 1, "b": 2}
    iterating = threading.Event()
    written = threading.Event()

    def writer():
        iterating.wait()
        cache["c"] = 3
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        snapshot = []
        for key in cache:  # planted race, made certain by the events
            snapshot.append(key)
            iterating.set()
            written.wait()
    finally:
        thread.join()
