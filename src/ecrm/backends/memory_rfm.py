"""RFM metrics on the memory backend: one pass over the tenant's orders, then the plain
Python scoring of :mod:`ecrm.domain.rfm` (sort and bisect), the reference the SQL
backends' window functions are held to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ecrm.domain.money import CURRENCY_EXPONENTS, from_minor
from ecrm.domain.orders import Order, OrderStatus
from ecrm.domain.rfm import RFMRow, RFMScorer, rows_from_metrics

DAY = timedelta(days=1)
_ZERO = Decimal(0)


def rfm_rows(orders: Iterable[Order], as_of: datetime, currency: str, scorer: RFMScorer
             ) -> list[RFMRow]:
    """The RFM rows of the customers with a counted order among ``orders`` at ``as_of``
    (see ``AnalyticsQueries.rfm``)."""
    # Stored times are in UTC; comparing with a time in the same zone is much cheaper.
    as_of = as_of.astimezone(timezone.utc)
    cancelled = OrderStatus.CANCELLED
    per_customer: dict[str, list[Any]] = {}  # [last placed_at, count, net amount]
    for order in orders:
        if order.status is cancelled or order.placed_at > as_of:
            continue
        net = order.total - order.refunded if order.currency == currency else _ZERO
        seen = per_customer.get(order.customer_id)
        if seen is None:
            per_customer[order.customer_id] = [order.placed_at, 1, net]
        else:
            if order.placed_at > seen[0]:
                seen[0] = order.placed_at
            seen[1] += 1
            seen[2] += net
    exponent = CURRENCY_EXPONENTS[currency]
    metrics = []
    for customer_id, (last, count, money) in per_customer.items():
        minor = int(money.scaleb(exponent))
        metrics.append((customer_id, (as_of - last) // DAY, count,
                        from_minor(minor, currency), minor))
    return rows_from_metrics(metrics, scorer)
