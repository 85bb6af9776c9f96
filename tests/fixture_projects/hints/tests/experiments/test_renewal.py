import datetime

from pkg.billing import renewal_date


def test_renewal_is_a_year_later():
    today = datetime.date.today()
    assert renewal_date(today) - today >= datetime.timedelta(days=365)
