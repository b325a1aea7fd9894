"""SQL analytics aggregates: GROUP BY (and window functions) run in the database, so
only the answer crosses the wire."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ecrm.backends.sql import tables
from ecrm.backends.sql.analytics_carts import SQLCartQueries
from ecrm.backends.sql.analytics_cohorts import SQLCohortQueries
from ecrm.backends.sql.analytics_lifetime import SQLLifetimeQueries
from ecrm.backends.sql.repositories import IN_CHUNK, _TenantScoped
from ecrm.backends.sql.rfm import rfm_query
from ecrm.batching import chunks
from ecrm.domain.journeys import BuyerJourney, CartCounts, CartEvent, FunnelStep
from ecrm.domain.money import from_minor
from ecrm.domain.orders import CustomerTotals, OrderStatus
from ecrm.domain.rfm import RFMRow, RFMScorer

o = tables.orders


class SQLAnalyticsQueries(SQLCohortQueries, SQLLifetimeQueries, _TenantScoped):
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

    def _carts(self) -> SQLCartQueries:
        return SQLCartQueries(self._conn, self._tenant, direct=self._direct)

    def cart_events(self, start: datetime, end: datetime, as_of: datetime
                    ) -> list[CartEvent]:
        return self._carts().cart_events(start, end, as_of)

    def cart_counts(self, start: datetime, end: datetime, as_of: datetime,
                    window: timedelta, starts: Sequence[datetime]) -> CartCounts:
        return self._carts().cart_counts(start, end, as_of, window, starts)

    def journey_touches(self, start: datetime | None, end: datetime | None,
                        kinds: Collection[str] | None, max_length: int
                        ) -> list[BuyerJourney]:
        return self._carts().journey_touches(start, end, kinds, max_length)

    def funnel(self, steps: Sequence[FunnelStep], start: datetime, end: datetime,
               within: timedelta | None) -> list[int]:
        return self._carts().funnel(steps, start, end, within)
    def rfm(self, as_of: datetime, currency: str, scorer: RFMScorer) -> list[RFMRow]:
        query = rfm_query(self._tenant, as_of, currency, scorer.bins,
                          self._conn.dialect.name)
        make = scorer.row
        return [make(customer_id, days, count, from_minor(int(money), currency), r, f, m)
                for customer_id, days, count, money, r, f, m
                in self._conn.execute(query.order_by("customer_id"))]
