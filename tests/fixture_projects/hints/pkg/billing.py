import datetime


def add(a, b):
    return a - b  # planted bug


def total(prices):
    return sum(prices)


def renewal_date(start: datetime.date) -> datetime.date:
    return start.replace(year=start.year + 1)  # fails on 29 February
