"""Lifetime value, the pure parts: the per-customer figures backends aggregate, time units,
time zones and the UTC offsets that decide which calendar day an order falls on.

A customer's purchase history is summarised the way Fader, Hardie & Lee summarise the
CDNOW data: purchases are counted on distinct calendar days in the shop's time zone; the
first purchase day starts the customer's clock and every later purchase day is a *repeat*.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ecrm.errors import ValidationError

#: Time units ``clv_summary`` accepts by name, in days. A month is an average Gregorian
#: month (365.25 / 12 days), so a summary in months is the same figures as one in days,
#: divided by 30.4375.
TIME_UNITS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@attrs.frozen
class CustomerHistory:
    """One customer's counted orders up to a moment: how many, their net revenue, and
    when the first and the last were placed."""

    customer_id: str
    orders: int
    revenue: Decimal
    first_order_at: datetime
    last_order_at: datetime


@attrs.frozen
class PurchaseDays:
    """One customer's counted orders up to the end of a calibration period, grouped by
    calendar day: the first and last purchase day, how many distinct days, and the net
    revenue of all of them and of the first day alone."""

    customer_id: str
    first_day: date
    last_day: date
    days: int
    revenue: Decimal
    first_day_revenue: Decimal


def unit_days(time_unit: object) -> tuple[str, float]:
    """``time_unit`` as ``(label, length in days)``: ``"day"``, ``"week"``, ``"month"``
    (365.25 / 12 days) or a positive ``timedelta``.

    :raises ValidationError: anything else.
    """
    if isinstance(time_unit, str):
        if time_unit in TIME_UNITS:
            return time_unit, TIME_UNITS[time_unit]
        raise ValidationError("time_unit", f"unknown unit {time_unit!r}: use "
                              f"{', '.join(map(repr, TIME_UNITS))} or a timedelta")
    if isinstance(time_unit, timedelta):
        if time_unit <= timedelta(0):
            raise ValidationError("time_unit", "must be a positive timedelta")
        return str(time_unit), time_unit / timedelta(days=1)
    raise ValidationError("time_unit", f"expected a unit name or a timedelta, got "
                          f"{type(time_unit).__name__}")


def clv_terms(horizon: object, period: object, discount_rate: object
              ) -> tuple[str, float, float]:
    """The terms of a lifetime-value prediction checked: ``(period label, period length
    in days, discount rate)``.

    :raises ValidationError: a horizon that is not a whole number >= 1, a period that
        :func:`unit_days` refuses, a discount rate that is negative or not finite.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValidationError("horizon", "must be a whole number of periods >= 1")
    try:
        label, days = unit_days(period)
    except ValidationError as error:
        raise ValidationError("period", error.message) from None
    if isinstance(discount_rate, bool) or not isinstance(discount_rate, int | float) \
            or not math.isfinite(discount_rate) or discount_rate < 0:
        raise ValidationError("discount_rate", "must be a finite number >= 0 (per period)")
    return label, days, float(discount_rate)


def zone(tz: object) -> tzinfo:
    """``tz`` as a ``tzinfo``: an IANA name (``"Asia/Tokyo"``, ``"UTC"``) or a tzinfo.

    :raises ValidationError: an unknown name or another type.
    """
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValidationError("tz", f"unknown time zone {tz!r}") from error
    raise ValidationError("tz", f"expected a time zone name or a tzinfo, got "
                          f"{type(tz).__name__}")


def zone_name(tz: tzinfo) -> str:
    """A readable name for ``tz``: its IANA key, or what ``tzname`` says."""
    return getattr(tz, "key", None) or str(tz)


def local_day(at: datetime, tz: tzinfo) -> date:
    """The calendar day, in ``tz``, of the instant ``at``."""
    return at.astimezone(tz).date()


def _offset(tz: tzinfo, at: datetime) -> int:
    offset = at.astimezone(tz).utcoffset()
    assert offset is not None
    return round(offset.total_seconds())


@attrs.frozen
class OffsetSchedule:
    """A zone's offsets from UTC, in seconds, over a span of instants: ``first`` until
    the first change, then each ``(from instant, offset)`` of ``changes`` (UTC, in time
    order). A zone with one offset over the span has no changes. Adding the offset in
    force to a UTC time and taking the date gives the local calendar day, which is how
    SQL backends group orders by day without the database knowing the zone."""

    first: int
    changes: tuple[tuple[datetime, int], ...] = ()

    def offset_at(self, at: datetime) -> int:
        """The offset in force at the instant ``at``."""
        offset = self.first
        for since, changed in self.changes:
            if at < since:
                break
            offset = changed
        return offset


def offset_schedule(tz: tzinfo, start: datetime, end: datetime) -> OffsetSchedule:
    """Every change of ``tz``'s UTC offset between the instants ``start`` and ``end``,
    to the second. Changes are found by stepping a day at a time and bisecting the day
    where the offset differs, so two changes less than a day apart (which no zone has
    made since timekeeping was standardised) would be missed."""
    start = start.astimezone(timezone.utc)
    end = max(end.astimezone(timezone.utc), start)
    first = _offset(tz, start)
    if isinstance(tz, timezone):
        return OffsetSchedule(first)
    changes: list[tuple[datetime, int]] = []
    step, before, offset = timedelta(days=1), start, first
    while before < end:
        after = min(before + step, end)
        if _offset(tz, after) != offset:
            since = _first_second_with_new_offset(tz, before, after, offset)
            offset = _offset(tz, since)
            changes.append((since, offset))
            after = since
        before = after
    return OffsetSchedule(first, tuple(changes))


def _first_second_with_new_offset(tz: tzinfo, low: datetime, high: datetime,
                                  offset: int) -> datetime:
    """The first whole second in ``(low, high]`` whose offset is not ``offset``;
    ``low`` has it and ``high`` has not. Zones change offset on whole seconds."""
    low_s, high_s = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if _offset(tz, _EPOCH + timedelta(seconds=middle)) == offset:
            low_s = middle
        else:
            high_s = middle
    return _EPOCH + timedelta(seconds=high_s)
