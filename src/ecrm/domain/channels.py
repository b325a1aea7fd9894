"""Order channels: where customers were acquired (first touch), what each channel sells,
and what it costs per order and per customer acquired. The aggregates backends return,
the result tables, and the pure functions that assemble one from the other.

Orders count as in :mod:`ecrm.domain.cohorts`. A customer's *acquisition channel* is
the channel of their first counted order; of two first orders placed at the same
instant, the one with the smaller order id (compared code point by code point).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from ecrm.domain import money
from ecrm.domain import validation as check
from ecrm.domain.cohorts import Scope
from ecrm.domain.periods import Period, Periods
from ecrm.domain.results import ResultTable
from ecrm.errors import ValidationError

# -- what backends return ---------------------------------------------------------------


@attrs.frozen
class ChannelAcquisition:
    """``customers`` acquired on ``channel``; ``repeaters`` of them have two or more
    counted orders (on any channel)."""

    channel: str
    customers: int
    repeaters: int


@attrs.frozen
class ChannelOrders:
    """Counted orders on ``channel`` in period number ``period`` (0 when not split by
    period): how many, from how many distinct ``customers``, and their revenue."""

    period: int
    channel: str
    orders: int
    customers: int
    revenue: Decimal


# -- channels ---------------------------------------------------------------------------

@attrs.frozen
class ChannelRow:
    """One order channel over the window.

    - ``acquired``: customers whose first counted order was on this channel and was
      placed in the window;
    - ``repeat_customers``: those of them with two or more counted orders (on any
      channel) by the as-of time, and ``repeat_rate`` = repeat_customers / acquired;
    - ``buyers``, ``orders``, ``revenue``: distinct customers, counted orders and their
      net amount on this channel in the window;
    - ``cost``: the marketing cost given for the channel (None when not given),
      ``cost_per_order`` = cost / orders and ``cost_per_acquisition`` = cost / acquired
      (None without a cost or when dividing by zero).
    """

    channel: str
    acquired: int
    repeat_customers: int
    repeat_rate: float
    buyers: int
    orders: int
    revenue: Decimal
    cost: Decimal | None
    cost_per_order: Decimal | None
    cost_per_acquisition: Decimal | None


@attrs.frozen
class ChannelTable(ResultTable[ChannelRow]):
    """One row per channel with orders in the window, plus every channel named in the
    costs, sorted by channel name."""

    row_type: ClassVar[type] = ChannelRow
    as_of: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""

    def get(self, channel: str) -> ChannelRow | None:
        """The row of ``channel``, or None."""
        return next((row for row in self.rows if row.channel == channel), None)


def check_costs(costs: object) -> dict[str, Decimal]:
    """Channel -> marketing cost: channel names as orders carry them, amounts as
    ``Decimal``, ``int`` or ``str`` (not float), zero or more."""
    if costs is None:
        return {}
    if not isinstance(costs, Mapping):
        raise ValidationError("costs", "expected a mapping of channel -> cost")
    checked = {}
    for channel, cost in costs.items():
        name = check.identifier("costs", channel)
        amount = money.to_decimal(f"costs[{name}]", cost)
        if amount < 0:
            raise ValidationError(f"costs[{name}]", f"must not be negative, got {amount}")
        checked[name] = amount
    return checked


def channel_table(acquisitions: Iterable[ChannelAcquisition], orders: Iterable[ChannelOrders],
                  costs: Mapping[str, Decimal], scope: Scope) -> ChannelTable:
    """The table from a backend's aggregates and the checked costs."""
    won = {a.channel: a for a in acquisitions}
    sold = {o.channel: o for o in orders}
    currency = scope.currency
    rows = []
    for channel in sorted(set(won) | set(sold) | set(costs)):
        got = won.get(channel, ChannelAcquisition(channel, 0, 0))
        sale = sold.get(channel, ChannelOrders(0, channel, 0, 0, Decimal(0)))
        cost = costs.get(channel)
        rows.append(ChannelRow(
            channel, got.customers, got.repeaters,
            got.repeaters / got.customers if got.customers else 0.0,
            sale.customers, sale.orders, money.quantize(sale.revenue, currency), cost,
            _per(cost, sale.orders, currency), _per(cost, got.customers, currency)))
    return ChannelTable(rows, scope.as_of, scope.start, scope.end, currency)


def _per(cost: Decimal | None, count: int, currency: str) -> Decimal | None:
    return None if cost is None or not count else money.average(cost, count, currency)


# -- orders by channel and period -------------------------------------------------------

@attrs.frozen
class ChannelPeriodRow:
    """Counted orders on ``channel`` placed in the period that begins on ``period``:
    how many, and their net amount."""

    period: date
    channel: str
    orders: int
    revenue: Decimal


@attrs.frozen
class ChannelPeriodTable(ResultTable[ChannelPeriodRow]):
    """One row per period and channel with orders, by period then channel name. The
    first and last periods are partial when ``start``/``end`` fall inside them."""

    row_type: ClassVar[type] = ChannelPeriodRow
    granularity: Period = Period.MONTH
    tz: str = "UTC"
    as_of: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""

    def pivot(self, column: str = "orders") -> dict[date, dict[str, Any]]:
        """Period -> channel -> ``column`` ("orders" or "revenue"), periods in order;
        a channel without orders in a period is absent from it."""
        if column not in ("orders", "revenue"):
            raise ValidationError("column", "use 'orders' or 'revenue'")
        table: dict[date, dict[str, Any]] = {}
        for row in self.rows:
            table.setdefault(row.period, {})[row.channel] = getattr(row, column)
        return table


def channel_period_table(orders: Iterable[ChannelOrders], periods: Periods | None,
                         granularity: Period, tz: str, scope: Scope) -> ChannelPeriodTable:
    """The table from a backend's per-period aggregates."""
    rows = [] if periods is None else [
        ChannelPeriodRow(periods.firsts[o.period], o.channel, o.orders,
                         money.quantize(o.revenue, scope.currency))
        for o in sorted(orders, key=lambda o: (o.period, o.channel))]
    return ChannelPeriodTable(rows, granularity, tz, scope.as_of, scope.start, scope.end,
                              scope.currency)
