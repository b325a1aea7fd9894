"""The demo shop of ``ecrm demo``: the same seed builds the same shop, on any backend, and
every figure the dashboard shows has data to show."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ecrm
from ecrm.demo import LOYALTY_PROGRAM, SUPPORT_POLICY, DemoSummary, build_demo_shop
from ecrm.demo.aftercare import desk_time

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
SIZE = 120


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ecrm.CRM, DemoSummary]]:
    path: Path = tmp_path_factory.mktemp("demo") / "demo.db"
    crm = ecrm.CRM.open(f"sqlite:///{path}", clock=ecrm.ManualClock(NOW))
    summary = build_demo_shop(crm, customers=SIZE, seed=7, now=NOW)
    yield crm, summary
    crm.close()


def shape(crm: ecrm.CRM) -> dict[str, object]:
    """What must not change between two builds with one seed: people, orders, amounts."""
    people = sorted((c.external_id, c.name, c.email, c.kana_name, c.birth_date,
                     c.address.prefecture if c.address else None, c.signed_up_at)
                    for c in crm.customers.iterate())
    ids = {c.id: c.external_id for c in crm.customers.iterate()}
    orders = sorted((o.order_id, ids[o.customer_id], o.placed_at, o.channel, o.status.value,
                     o.total, o.refunded)
                    for customer_id in ids for o in crm.orders.for_customer(customer_id))
    points = sorted((ids[c], crm.loyalty.balance(c).total) for c in ids)
    return {"people": people, "orders": orders, "points": points,
            "totals": crm.loyalty.totals()}


def test_the_same_seed_builds_the_same_shop(built: tuple[ecrm.CRM, DemoSummary]) -> None:
    crm, summary = built
    with ecrm.CRM.open("memory://", clock=ecrm.ManualClock(NOW)) as again:
        second = build_demo_shop(again, customers=SIZE, seed=7, now=NOW)
        assert second.counts() == summary.counts()
        assert shape(again) == shape(crm)
    with ecrm.CRM.open("memory://") as other:
        assert build_demo_shop(other, customers=SIZE, seed=8, now=NOW).counts() != \
            summary.counts()


@pytest.mark.parametrize("fixture", [pytest.param("postgres_backend", marks=pytest.mark.postgres),
                                     pytest.param("mysql_backend", marks=pytest.mark.mysql)])
def test_servers_build_the_same_shop(fixture: str, built: tuple[ecrm.CRM, DemoSummary],
                                     request: pytest.FixtureRequest) -> None:
    crm, summary = built
    backend = request.getfixturevalue(fixture)
    server = ecrm.CRM(backend, tenant=f"demo-{uuid.uuid4().hex[:8]}", clock=ecrm.ManualClock(NOW))
    assert build_demo_shop(server, customers=SIZE, seed=7, now=NOW).counts() == summary.counts()
    assert shape(server) == shape(crm)


def test_it_holds_what_the_summary_says(built: tuple[ecrm.CRM, DemoSummary]) -> None:
    crm, summary = built
    assert summary.customers == SIZE == sum(1 for _ in crm.customers.iterate())
    assert summary.start == NOW - timedelta(days=730) and summary.end == NOW
    assert crm.loyalty.totals().outstanding == summary.points_outstanding > 0
    assert summary.points_expired > 0 and summary.points_redeemed > 0
    assert summary.orders > SIZE and summary.refunds > 0 and summary.interactions > summary.orders
    names = [c.name for c in crm.customers.iterate()]
    assert all(" " in name and not name.isascii() for name in names)
    assert summary.lines()[0].startswith("demo shop: 2024-11-23 to 2026-11-23")


def test_the_dashboard_has_data(built: tuple[ecrm.CRM, DemoSummary]) -> None:
    crm, summary = built
    rfm = crm.analytics.rfm(as_of=NOW)
    assert len(rfm.rows) > SIZE // 2
    assert len({row.segment for row in rfm.rows}) >= 5
    cohorts = crm.analytics.cohorts(period="month", as_of=NOW)
    assert len(cohorts.rows) > 12
    repeat = crm.analytics.repeat_purchase(as_of=NOW)
    assert repeat.rows
    rules = crm.recommendations.association_rules()
    assert summary.association_rules == len(rules) >= 1
    assert any({r.antecedent, r.consequent} == {("TEA-MATCHA-30",), ("WARE-CHASEN",)}
               for r in rules)
    [desk] = crm.cases.figures(since=summary.start, until=NOW + timedelta(seconds=1))
    assert desk.cases == summary.cases > 0
    assert desk.first_response_median is not None and desk.resolution_median is not None
    assert 0 < desk.breached < desk.cases
    assert desk.csat_answers == summary.survey_answers > 0 and desk.csat is not None
    assert crm.loyalty.totals().outstanding > 0
    channels = {row.channel for row in crm.analytics.orders_by_channel(period="month",
                                                                     as_of=NOW).rows}
    assert {"web", "rakuten", "line"} <= channels


def test_campaigns_were_sent_and_measured(built: tuple[ecrm.CRM, DemoSummary]) -> None:
    crm, summary = built
    winback = crm.campaigns.find("お久しぶりクーポン")
    assert winback is not None
    report = crm.campaigns.report(winback.id)
    assert sum(v.sent for v in report.variants) > 0
    assert summary.campaigns == 3 and summary.messages_sent > 0
    assert [c.status.value for c in crm.campaigns.list(status="scheduled")] == ["scheduled"]


def test_a_crm_opened_with_the_demo_settings_agrees(built: tuple[ecrm.CRM, DemoSummary]
                                                    ) -> None:
    """The support figures do not depend on passing the demo's policy: its calendar is
    the default one and its breaches are stored."""
    crm, summary = built
    tuned = ecrm.CRM(crm.backend, clock=crm.clock, loyalty=LOYALTY_PROGRAM,
                     support=SUPPORT_POLICY)
    since, until = summary.start, NOW + timedelta(seconds=1)
    assert tuned.cases.figures(since=since, until=until) == crm.cases.figures(
        since=since, until=until)


def test_the_demo_needs_an_empty_shop_and_ten_customers(
        built: tuple[ecrm.CRM, DemoSummary]) -> None:
    crm, _ = built
    with pytest.raises(ecrm.ConflictError, match="already has customers"):
        build_demo_shop(crm, customers=10, now=NOW)
    with pytest.raises(ecrm.ValidationError, match="at least 10"):
        build_demo_shop(ecrm.CRM.open("memory://"), customers=9, now=NOW)


def test_the_desk_works_weekdays_and_saturday_mornings() -> None:
    friday_evening = datetime(2026, 11, 20, 17, 30, tzinfo=timezone.utc) - timedelta(hours=9)
    # 30 minutes left on Friday, then Saturday from 10:00 (Japan time)
    assert desk_time(friday_evening, 90) == datetime(2026, 11, 21, 11, 0) \
        .replace(tzinfo=timezone.utc) - timedelta(hours=9)
    saturday_evening = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)  # 18:00 JST
    assert desk_time(saturday_evening, 60) == datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
