"""Channel analytics (``crm.analytics.channels``, ``.orders_by_channel``): which order
channel wins customers who come back, what each sells, and what it costs per order and
per customer acquired.

Costs are given per order channel, in the shop's currency; campaign-level costs come
with campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.analytics.cohorts import periods_to, scope_of
from ecrm.domain.channels import (
    ChannelPeriodTable,
    ChannelTable,
    channel_period_table,
    channel_table,
    check_costs,
)
from ecrm.domain.periods import Period, parse_period, parse_tz, zone_name

if TYPE_CHECKING:
    from ecrm.backends.base import UnitOfWork
    from ecrm.crm import CRM

_TICK = timedelta(microseconds=1)


class ChannelAnalysis:
    """The ``channels`` and ``orders_by_channel`` parts of ``crm.analytics``."""

    _crm: CRM

    def channels(self, *, as_of: datetime | None = None, start: datetime | None = None,
                 end: datetime | None = None,
                 costs: Mapping[str, Decimal | int | str] | None = None) -> ChannelTable:
        """Per order channel, over the window ``[start, end)`` (either open) up to
        ``as_of`` (default: now): the customers it acquired (their first counted order
        was on it and in the window), the share of those with two or more counted
        orders, its orders, buyers and revenue in the window, and, given its marketing
        ``costs`` (channel -> amount in the shop's currency), the cost per order and per
        customer acquired. A channel in ``costs`` without orders gets a row of zeros.

        :raises ValidationError: naive or reversed times; a cost that is negative, a
            float or not a number; a cost's key that is not a channel name.
        """
        checked = check_costs(costs)
        scope = scope_of(self._crm, as_of, start, end)

        def read(uow: UnitOfWork) -> ChannelTable:
            return channel_table(uow.analytics.channel_acquisition(scope),
                                 uow.analytics.channel_orders(scope, None), checked, scope)

        return self._crm.transact(read, read_only=True)

    def orders_by_channel(self, *, period: str | Period = "month", tz: object = "UTC",
                          start: datetime | None = None, end: datetime | None = None,
                          as_of: datetime | None = None) -> ChannelPeriodTable:
        """Counted orders and their revenue per period (in zone ``tz``) and channel,
        over ``[start, end)`` up to ``as_of`` (default: now). Periods and channels
        without orders have no row.

        :raises ValidationError: a bad period or zone, naive or reversed times, or more
            than 1,000 periods.
        """
        kind, zone = parse_period(period), parse_tz(tz)
        scope = scope_of(self._crm, as_of, start, end)
        last = scope.as_of if scope.end is None else min(scope.as_of, scope.end - _TICK)

        def read(uow: UnitOfWork) -> ChannelPeriodTable:
            periods = periods_to(uow, scope, last, kind, zone)
            found = uow.analytics.channel_orders(scope, periods) if periods else []
            return channel_period_table(found, periods, kind, zone_name(zone), scope)

        return self._crm.transact(read, read_only=True)
