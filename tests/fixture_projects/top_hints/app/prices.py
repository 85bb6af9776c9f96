from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def total(prices):
    return sum(int(price) for price in prices)  # planted bug: drops the cents


def price_list():
    lines = (DATA / "price-lists.txt").read_text().splitlines()  # planted bug: the file is price-list.txt
    return dict(line.split() for line in lines)
