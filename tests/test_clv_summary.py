"""The lifetime-value summary on real and random data: the CDNOW sample imported into a
CRM reproduces the published summary on every backend, and random shops give the same
summary and historical value on SQLite, PostgreSQL and MariaDB as on the memory backend
(the plain-Python reference), in UTC, Tokyo and zones with daylight saving time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, ManualClock, OrderLine
from ecrm.backends.memory import MemoryBackend
from ecrm.domain.lifetime import offset_schedule
from tests import cdnow

BACKENDS = ["memory", "sqlite_backend", "postgres_backend", "mysql_backend"]


def backend_for(kind: str, request: pytest.FixtureRequest) -> Any:
    return MemoryBackend() if kind == "memory" else request.getfixturevalue(kind)


@pytest.fixture(scope="module", params=BACKENDS)
def cdnow_shop(request: pytest.FixtureRequest) -> Iterator[tuple[CRM, dict[str, str]]]:
    """The CDNOW sample in a CRM of each backend (currency USD), once per module."""
    crm = CRM(backend_for(request.param, request), tenant=f"cdnow-{uuid.uuid4().hex[:8]}",
              currency="USD")
    yield crm, cdnow.load(crm)


def test_cdnow_summary_is_reproduced_from_the_purchases(cdnow_shop) -> None:
    crm, names = cdnow_shop
    summary = crm.analytics.clv_summary(calibration_end=cdnow.CALIBRATION_END,
                                        time_unit="week")
    published = cdnow.published_summary()
    assert len(summary) == len(published) == 2357
    cent = Decimal("0.01")
    for row in summary:
        expected = published[names[row.customer_id]]
        got = {"x": row.frequency, "t_x": Decimal(f"{row.recency:.2f}"),
               "T": Decimal(f"{row.age:.2f}"),
               "zbar": row.monetary_value.quantize(cent, ROUND_HALF_UP)}
        assert got == expected, names[row.customer_id]


def test_cdnow_models_fitted_on_the_imported_summary(cdnow_shop) -> None:
    pytest.importorskip("scipy")
    from ecrm.analytics.clv import BetaGeoModel, GammaGammaModel

    crm, _ = cdnow_shop
    summary = crm.analytics.clv_summary(calibration_end=cdnow.CALIBRATION_END)
    bg, gg = BetaGeoModel().fit(summary), GammaGammaModel().fit(summary)
    assert {k: float(f"{v:.3g}") for k, v in bg.params.items()} == {
        "r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}
    assert {k: float(f"{v:.3g}") for k, v in gg.params.items()} == {
        "p": 6.25, "q": 3.74, "gamma": 15.4}


def test_cdnow_predicted_lifetime_value(cdnow_shop) -> None:
    crm, names = cdnow_shop
    table = crm.analytics.predict_clv(calibration_end=cdnow.CALIBRATION_END, horizon=12,
                                      period="month", discount_rate=0.01)
    assert len(table) == 2357 and table.summary.currency == "USD"
    assert [row.customer_id for row in table] == [row.customer_id for row in table.summary]
    first = next(row for row in table if names[row.customer_id] == "1")
    # Sample customer 1: x = 2, t_x = 30.43, T = 38.86 (see test_clv_models).
    assert first.probability_alive == pytest.approx(0.7266, abs=1e-4)
    assert first.expected_average_value == pytest.approx(Decimal("24.66"), abs=Decimal("0.01"))
    assert Decimal(30) < first.clv < Decimal(45)
    assert all(row.clv >= 0 and 0 <= row.probability_alive <= 1 for row in table)


def test_cdnow_historical_value(cdnow_shop) -> None:
    crm, names = cdnow_shop
    table = crm.analytics.historical_value(as_of=cdnow.CALIBRATION_END)
    lines = [p for p in cdnow.purchases() if p[1] <= cdnow.CALIBRATION_END]
    assert sum(row.orders for row in table) == len(lines)
    assert sum(row.revenue for row in table) == sum(value for _, _, value in lines)
    first = next(row for row in table if names[row.customer_id] == "1")
    # 1 Jan 1997 ($29.33), 18 Jan ($29.73), 2 Aug ($14.96); 12 Dec is after the end.
    assert (first.orders, first.revenue, first.tenure_days) == (3, Decimal("74.02"), 272)


# -- random shops, every backend against the memory backend ---------------------------------

ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe")
#: Days around 2026's DST changes in the zones above, and plain days.
DAYS = (date(2025, 12, 31), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9),
        date(2026, 3, 29), date(2026, 4, 5), date(2026, 4, 6), date(2026, 7, 1),
        date(2026, 10, 4), date(2026, 10, 25), date(2026, 11, 1), date(2026, 11, 2),
        date(2027, 1, 1))
#: Each zone's local midnights of those days, and times a moment either side of them.
MIDNIGHTS = {name: [datetime.combine(day, time(0), ZoneInfo(name)).astimezone(timezone.utc)
                    for day in DAYS] for name in ZONES}
NUDGES = (timedelta(0), timedelta(seconds=-1), timedelta(microseconds=1),
          timedelta(microseconds=-1), timedelta(microseconds=-600),
          timedelta(minutes=-30), timedelta(hours=1), timedelta(hours=23))


def instants(zone: str) -> st.SearchStrategy[datetime]:
    """Times on and around the zone's midnights, or New York's (DST changes)."""
    anchors = st.sampled_from(MIDNIGHTS[zone]) | st.sampled_from(MIDNIGHTS[ZONES[2]])
    return st.builds(lambda m, n: m + n, anchors, st.sampled_from(NUDGES))


def shop_plans(zone: str) -> st.SearchStrategy[list[list[tuple[Any, ...]]]]:
    orders = st.tuples(instants(zone), st.sampled_from((100, 999, 1500)),
                       st.sampled_from(("JPY", "JPY", "JPY", "USD")),
                       st.sampled_from(("", "", "", "cancel", "refund")))
    return st.lists(st.lists(orders, max_size=6), min_size=1, max_size=6)


def questions(zone: str) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(st.sampled_from((zone, zone, zone, *ZONES)), instants(zone),
                     st.none() | instants(zone),
                     st.sampled_from(("day", "week", "month", timedelta(days=3))))


def load(crm: CRM, plan: list[list[tuple[Any, ...]]]) -> dict[str, str]:
    names = {}
    for number, bought in enumerate(plan):
        customer = crm.customers.create(name=f"c{number}").id
        names[customer] = f"c{number}"
        for serial, (placed_at, amount, currency, fate) in enumerate(bought):
            order_id = f"c{number}-{serial}"
            crm.orders.record(order_id=order_id, customer_id=customer, placed_at=placed_at,
                              lines=[OrderLine("A", 1, Decimal(amount))], channel="web",
                              currency=currency)
            if fate == "cancel":
                crm.orders.cancel(order_id)
            elif fate == "refund":
                crm.orders.refund(order_id, refund_id=f"r-{order_id}", amount=Decimal(99))
    return names


def answers(crm: CRM, names: dict[str, str], question: tuple[Any, ...]) -> tuple[Any, ...]:
    tz, end, start, unit = question
    if start is not None and not start < end:
        start = None
    summary = crm.analytics.clv_summary(calibration_end=end, observation_start=start,
                                        time_unit=unit, tz=tz)
    history = crm.analytics.historical_value(as_of=end)
    return tuple([(names[row.customer_id], *attrs.astuple(row)[1:]) for row in table]
                 for table in (summary, history))


@pytest.mark.parametrize("fixture", BACKENDS[1:])
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_summaries_match_the_memory_backend(fixture: str, request: pytest.FixtureRequest,
                                            data: st.DataObject) -> None:
    zone = data.draw(st.sampled_from(ZONES), label="zone")
    plan = data.draw(shop_plans(zone), label="shop")
    asked = data.draw(st.lists(questions(zone), min_size=1, max_size=4), label="questions")
    tenant = f"clv-{uuid.uuid4().hex[:10]}"
    reference = CRM(MemoryBackend(), tenant=tenant, clock=ManualClock())
    subject = CRM(request.getfixturevalue(fixture), tenant=tenant, clock=ManualClock())
    reference_names, subject_names = load(reference, plan), load(subject, plan)
    for question in asked:
        assert answers(subject, subject_names, question) == answers(
            reference, reference_names, question), question


def test_offset_schedules_find_every_change_to_the_second() -> None:
    new_york = ZoneInfo("America/New_York")
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    schedule = offset_schedule(new_york, start, datetime(2027, 6, 1, tzinfo=timezone.utc))
    assert schedule.first == -4 * 3600
    assert schedule.changes == (
        (datetime(2025, 11, 2, 6, 0, tzinfo=timezone.utc), -5 * 3600),
        (datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc), -4 * 3600),
        (datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc), -5 * 3600),
        (datetime(2027, 3, 14, 7, 0, tzinfo=timezone.utc), -4 * 3600))
    for moment in (start + timedelta(hours=h * 7.5) for h in range(2500)):
        assert schedule.offset_at(moment) == moment.astimezone(new_york).utcoffset() \
            .total_seconds()
    tokyo = offset_schedule(ZoneInfo("Asia/Tokyo"), datetime(1990, 1, 1, tzinfo=timezone.utc),
                            start)
    assert (tokyo.first, tokyo.changes) == (9 * 3600, ())
    lord_howe = offset_schedule(ZoneInfo("Australia/Lord_Howe"), start,
                                datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert [offset for _, offset in lord_howe.changes] == [11 * 3600, 10 * 3600 + 1800]


def test_predict_clv_checks_its_terms_before_any_work() -> None:
    from ecrm.errors import ValidationError

    crm = CRM(MemoryBackend())
    with pytest.raises(ValidationError, match="calibration_end"):
        crm.analytics.predict_clv()
    with pytest.raises(ValidationError, match="horizon"):
        crm.analytics.predict_clv(calibration_end=cdnow.CALIBRATION_END, horizon=0)
    with pytest.raises(ValidationError, match="period"):
        crm.analytics.predict_clv(calibration_end=cdnow.CALIBRATION_END, period="fortnight")
    with pytest.raises(ValidationError, match="summary: has no customers"):
        crm.analytics.predict_clv(calibration_end=cdnow.CALIBRATION_END)
