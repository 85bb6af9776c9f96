def now():
    return 42
