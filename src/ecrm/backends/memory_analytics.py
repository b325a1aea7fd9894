"""The memory backend's analytics aggregates: plain loops over the tenant's orders
(and interactions), the reference the SQL backends' GROUP BY queries are tested against."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.backends.memory_lifetime import MemoryLifetimeQueries
from ecrm.domain.orders import CustomerTotals, OrderStatus

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


class MemoryAnalyticsQueries(MemoryLifetimeQueries):
    """Aggregates computed from the tenant's dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._data = data

    def order_totals(self, customer_ids: Collection[str], start: datetime, end: datetime,
                     currency: str) -> dict[str, CustomerTotals]:
        wanted = set(customer_ids)
        counts: dict[str, int] = {}
        revenue: dict[str, Decimal] = {}
        for order in self._data.orders.rows.values():
            if order.customer_id in wanted and order.currency == currency \
                    and order.status is not OrderStatus.CANCELLED \
                    and start <= order.placed_at < end:
                counts[order.customer_id] = counts.get(order.customer_id, 0) + 1
                revenue[order.customer_id] = (revenue.get(order.customer_id, Decimal(0))
                                              + order.net_amount)
        return {cid: CustomerTotals(cid, counts[cid], revenue[cid]) for cid in counts}
