import time


def save_record():
    time.sleep(0.03)


def test_created_and_saved_in_the_same_second():
    created = int(time.time())
    save_record()
    saved = int(time.time())
    assert created == saved, "saving crossed into the next second"
