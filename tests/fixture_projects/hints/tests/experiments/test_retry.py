from pkg.retry import backoff


def test_third_retry_waits_within_the_limit():
    assert backoff(3) <= 0.88
