"""Cohorts, repeat purchase, churn and channels on every backend: hand-computed answers,
time zones whose month and day boundaries move with daylight saving, and bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import ContractBase


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


#: The shop below, looked at from here.
AS_OF = utc(2026, 4, 15)
JAN, FEB, MAR, APR = (date(2026, month, 1) for month in (1, 2, 3, 4))


def buy(crm: CRM, order_id: str, customer_id: str, at: datetime, amount: int,
        channel: str = "web", currency: str | None = None) -> None:
    crm.orders.record(order_id=order_id, customer_id=customer_id, placed_at=at,
                      channel=channel, currency=currency,
                      lines=[OrderLine("SKU-1", 1, Decimal(amount))])


def shop(crm: CRM) -> dict[str, str]:
    """Six customers (amounts in yen, times in UTC):

    - alice: a1 5 Jan web 1000, a2 10 Feb web 2000, a3 20 Feb app 500, a4 1 Apr 00:00
      web 3000 with 1000 refunded;
    - bob: b1 20 Jan store 4000, b2 5 Mar web 1000;
    - carol: c0 31 Dec 23:00 web (cancelled), c1 1 Feb 00:00 app 1500, c2 1 Feb web in
      USD (another currency);
    - dave: d1 28 Feb 23:59:59 web 800, d2 1 May (after the as-of time);
    - erin: no orders;
    - frank: f-b web 700 and f-a store 600, both 10 Mar 00:00 (f-a is his first: the
      smaller id).
    """
    ids = {name: crm.customers.create(name=name).id
           for name in ("alice", "bob", "carol", "dave", "erin", "frank")}
    buy(crm, "a1", ids["alice"], utc(2026, 1, 5), 1000)
    buy(crm, "a2", ids["alice"], utc(2026, 2, 10), 2000)
    buy(crm, "a3", ids["alice"], utc(2026, 2, 20), 500, "app")
    buy(crm, "a4", ids["alice"], utc(2026, 4, 1), 3000)
    crm.orders.refund("a4", refund_id="a4-r", amount=Decimal(1000))
    buy(crm, "b1", ids["bob"], utc(2026, 1, 20), 4000, "store")
    buy(crm, "b2", ids["bob"], utc(2026, 3, 5), 1000)
    buy(crm, "c0", ids["carol"], utc(2025, 12, 31, 23), 9000)
    crm.orders.cancel("c0")
    buy(crm, "c1", ids["carol"], utc(2026, 2, 1), 1500, "app")
    buy(crm, "c2", ids["carol"], utc(2026, 2, 1), 15, currency="USD")
    buy(crm, "d1", ids["dave"], utc(2026, 2, 28, 23, 59, 59), 800)
    buy(crm, "d2", ids["dave"], utc(2026, 5, 1), 5000)
    buy(crm, "f-b", ids["frank"], utc(2026, 3, 10), 700)
    buy(crm, "f-a", ids["frank"], utc(2026, 3, 10), 600, "store")
    return ids


#: Orders placed near month and day boundaries, each by a customer of its own.
EDGES = {
    "jst-jan": utc(2026, 1, 31, 14, 30),  # 31 Jan 23:30 in Tokyo
    "jst-feb": utc(2026, 1, 31, 15, 30),  # 1 Feb 00:30 in Tokyo, still January in UTC
    "ny-apr": utc(2026, 4, 1, 4, 30),     # 1 Apr 00:30 EDT; 31 Mar 23:30 at UTC-05:00
    "ny-oct": utc(2026, 11, 1, 3, 30),    # 31 Oct 23:30 EDT; November in UTC
    "ny-nov": utc(2026, 11, 1, 4, 30),    # 1 Nov 00:30 EDT; 31 Oct 23:30 at UTC-05:00
    "ny-25h": utc(2026, 11, 2, 4, 30),    # 1 Nov 23:30 EST: the 25-hour day
}


class CohortAnalyticsContract(ContractBase):
    """What ``crm.analytics`` answers about cohorts, repeat purchase, churn and channels
    on every backend."""

    def test_cohorts_by_month(self, crm: CRM) -> None:
        shop(crm)
        table = crm.analytics.cohorts(as_of=AS_OF)
        got = [(r.cohort, r.period_index, r.period_start, r.customers, r.active, r.orders,
                r.revenue, r.complete) for r in table]
        assert got == [
            (JAN, 0, JAN, 2, 2, 2, 5000, True),
            (JAN, 1, FEB, 2, 1, 2, 2500, True),
            (JAN, 2, MAR, 2, 1, 1, 1000, True),
            (JAN, 3, APR, 2, 1, 1, 2000, False),   # a4, net of its refund
            (FEB, 0, FEB, 2, 2, 2, 2300, True),    # carol at 1 Feb 00:00, dave a second
            (FEB, 1, MAR, 2, 0, 0, 0, True),       # before March
            (FEB, 2, APR, 2, 0, 0, 0, False),
            (MAR, 0, MAR, 1, 1, 2, 1300, True),
            (MAR, 1, APR, 1, 0, 0, 0, False)]
        assert table.retention_matrix() == {JAN: [1.0, 0.5, 0.5, 0.5], FEB: [1.0, 0.0, 0.0],
                                            MAR: [1.0, 0.0]}
        assert table.cohort_sizes() == {JAN: 2, FEB: 2, MAR: 1}
        assert table.revenue_by_cohort() == {JAN: 10500, FEB: 2300, MAR: 1300}
        assert table.revenue_per_customer()[JAN] == Decimal("5250.00")
        assert table.revenue_matrix()[JAN] == [5000, 2500, 1000, 2000]

    def test_cohorts_follow_the_zone(self, crm: CRM) -> None:
        shop(crm)
        # d1 (28 Feb 23:59:59 UTC) is 1 Mar 08:59:59 in Tokyo: March's cohort there.
        tokyo = crm.analytics.cohorts(as_of=AS_OF, tz="Asia/Tokyo")
        assert tokyo.cohort_sizes() == {JAN: 2, FEB: 1, MAR: 2}
        assert tokyo.tz == "Asia/Tokyo"
        # c1 (1 Feb 00:00 UTC) is 31 Jan 19:00 in New York: January's cohort there; a4
        # (1 Apr 00:00 UTC) is 31 Mar 20:00 EDT, so in March (k=2) alice joins bob.
        new_york = crm.analytics.cohorts(as_of=AS_OF, tz=ZoneInfo("America/New_York"))
        assert new_york.cohort_sizes() == {JAN: 3, FEB: 1, MAR: 1}
        assert [(r.active, r.orders) for r in new_york if r.cohort == JAN] == [
            (3, 3), (1, 2), (2, 2), (0, 0)]

    def test_cohorts_by_week_quarter_year_and_day(self, crm: CRM) -> None:
        shop(crm)
        weeks = crm.analytics.cohorts(period="week", as_of=AS_OF)
        # ISO weeks begin on Monday: 5 Jan 2026 is one; 1 Feb is a Sunday.
        assert weeks.cohort_sizes() == {date(2026, 1, 5): 1, date(2026, 1, 19): 1,
                                        date(2026, 1, 26): 1, date(2026, 2, 23): 1,
                                        date(2026, 3, 9): 1}
        assert len([r for r in weeks if r.cohort == date(2026, 1, 5)]) == 15  # to 13 Apr
        quarters = crm.analytics.cohorts(period="quarter", as_of=AS_OF)
        assert [(r.cohort, r.period_index, r.active, r.orders) for r in quarters] == [
            (JAN, 0, 5, 9), (JAN, 1, 1, 1)]
        years = crm.analytics.cohorts(period="YEAR", as_of=AS_OF)
        assert [(r.cohort, r.customers, r.orders) for r in years] == [
            (date(2026, 1, 1), 5, 10)]
        days = crm.analytics.cohorts(period="day", start=utc(2026, 3, 1), as_of=AS_OF)
        assert days.cohort_sizes() == {date(2026, 3, 10): 1}
        assert [r.orders for r in days][:1] == [2] and len(days) == 37

    def test_cohorts_window_and_as_of(self, crm: CRM) -> None:
        shop(crm)
        window = crm.analytics.cohorts(start=utc(2026, 2, 1), end=utc(2026, 3, 1),
                                       as_of=AS_OF)
        assert window.cohort_sizes() == {FEB: 2}
        assert window.start == utc(2026, 2, 1)
        # As of 1 Mar 00:00 only what was placed by then counts: frank is not a customer.
        early = crm.analytics.cohorts(as_of=utc(2026, 3, 1))
        assert early.cohort_sizes() == {JAN: 2, FEB: 2}
        assert [r.complete for r in early if r.cohort == FEB] == [True, False]
        # After 1 May, dave's d2 is counted: his cohort's k=3.
        late = crm.analytics.cohorts(as_of=utc(2026, 5, 1))
        assert [r.active for r in late if r.cohort == FEB] == [2, 0, 0, 1]

    def test_cohort_periods_across_zones_and_daylight_saving(self, crm: CRM) -> None:
        for name, at in EDGES.items():
            buy(crm, name, crm.customers.create(name=name).id, at, 1000)
        as_of = utc(2026, 12, 1)

        def months(tz: object) -> dict[date, int]:
            return crm.analytics.cohorts(tz=tz, as_of=as_of).cohort_sizes()

        assert months("UTC") == {JAN: 2, APR: 1, date(2026, 11, 1): 3}
        assert months("Asia/Tokyo") == {JAN: 1, FEB: 1, APR: 1, date(2026, 11, 1): 3}
        assert months("America/New_York") == {JAN: 2, APR: 1, date(2026, 10, 1): 1,
                                              date(2026, 11, 1): 2}
        # A fixed offset knows no daylight saving: New York's winter offset all year.
        assert months(timezone(timedelta(hours=-5))) == {JAN: 2, MAR: 1,
                                                         date(2026, 10, 1): 2,
                                                         date(2026, 11, 1): 1}
        days = crm.analytics.cohorts(period="day", tz="America/New_York",
                                     start=utc(2026, 10, 1), as_of=as_of)
        assert days.cohort_sizes() == {date(2026, 10, 31): 1, date(2026, 11, 1): 2}
        quarters = crm.analytics.orders_by_channel(period="quarter", tz="America/New_York",
                                                   as_of=as_of)
        assert quarters.pivot() == {JAN: {"web": 2}, APR: {"web": 1},
                                    date(2026, 10, 1): {"web": 3}}

    def test_repeat_purchase(self, crm: CRM) -> None:
        shop(crm)
        summary = crm.analytics.repeat_purchase(as_of=AS_OF)
        # alice 36 days, bob 44, frank 0 (two orders at one instant); carol and dave one.
        assert (summary.customers, summary.repeat_customers) == (5, 3)
        assert summary.repeat_rate == 0.6
        assert summary.median_days_to_second == 36.0
        assert summary.mean_days_to_second == pytest.approx(80 / 3)
        assert [(b.from_days, b.to_days, b.customers) for b in summary if b.customers] == [
            (0, 1, 1), (30, 60, 2)]
        assert summary[-1].to_days is None and summary[-1].cumulative_share == 1.0
        coarse = crm.analytics.repeat_purchase(as_of=AS_OF, bins=[40])
        assert [(b.from_days, b.to_days, b.customers, b.share) for b in coarse] == [
            (0, 40, 2, 2 / 3), (40, None, 1, 1 / 3)]
        january = crm.analytics.repeat_purchase(as_of=AS_OF, start=utc(2026, 1, 1),
                                                end=utc(2026, 2, 1))
        assert (january.customers, january.repeat_customers) == (2, 2)
        assert january.median_days_to_second == 40.0

    def test_churn(self, crm: CRM) -> None:
        shop(crm)
        report = crm.analytics.churn(inactive_days=30, as_of=AS_OF)
        assert [(r.cohort, r.customers, r.active, r.churned) for r in report] == [
            (None, 5, 1, 4)]
        assert report.churn_rate == 0.8 and report.cutoff == utc(2026, 3, 16)
        # Cut-off 10 Mar 00:00: frank's last order is exactly then, not before: active.
        exact = crm.analytics.churn(inactive_days=36, as_of=AS_OF, period="month")
        assert [(r.cohort, r.customers, r.active, r.churned, r.churn_rate)
                for r in exact] == [(JAN, 2, 1, 1, 0.5), (FEB, 2, 0, 2, 1.0),
                                    (MAR, 1, 1, 0, 0.0)]
        assert (exact.customers, exact.active, exact.churned) == (5, 2, 3)
        assert exact.churn_rate == 0.6

    def test_channels(self, crm: CRM) -> None:
        shop(crm)
        table = crm.analytics.channels(as_of=AS_OF, costs={"web": Decimal(9000),
                                                           "store": 1000, "tv": "3000"})
        got = {r.channel: (r.acquired, r.repeat_customers, r.repeat_rate, r.buyers,
                           r.orders, r.revenue) for r in table}
        assert got == {"app": (1, 0, 0.0, 2, 2, 2000), "store": (2, 2, 1.0, 2, 2, 4600),
                       "tv": (0, 0, 0.0, 0, 0, 0), "web": (2, 1, 0.5, 4, 6, 7500)}
        assert [r.channel for r in table] == ["app", "store", "tv", "web"]
        web, store, tv, app = (table.rows[i] for i in (3, 1, 2, 0))
        assert table.get("web") == web and table.get("email") is None
        assert (web.cost_per_order, web.cost_per_acquisition) == (Decimal("1500.00"),
                                                                  Decimal("4500.00"))
        assert (store.cost_per_order, store.cost_per_acquisition) == (500, 500)
        assert (tv.cost, tv.cost_per_order, tv.cost_per_acquisition) == (3000, None, None)
        assert (app.cost, app.cost_per_order) == (None, None)
        window = crm.analytics.channels(as_of=AS_OF, start=utc(2026, 2, 1),
                                        end=utc(2026, 4, 1))
        assert {r.channel: (r.acquired, r.repeat_customers, r.buyers, r.orders, r.revenue)
                for r in window} == {"app": (1, 0, 2, 2, 2000), "store": (1, 1, 1, 1, 600),
                                     "web": (1, 0, 4, 4, 4500)}

    def test_orders_by_channel(self, crm: CRM) -> None:
        shop(crm)
        table = crm.analytics.orders_by_channel(as_of=AS_OF)
        assert [(r.period, r.channel, r.orders, r.revenue) for r in table] == [
            (JAN, "store", 1, 4000), (JAN, "web", 1, 1000),
            (FEB, "app", 2, 2000), (FEB, "web", 2, 2800),
            (MAR, "store", 1, 600), (MAR, "web", 2, 1700),
            (APR, "web", 1, 2000)]
        assert table.pivot("revenue")[FEB] == {"app": 2000, "web": 2800}
        tokyo = crm.analytics.orders_by_channel(tz="Asia/Tokyo", start=utc(2026, 2, 1),
                                                end=utc(2026, 4, 1), as_of=AS_OF)
        assert tokyo.pivot() == {FEB: {"app": 2, "web": 1}, MAR: {"store": 1, "web": 3}}

    def test_analytics_of_an_empty_shop_or_before_any_order(self, crm: CRM) -> None:
        for as_of in (None, utc(2025, 1, 1)):
            if as_of is not None:
                shop(crm)
            assert len(crm.analytics.cohorts(as_of=as_of)) == 0
            assert crm.analytics.cohorts(as_of=as_of).retention_matrix() == {}
            repeat = crm.analytics.repeat_purchase(as_of=as_of)
            assert (repeat.customers, repeat.repeat_customers, repeat.repeat_rate,
                    repeat.median_days_to_second, repeat.mean_days_to_second) == (
                0, 0, 0.0, None, None)
            assert [b.customers for b in repeat] == [0] * 8
            churn = crm.analytics.churn(inactive_days=30, as_of=as_of)
            assert [(r.cohort, r.customers, r.churn_rate) for r in churn] == [(None, 0, 0.0)]
            assert len(crm.analytics.churn(inactive_days=30, as_of=as_of, period="week")) == 0
            assert len(crm.analytics.channels(as_of=as_of)) == 0
            assert [r.channel for r in crm.analytics.channels(
                as_of=as_of, costs={"web": 100})] == ["web"]
            assert len(crm.analytics.orders_by_channel(as_of=as_of)) == 0

    def test_cohort_and_channel_analyses_reject_bad_input(self, crm: CRM) -> None:
        shop(crm)
        analytics: Any = crm.analytics  # called with what its signatures forbid
        bad = [
            ("period", lambda: analytics.cohorts(period="fortnight")),
            ("period", lambda: analytics.orders_by_channel(period=7)),
            ("period", lambda: analytics.churn(inactive_days=30, period="decade")),
            ("tz", lambda: analytics.cohorts(tz="Mars/Olympus_Mons")),
            ("tz", lambda: analytics.cohorts(tz=9)),
            ("as_of", lambda: analytics.cohorts(as_of=datetime(2026, 4, 1))),
            ("start", lambda: analytics.channels(start=datetime(2026, 4, 1))),
            ("end", lambda: analytics.repeat_purchase(end=datetime(2026, 4, 1))),
            ("end", lambda: analytics.cohorts(start=AS_OF, end=AS_OF)),
            ("end", lambda: analytics.orders_by_channel(start=AS_OF, end=utc(2026, 1, 1))),
            ("period", lambda: analytics.cohorts(period="day", as_of=utc(2029, 1, 1))),
            ("inactive_days", lambda: analytics.churn(inactive_days=0)),
            ("inactive_days", lambda: analytics.churn(inactive_days=True)),
            ("inactive_days", lambda: analytics.churn(inactive_days=10 ** 6)),
            ("bins", lambda: analytics.repeat_purchase(bins=[7, 7])),
            ("bins", lambda: analytics.repeat_purchase(bins=[0])),
            ("costs[web]", lambda: analytics.channels(costs={"web": -1})),
            ("costs[web]", lambda: analytics.channels(costs={"web": 1.5})),
            ("costs", lambda: analytics.channels(costs={"Web Shop": 1})),
            ("costs", lambda: analytics.channels(costs=[("web", 1)])),
        ]
        for field, call in bad:
            with pytest.raises(ValidationError) as caught:
                call()
            assert caught.value.field == field, (field, caught.value)
        with pytest.raises(ValidationError, match="'day', 'week', 'month'"):
            analytics.cohorts(period="fortnight")
        with pytest.raises(ValidationError, match="more than 1000 days"):
            analytics.cohorts(period="day", as_of=utc(2029, 1, 1))
