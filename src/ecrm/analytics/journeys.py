"""Cart abandonment, customer journeys and funnels (``crm.analytics.cart_abandonment``,
``journeys`` and ``funnel``): what customers did on the way to an order, and where they
stopped. The definitions live in :mod:`ecrm.domain.journeys`; docs/analytics-journeys.md
explains them."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from ecrm.domain import validation as check
from ecrm.domain.journeys import (
    BuyerJourney,
    CartStatus,
    FunnelStep,
    funnel_steps,
    kinds_of,
)
from ecrm.domain.periods import parse_period, parse_tz, span, zone_name
from ecrm.domain.results import ResultTable
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

DAY = timedelta(days=1)
#: The last instant of a window ``[start, end)`` is ``end - TICK``.
TICK = timedelta(microseconds=1)


# -- cart abandonment ---------------------------------------------------------------------

@attrs.frozen
class CartFigures:
    """Carts started, and how they stand: ``abandonment_rate`` = abandoned / (converted +
    abandoned), None when no cart is decided yet; open carts are left out of it."""

    started: int
    converted: int
    abandoned: int
    open: int
    abandonment_rate: float | None


def _figures(counts: Counter[CartStatus]) -> CartFigures:
    converted, abandoned = counts[CartStatus.CONVERTED], counts[CartStatus.ABANDONED]
    decided = converted + abandoned
    return CartFigures(converted + abandoned + counts[CartStatus.OPEN], converted,
                       abandoned, counts[CartStatus.OPEN],
                       abandoned / decided if decided else None)


@attrs.frozen
class PeriodCartRow:
    """The carts started in one period (``period``: its first local day)."""

    period: date
    started: int
    converted: int
    abandoned: int
    open: int
    abandonment_rate: float | None


@attrs.frozen
class ProductCartRow:
    """The carts with at least one add of ``sku`` (None: adds without a SKU)."""

    sku: str | None
    started: int
    converted: int
    abandoned: int
    open: int
    abandonment_rate: float | None


@attrs.frozen
class ChannelCartRow:
    """The carts started (first add) on ``channel``."""

    channel: str
    started: int
    converted: int
    abandoned: int
    open: int
    abandonment_rate: float | None


@attrs.frozen
class PeriodCartTable(ResultTable[PeriodCartRow]):
    row_type: ClassVar[type] = PeriodCartRow


@attrs.frozen
class ProductCartTable(ResultTable[ProductCartRow]):
    row_type: ClassVar[type] = ProductCartRow


@attrs.frozen
class ChannelCartTable(ResultTable[ChannelCartRow]):
    row_type: ClassVar[type] = ChannelCartRow


@attrs.frozen
class CartAbandonmentReport:
    """Carts started in ``[start, end)`` and how they stand at ``as_of``: ``overall``
    figures, and the same per period (``by_period``, empty without a ``period``), per
    product and per channel."""

    start: datetime
    end: datetime
    as_of: datetime
    conversion_window: timedelta
    period: str | None
    tz: str
    overall: CartFigures
    by_period: PeriodCartTable
    by_product: ProductCartTable
    by_channel: ChannelCartTable

    @property
    def started(self) -> int:
        return self.overall.started

    @property
    def converted(self) -> int:
        return self.overall.converted

    @property
    def abandoned(self) -> int:
        return self.overall.abandoned

    @property
    def open(self) -> int:
        return self.overall.open

    @property
    def abandonment_rate(self) -> float | None:
        return self.overall.abandonment_rate


# -- journeys ------------------------------------------------------------------------------

@attrs.frozen
class JourneyRow:
    """One path (steps ``"channel:kind"``, oldest first; empty: no touch before the
    first order), how many first-time buyers took it, their ``share`` of all first-time
    buyers, and the median days from their first touch to their first order."""

    path: tuple[str, ...]
    customers: int
    share: float
    median_days_to_purchase: float | None


@attrs.frozen
class JourneyTable(ResultTable[JourneyRow]):
    """The ``top`` most common paths, most common first; ``buyers`` is how many
    customers placed their first order in the window."""

    row_type: ClassVar[type] = JourneyRow
    buyers: int = 0
    start: datetime | None = None
    end: datetime | None = None
    max_length: int = 5


# -- funnels ------------------------------------------------------------------------------

@attrs.frozen
class FunnelRow:
    """One step: the customers who reached it, and that as a share of those who reached
    the step before and of those who reached the first (None when those are none)."""

    step: str
    customers: int
    from_previous: float | None
    from_first: float | None


@attrs.frozen
class FunnelTable(ResultTable[FunnelRow]):
    row_type: ClassVar[type] = FunnelRow
    steps: tuple[FunnelStep, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    within: timedelta | None = None


class JourneyAnalysis:
    """The ``cart_abandonment``, ``journeys`` and ``funnel`` parts of ``crm.analytics``."""

    _crm: CRM

    def cart_abandonment(self, *, start: datetime, end: datetime, period: str | None = None,
                         tz: str | tzinfo = "UTC", conversion_window: timedelta = DAY,
                         as_of: datetime | None = None) -> CartAbandonmentReport:
        """Carts started in ``[start, end)`` and how they stand at ``as_of`` (default:
        now). A cart is a customer's run of ``cart_add`` events, each within
        ``conversion_window`` of the one before with no counted order in between; it is
        converted by a counted order placed within ``conversion_window`` after its last
        add, abandoned when that window has passed without one, open while it has not.

        :raises ValidationError: naive or reversed times, a bad ``period``, ``tz`` or
            ``conversion_window``.
        """
        start, end = _window(start, end)
        as_of = self._crm.clock.now() if as_of is None else check.aware("as_of", as_of)
        assert as_of is not None
        which = None if period is None else parse_period(period)
        zone_info = parse_tz(tz)
        if not isinstance(conversion_window, timedelta) or conversion_window <= timedelta(0):
            raise ValidationError("conversion_window", "must be a positive timedelta")
        periods = None if which is None else span(start, end - TICK, which, zone_info)
        starts = [] if periods is None else list(periods.bounds[:-1])
        firsts = [] if periods is None else list(periods.firsts)
        counts = self._crm.transact(lambda uow: uow.analytics.cart_counts(
            start, end, as_of, conversion_window, starts), read_only=True)
        return CartAbandonmentReport(
            start, end, as_of, conversion_window, None if which is None else which.value,
            zone_name(zone_info), _figures(_total(counts.by_period_channel)),
            PeriodCartTable(PeriodCartRow(day, *attrs.astuple(_figures(part)))
                            for day, part in zip(
                                firsts,
                                _split(counts.by_period_channel, lambda key: key[0],
                                       range(len(firsts))), strict=True)),
            ProductCartTable(ProductCartRow(sku, *attrs.astuple(_figures(part)))
                             for sku, part in _grouped(counts.by_sku, lambda key: key[0])),
            ChannelCartTable(ChannelCartRow(channel, *attrs.astuple(_figures(part)))
                             for channel, part in _grouped(counts.by_period_channel,
                                                           lambda key: key[1])))

    def journeys(self, *, start: datetime | None = None, end: datetime | None = None,
                 kinds: Collection[str] | None = None, max_length: int = 5,
                 top: int = 10) -> JourneyTable:
        """The most common paths to a first purchase: for each customer whose first
        counted order falls in ``[start, end)`` (either end open when None), their
        touches (of ``kinds``, default all) before that order as ``"channel:kind"``
        steps, consecutive repeats collapsed, the last ``max_length`` kept.

        :raises ValidationError: naive or reversed times, a bad ``kinds``, ``max_length``
            or ``top``.
        """
        start = check.aware("start", start, required=False)
        end = check.aware("end", end, required=False)
        if start is not None and end is not None and not start < end:
            raise ValidationError("end", "must be after start")
        wanted = kinds_of(kinds)
        max_length = check.positive_int("max_length", max_length)
        top = check.positive_int("top", top)
        journeys = self._crm.transact(lambda uow: uow.analytics.journey_touches(
            start, end, wanted, max_length), read_only=True)
        return JourneyTable(_paths(journeys, top), len(journeys), start, end, max_length)

    def funnel(self, steps: Iterable[Any], *, start: datetime, end: datetime,
               within: timedelta | None = None) -> FunnelTable:
        """How many customers went through ``steps`` in order in ``[start, end)``: each
        step an interaction kind (a name, or ``{"kind", "channel", "sku"}``), or
        ``"order"`` for a counted order. A customer enters at their first step-1 event
        in the window and reaches step ``i`` with a matching event strictly after step
        ``i - 1`` (and, with ``within``, at most that long after step 1).

        :raises ValidationError: fewer than two steps, a bad step (named ``steps[i]``),
            naive or reversed times, or a ``within`` that is not a positive timedelta.
        """
        checked = funnel_steps(steps, self._crm.interactions.channels)
        start, end = _window(start, end)
        if within is not None and (not isinstance(within, timedelta)
                                   or within <= timedelta(0)):
            raise ValidationError("within", "must be a positive timedelta or None")
        reached = self._crm.transact(lambda uow: uow.analytics.funnel(
            checked, start, end, within), read_only=True)
        rows = [FunnelRow(step.label, count,
                          _share(count, reached[n - 1]) if n else _share(count, count),
                          _share(count, reached[0]))
                for n, (step, count) in enumerate(zip(checked, reached, strict=True))]
        return FunnelTable(rows, checked, start, end, within)


def _window(start: object, end: object) -> tuple[datetime, datetime]:
    first = check.aware("start", start)
    last = check.aware("end", end)
    assert first is not None and last is not None
    if not first < last:
        raise ValidationError("end", "must be after start")
    return first, last


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


Key = TypeVar("Key")


def _total(counts: Mapping[Any, int]) -> Counter[CartStatus]:
    """The counts of ``counts`` (keys ending in a status) added up by status."""
    found: Counter[CartStatus] = Counter()
    for key, count in counts.items():
        found[key[-1]] += count
    return found


def _split(counts: Mapping[Any, int], part: Callable[[Any], Key], parts: Iterable[Key]
           ) -> list[Counter[CartStatus]]:
    """For each of ``parts`` in order, the counts whose key it is part of, by status."""
    found: dict[Key, Counter[CartStatus]] = {name: Counter() for name in parts}
    for key, count in counts.items():
        if part(key) in found:
            found[part(key)][key[-1]] += count
    return list(found.values())


def _grouped(counts: Mapping[Any, int], part: Callable[[Any], Any]
             ) -> list[tuple[Any, Counter[CartStatus]]]:
    """The counts by status of each value ``part`` takes, values sorted (None last)."""
    names = sorted({part(key) for key in counts}, key=lambda name: (name is None,
                                                                     name or ""))
    return list(zip(names, _split(counts, part, names), strict=True))


def _paths(journeys: list[BuyerJourney], top: int) -> list[JourneyRow]:
    grouped: dict[tuple[str, ...], list[BuyerJourney]] = {}
    for journey in journeys:
        grouped.setdefault(tuple(t.step for t in journey.touches), []).append(journey)
    ranked = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    return [JourneyRow(path, len(found), len(found) / len(journeys), _median_days(found))
            for path, found in ranked]


def _median_days(journeys: list[BuyerJourney]) -> float | None:
    days = [(j.first_order_at - j.first_touch_at) / DAY for j in journeys
            if j.first_touch_at is not None]
    return statistics.median(days) if days else None


__all__ = [
    "CartAbandonmentReport", "CartFigures", "ChannelCartRow", "ChannelCartTable",
    "FunnelRow", "FunnelTable", "JourneyAnalysis", "JourneyRow", "JourneyTable",
    "PeriodCartRow", "PeriodCartTable", "ProductCartRow", "ProductCartTable",
]
