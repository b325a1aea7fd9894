"""The shop's figures as plain frozen values: what :func:`ecrm.report.collect` gathers and
what the renderers draw. Nothing here reads a database or holds a DataFrame, so a
renderer is a pure function of a :class:`ShopFigures`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import attrs


@attrs.frozen
class Headline:
    """The shop at a glance, over all orders placed up to the as-of time.

    :param customers: customers signed up by then.
    :param buyers: customers with at least one counted order.
    :param orders: counted orders (not cancelled, in the shop's currency).
    :param revenue: their amount net of refunds.
    :param average_order_value: ``revenue / orders`` (0 without orders).
    :param repeat_rate: the share of buyers with two or more orders (0.0 without buyers).
    """

    customers: int
    buyers: int
    orders: int
    revenue: Decimal
    average_order_value: Decimal
    repeat_rate: float


@attrs.frozen
class SegmentCount:
    """How many customers an RFM segment holds, and their share of all scored buyers."""

    segment: str
    customers: int
    share: float


@attrs.frozen
class RFMCell:
    """The buyers with recency score ``recency`` and frequency score ``frequency`` (1 to
    5): how many, and what they spent in all (``revenue``)."""

    recency: int
    frequency: int
    customers: int
    revenue: Decimal


@attrs.frozen
class RFMFigures:
    """RFM segment counts in the default map's order, and the full 5 x 5 grid of R and F
    scores (every cell present, empty ones with zeros), R 5 first, then F 1 first."""

    segments: tuple[SegmentCount, ...]
    grid: tuple[RFMCell, ...]

    def cell(self, recency: int, frequency: int) -> RFMCell:
        """The grid cell of scores ``recency`` and ``frequency``."""
        for cell in self.grid:
            if (cell.recency, cell.frequency) == (recency, frequency):
                return cell
        raise KeyError((recency, frequency))


@attrs.frozen
class CohortRetention:
    """One monthly acquisition cohort: its first day, its size, and per month since
    acquisition (index 0: the acquisition month) the customers who ordered and their
    share of the cohort. ``complete`` is False for the month still running."""

    cohort: date
    customers: int
    active: tuple[int, ...]
    retention: tuple[float, ...]
    complete: tuple[bool, ...]


@attrs.frozen
class ChannelMonth:
    """Counted orders on ``channel`` in the month beginning on ``month``."""

    month: date
    channel: str
    orders: int
    revenue: Decimal


@attrs.frozen
class ChannelRevenue:
    """Orders and revenue per channel and month: every month of the window (``months``,
    oldest first, months without orders too), every channel with an order in it
    (``channels``, by name) and one :class:`ChannelMonth` per month and channel with
    orders (``cells``)."""

    months: tuple[date, ...]
    channels: tuple[str, ...]
    cells: tuple[ChannelMonth, ...]

    def revenue(self, month: date, channel: str) -> Decimal:
        """The channel's revenue in the month (0 without orders)."""
        return sum((c.revenue for c in self.cells if (c.month, c.channel) == (month, channel)),
                   Decimal(0))

    def orders(self, month: date, channel: str) -> int:
        """The channel's orders in the month."""
        return sum(c.orders for c in self.cells if (c.month, c.channel) == (month, channel))


@attrs.frozen
class CrossSellRule:
    """A mined association rule: baskets with ``antecedent`` also hold ``consequent``."""

    antecedent: tuple[str, ...]
    consequent: tuple[str, ...]
    support: float
    confidence: float
    lift: float


@attrs.frozen
class CrossSell:
    """The best association rules (by confidence, then lift) and where they came from:
    ``model`` names the stored model read, or is None when none was stored and the rules
    were mined for the report alone. ``baskets`` is how many orders were mined."""

    rules: tuple[CrossSellRule, ...]
    model: str | None
    baskets: int


@attrs.frozen
class SLAGroup:
    """Support figures of one group of cases (a priority or a month).

    :param label: the priority name, or the month as ``YYYY-MM``.
    :param cases: cases opened.
    :param first_response_within: the share of those cases without a recorded
        first-response breach (None without cases).
    :param resolution_within: the same for resolution.
    :param breaches: recorded breaches, both metrics together.
    """

    label: str
    cases: int
    first_response_within: float | None
    resolution_within: float | None
    breaches: int


@attrs.frozen
class SupportFigures:
    """Support cases opened in the report's window: totals, median business times,
    satisfaction, and the same per priority and per month (``by_month`` holds every
    month of the window)."""

    total: SLAGroup
    resolved: int
    first_response_median: timedelta | None
    resolution_median: timedelta | None
    csat: float | None
    csat_answers: int
    nps: float | None
    nps_answers: int
    by_priority: tuple[SLAGroup, ...]
    by_month: tuple[SLAGroup, ...]


@attrs.frozen
class LoyaltyFigures:
    """The points ledger now: ``issued = outstanding + redeemed + expired``. ``liability``
    is ``outstanding * point_value`` when a point value was given, else None."""

    issued: int
    outstanding: int
    redeemed: int
    expired: int
    point_value: Decimal | None
    liability: Decimal | None


@attrs.frozen
class CampaignResult:
    """A launched campaign's results over its sent variants (the control group left out):
    messages sent, opened and clicked, members who ordered in the attribution window,
    their orders and revenue, the cost per order (None without cost or orders), and the
    control group's conversion rate for comparison (None without a control group)."""

    name: str
    launched_at: datetime
    sent: int
    opened: int
    clicked: int
    converted: int
    orders: int
    revenue: Decimal
    cost_per_order: Decimal | None
    conversion_rate: float
    control_conversion_rate: float | None


@attrs.frozen
class ShopFigures:
    """Everything the dashboard and the HTML report show, as of ``as_of``, with monthly
    figures over the ``months`` calendar months in ``tz`` ending with the one holding
    ``as_of`` (the window starting at ``window_start``; both times in ``tz``). Money is in
    ``currency``."""

    as_of: datetime
    window_start: datetime
    months: int
    tz: str
    currency: str
    headline: Headline
    rfm: RFMFigures
    cohorts: tuple[CohortRetention, ...]
    channels: ChannelRevenue
    cross_sell: CrossSell
    support: SupportFigures
    loyalty: LoyaltyFigures
    campaigns: tuple[CampaignResult, ...]
