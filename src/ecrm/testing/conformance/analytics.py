"""Analytics on every backend: the same questions give the same, hand-computed answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.errors import NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase


def buy(crm: CRM, order_id: str, customer_id: str, days: float, amount: int,
        currency: str | None = None) -> None:
    """Record a one-line order ``days`` after START."""
    crm.orders.record(order_id=order_id, customer_id=customer_id,
                      placed_at=START + timedelta(days=days),
                      lines=[OrderLine("SKU-1", 1, Decimal(amount))], channel="web",
                      currency=currency)


class AnalyticsContract(ContractBase):
    """What ``crm.analytics`` answers on every backend."""

    def test_ab_test_counts_orders_in_the_window(self, crm: CRM) -> None:
        a = [crm.customers.create(name=f"a{i}").id for i in range(4)]
        b = [crm.customers.create(name=f"b{i}").id for i in range(4)]
        buy(crm, "o1", a[0], 1, 1000)
        buy(crm, "o2", a[0], 2, 500)
        buy(crm, "o3", b[0], 1, 3000)
        buy(crm, "o4", b[1], 3, 2000)
        buy(crm, "early", b[2], -1, 9000)   # before the window
        buy(crm, "late", b[3], 10, 9000)    # at its end: outside
        buy(crm, "usd", a[1], 1, 5, currency="USD")  # another currency
        crm.orders.record(order_id="cancel", customer_id=a[2], placed_at=START,
                          lines=[OrderLine("SKU-1", 1, Decimal(100))], channel="web")
        crm.orders.cancel("cancel")
        crm.orders.refund("o3", refund_id="r1", amount=Decimal(1000))
        report = crm.analytics.ab_test({"A": a, "B": b}, start=START,
                                       end=START + timedelta(days=10))
        rows = {row.variant: row for row in report}
        assert (rows["A"].converted, rows["A"].orders, rows["A"].revenue) == (1, 2, 1500)
        assert (rows["B"].converted, rows["B"].orders, rows["B"].revenue) == (2, 2, 4000)
        assert rows["B"].revenue_per_customer == Decimal("1000.00")
        assert report.conversion["B"].treatment_rate == 0.5
        assert not report.conversion["B"].significant

    def test_ab_test_rejects_bad_groups(self, crm: CRM) -> None:
        ids = [crm.customers.create(name=f"c{i}").id for i in range(4)]
        window = {"start": START, "end": START + timedelta(days=1)}
        with pytest.raises(ValidationError, match="at least two variants"):
            crm.analytics.ab_test({"A": ids}, **window)
        with pytest.raises(ValidationError, match="more than one variant"):
            crm.analytics.ab_test({"A": ids[:3], "B": ids[2:]}, **window)
        with pytest.raises(ValidationError, match="control"):
            crm.analytics.ab_test({"A": ids[:2], "B": ids[2:]}, control="C", **window)
        with pytest.raises(ValidationError, match="end"):
            crm.analytics.ab_test({"A": ids[:2], "B": ids[2:]}, start=START, end=START)
        with pytest.raises(ValidationError, match="alpha"):
            crm.analytics.ab_test({"A": ids[:2], "B": ids[2:]}, alpha=0, **window)
        with pytest.raises(NotFound):
            crm.analytics.ab_test({"A": ids[:2], "B": [ids[2], "nobody"]}, **window)
