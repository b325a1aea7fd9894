"""``ecrm.report.collect`` on every backend: the figures of a small shop checked against
hand-worked values and against direct calls to the services they come from; empty shops;
and bad arguments."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import ecrm
from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.report import ShopFigures, collect, write_report
from tests.report_shop import (
    AS_OF,
    BUYERS,
    CUSTOMERS,
    EVIL,
    ORDER_COUNT,
    RETENTION,
    REVENUE,
    REVENUE_BY_MONTH_AND_CHANNEL,
    UTC,
    build_shop,
)

BACKENDS = ["memory", "sqlite_backend", "postgres_backend", "mysql_backend"]


@pytest.fixture(scope="module", params=BACKENDS)
def shop(request: pytest.FixtureRequest) -> CRM:
    """The planned shop on each backend, built once per module."""
    backend = (MemoryBackend() if request.param == "memory"
               else request.getfixturevalue(request.param))
    return build_shop(backend)


@pytest.fixture(scope="module")
def figures(shop: CRM) -> ShopFigures:
    return collect(shop, as_of=AS_OF, months=6, point_value=2)


def test_the_window_is_the_last_months_calendar_months(figures: ShopFigures) -> None:
    assert figures.window_start == datetime(2026, 1, 1, tzinfo=UTC)
    assert figures.channels.months == tuple(date(2026, m, 1) for m in range(1, 7))
    assert (figures.as_of, figures.months, figures.tz, figures.currency) == (
        AS_OF, 6, "UTC", "JPY")


def test_headline_figures_match_the_hand_worked_shop(figures: ShopFigures) -> None:
    h = figures.headline
    assert (h.customers, h.buyers, h.orders, h.revenue) == (
        CUSTOMERS, BUYERS, ORDER_COUNT, REVENUE)
    assert h.average_order_value == Decimal("2450")
    assert h.repeat_rate == 0.5  # a, b and e of six buyers


def test_revenue_by_channel_and_month(figures: ShopFigures, shop: CRM) -> None:
    channels = figures.channels
    assert channels.channels == ("app", "store", "web")
    got = {(c.month.month, c.channel): c.revenue for c in channels.cells}
    assert got == {key: Decimal(v) for key, v in REVENUE_BY_MONTH_AND_CHANNEL.items()}
    direct = shop.analytics.orders_by_channel(period="month", as_of=AS_OF)
    assert {(r.period, r.channel): r.orders for r in direct} == {
        (c.month, c.channel): c.orders for c in channels.cells}
    assert channels.revenue(date(2026, 3, 1), "web") == Decimal(5000)
    assert channels.orders(date(2026, 4, 1), "store") == 0


def test_cohort_retention(figures: ShopFigures) -> None:
    got = {c.cohort.month: (c.customers, list(c.retention)) for c in figures.cohorts}
    assert got == RETENTION
    june = figures.cohorts[-1]
    assert june.complete == (False,) and june.active == (1,)


def test_rfm_figures_agree_with_the_rfm_table(figures: ShopFigures, shop: CRM) -> None:
    table = shop.analytics.rfm(as_of=AS_OF)
    assert {s.segment: s.customers for s in figures.rfm.segments} == table.segment_counts()
    assert sum(s.share for s in figures.rfm.segments) == pytest.approx(1.0)
    cells = Counter((row.r, row.f) for row in table)
    assert len(figures.rfm.grid) == 25
    assert {(c.recency, c.frequency): c.customers for c in figures.rfm.grid
            if c.customers} == dict(cells)
    assert sum(c.revenue for c in figures.rfm.grid) == REVENUE


def test_cross_sell_rules_are_mined_when_no_model_is_stored(figures: ShopFigures,
                                                            shop: CRM) -> None:
    cross = figures.cross_sell
    assert cross.model is None and cross.baskets == ORDER_COUNT
    best = cross.rules[0]  # the odd SKU came once, with tea: confidence 1
    assert (best.antecedent, best.consequent, best.support, best.confidence) == (
        (EVIL,), ("TEA",), 0.1, 1.0)
    assert best.lift == pytest.approx(1 / 0.7)
    cup_tea = next(r for r in cross.rules if (r.antecedent, r.consequent) == (("CUP",), ("TEA",)))
    assert cup_tea.confidence == pytest.approx(4 / 6)
    assert shop.recommendations.models() == []  # the report's own model is gone again


def test_support_figures(figures: ShopFigures, shop: CRM) -> None:
    support = figures.support
    total = support.total
    assert (total.cases, support.resolved, total.breaches) == (3, 2, 3)
    assert total.first_response_within == pytest.approx(2 / 3)
    assert total.resolution_within == pytest.approx(1 / 3)
    assert (support.csat, support.csat_answers, support.nps_answers) == (0.5, 2, 0)
    [direct] = shop.cases.figures(since=datetime(2026, 1, 1, tzinfo=UTC), until=AS_OF)
    assert support.first_response_median == direct.first_response_median
    assert support.resolution_median == timedelta(hours=25, minutes=30)  # of 3 h and 48 h
    by_priority = {g.label: (g.cases, g.first_response_within, g.resolution_within)
                   for g in support.by_priority}
    assert by_priority == {"high": (1, 0.0, 0.0), "normal": (2, 1.0, 0.5)}
    by_month = {g.label: g.cases for g in support.by_month}
    assert by_month == {"2026-01": 0, "2026-02": 0, "2026-03": 0, "2026-04": 0,
                        "2026-05": 1, "2026-06": 2}
    assert support.by_month[0].first_response_within is None


def test_loyalty_liability(figures: ShopFigures) -> None:
    loyalty = figures.loyalty
    assert (loyalty.issued, loyalty.outstanding, loyalty.redeemed, loyalty.expired) == (
        600, 300, 200, 100)
    assert (loyalty.point_value, loyalty.liability) == (Decimal(2), Decimal(600))


def test_a_stored_model_is_read_not_mined(shop: CRM) -> None:
    shop.recommendations.mine(min_support=0.2, min_confidence=0.5)
    try:
        cross = collect(shop, as_of=AS_OF).cross_sell
        stored = shop.recommendations.association_rules()
    finally:
        shop.recommendations.drop_model("default")
    assert (cross.model, cross.baskets) == ("default", ORDER_COUNT)
    # Only pairs in at least 2 of 10 baskets, at least 50% confident: 4/6 and 4/7.
    assert [(r.antecedent, r.consequent) for r in cross.rules] == [
        (("CUP",), ("TEA",)), (("TEA",), ("CUP",))]
    assert [r.confidence for r in cross.rules] == [r.confidence for r in stored]
    assert [r.confidence for r in cross.rules] == pytest.approx([4 / 6, 4 / 7])


def test_an_empty_shop_gives_zeros_everywhere() -> None:
    crm = CRM(MemoryBackend(), clock=ManualClock(AS_OF))
    figures = collect(crm)
    assert figures.headline.orders == 0 and figures.headline.average_order_value == 0
    assert figures.headline.repeat_rate == 0.0
    assert figures.cohorts == () and figures.channels.cells == ()
    assert len(figures.channels.months) == 12
    assert all(c.customers == 0 for c in figures.rfm.grid)
    assert all(s.share == 0.0 for s in figures.rfm.segments)
    assert figures.cross_sell.rules == () and figures.cross_sell.baskets == 0
    assert figures.support.total.cases == 0 and figures.support.csat is None
    assert figures.loyalty.liability is None
    assert figures.campaigns == ()


def test_campaign_results_come_from_the_campaign_report() -> None:
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    crm = CRM(MemoryBackend(), clock=clock, secret="a long random secret for the tests")
    fans = [crm.customers.create(email=f"fan{n}@example.jp") for n in range(4)]
    for fan in fans:
        crm.consent.grant(fan.id, "email")
    club = crm.segments.create("fans", customer_ids=[fan.id for fan in fans])
    promo = crm.campaigns.create("夏の<セール>", segment=club.id, body="セール", cost=3000)
    crm.campaigns.launch(promo.id)
    crm.orders.record(order_id="A-1", customer_id=fans[0].id, channel="web",
                      placed_at=clock.now() + timedelta(days=1),
                      lines=[ecrm.OrderLine("COAT", 1, Decimal(12000))])
    clock.advance(days=10)
    [result] = collect(crm).campaigns
    report = crm.campaigns.report(promo.id)
    [variant] = report.variants
    assert result.name == "夏の<セール>"
    assert (result.converted, result.orders, result.revenue) == (1, 1, Decimal(12000))
    assert result.conversion_rate == variant.conversion_rate == 0.25
    assert result.cost_per_order == report.cost_per_order == Decimal(3000)
    assert result.control_conversion_rate is None


@pytest.mark.parametrize(("arguments", "field"), [
    ({"months": 0}, "months"), ({"months": 121}, "months"), ({"months": True}, "months"),
    ({"as_of": datetime(2026, 1, 1)}, "as_of"), ({"tz": "Mars/Olympus"}, "tz"),
    ({"point_value": -1}, "point_value"), ({"point_value": 1.5}, "point_value"),
])
def test_bad_arguments_are_named(arguments: dict[str, Any], field: str) -> None:
    crm = CRM(MemoryBackend(), clock=ManualClock(AS_OF))
    with pytest.raises(ecrm.ValidationError) as raised:
        collect(crm, **arguments)
    assert raised.value.field == field


def test_write_report_writes_utf8_html(tmp_path: Any) -> None:
    crm = build_shop(MemoryBackend())
    path = write_report(crm, tmp_path / "report.html", as_of=AS_OF, months=6)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert "&lt;script&gt;&amp;&quot;x&quot;" in text and EVIL not in text


def test_months_follow_the_calendar_of_the_zone() -> None:
    crm = build_shop(MemoryBackend())
    midnight_in_tokyo = datetime(2026, 6, 30, 15, tzinfo=UTC)  # 1 July 00:00 JST
    figures = collect(crm, as_of=midnight_in_tokyo, months=2, tz="Asia/Tokyo")
    assert figures.tz == "Asia/Tokyo"
    assert figures.window_start == datetime(2026, 5, 31, 15, tzinfo=UTC)
    assert figures.channels.months == (date(2026, 6, 1), date(2026, 7, 1))
    assert {(c.month, c.channel): c.revenue for c in figures.channels.cells} == {
        (date(2026, 6, 1), "store"): Decimal(1500), (date(2026, 6, 1), "web"): Decimal(3000)}
    assert [g.cases for g in figures.support.by_month] == [2, 0]
