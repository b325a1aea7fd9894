"""SQL analytics aggregates: GROUP BY (and window functions) run in the database, so
only the answer crosses the wire."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from ecrm.backends.sql import tables
from ecrm.backends.sql.analytics_lifetime import SQLLifetimeQueries
from ecrm.backends.sql.repositories import IN_CHUNK
from ecrm.batching import chunks
from ecrm.domain.money import from_minor
from ecrm.domain.orders import CustomerTotals, OrderStatus

o = tables.orders


class SQLAnalyticsQueries(SQLLifetimeQueries):
    """Aggregates over the tenant's rows, pushed down to the database."""

    def order_totals(self, customer_ids: Collection[str], start: datetime, end: datetime,
                     currency: str) -> dict[str, CustomerTotals]:
        found: dict[str, CustomerTotals] = {}
        for chunk in chunks(sorted(set(customer_ids)), IN_CHUNK):
            query = (select(o.c.customer_id, func.count(),
                            func.sum(o.c.total_minor - o.c.refunded_minor))
                     .where(self._mine(o), o.c.customer_id.in_(chunk),
                            o.c.currency == currency,
                            o.c.status != OrderStatus.CANCELLED.value,
                            o.c.placed_at >= start, o.c.placed_at < end)
                     .group_by(o.c.customer_id))
            for customer_id, count, net_minor in self._conn.execute(query):
                found[customer_id] = CustomerTotals(customer_id, count,
                                                    from_minor(int(net_minor), currency))
        return found
