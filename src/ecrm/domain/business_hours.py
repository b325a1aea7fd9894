"""Business hours: the open time of a calendar, for support SLA clocks.

A :class:`BusinessCalendar` holds opening intervals per weekday in local wall-clock time,
a time zone and holidays (local dates). It measures the business time between two instants,
less any paused spans, and finds the instant a business-time budget runs out (a deadline).

Each interval ``[start, end)`` of a local date becomes the real span from ``start`` on that
date to ``end`` on that date (an ``end`` of ``time(0)`` is midnight at the end of the day),
both converted with zoneinfo's ``fold=0`` rule: a wall time that does not exist (in a DST
gap) is read with the offset before the gap, an ambiguous one (in a DST fold) as its first
occurrence. The calendar is open during the union of these spans, so an interval lasts the
real time that passes (00:00-12:00 is 11 hours on the day New York's clocks go forward).
All arithmetic is done on UTC instants, to the microsecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: An opening interval of one weekday, in local wall-clock time: ``(start, end)``.
Interval = tuple[time, time]
#: How far :meth:`BusinessCalendar.add` and :meth:`~BusinessCalendar.next_open` look
#: ahead for open time before they give up (20 years).
SEARCH_LIMIT = timedelta(days=7305)

_Span = tuple[datetime, datetime]  # [start, end) as UTC instants
_UTC = timezone.utc
_DAY = timedelta(days=1)
_MARGIN = timedelta(days=2)
_EARLIEST = datetime(2, 1, 1, tzinfo=_UTC)
_LATEST = datetime(9970, 1, 1, tzinfo=_UTC)  # room for the 20-year search
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def zone_key(value: object) -> str:
    """The IANA name of a time zone given by name or as a ``ZoneInfo``.
    :raises ValidationError: on ``timezone``, an unknown zone."""
    if isinstance(value, ZoneInfo) and value.key:
        value = value.key
    if not isinstance(value, str):
        raise ValidationError("timezone", "expected an IANA time zone name such as "
                                          f"'Asia/Tokyo', got {type(value).__name__}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("timezone", f"unknown time zone {value!r}") from None
    return value


def _micros(moment: time, *, end: bool = False) -> int:
    """Microseconds since midnight; an ``end`` of midnight counts as 24:00."""
    if end and moment == time(0):
        return 86_400_000_000
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    return seconds * 1_000_000 + moment.microsecond


def _time(field: str, value: object) -> time:
    if not isinstance(value, time):
        raise ValidationError(field, f"expected a datetime.time, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValidationError(field, "must be a wall-clock time without tzinfo "
                                     "(the calendar's time zone applies)")
    return value.replace(fold=0)


def _interval(day: int, value: object) -> Interval:
    where = f"{_WEEKDAYS[day]} ({day})"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValidationError("hours", f"{where}: expected (start, end) pairs of times, "
                                       f"got {value!r}")
    start, end = (_time("hours", item) for item in value)
    if _micros(start) >= _micros(end, end=True):
        raise ValidationError("hours", f"{where}: {_interval_text((start, end))} starts at "
                                       "or after its end (end at time(0) for midnight)")
    return start, end


def _day(day: int, value: object) -> tuple[Interval, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("hours", f"{_WEEKDAYS[day]} ({day}): expected a list of "
                                       f"(start, end) pairs, got {value!r}")
    intervals = sorted((_interval(day, item) for item in value),
                       key=lambda i: (_micros(i[0]), _micros(i[1], end=True)))
    for first, second in zip(intervals, intervals[1:], strict=False):
        if _micros(first[1], end=True) > _micros(second[0]):
            raise ValidationError("hours", f"{_WEEKDAYS[day]} ({day}): "
                                           f"{_interval_text(first)} overlaps "
                                           f"{_interval_text(second)}")
    return tuple(intervals)


def _hours(value: object) -> tuple[tuple[Interval, ...], ...]:
    if isinstance(value, (tuple, list)) and len(value) == 7:
        value = dict(enumerate(value))  # the stored form, one entry per weekday
    if not isinstance(value, Mapping):
        raise ValidationError("hours", "expected a mapping of weekday (0=Monday .. 6=Sunday) "
                                       f"to (start, end) pairs, got {type(value).__name__}")
    for day in value:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValidationError("hours", f"weekday {day!r} is not 0 (Monday) .. 6 (Sunday)")
    return tuple(_day(day, value.get(day, ())) for day in range(7))


def _holidays(value: object) -> frozenset[date]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("holidays", f"expected dates, got {type(value).__name__}")
    days = tuple(value)
    for day in days:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValidationError("holidays", f"expected dates, got {day!r}")
    return frozenset(days)


def _weekdays(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("days", f"expected weekdays 0..6, got {type(value).__name__}")
    days = tuple(value)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValidationError("days", f"weekday {day!r} is not 0 (Monday) .. 6 (Sunday)")
    return days


def _instant(field: str, value: object) -> datetime:
    """An aware datetime as UTC, within the years the calendar can search."""
    moment = check.aware(field, value)
    assert moment is not None
    if not _EARLIEST <= moment < _LATEST:
        raise ValidationError(field, f"must lie between {_EARLIEST:%Y-%m-%d} and "
                                     f"{_LATEST:%Y-%m-%d} UTC, got {value}")
    return moment


def _duration(value: object) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValidationError("duration", f"expected a timedelta, got {type(value).__name__}")
    if value < timedelta(0):
        raise ValidationError("duration", f"must not be negative, got {value}")
    return value


def _pauses(value: object) -> list[_Span]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("paused", "expected (start, end) pairs of datetimes")
    spans = []
    for index, pair in enumerate(value):
        field = f"paused[{index}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValidationError(field, f"expected a (start, end) pair, got {pair!r}")
        start, end = (check.aware(field, moment) for moment in pair)
        assert start is not None and end is not None
        if end < start:
            raise ValidationError(field, f"ends ({end}) before it starts ({start})")
        spans.append((start, end))
    return _merge(spans)


def _merge(spans: Iterable[_Span]) -> list[_Span]:
    """The union of ``spans``: sorted, without empty, overlapping or touching spans."""
    merged: list[_Span] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _unpaused(start: datetime, end: datetime, pauses: Sequence[_Span]) -> Iterator[_Span]:
    """The parts of ``[start, end)`` outside the (merged) ``pauses``."""
    for pause_start, pause_end in pauses:
        if pause_end <= start:
            continue
        if pause_start >= end:
            break
        if pause_start > start:
            yield start, pause_start
        start = pause_end
        if start >= end:
            return
    yield start, end


def _time_text(moment: time, *, end: bool = False) -> str:
    if end and moment == time(0):
        return "24:00"
    return moment.isoformat("minutes" if not (moment.second or moment.microsecond) else "auto")


def _interval_text(interval: Interval) -> str:
    return f"{_time_text(interval[0])}-{_time_text(interval[1], end=True)}"


@attrs.frozen(repr=False)
class BusinessCalendar:
    """Opening hours per weekday in a time zone, less holidays.

    :param timezone: an IANA name such as ``"Asia/Tokyo"`` (or a ``ZoneInfo``).
    :param hours: weekday (0=Monday .. 6=Sunday) to a list of ``(start, end)`` times, each
        open ``[start, end)`` in local wall-clock time; an ``end`` of ``time(0)`` means
        midnight at the end of the day. Weekdays left out are closed. Stored as a tuple of
        seven tuples of sorted intervals.
    :param holidays: local dates on which the calendar is closed all day.
    """

    timezone: str = attrs.field(converter=zone_key)
    hours: tuple[tuple[Interval, ...], ...] = attrs.field(converter=_hours)
    holidays: frozenset[date] = attrs.field(default=frozenset(), converter=_holidays)

    @classmethod
    def weekdays(cls, opens: time, closes: time, *, timezone: str | ZoneInfo,
                 holidays: Iterable[date] = (),
                 days: Iterable[int] = (0, 1, 2, 3, 4)) -> BusinessCalendar:
        """Open from ``opens`` to ``closes`` (``time(0)``: midnight) on each of ``days``,
        Monday to Friday unless told."""
        opens, closes = _time("opens", opens), _time("closes", closes)
        if _micros(opens) >= _micros(closes, end=True):
            raise ValidationError("closes", f"must be after opens ({_time_text(opens)}), "
                                            f"got {_time_text(closes, end=True)}")
        return cls(timezone=timezone, hours={day: [(opens, closes)] for day in _weekdays(days)},
                   holidays=holidays)

    @classmethod
    def always(cls, timezone: str | ZoneInfo = "UTC") -> BusinessCalendar:
        """Open around the clock, every day: business time is elapsed time. ``timezone``
        only sets the zone of the datetimes :meth:`add` returns."""
        return cls(timezone=timezone, hours={day: [(time(0), time(0))] for day in range(7)})

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)  # zoneinfo caches its zones

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at the instant ``at``."""
        at = _instant("at", at)
        return next(self._open_between(at, at + timedelta(microseconds=1)), None) is not None

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the next moment it opens, in the
        calendar's time zone. Raises ``ValidationError`` if it does not open within
        :data:`SEARCH_LIMIT` (20 years)."""
        at = _instant("at", at)
        span = next(self._open_between(at, at + SEARCH_LIMIT), None)
        if span is None:
            raise self._never_open(at)
        return span[0].astimezone(self.zone)

    def business_time(self, start: datetime, end: datetime, *,
                      paused: Iterable[tuple[datetime, datetime]] = ()) -> timedelta:
        """The open time between ``start`` and ``end``, less the parts inside any ``paused``
        span (``(start, end)`` pairs, which may overlap each other and reach past either
        end). Zero when ``end`` is not after ``start``."""
        start, end, pauses = _instant("start", start), _instant("end", end), _pauses(paused)
        total = timedelta(0)
        for open_start, open_end in self._open_between(start, end):
            for run_start, run_end in _unpaused(open_start, open_end, pauses):
                total += run_end - run_start
        return total

    def add(self, start: datetime, duration: timedelta, *,
            paused: Iterable[tuple[datetime, datetime]] = ()) -> datetime:
        """The earliest moment ``due`` with ``business_time(start, due, paused=paused) ==
        duration``: the deadline of ``duration`` business time from ``start``, in the
        calendar's time zone. A zero ``duration`` gives ``start``. Raises
        ``ValidationError`` if the deadline lies more than :data:`SEARCH_LIMIT` (20 years)
        after ``start``."""
        start, pauses = _instant("start", start), _pauses(paused)
        left = _duration(duration)
        if not left:
            return start.astimezone(self.zone)
        seen_open = False
        for open_start, open_end in self._open_between(start, start + SEARCH_LIMIT):
            seen_open = True
            for run_start, run_end in _unpaused(open_start, open_end, pauses):
                if run_end - run_start >= left:
                    return (run_start + left).astimezone(self.zone)
                left -= run_end - run_start
        if not seen_open:
            raise self._never_open(start)
        raise ValidationError("duration", f"{duration} of business time from {start} is not "
                                          "reached within 20 years")

    def _never_open(self, after: datetime) -> ValidationError:
        return ValidationError("hours", f"the calendar has no open time in the 20 years after "
                                        f"{after} (no hours, or only holidays)")

    def _open_between(self, start: datetime, end: datetime) -> Iterator[_Span]:
        """The open spans clipped to ``[start, end)`` (UTC), merged and in order."""
        if end <= start:
            return
        # A local date's spans lie within a day of its naive midnights (UTC offsets are
        # under a day), so dates two away from start's and end's cannot reach the window.
        first = start.astimezone(self.zone).date() - _MARGIN
        last = end.astimezone(self.zone).date() + _MARGIN
        for open_start, open_end in self._open_spans(first, last):
            if open_end <= start:
                continue
            if open_start >= end:
                return
            yield max(open_start, start), min(open_end, end)

    def _open_spans(self, first: date, last: date) -> Iterator[_Span]:
        """The open time of the local dates ``first`` to ``last`` as disjoint spans in order,
        one day at a time (a DST gap can make a day's spans overlap the next day's). A span
        open across midnight may come in pieces."""
        pending: list[_Span] = []
        day = first
        while day <= last:
            pending = _merge(pending + self._spans_on(day))
            # A later date's spans start after its naive midnight less a day, which is this
            # date's naive midnight, so open time before then is final.
            horizon = datetime.combine(day, time(0), tzinfo=_UTC)
            while pending and pending[0][0] < horizon:
                start, end = pending.pop(0)
                if end > horizon:
                    pending.insert(0, (horizon, end))
                yield start, min(end, horizon)
            day += _DAY
        yield from pending

    def _spans_on(self, day: date) -> list[_Span]:
        """The real spans of ``day``'s intervals (none on a holiday)."""
        if day in self.holidays:
            return []
        zone, spans = self.zone, []
        for start, end in self.hours[day.weekday()]:
            end_day = day + _DAY if end == time(0) else day
            spans.append((datetime.combine(day, start, tzinfo=zone).astimezone(_UTC),
                           datetime.combine(end_day, end, tzinfo=zone).astimezone(_UTC)))
        return spans

    def __repr__(self) -> str:
        groups: list[tuple[int, int, str]] = []  # runs of weekdays with the same hours
        for day, intervals in enumerate(self.hours):
            text = ", ".join(_interval_text(i) for i in intervals)
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == text:
                groups[-1] = (groups[-1][0], day, text)
            else:
                groups.append((day, day, text))
        hours = "; ".join(
            (_WEEKDAYS[a] if a == b else f"{_WEEKDAYS[a]}-{_WEEKDAYS[b]}") + f" {text}"
            for a, b, text in groups if text) or "closed"
        days = sorted(self.holidays)
        if len(days) > 5:
            holidays = f"; {len(days)} holidays {days[0]}..{days[-1]}"
        else:
            holidays = "; holidays " + ", ".join(map(str, days)) if days else ""
        return f"BusinessCalendar({self.timezone}: {hours}{holidays})"
