from pkg.replicas import REPLICAS, pick_replica


def test_read_sees_fresh_data():
    replica = pick_replica()
    assert REPLICAS[replica] == "fresh", f"read from {replica}"
