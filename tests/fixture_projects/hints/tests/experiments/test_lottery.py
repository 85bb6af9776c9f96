import random


def test_ticket_wins():
    ticket = random.randint(1, 100)
    assert ticket <= 50, f"ticket {ticket} lost"
