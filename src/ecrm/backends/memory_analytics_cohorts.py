"""The memory backend's cohort, repeat, churn and channel aggregates: plain loops over the
tenant's orders, the reference the SQL queries are tested against."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.domain.channels import ChannelAcquisition, ChannelOrders
from ecrm.domain.cohorts import ChurnCount, CohortCell, RepeatFacts, Scope
from ecrm.domain.orders import Order, OrderStatus
from ecrm.domain.periods import Periods

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


class MemoryCohortQueries:
    """Cohort and channel aggregates computed from the tenant's dicts."""

    _data: _TenantData

    def earliest_order(self, scope: Scope) -> datetime | None:
        return min((o.placed_at for o in self._counted(scope) if scope.holds(o.placed_at)),
                   default=None)

    def cohort_cells(self, scope: Scope, periods: Periods) -> list[CohortCell]:
        cells: dict[tuple[int, int], tuple[set[str], int, Decimal]] = {}
        for history in self._acquired(scope):
            cohort = periods.index(history[0].placed_at)
            for order in history:
                key = (cohort, periods.index(order.placed_at))
                who, count, revenue = cells.get(key, (set(), 0, Decimal(0)))
                who.add(order.customer_id)
                cells[key] = (who, count + 1, revenue + order.net_amount)
        return [CohortCell(cohort, period, len(who), count, revenue)
                for (cohort, period), (who, count, revenue) in cells.items()]

    def repeat_facts(self, scope: Scope) -> RepeatFacts:
        histories = list(self._acquired(scope))
        gaps = [h[1].placed_at - h[0].placed_at for h in histories if len(h) > 1]
        return RepeatFacts(len(histories), gaps)

    def churn_counts(self, scope: Scope, cutoff: datetime,
                     periods: Periods | None) -> list[ChurnCount]:
        counts: dict[tuple[int, bool], int] = {}
        for history in self._acquired(scope):
            cohort = periods.index(history[0].placed_at) if periods else 0
            key = (cohort, history[-1].placed_at < cutoff)
            counts[key] = counts.get(key, 0) + 1
        return [ChurnCount(cohort, churned, n) for (cohort, churned), n in counts.items()]

    def channel_acquisition(self, scope: Scope) -> list[ChannelAcquisition]:
        found: dict[str, tuple[int, int]] = {}
        for history in self._acquired(scope):
            customers, repeaters = found.get(history[0].channel, (0, 0))
            found[history[0].channel] = (customers + 1, repeaters + (len(history) > 1))
        return [ChannelAcquisition(channel, customers, repeaters)
                for channel, (customers, repeaters) in found.items()]

    def channel_orders(self, scope: Scope, periods: Periods | None) -> list[ChannelOrders]:
        groups: dict[tuple[int, str], tuple[set[str], int, Decimal]] = {}
        for order in self._counted(scope):
            if scope.holds(order.placed_at):
                key = (periods.index(order.placed_at) if periods else 0, order.channel)
                who, count, revenue = groups.get(key, (set(), 0, Decimal(0)))
                who.add(order.customer_id)
                groups[key] = (who, count + 1, revenue + order.net_amount)
        return [ChannelOrders(period, channel, count, len(who), revenue)
                for (period, channel), (who, count, revenue) in groups.items()]

    def _counted(self, scope: Scope) -> Iterator[Order]:
        return counted_orders(self._data, scope.currency, scope.as_of)

    def _acquired(self, scope: Scope) -> Iterator[list[Order]]:
        """Each customer's counted orders, first first (ties by order id), for the
        customers whose first order lies in the window."""
        histories: dict[str, list[Order]] = {}
        for order in self._counted(scope):
            histories.setdefault(order.customer_id, []).append(order)
        for history in histories.values():
            history.sort(key=lambda o: (o.placed_at, o.order_id))
            if scope.holds(history[0].placed_at):
                yield history


def counted_orders(data: _TenantData, currency: str, until: datetime) -> Iterator[Order]:
    """The tenant's counted orders: in ``currency``, not cancelled, placed by ``until``."""
    cancelled = OrderStatus.CANCELLED
    for order in data.orders.rows.values():
        if order.currency == currency and order.status is not cancelled \
                and order.placed_at <= until:
            yield order
