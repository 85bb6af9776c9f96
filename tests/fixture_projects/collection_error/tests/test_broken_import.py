import module_that_does_not_exist  # planted collection error


def test_never_runs():
    assert module_that_does_not_exist
