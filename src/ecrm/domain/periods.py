"""Calendar periods (day, ISO week, month, quarter, year) in a shop's time zone, and the
UTC instants at which they begin.

Analytics bucket orders by period. Bucketing happens in Python, never in a database's
date functions: :func:`span` works out the UTC boundaries of every period a time range
touches (with :mod:`zoneinfo`, so days of 23 or 25 hours around a daylight-saving change
come out right), and a backend only compares stored UTC times with those boundaries.
Every backend therefore puts an order in the same period, in any zone.

A period begins at the first instant at which the zone's wall clock reads its first day
at 00:00 or later: local midnight, or the end of the gap when a daylight-saving change
skips midnight.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import attrs

from ecrm.errors import ValidationError

#: The most periods one analysis may span; more is almost always a mistake (daily
#: buckets over years), and every boundary is a bound parameter of the SQL.
MAX_PERIODS = 1000

_TICK = timedelta(microseconds=1)


class Period(str, enum.Enum):
    """A calendar period. Weeks are ISO weeks, starting on Monday."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_ACCEPTED = ", ".join(repr(p.value) for p in Period)


def parse_period(value: object, field: str = "period") -> Period:
    """``value`` as a :class:`Period`: a member, or its name in any case
    (``"month"``, ``"Month"``).

    :raises ValidationError: anything else, naming the accepted values.
    """
    if isinstance(value, Period):
        return value
    if isinstance(value, str):
        try:
            return Period(value.strip().lower())
        except ValueError:
            pass
    raise ValidationError(field, f"{value!r} is not a period; use one of {_ACCEPTED}")


def parse_tz(value: object, field: str = "tz") -> tzinfo:
    """``value`` as a time zone: a :class:`zoneinfo.ZoneInfo`, a fixed
    :class:`datetime.timezone`, or an IANA name such as ``"Asia/Tokyo"`` (``"UTC"`` needs
    no time zone database).

    :raises ValidationError: an unknown name or another kind of object.
    """
    if isinstance(value, (ZoneInfo, timezone)):
        return value
    if isinstance(value, str):
        name = value.strip()
        if name.upper() == "UTC":
            return timezone.utc
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            if not available_timezones():
                raise ValidationError(field, "this system has no time zone database; "
                                             "pip install tzdata") from None
            raise ValidationError(field, f"{value!r} is not an IANA time zone name "
                                         "(e.g. 'Asia/Tokyo', 'America/New_York')") from None
    raise ValidationError(field, "expected an IANA time zone name, a zoneinfo.ZoneInfo or "
                                 f"a datetime.timezone, got {type(value).__name__}")


def zone_name(zone: tzinfo) -> str:
    """A readable name: the IANA key, ``"UTC"``, or ``"UTC+09:00"`` for a fixed offset."""
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)


def first_day(day: date, period: Period) -> date:
    """The first day of the period that contains ``day``."""
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def next_first_day(first: date, period: Period) -> date:
    """The first day of the period after the one that begins on ``first``."""
    if period is Period.DAY:
        return first + timedelta(days=1)
    if period is Period.WEEK:
        return first + timedelta(days=7)
    if period is Period.YEAR:
        return date(first.year + 1, 1, 1)
    months = first.month - 1 + (3 if period is Period.QUARTER else 1)
    return date(first.year + months // 12, months % 12 + 1, 1)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant (in UTC) at which ``zone``'s wall clock reads ``day`` 00:00 or
    later: local midnight, the earlier one when midnight happens twice, and the end of
    the gap when the clock skips it."""
    wall = datetime(day.year, day.month, day.day)
    early = wall.replace(tzinfo=zone).astimezone(timezone.utc)  # fold=0: the first one
    if _wall(early, zone) == wall:
        return early
    # Midnight falls in a gap: fold=1 reads it with the offset after the change, which
    # puts it before the change; the change itself lies between the two readings.
    low, high = sorted((wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc), early))
    while high - low > _TICK:
        middle = low + (high - low) // 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@attrs.frozen
class Periods:
    """Consecutive periods in one zone. ``bounds`` holds the UTC instant each begins
    (and, last, the instant the last one ends); ``firsts`` their first days, as the
    zone's calendar has them. Period ``k`` is ``[bounds[k], bounds[k + 1])``."""

    period: Period
    zone: tzinfo
    bounds: tuple[datetime, ...]
    firsts: tuple[date, ...]

    def __len__(self) -> int:
        return len(self.firsts)

    def index(self, instant: datetime) -> int:
        """The number of the period that holds ``instant`` (an aware datetime inside
        ``[bounds[0], bounds[-1])``)."""
        return bisect_right(self.bounds, instant) - 1

    def ended_by(self, k: int, as_of: datetime) -> bool:
        """True when period ``k`` is over at ``as_of`` (it ends at or before it)."""
        return self.bounds[k + 1] <= as_of


def span(first: datetime, last: datetime, period: Period, zone: tzinfo) -> Periods:
    """The periods from the one that holds ``first`` to the one that holds ``last``
    (both aware, ``first <= last``), their boundaries in UTC.

    :raises ValidationError: more than :data:`MAX_PERIODS` periods, or periods reaching
        past the years 1 to 9999 (``field`` "period").
    """
    try:
        return _span(first, last, period, zone)
    except (OverflowError, ValueError) as error:
        if isinstance(error, ValidationError):
            raise
        raise ValidationError("period", "the periods reach beyond the years 1 to 9999 "
                                        "that dates can hold") from None


def _span(first: datetime, last: datetime, period: Period, zone: tzinfo) -> Periods:
    day = first_day(first.astimezone(zone).date(), period)
    final = first_day(last.astimezone(zone).date(), period)
    firsts = [day]
    while day < final:
        day = next_first_day(day, period)
        firsts.append(day)
        if len(firsts) > MAX_PERIODS:
            raise ValidationError("period", f"the data span more than {MAX_PERIODS} "
                                            f"{period.value}s; choose a longer period or "
                                            "a shorter time range (start/end)")
    bounds = [day_start(d, zone) for d in firsts]
    bounds.append(day_start(next_first_day(firsts[-1], period), zone))
    return Periods(period, zone, tuple(bounds), tuple(firsts))
