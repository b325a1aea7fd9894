"""Lifetime value on every backend: historical value and the BG/NBD summary, against
figures worked out by hand (calendar days in UTC, Tokyo and New York across a DST
change)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import ContractBase

UTC = timezone.utc
#: The end of April 2026 in Tokyo: 14:59:59 UTC, the 30th in both zones.
END = datetime(2026, 4, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=9)))
MICROSECOND = timedelta(microseconds=1)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A time in 2026, UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def buy(crm: CRM, order_id: str, customer_id: str, placed_at: datetime, amount: int,
        currency: str | None = None) -> None:
    crm.orders.record(order_id=order_id, customer_id=customer_id, placed_at=placed_at,
                      lines=[OrderLine("SKU-1", 1, Decimal(amount))], channel="web",
                      currency=currency)


def lifetime_shop(crm: CRM) -> dict[str, str]:
    """Customers A to E and their orders: A buys four times over two UTC days (four
    Tokyo days) plus a cancelled and a dollar order; B once, part refunded; C after the
    period; D first in March; E never."""
    ids = {name: crm.customers.create(name=name).id for name in "ABCDE"}
    buy(crm, "a1", ids["A"], at(4, 1), 1000)          # 09:00 in Tokyo
    buy(crm, "a2", ids["A"], at(4, 1, 15, 30), 500)   # 00:30 on the 2nd in Tokyo
    buy(crm, "a3", ids["A"], at(4, 8, 15) - MICROSECOND, 300)  # 23:59:59.999999, 8th

    buy(crm, "a4", ids["A"], at(4, 8, 15, 0), 200)    # 00:00 on the 9th in Tokyo
    buy(crm, "a5", ids["A"], at(4, 20), 9000)
    crm.orders.cancel("a5")
    buy(crm, "a6", ids["A"], at(4, 21), 7, currency="USD")
    buy(crm, "b1", ids["B"], at(4, 10), 2000)
    crm.orders.refund("b1", refund_id="rb1", amount=Decimal(500))
    buy(crm, "c1", ids["C"], at(5, 5), 4000)          # after the period
    buy(crm, "d1", ids["D"], at(3, 1), 100)
    buy(crm, "d2", ids["D"], at(4, 5), 300)
    return ids


class LifetimeValueContract(ContractBase):
    """What ``crm.analytics.historical_value`` and ``clv_summary`` answer."""

    def test_historical_value_per_customer(self, crm: CRM) -> None:
        ids = lifetime_shop(crm)
        table = crm.analytics.historical_value(as_of=END)
        rows = {row.customer_id: row for row in table}
        assert set(rows) == {ids["A"], ids["B"], ids["D"]}
        assert [row.customer_id for row in table] == sorted(rows)
        a, b, d = rows[ids["A"]], rows[ids["B"]], rows[ids["D"]]
        assert (a.orders, a.revenue, a.average_order_value) == (4, 2000, Decimal("500.00"))
        assert (a.first_order_at, a.last_order_at, a.tenure_days) == (at(4, 1), at(4, 8, 15),
                                                                     29)
        assert (b.orders, b.revenue, b.tenure_days) == (1, 1500, 20)
        assert (d.orders, d.revenue, d.average_order_value, d.tenure_days) == (
            2, 400, Decimal("200.00"), 60)
        assert table.as_of == END and table.currency == "JPY"
        later = crm.analytics.historical_value(as_of=at(6, 1))
        assert len(later) == 4

    def test_summary_counts_distinct_days_in_utc(self, crm: CRM) -> None:
        ids = lifetime_shop(crm)
        summary = crm.analytics.clv_summary(calibration_end=END, time_unit="day")
        rows = {row.customer_id: row for row in summary}
        assert set(rows) == {ids["A"], ids["B"], ids["D"]}  # C bought after the end
        a, b, d = rows[ids["A"]], rows[ids["B"]], rows[ids["D"]]
        # A in UTC: 1 April (1000 + 500) and 8 April (300 + 200).
        assert (a.frequency, a.recency, a.age, a.monetary_value) == (1, 7.0, 29.0, 500)
        assert (b.frequency, b.recency, b.age, b.monetary_value) == (0, 0.0, 20.0, 0)
        assert (d.frequency, d.recency, d.age, d.monetary_value) == (1, 35.0, 60.0, 300)
        weeks = {row.customer_id: row for row in crm.analytics.clv_summary(
            calibration_end=END)}
        assert (weeks[ids["A"]].recency, weeks[ids["A"]].age) == (1.0, 29 / 7)
        months = {row.customer_id: row for row in crm.analytics.clv_summary(
            calibration_end=END, time_unit="month")}
        assert months[ids["D"]].age == 60 / (365.25 / 12)
        assert (summary.time_unit, summary.unit_days, summary.tz) == ("day", 1.0, "UTC")

    def test_summary_counts_days_in_tokyo(self, crm: CRM) -> None:
        ids = lifetime_shop(crm)
        summary = crm.analytics.clv_summary(calibration_end=END, time_unit="day",
                                            tz="Asia/Tokyo")
        a = next(row for row in summary if row.customer_id == ids["A"])
        # A in Tokyo: the 1st (1000), 2nd (500), 8th (300) and 9th (200) of April.
        assert (a.frequency, a.recency, a.age) == (3, 8.0, 29.0)
        assert a.monetary_value == Decimal("333.33")
        fixed = crm.analytics.clv_summary(calibration_end=END, time_unit="day",
                                          tz=timezone(timedelta(hours=9)))
        assert fixed.rows == summary.rows

    def test_summary_leaves_out_customers_first_seen_before_the_start(self, crm: CRM
                                                                      ) -> None:
        ids = lifetime_shop(crm)
        summary = crm.analytics.clv_summary(calibration_end=END,
                                            observation_start=at(3, 15))
        assert {row.customer_id for row in summary} == {ids["A"], ids["B"]}
        assert summary.observation_start == at(3, 15)

    def test_summary_follows_daylight_saving_time(self, crm: CRM) -> None:
        f = crm.customers.create(name="F").id
        buy(crm, "f1", f, at(3, 8, 4, 59), 100)   # 23:59 EST on 7 March
        buy(crm, "f2", f, at(3, 9, 3, 59), 200)   # 23:59 EDT on 8 March (clocks went on)
        buy(crm, "f3", f, at(3, 9, 4, 0), 400)    # 00:00 EDT on 9 March
        end = at(3, 31)
        new_york = crm.analytics.clv_summary(calibration_end=end, time_unit="day",
                                             tz="America/New_York")
        assert [(r.frequency, r.recency, r.age, r.monetary_value) for r in new_york] == [
            (2, 2.0, 23.0, 300)]   # days 7, 8 and 9 March; 30 March is the last
        utc = crm.analytics.clv_summary(calibration_end=end, time_unit="day")
        assert [(r.frequency, r.recency, r.age, r.monetary_value) for r in utc] == [
            (1, 1.0, 23.0, 600)]   # days 8 and 9 March; 31 March is the last

    def test_lifetime_value_of_an_empty_shop(self, crm: CRM) -> None:
        crm.customers.create(name="nobody")
        assert len(crm.analytics.historical_value(as_of=END)) == 0
        assert len(crm.analytics.clv_summary(calibration_end=END, tz="Asia/Tokyo")) == 0

    def test_lifetime_value_rejects_bad_input(self, crm: CRM) -> None:
        naive = datetime(2026, 4, 30)
        with pytest.raises(ValidationError, match="as_of"):
            crm.analytics.historical_value(as_of=naive)
        with pytest.raises(ValidationError, match="calibration_end"):
            crm.analytics.clv_summary(calibration_end=naive)
        with pytest.raises(ValidationError, match="observation_start"):
            crm.analytics.clv_summary(calibration_end=END, observation_start=END)
        for unit in ("fortnight", "weeks", timedelta(0), 7):
            with pytest.raises(ValidationError, match="time_unit"):
                crm.analytics.clv_summary(calibration_end=END, time_unit=unit)
        for tz in ("Mars/Olympus", "", 9):
            with pytest.raises(ValidationError, match="tz"):
                crm.analytics.clv_summary(calibration_end=END, tz=tz)
