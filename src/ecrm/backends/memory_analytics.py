"""The memory backend's analytics aggregates: plain loops over the tenant's orders
(and interactions), the reference the SQL backends' GROUP BY queries are tested against."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.backends import memory_analytics_carts as carts
from ecrm.backends.memory_analytics_cohorts import MemoryCohortQueries
from ecrm.backends.memory_lifetime import MemoryLifetimeQueries
from ecrm.backends.memory_rfm import rfm_rows
from ecrm.domain.journeys import BuyerJourney, CartCounts, CartEvent, FunnelStep
from ecrm.domain.orders import CustomerTotals, OrderStatus
from ecrm.domain.rfm import RFMRow, RFMScorer

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


class MemoryAnalyticsQueries(MemoryCohortQueries, MemoryLifetimeQueries):
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

    def cart_events(self, start: datetime, end: datetime, as_of: datetime
                    ) -> list[CartEvent]:
        return carts.cart_events(self._data, start, end, as_of)

    def cart_counts(self, start: datetime, end: datetime, as_of: datetime,
                    window: timedelta, starts: Sequence[datetime]) -> CartCounts:
        return carts.cart_counts(self._data, start, end, as_of, window, starts)

    def journey_touches(self, start: datetime | None, end: datetime | None,
                        kinds: Collection[str] | None, max_length: int
                        ) -> list[BuyerJourney]:
        return carts.journey_touches(self._data, start, end, kinds, max_length)

    def funnel(self, steps: Sequence[FunnelStep], start: datetime, end: datetime,
               within: timedelta | None) -> list[int]:
        return carts.funnel(self._data, steps, start, end, within)
    def rfm(self, as_of: datetime, currency: str, scorer: RFMScorer) -> list[RFMRow]:
        return rfm_rows(self._data.orders.rows.values(), as_of, currency, scorer)
