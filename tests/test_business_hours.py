"""Business-hours calendars: business time and deadlines agree with a minute-by-minute walk,
for random calendars in zones with DST changes in range; examples; every refusal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from ecrm.domain.business_hours import SEARCH_LIMIT, BusinessCalendar
from ecrm.errors import ValidationError

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
#: Zones and dates on which their offset changes in 2026 (UTC and Tokyo have none).
TRANSITIONS = {
    "UTC": [date(2026, 3, 1)],
    "Asia/Tokyo": [date(2026, 1, 1)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "America/Santiago": [date(2026, 4, 4), date(2026, 9, 6)],  # at local midnight
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],  # half-hour changes
}


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
          microsecond: int = 0) -> datetime:
    """A wall time in Tokyo."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=TOKYO)


def mon_fri_tokyo(holidays: Iterable[date] = ()) -> BusinessCalendar:
    """Monday to Friday, 09:00-18:00 in Tokyo."""
    return BusinessCalendar.weekdays(opens=time(9), closes=time(18), timezone="Asia/Tokyo",
                                     holidays=holidays)


# -- the reference: one minute at a time ------------------------------------------------


class Reference:
    """Decides each UTC minute open or closed on its own, from the intervals of the local
    dates around it; no merging, clipping or look-ahead."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(calendar.timezone)
        self._spans: dict[date, list[tuple[datetime, datetime]]] = {}

    def wall(self, day: date, moment: time) -> datetime:
        """``moment`` on ``day`` as a UTC instant (fold=0), 24:00 for an end at midnight."""
        return datetime.combine(day, moment, tzinfo=self.zone).astimezone(UTC)

    def spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The intervals of ``day`` as UTC instants (none on holidays)."""
        if day not in self._spans:
            self._spans[day] = [] if day in self.calendar.holidays else [
                (self.wall(day, start), self.wall(day + DAY if end == time(0) else day, end))
                for start, end in self.calendar.hours[day.weekday()]]
        return self._spans[day]

    def is_open(self, instant: datetime) -> bool:
        """Inside an interval of the local date of ``instant`` or one of the two before or
        after it (the margin a span can reach with offsets under a day)."""
        local = instant.astimezone(self.zone).date()
        return any(start <= instant < end
                   for shift in range(-2, 3)
                   for start, end in self.spans(local + shift * DAY))

    def is_open_by_wall_clock(self, instant: datetime) -> bool:
        """What the clock on the wall says: the local time is inside an interval of its
        local date. Exact unless an interval's end lies in a DST gap or fold."""
        local = instant.astimezone(self.zone)
        if local.date() in self.calendar.holidays:
            return False
        now = local.time()
        return any(start <= now and (end == time(0) or now < end)
                   for start, end in self.calendar.hours[local.weekday()])

    def ends_are_plain(self, first: date, last: date) -> bool:
        """No interval end on the local dates ``first`` to ``last`` is in a DST gap or fold
        (there fold=0 and fold=1 read the wall time differently)."""
        day = first
        while day <= last:
            for start, end in self.calendar.hours[day.weekday()]:
                end_day = day + DAY if end == time(0) else day
                for on, moment in ((day, start), (end_day, end)):
                    wall = datetime.combine(on, moment, tzinfo=self.zone)
                    if wall.utcoffset() != wall.replace(fold=1).utcoffset():
                        return False
            day += DAY
        return True

    def business_time(self, start: datetime, end: datetime, pauses: list[tuple[datetime,
                      datetime]], *, wall_clock: bool = False) -> timedelta:
        """Open, unpaused minutes from ``start`` to ``end`` (both on whole UTC minutes)."""
        rule = self.is_open_by_wall_clock if wall_clock else self.is_open
        minutes, instant = 0, start
        while instant < end:
            if rule(instant) and not paused(instant, pauses):
                minutes += 1
            instant += MINUTE
        return timedelta(minutes=minutes)


def paused(instant: datetime, pauses: list[tuple[datetime, datetime]]) -> bool:
    """Whether ``instant`` lies in one of ``pauses``."""
    return any(start <= instant < end for start, end in pauses)


# -- strategies ---------------------------------------------------------------------------

# Minutes of the day, often in the small hours or around midnight, where offsets change.
MINUTE_OF_DAY = st.one_of(st.integers(0, 1440), st.integers(0, 240), st.integers(1320, 1440))


def clock(minute: int) -> time:
    """A minute of the day as a time; 1440 is midnight at the end of the day."""
    return time(0) if minute == 1440 else time(minute // 60, minute % 60)


@st.composite
def day_hours(draw: st.DrawFn) -> list[tuple[time, time]]:
    """Zero to three intervals of one day, at whole minutes."""
    points = sorted(draw(st.sets(MINUTE_OF_DAY, max_size=6)))
    points = points[:len(points) // 2 * 2]
    return [(clock(start), clock(end)) for start, end in zip(points[::2], points[1::2],
                                                             strict=True)]


@st.composite
def calendars(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime]:
    """A random calendar and a UTC midnight near one of its zone's offset changes."""
    zone = draw(st.sampled_from(sorted(TRANSITIONS)))
    anchor = draw(st.sampled_from(TRANSITIONS[zone]))
    hours = {day: draw(day_hours()) for day in range(7)}
    holidays = {anchor + offset * DAY for offset in draw(st.sets(st.integers(-12, 24),
                                                                 max_size=5))}
    calendar = BusinessCalendar(timezone=zone, hours=hours, holidays=holidays)
    return calendar, datetime.combine(anchor, time(0), tzinfo=UTC)


def instants(base: datetime, *, days: int = 10) -> st.SearchStrategy[datetime]:
    """Whole UTC minutes within ``days`` of ``base``, in one of several time zones."""
    minutes = st.integers(-days * 1440, days * 1440)
    zones = st.sampled_from([UTC, TOKYO, NEW_YORK, timezone(timedelta(hours=-3, minutes=-30))])
    return st.builds(lambda m, zone: (base + m * MINUTE).astimezone(zone), minutes, zones)


@st.composite
def pause_lists(draw: st.DrawFn, base: datetime) -> list[tuple[datetime, datetime]]:
    """Up to three pauses near ``base``; they may overlap and reach outside any window."""
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(instants(base, days=11))
        # Elapsed minutes, added in UTC: aware arithmetic in a zone is wall-clock
        # arithmetic, and from inside a DST fold it can land before the start.
        length = draw(st.integers(0, 4 * 1440)) * MINUTE
        pauses.append((start, (start.astimezone(UTC) + length).astimezone(start.tzinfo)))
    return pauses


def utc(pauses: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The pauses as UTC instants."""
    return [(start.astimezone(UTC), end.astimezone(UTC)) for start, end in pauses]


def weekly_open(calendar: BusinessCalendar) -> timedelta:
    """The open time of a week by the wall clock (no holidays, no DST)."""
    day_start = datetime(2000, 1, 1)
    return sum(((datetime.combine(day_start + DAY if end == time(0) else day_start, end)
                 - datetime.combine(day_start, start))
                for intervals in calendar.hours for start, end in intervals), timedelta(0))


# -- properties -----------------------------------------------------------------------------


@given(data=st.data())
def test_business_time_is_the_sum_of_open_unpaused_minutes(data: st.DataObject) -> None:
    calendar, base = data.draw(calendars())
    start = data.draw(instants(base))
    end = start + data.draw(st.integers(-1440, 10 * 1440)) * MINUTE
    pauses = data.draw(pause_lists(base))
    reference = Reference(calendar)

    measured = calendar.business_time(start, end, paused=pauses)

    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    expected = reference.business_time(start_utc, end_utc, utc(pauses))
    assert measured == expected
    zone = reference.zone
    if reference.ends_are_plain(start.astimezone(zone).date() - 2 * DAY,
                                end.astimezone(zone).date() + 2 * DAY):
        assert expected == reference.business_time(start_utc, end_utc, utc(pauses),
                                                   wall_clock=True)
    else:
        event("an interval ends in a DST gap or fold")


@given(data=st.data())
def test_add_is_the_earliest_moment_business_time_reaches_the_duration(
        data: st.DataObject) -> None:
    calendar, base = data.draw(calendars())
    assume(weekly_open(calendar) > timedelta(0))
    start = data.draw(instants(base))
    weekly = weekly_open(calendar) // timedelta(microseconds=1)
    duration = data.draw(st.integers(0, 3 * weekly)) * timedelta(microseconds=1)
    pauses = data.draw(pause_lists(base))

    due = calendar.add(start, duration, paused=pauses)

    assert due.tzinfo == ZoneInfo(calendar.timezone)
    assert due >= start
    assert calendar.business_time(start, due, paused=pauses) == duration
    if duration:
        just_before = due.astimezone(UTC) - timedelta(microseconds=1)
        assert calendar.business_time(start, just_before, paused=pauses) < duration
    else:
        assert due.astimezone(UTC) == start.astimezone(UTC)


@given(data=st.data())
def test_add_agrees_with_counting_open_minutes(data: st.DataObject) -> None:
    calendar, base = data.draw(calendars())
    weekly = weekly_open(calendar) // MINUTE
    assume(weekly > 0)
    start = data.draw(instants(base)).astimezone(UTC)
    minutes = data.draw(st.integers(1, min(weekly, 1440)))
    pauses = utc(data.draw(pause_lists(base)))
    reference = Reference(calendar)

    instant, counted = start, 0
    while counted < minutes and instant < start + 14 * DAY:
        if reference.is_open(instant) and not paused(instant, pauses):
            counted += 1
        instant += MINUTE
    assume(counted == minutes)

    # Compared in UTC: an aware time in a DST fold never equals one in another zone
    # (PEP 495), though both name the same instant.
    assert calendar.add(start, minutes * MINUTE, paused=pauses).astimezone(UTC) == instant


@given(data=st.data())
def test_is_open_and_next_open_agree_with_the_reference(data: st.DataObject) -> None:
    calendar, base = data.draw(calendars())
    at = data.draw(instants(base))
    reference = Reference(calendar)

    assert calendar.is_open(at) == reference.is_open(at.astimezone(UTC))
    if not any(calendar.hours):
        with pytest.raises(ValidationError) as error:
            calendar.next_open(at)
        assert error.value.field == "hours"
        return
    instant = at.astimezone(UTC)
    while not reference.is_open(instant) and instant < at + 14 * DAY:
        instant += MINUTE
    opens = calendar.next_open(at)
    assert opens.tzinfo == ZoneInfo(calendar.timezone)
    assert (opens.astimezone(UTC) == instant if reference.is_open(instant)
            else opens > instant)


@given(data=st.data())
def test_the_always_open_calendar_counts_elapsed_time(data: st.DataObject) -> None:
    zone = data.draw(st.sampled_from(sorted(TRANSITIONS)))
    calendar = BusinessCalendar.always(zone)
    base = datetime.combine(data.draw(st.sampled_from(TRANSITIONS[zone])), time(0), tzinfo=UTC)
    start = data.draw(instants(base)) + data.draw(st.integers(0, 10**8)) * timedelta(
        microseconds=1)
    end = data.draw(instants(base, days=40))
    duration = data.draw(st.timedeltas(timedelta(0), timedelta(days=400)))

    elapsed = end.astimezone(UTC) - start.astimezone(UTC)  # not wall-clock arithmetic
    assert calendar.business_time(start, end) == max(elapsed, timedelta(0))
    assert calendar.add(start, duration).astimezone(UTC) == start.astimezone(UTC) + duration
    assert calendar.is_open(start)
    assert calendar.next_open(start).astimezone(UTC) == start.astimezone(UTC)


# -- examples -------------------------------------------------------------------------------


def test_friday_evening_plus_two_hours_is_monday_morning() -> None:
    due = mon_fri_tokyo().add(tokyo(2026, 1, 9, 17), timedelta(hours=2))

    assert due == tokyo(2026, 1, 12, 10)
    assert due.tzinfo == TOKYO and due.utcoffset() == timedelta(hours=9)


def test_the_result_is_in_the_calendars_zone_whatever_the_input() -> None:
    start = datetime(2026, 1, 9, 8, tzinfo=UTC)  # 17:00 in Tokyo

    due = mon_fri_tokyo().add(start, timedelta(hours=2))

    assert str(due) == "2026-01-12 10:00:00+09:00"


def test_holidays_are_skipped() -> None:
    calendar = mon_fri_tokyo(holidays=[date(2027, 1, 1)])  # a Friday

    assert calendar.add(tokyo(2026, 12, 31, 17), timedelta(hours=2)) == tokyo(2027, 1, 4, 10)
    assert calendar.business_time(tokyo(2026, 12, 31), tokyo(2027, 1, 5)) == timedelta(hours=18)
    assert not calendar.is_open(tokyo(2027, 1, 1, 12))


def test_a_pause_over_the_weekend_stops_the_clock() -> None:
    calendar = mon_fri_tokyo()
    waiting = [(tokyo(2026, 1, 9, 17, 30), tokyo(2026, 1, 12, 9, 30))]  # Fri to Mon

    assert calendar.business_time(tokyo(2026, 1, 9, 17), tokyo(2026, 1, 12, 12)) == timedelta(
        hours=4)
    assert calendar.business_time(tokyo(2026, 1, 9, 17), tokyo(2026, 1, 12, 12),
                                  paused=waiting) == timedelta(hours=3)
    assert calendar.add(tokyo(2026, 1, 9, 17), timedelta(hours=1),
                        paused=waiting) == tokyo(2026, 1, 12, 10)


def test_overlapping_pauses_count_once_and_may_reach_outside() -> None:
    calendar = mon_fri_tokyo()
    pauses = [(tokyo(2026, 1, 12, 8), tokyo(2026, 1, 12, 11)),
              (tokyo(2026, 1, 12, 10), tokyo(2026, 1, 12, 12)),
              (tokyo(2026, 1, 12, 17), tokyo(2026, 1, 20))]

    measured = calendar.business_time(tokyo(2026, 1, 12, 9), tokyo(2026, 1, 13, 9),
                                      paused=pauses)

    assert measured == timedelta(hours=5)  # 12:00-17:00


def test_a_lunch_break_is_closed() -> None:
    calendar = BusinessCalendar(timezone="Asia/Tokyo",
                                hours={0: [(time(13), time(18)), (time(9), time(12))]})
    monday = date(2026, 1, 12)

    assert calendar.hours[0] == ((time(9), time(12)), (time(13), time(18)))
    assert calendar.add(tokyo(2026, 1, 12, 11), timedelta(hours=2)) == tokyo(2026, 1, 12, 14)
    assert calendar.business_time(tokyo(2026, 1, 12, 11), tokyo(2026, 1, 12, 14)) == timedelta(
        hours=2)
    assert not calendar.is_open(datetime.combine(monday, time(12, 30), tzinfo=TOKYO))
    assert calendar.next_open(tokyo(2026, 1, 12, 12, 30)) == tokyo(2026, 1, 12, 13)


def test_an_interval_ending_at_midnight_runs_into_the_next_day() -> None:
    calendar = BusinessCalendar(timezone="Asia/Tokyo",
                                hours={4: [(time(22), time(0))], 5: [(time(0), time(2))]})

    assert calendar.business_time(tokyo(2026, 1, 9, 23), tokyo(2026, 1, 10, 1)) == timedelta(
        hours=2)
    assert calendar.add(tokyo(2026, 1, 9, 23, 30), timedelta(hours=1)) == tokyo(2026, 1, 10, 0,
                                                                                30)
    assert calendar.is_open(tokyo(2026, 1, 9, 23, 59, 59, 999999))
    assert not calendar.is_open(tokyo(2026, 1, 10, 2))


def test_intervals_are_half_open_and_next_open_keeps_an_open_moment() -> None:
    calendar = mon_fri_tokyo()

    assert calendar.is_open(tokyo(2026, 1, 12, 9)) and not calendar.is_open(tokyo(2026, 1, 12,
                                                                                  18))
    assert calendar.next_open(tokyo(2026, 1, 12, 18)) == tokyo(2026, 1, 13, 9)
    assert calendar.next_open(tokyo(2026, 1, 12, 12, 0, 1)) == tokyo(2026, 1, 12, 12, 0, 1)
    assert calendar.next_open(tokyo(2026, 1, 10, 12)) == tokyo(2026, 1, 12, 9)


def test_the_deadline_is_the_end_of_an_interval_when_the_budget_runs_out_there() -> None:
    assert mon_fri_tokyo().add(tokyo(2026, 1, 12, 9), timedelta(hours=9)) == tokyo(2026, 1, 12,
                                                                                   18)


def test_end_before_start_is_no_time_and_zero_duration_is_the_start() -> None:
    calendar = mon_fri_tokyo()
    start = tokyo(2026, 1, 10, 3)  # a Saturday

    assert calendar.business_time(tokyo(2026, 1, 13), tokyo(2026, 1, 12)) == timedelta(0)
    assert calendar.add(start, timedelta(0)) == start


@pytest.mark.parametrize(("day", "length"), [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25),
                                             (date(2026, 7, 5), 24)])
def test_a_day_is_as_long_as_it_really_is(day: date, length: int) -> None:
    calendar = BusinessCalendar(timezone="America/New_York",
                                hours={6: [(time(0), time(0))]})  # Sundays
    midnight = datetime.combine(day, time(0), tzinfo=NEW_YORK)

    assert calendar.business_time(midnight, midnight + 2 * DAY) == timedelta(hours=length)


@pytest.mark.parametrize(("day", "intervals", "length"), [
    (date(2026, 3, 8), [(time(0), time(12))], timedelta(hours=11)),
    (date(2026, 11, 1), [(time(0), time(12))], timedelta(hours=13)),
    (date(2026, 3, 8), [(time(1, 30), time(3, 30))], timedelta(hours=1)),
    # 02:30 does not exist; fold=0 reads it as 02:30 EST, which is 03:30 EDT.
    (date(2026, 3, 8), [(time(2, 30), time(4))], timedelta(minutes=30)),
    # 01:30 happens twice; fold=0 takes the first (EDT), so the span runs to 02:00 EST.
    (date(2026, 11, 1), [(time(1, 30), time(2))], timedelta(minutes=90)),
    # 01:00 EST to 02:59 EST (03:59 EDT) and 03:00 EDT to 04:00 EDT overlap: counted once.
    (date(2026, 3, 8), [(time(1), time(2, 59)), (time(3), time(4))], timedelta(hours=2)),
])
def test_dst_days_use_real_elapsed_time_and_fold_zero(
        day: date, intervals: list[tuple[time, time]], length: timedelta) -> None:
    calendar = BusinessCalendar(timezone="America/New_York", hours={6: intervals})
    midnight = datetime.combine(day, time(0), tzinfo=NEW_YORK)
    closes = datetime.combine(day, intervals[-1][1], tzinfo=NEW_YORK)

    assert calendar.business_time(midnight, midnight + 2 * DAY) == length
    assert calendar.add(midnight, length).astimezone(UTC) == closes.astimezone(UTC)


def test_times_in_a_dst_fold_are_ordered_as_instants() -> None:
    # 01:50 EDT and 01:10 EST (fold=1) share a tzinfo, so Python compares them by wall
    # clock and calls the later one earlier; the calendar compares instants.
    always = BusinessCalendar.always("America/New_York")
    before = datetime(2026, 11, 1, 1, 50, tzinfo=NEW_YORK)
    after = datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=1)
    assert after < before  # wall clock
    assert always.business_time(before, after) == timedelta(minutes=20)
    assert always.business_time(before - timedelta(hours=1), after + timedelta(hours=1),
                                paused=[(before, after)]) == timedelta(hours=2)
    due = always.add(before, timedelta(minutes=20))
    assert due.astimezone(UTC) == after.astimezone(UTC)


def test_berlin_office_hours_keep_their_length_across_the_change() -> None:
    calendar = BusinessCalendar.weekdays(opens=time(9), closes=time(18),
                                         timezone="Europe/Berlin", days=range(7))
    berlin = ZoneInfo("Europe/Berlin")
    friday = datetime(2026, 3, 27, 17, tzinfo=berlin)

    sunday = datetime(2026, 3, 29, 10, tzinfo=berlin)  # after 02:00 became 03:00

    assert calendar.business_time(friday, sunday) == timedelta(hours=11)
    assert calendar.add(friday, timedelta(hours=10)) == datetime(2026, 3, 28, 18, tzinfo=berlin)
    assert str(calendar.add(friday, timedelta(hours=11))) == "2026-03-29 10:00:00+02:00"


def test_a_long_duration_is_found_day_by_day() -> None:
    calendar = mon_fri_tokyo(holidays=[date(2030, 5, 6)])
    start = tokyo(2026, 1, 5, 9)

    due = calendar.add(start, timedelta(hours=9 * 2600))  # ten years of working days

    assert calendar.business_time(start, due) == timedelta(hours=9 * 2600)
    assert due.time() == time(18) and due.weekday() < 5


def test_a_calendar_without_hours_gives_up_after_twenty_years() -> None:
    for calendar in (BusinessCalendar(timezone="UTC", hours={}),
                     BusinessCalendar(timezone="UTC", hours={0: [(time(9), time(10))]},
                                      holidays=[date(2026, 1, 5) + week * 7 * DAY
                                                for week in range(1050)])):
        for call in (lambda c: c.add(datetime(2026, 1, 1, tzinfo=UTC), MINUTE),
                     lambda c: c.next_open(datetime(2026, 1, 1, tzinfo=UTC))):
            with pytest.raises(ValidationError) as error:
                call(calendar)
            assert error.value.field == "hours"


def test_a_deadline_beyond_twenty_years_is_refused() -> None:
    calendar = BusinessCalendar(timezone="UTC", hours={0: [(time(9), time(9, 1))]})
    start = datetime(2026, 1, 1, tzinfo=UTC)

    with pytest.raises(ValidationError) as error:
        calendar.add(start, timedelta(hours=1000))
    assert error.value.field == "duration"
    assert calendar.add(start, timedelta(hours=17)) < start + SEARCH_LIMIT


def test_calendars_are_frozen_hashable_values_with_a_readable_repr() -> None:
    lunch = [(time(9), time(12)), (time(13), time(18))]
    first = BusinessCalendar(timezone="Asia/Tokyo", hours={0: lunch, 1: lunch, 5: [(time(10),
                             time(15))]}, holidays=[date(2026, 1, 1)])
    second = BusinessCalendar(timezone=TOKYO, hours={5: [(time(10), time(15))], 1: lunch[::-1],
                              0: lunch}, holidays={date(2026, 1, 1)})

    assert first == second and hash(first) == hash(second) and len({first, second}) == 1
    assert first != attrs.evolve(first, holidays=[])
    assert attrs.evolve(first) == first
    assert first.holidays == frozenset({date(2026, 1, 1)})
    assert len(first.hours) == 7 and first.hours[2] == ()
    assert [field.name for field in attrs.fields(BusinessCalendar)] == ["timezone", "hours",
                                                                      "holidays"]
    assert first.zone == TOKYO
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.timezone = "UTC"  # type: ignore[misc]
    assert repr(first) == ("BusinessCalendar(Asia/Tokyo: Mon-Tue 09:00-12:00, 13:00-18:00; "
                           "Sat 10:00-15:00; holidays 2026-01-01)")
    assert repr(BusinessCalendar.always()) == "BusinessCalendar(UTC: Mon-Sun 00:00-24:00)"


# -- refusals -------------------------------------------------------------------------------

NINE_TO_SIX = [(time(9), time(18))]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": 9}, "timezone"),
    ({"hours": {7: NINE_TO_SIX}}, "hours"),
    ({"hours": {-1: NINE_TO_SIX}}, "hours"),
    ({"hours": {True: NINE_TO_SIX}}, "hours"),
    ({"hours": {"mon": NINE_TO_SIX}}, "hours"),
    ({"hours": [NINE_TO_SIX]}, "hours"),
    ({"hours": {0: [(time(18), time(9))]}}, "hours"),
    ({"hours": {0: [(time(9), time(9))]}}, "hours"),
    ({"hours": {0: [(time(9), time(12)), (time(11), time(18))]}}, "hours"),
    ({"hours": {0: [(time(9), time(0)), (time(22), time(23))]}}, "hours"),
    ({"hours": {0: [("09:00", "18:00")]}}, "hours"),
    ({"hours": {0: [(datetime(2026, 1, 1, 9), time(18))]}}, "hours"),
    ({"hours": {0: [(time(9, tzinfo=UTC), time(18))]}}, "hours"),
    ({"hours": {0: (time(9), time(18))}}, "hours"),
    ({"hours": {0: [(time(9), time(12), time(18))]}}, "hours"),
    ({"hours": {0: "09:00-18:00"}}, "hours"),
    ({"holidays": [datetime(2026, 1, 1)]}, "holidays"),
    ({"holidays": ["2026-01-01"]}, "holidays"),
    ({"holidays": "2026-01-01"}, "holidays"),
    ({"holidays": 2026}, "holidays"),
    ({"holidays": [[2026, 1, 1]]}, "holidays"),
])
def test_a_bad_calendar_cannot_be_made(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"timezone": "Asia/Tokyo", "hours": {0: NINE_TO_SIX}}
    with pytest.raises(ValidationError) as error:
        BusinessCalendar(**{**arguments, **kwargs})  # type: ignore[arg-type]
    assert error.value.field == field


def test_touching_intervals_are_allowed() -> None:
    calendar = BusinessCalendar(timezone="UTC",
                                hours={0: [(time(9), time(12)), (time(12), time(0))]})

    assert calendar.business_time(datetime(2026, 1, 5, tzinfo=UTC),
                                  datetime(2026, 1, 6, tzinfo=UTC)) == timedelta(hours=15)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"opens": "09:00"}, "opens"),
    ({"closes": None}, "closes"),
    ({"closes": time(8)}, "closes"),
    ({"days": [0, 7]}, "days"),
    ({"days": "01234"}, "days"),
    ({"timezone": "Asia/Tokio"}, "timezone"),
    ({"holidays": [None]}, "holidays"),
])
def test_weekdays_names_the_bad_argument(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"opens": time(9), "closes": time(18),
                                    "timezone": "Asia/Tokyo"}
    with pytest.raises(ValidationError) as error:
        BusinessCalendar.weekdays(**{**arguments, **kwargs})  # type: ignore[arg-type]
    assert error.value.field == field


NAIVE = datetime(2026, 1, 12, 9)
AWARE = tokyo(2026, 1, 12, 9)


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.is_open(NAIVE), "at"),
    (lambda c: c.next_open(NAIVE), "at"),
    (lambda c: c.business_time(NAIVE, AWARE), "start"),
    (lambda c: c.business_time(AWARE, NAIVE), "end"),
    (lambda c: c.business_time(AWARE, "tomorrow"), "end"),
    (lambda c: c.business_time(AWARE, AWARE, paused=[(NAIVE, AWARE)]), "paused[0]"),
    (lambda c: c.business_time(AWARE, AWARE, paused=[(AWARE, AWARE), (AWARE, NAIVE)]),
     "paused[1]"),
    (lambda c: c.business_time(AWARE, AWARE, paused=[(AWARE, AWARE - MINUTE)]), "paused[0]"),
    (lambda c: c.business_time(AWARE, AWARE, paused=[AWARE]), "paused[0]"),
    (lambda c: c.business_time(AWARE, AWARE, paused=AWARE), "paused"),
    (lambda c: c.add(NAIVE, MINUTE), "start"),
    (lambda c: c.add(AWARE, -MINUTE), "duration"),
    (lambda c: c.add(AWARE, 60), "duration"),
    (lambda c: c.add(AWARE, MINUTE, paused=[(AWARE, NAIVE)]), "paused[0]"),
    (lambda c: c.add(datetime(9999, 1, 1, tzinfo=UTC), MINUTE), "start"),
])
def test_bad_arguments_are_named(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        call(mon_fri_tokyo())  # type: ignore[operator]
    assert error.value.field == field


def test_the_transition_dates_used_above_are_real() -> None:
    for name, days in TRANSITIONS.items():
        zone = ZoneInfo(name)
        for day in days:
            before = datetime.combine(day, time(0), tzinfo=UTC) - DAY
            offsets = {(before + hour * timedelta(hours=1)).astimezone(zone).utcoffset()
                       for hour in range(72)}
            assert len(offsets) == (1 if name in ("UTC", "Asia/Tokyo") else 2), (name, day)
