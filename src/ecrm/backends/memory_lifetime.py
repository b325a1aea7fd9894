"""The memory backend's lifetime-value aggregates: plain loops over the tenant's orders,
the reference the SQL backends' GROUP BY queries are tested against."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.backends.memory_analytics_cohorts import counted_orders
from ecrm.domain.lifetime import CustomerHistory, PurchaseDays, local_day

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


class MemoryLifetimeQueries:
    """``customer_histories`` and ``purchase_days`` from the tenant's dicts."""

    _data: _TenantData

    def customer_histories(self, currency: str, as_of: datetime) -> list[CustomerHistory]:
        found: dict[str, list] = {}
        for order in counted_orders(self._data, currency, as_of):
            seen = found.get(order.customer_id)
            if seen is None:
                found[order.customer_id] = [1, order.net_amount, order.placed_at,
                                            order.placed_at]
            else:
                seen[0] += 1
                seen[1] += order.net_amount
                seen[2] = min(seen[2], order.placed_at)
                seen[3] = max(seen[3], order.placed_at)
        return [CustomerHistory(cid, *found[cid]) for cid in sorted(found)]

    def purchase_days(self, currency: str, until: datetime, tz: tzinfo,
                      since: datetime | None = None) -> list[PurchaseDays]:
        days: dict[str, dict[date, Decimal]] = {}
        first_at: dict[str, datetime] = {}
        for order in counted_orders(self._data, currency, until):
            cid = order.customer_id
            day = local_day(order.placed_at, tz)
            mine = days.setdefault(cid, {})
            mine[day] = mine.get(day, Decimal(0)) + order.net_amount
            if cid not in first_at or order.placed_at < first_at[cid]:
                first_at[cid] = order.placed_at
        rows = []
        for cid in sorted(days):
            if since is not None and first_at[cid] < since:
                continue
            mine = days[cid]
            first, last = min(mine), max(mine)
            rows.append(PurchaseDays(cid, first, last, len(mine),
                                     sum(mine.values(), Decimal(0)), mine[first]))
        return rows
