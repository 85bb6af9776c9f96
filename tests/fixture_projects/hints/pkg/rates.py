def fetch_rate():
    return 1.25


def convert(amount):
    return amount * fetch_rate()
