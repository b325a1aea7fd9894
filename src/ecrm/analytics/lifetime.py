"""Customer lifetime value (``crm.analytics.historical_value``, ``clv_summary`` and
``predict_clv``): what each customer has been worth so far, the BG/NBD summary of their
repeat buying, and what they are expected to be worth over a horizon.

This module needs no numpy: the predictive models live in :mod:`ecrm.analytics.clv`
(the ``predict`` extra), imported only when ``predict_clv`` is called.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ecrm.domain import validation as check
from ecrm.domain.lifetime import (
    PurchaseDays,
    clv_terms,
    local_day,
    unit_days,
    zone,
    zone_name,
)
from ecrm.domain.money import average
from ecrm.domain.results import ResultTable
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM


@attrs.frozen
class HistoricalValueRow:
    """One customer's value so far: counted orders, their net revenue, the first and
    last order, the average order value and the whole days since the first order."""

    customer_id: str
    orders: int
    revenue: Decimal
    first_order_at: datetime
    last_order_at: datetime
    average_order_value: Decimal
    tenure_days: int


@attrs.frozen
class HistoricalValueTable(ResultTable[HistoricalValueRow]):
    """Every customer with a counted order at or before ``as_of``, by customer id."""

    row_type: ClassVar[type] = HistoricalValueRow
    as_of: datetime | None = None
    currency: str = ""


@attrs.frozen
class CLVSummaryRow:
    """One customer's repeat buying over the calibration period, in the notation of
    Fader, Hardie & Lee: ``frequency`` x (repeat purchase days), ``recency`` t_x (first
    to last purchase day), ``age`` T (first purchase day to the end of the period), both
    in the summary's time unit, and ``monetary_value`` zbar (the mean revenue of a repeat
    purchase day; 0 without repeats)."""

    customer_id: str
    frequency: int
    recency: float
    age: float
    monetary_value: Decimal


@attrs.frozen
class CLVSummary(ResultTable[CLVSummaryRow]):
    """The summary the lifetime-value models are fitted on, by customer id, and how it
    was made: the period's end, the cohort start (customers whose first order came
    earlier are left out), the unit (``unit_days`` days long), the time zone whose
    calendar days count, and the currency."""

    row_type: ClassVar[type] = CLVSummaryRow
    calibration_end: datetime | None = None
    observation_start: datetime | None = None
    time_unit: str = "week"
    unit_days: float = 7.0
    tz: str = "UTC"
    currency: str = ""


@attrs.frozen
class CLVRow:
    """One customer's predicted lifetime value over the horizon: the summary's figures,
    the probability they are still a customer (``probability_alive``), the purchases
    expected over the horizon, the expected value of one purchase, and ``clv``: the
    expected revenue of each period discounted to today, summed."""

    customer_id: str
    frequency: int
    recency: float
    age: float
    monetary_value: Decimal
    probability_alive: float
    expected_purchases: float
    expected_average_value: Decimal
    clv: Decimal


@attrs.frozen
class CLVTable(ResultTable[CLVRow]):
    """Predicted lifetime values, by customer id, with the fitted models
    (``transactions``: a ``BetaGeoModel``, ``value``: a ``GammaGammaModel``) and the
    terms: ``horizon`` periods of ``period`` (``period_units`` summary units) each,
    discounted at ``discount_rate`` per period."""

    row_type: ClassVar[type] = CLVRow
    summary: CLVSummary | None = None
    horizon: int = 0
    period: str = ""
    period_units: float = 0.0
    discount_rate: float = 0.0
    transactions: Any = None
    value: Any = None


class LifetimeValueAnalysis:
    """The lifetime-value part of ``crm.analytics``."""

    _crm: CRM

    def historical_value(self, *, as_of: datetime | None = None) -> HistoricalValueTable:
        """What each customer has been worth up to ``as_of`` (default: now): their
        counted orders (not cancelled, in the shop's currency) placed at or before it,
        net revenue, first and last order, average order value, and ``tenure_days``,
        the whole days from the first order to ``as_of``. Customers without a counted
        order are left out. Grouped in the database on SQL backends.

        :raises ValidationError: a naive ``as_of``.
        """
        moment = check.aware("as_of", as_of if as_of is not None else self._crm.clock.now())
        assert moment is not None
        currency = self._crm.currency
        found = self._crm.transact(
            lambda uow: uow.analytics.customer_histories(currency, moment), read_only=True)
        rows = [HistoricalValueRow(
            h.customer_id, h.orders, h.revenue, h.first_order_at, h.last_order_at,
            average(h.revenue, h.orders, currency), (moment - h.first_order_at).days)
            for h in found]
        return HistoricalValueTable(rows, moment, currency)

    def clv_summary(self, *, calibration_end: datetime,
                    observation_start: datetime | None = None,
                    time_unit: str | timedelta = "week", tz: Any = "UTC") -> CLVSummary:
        """Each customer's repeat buying up to ``calibration_end`` (inclusive), counted
        on distinct calendar days in ``tz`` the way the CDNOW summary is: the first
        purchase day starts the customer's clock; ``frequency`` is the number of later
        purchase days; ``recency`` and ``age`` are the whole days from the first purchase
        day to the last purchase day and to ``calibration_end``'s day, divided by the
        length of ``time_unit`` (``"day"``, ``"week"`` = 7 days, ``"month"`` =
        365.25 / 12 days, or a ``timedelta``); ``monetary_value`` is the mean net revenue
        of the repeat purchase days (a day's orders summed), 0 without repeats.

        Customers whose first order comes after ``calibration_end`` are not in the
        summary, nor, when ``observation_start`` is given, those whose first order came
        before it (the models assume each customer is watched from their first
        purchase). On SQL backends the grouping by customer and day runs in the database.

        :raises ValidationError: naive or reversed times, an unknown ``time_unit`` or
            ``tz``.
        """
        end = check.aware("calibration_end", calibration_end)
        start = check.aware("observation_start", observation_start, required=False)
        assert end is not None
        if start is not None and not start < end:
            raise ValidationError("observation_start", "must be before calibration_end")
        unit, length = unit_days(time_unit)
        where = zone(tz)
        currency = self._crm.currency
        found = self._crm.transact(
            lambda uow: uow.analytics.purchase_days(currency, end, where, start),
            read_only=True)
        last_day = local_day(end, where)
        rows = [_summary_row(days, last_day, length, currency) for days in found]
        return CLVSummary(rows, end, start, unit, length, zone_name(where), currency)

    def predict_clv(self, summary: CLVSummary | None = None, *,
                    calibration_end: datetime | None = None,
                    observation_start: datetime | None = None,
                    time_unit: str | timedelta = "week", tz: Any = "UTC",
                    horizon: int = 12, period: str | timedelta = "month",
                    discount_rate: float = 0.01, transactions: Any = None,
                    value: Any = None) -> CLVTable:
        """Predicted lifetime value per customer: a BG/NBD model of repeat purchases and
        a Gamma-Gamma model of their value, fitted on ``summary`` (or on
        ``clv_summary(calibration_end=..., observation_start=..., time_unit=..., tz=...)``
        when none is given), then ``clv`` = the sum over ``horizon`` periods of
        ``period`` (``"month"`` by default) of the purchases expected in period i times
        the expected value of a purchase, divided by ``(1 + discount_rate) ** i``.

        Pass fitted ``transactions`` (:class:`~ecrm.analytics.clv.BetaGeoModel`) and
        ``value`` (:class:`~ecrm.analytics.clv.GammaGammaModel`) models to skip fitting.
        Needs the ``predict`` extra: ``pip install "ecrm[predict]"``.

        :raises ImportError: numpy or scipy is missing.
        :raises ValidationError: no summary and no ``calibration_end``, an empty summary,
            a bad horizon, period or discount rate.
        """
        from ecrm.analytics import clv

        clv_terms(horizon, period, discount_rate)  # before any work
        if summary is None:
            if calibration_end is None:
                raise ValidationError("calibration_end", "is required without a summary")
            summary = self.clv_summary(calibration_end=calibration_end,
                                       observation_start=observation_start,
                                       time_unit=time_unit, tz=tz)
        return clv.predict_clv(summary, horizon=horizon, period=period,
                               discount_rate=discount_rate, transactions=transactions,
                               value=value)


def _summary_row(days: PurchaseDays, last_day: Any, unit: float, currency: str
                 ) -> CLVSummaryRow:
    repeats = days.days - 1
    repeat_revenue = days.revenue - days.first_day_revenue
    return CLVSummaryRow(
        days.customer_id, repeats,
        (days.last_day - days.first_day).days / unit,
        (last_day - days.first_day).days / unit,
        average(repeat_revenue, max(repeats, 1), currency))
