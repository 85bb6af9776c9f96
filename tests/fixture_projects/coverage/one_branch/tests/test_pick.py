import branchy


def test_pick_true():
    """Only the true side of the branch runs."""
    assert branchy.pick(flag=True) == 1
