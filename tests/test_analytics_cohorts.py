"""Cohorts, repeat purchase, churn and channels: the same question over the same random
shop gets the same answer on memory (the plain-Python reference), SQLite, PostgreSQL and
MariaDB; and periods in any time zone begin where the zone's calendar says."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.domain.periods import (
    MAX_PERIODS,
    Period,
    day_start,
    first_day,
    parse_period,
    parse_tz,
    span,
)
from ecrm.errors import ValidationError
from ecrm.testing.segment_shops import ShopPlan, record_orders, shops

BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]
#: Zones with daylight saving (New York; Santiago, whose clocks skip midnight; Lord
#: Howe, which moves by half an hour), odd offsets (Kathmandu) and a fixed offset.
ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "America/Santiago",
         "Australia/Lord_Howe", "Asia/Kathmandu", timezone(timedelta(hours=-5)))
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)
#: How far from the shop's as-of time a question looks (the shop's orders sit on and
#: around 0, 1 s, 1 day, 7, 30, 90 and 365 days before it).
SHIFTS = (timedelta(0), -SECOND, -DAY, DAY - SECOND, -30 * DAY, -90 * DAY, -400 * DAY, DAY)


def load_orders(crm: CRM, plan: ShopPlan) -> None:
    """The plan's customers and their orders (refunded or cancelled as planned); nothing
    else of the plan, which no analysis here reads."""
    for number, person in enumerate(plan.customers):
        customer = crm.customers.create(external_id=f"c{number}")
        record_orders(crm, plan.as_of, customer.id, f"c{number}", person)
    crm.clock.set(plan.as_of)  # type: ignore[attr-defined]


def shop_on(backend: Any, plan: ShopPlan) -> CRM:
    crm = CRM(backend, tenant=f"coh-{uuid.uuid4().hex[:10]}", clock=ManualClock(plan.as_of))
    load_orders(crm, plan)
    return crm


def questions(as_of: datetime) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """An analysis and its arguments, times around the shop's as-of time."""
    moments = st.sampled_from(SHIFTS).map(lambda shift: as_of + shift)
    window = {"start": moments, "end": moments}
    zoned = {"period": st.sampled_from(list(Period)), "tz": st.sampled_from(ZONES)}
    common = {"as_of": st.one_of(st.none(), moments)}

    def asking(name: str, required: dict[str, Any], optional: dict[str, Any]
               ) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        return st.tuples(st.just(name), st.fixed_dictionaries(
            {**required, **common}, optional={**window, **optional}))

    return st.one_of(
        asking("cohorts", zoned, {}),
        asking("repeat_purchase", {}, {"bins": st.sampled_from(
            ((1, 7, 30), (365,), (2, 91, 366)))}),
        asking("churn", {"inactive_days": st.sampled_from((1, 7, 30, 90, 365))}, zoned),
        asking("channels", {}, {"costs": st.dictionaries(
            st.sampled_from(("web", "sns", "tv")),
            st.sampled_from((Decimal(0), Decimal(1000), 333)), max_size=3)}),
        asking("orders_by_channel", zoned, {}),
    )


def ask(crm: CRM, question: tuple[str, dict[str, Any]]) -> Any:
    """The answer, or the field of the ValidationError it raised."""
    name, arguments = question
    try:
        return getattr(crm.analytics, name)(**arguments)
    except ValidationError as error:
        return ("ValidationError", error.field)


@pytest.mark.parametrize("fixture", BACKENDS)
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_analysis_gives_the_reference_answer(fixture: str,
                                                   request: pytest.FixtureRequest,
                                                   data: st.DataObject) -> None:
    plan = data.draw(shops, label="shop")
    reference = shop_on(MemoryBackend(), plan)
    subject = shop_on(request.getfixturevalue(fixture), plan)
    for _ in range(8):
        question = data.draw(questions(plan.as_of), label="question")
        assert ask(subject, question) == ask(reference, question), question


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_the_memory_reference_agrees_with_itself_on_a_merged_shop(data: st.DataObject
                                                                  ) -> None:
    """Merging two customers moves the duplicate's orders: the analyses see one customer
    whose first order is the earlier of the two."""
    plan = data.draw(shops, label="shop")
    crm = shop_on(MemoryBackend(), plan)
    people = list(crm.customers.iterate())
    if len(people) < 2:
        return
    crm.customers.merge(people[0].id, people[1].id)
    summary = crm.analytics.repeat_purchase()
    with_orders = {o.customer_id for c in crm.customers.iterate()
                   for o in crm.orders.for_customer(c.id)
                   if o.currency == "JPY" and o.status.value != "cancelled"
                   and o.placed_at <= plan.as_of}
    assert summary.customers == len(with_orders)
    assert sum(r.customers for r in crm.analytics.cohorts(period="year")
               if r.period_index == 0) == len(with_orders)


# -- periods ------------------------------------------------------------------------------

INSTANTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1),
                        timezones=st.just(timezone.utc))


@settings(max_examples=300)
@given(INSTANTS, st.sampled_from(list(Period)), st.sampled_from(ZONES))
def test_an_instant_falls_in_the_period_its_local_calendar_names(
        instant: datetime, period: Period, tz: object) -> None:
    zone = parse_tz(tz)
    periods = span(instant - 2 * DAY, instant, period, zone)
    k = periods.index(instant)
    assert periods.firsts[k] == first_day(instant.astimezone(zone).date(), period)
    assert periods.bounds[k] <= instant < periods.bounds[k + 1]
    assert list(periods.bounds) == sorted(set(periods.bounds))


@settings(max_examples=300)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 1, 1)),
       st.sampled_from(ZONES))
def test_a_day_begins_at_the_first_instant_its_clock_reads_midnight(day: date,
                                                                    tz: object) -> None:
    zone = parse_tz(tz)
    start = day_start(day, zone)
    midnight = datetime(day.year, day.month, day.day)
    assert start.astimezone(zone).replace(tzinfo=None) >= midnight
    tick = start - timedelta(microseconds=1)
    assert tick.astimezone(zone).replace(tzinfo=None) < midnight


def test_period_starts_by_hand() -> None:
    new_york, santiago = ZoneInfo("America/New_York"), ZoneInfo("America/Santiago")
    # The 25-hour day of 1 November 2026 in New York: 04:00 UTC to 05:00 UTC the next day.
    days = span(datetime(2026, 11, 1, 12, tzinfo=timezone.utc),
                datetime(2026, 11, 2, 4, 59, tzinfo=timezone.utc), Period.DAY, new_york)
    assert days.firsts == (date(2026, 11, 1),)
    assert days.bounds == (datetime(2026, 11, 1, 4, tzinfo=timezone.utc),
                           datetime(2026, 11, 2, 5, tzinfo=timezone.utc))
    # Santiago's clocks skip from 6 Sep 2026 00:00 to 01:00: the day starts at 01:00.
    assert day_start(date(2026, 9, 6), santiago) == datetime(2026, 9, 6, 4,
                                                             tzinfo=timezone.utc)
    weeks = span(datetime(2026, 1, 1, tzinfo=timezone.utc),
                 datetime(2026, 1, 5, tzinfo=timezone.utc), Period.WEEK, timezone.utc)
    assert weeks.firsts == (date(2025, 12, 29), date(2026, 1, 5))  # ISO weeks: Mondays
    quarters = span(datetime(2026, 2, 1, tzinfo=timezone.utc),
                    datetime(2027, 1, 1, tzinfo=timezone.utc), Period.QUARTER, timezone.utc)
    assert [d.month for d in quarters.firsts] == [1, 4, 7, 10, 1]
    # 31 Jan 23:30 in Tokyo is January; 1 Feb 00:30 there is still 31 Jan in UTC.
    tokyo = span(datetime(2026, 1, 31, 14, 30, tzinfo=timezone.utc),
                 datetime(2026, 1, 31, 15, 30, tzinfo=timezone.utc), Period.MONTH,
                 ZoneInfo("Asia/Tokyo"))
    assert tokyo.firsts == (date(2026, 1, 1), date(2026, 2, 1))


def test_periods_and_zones_reject_what_they_do_not_know() -> None:
    assert parse_period(" Quarter ") is Period.QUARTER
    for bad in ("fortnight", "", None, 3, "months"):
        with pytest.raises(ValidationError, match="'day', 'week', 'month', 'quarter'"):
            parse_period(bad)
    assert parse_tz("utc") is timezone.utc
    assert parse_tz("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    for bad in ("Asia/Nowhere", "", "../etc/passwd", 9, timedelta(hours=1)):
        with pytest.raises(ValidationError) as caught:
            parse_tz(bad)
        assert caught.value.field == "tz"
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert len(span(start, start + (MAX_PERIODS - 1) * DAY, Period.DAY, timezone.utc)) \
        == MAX_PERIODS
    with pytest.raises(ValidationError, match="more than 1000 days"):
        span(start, start + MAX_PERIODS * DAY, Period.DAY, timezone.utc)
    edge = datetime(9999, 12, 31, 12, tzinfo=timezone.utc)
    with pytest.raises(ValidationError, match="beyond the years 1 to 9999"):
        span(edge, edge, Period.DAY, ZoneInfo("Asia/Tokyo"))
