"""Half the statements run."""


def used():  # noqa: D103 -- a docstring would change the statement count
    return 1


def unused():  # noqa: D103 -- a docstring would change the statement count
    first = 1
    second = 2
    return first + second
