from pkg.counter import Hits, record_from_threads


def test_every_hit_is_counted():
    hits = Hits()
    record_from_threads(hits)
    assert hits.value == 24_000
