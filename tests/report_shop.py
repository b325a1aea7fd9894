"""A small shop for the report tests, built through the public API only: seven customers
(six buyers), orders from January to June 2026 on three channels (one cancelled, one
refunded in part), three support cases (one answered late and resolved late, one left
open past its resolution target), two survey answers and a loyalty ledger. The expected
figures below are worked out by hand from this plan."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import ecrm
from ecrm import CRM, ManualClock

UTC = timezone.utc
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
EVIL = '<script>&"x"'
#: customer: [(order id, placed, channel, {sku: amount})]
ORDERS: dict[str, list[tuple[str, datetime, str, dict[str, int]]]] = {
    "a": [("a1", datetime(2026, 1, 10, tzinfo=UTC), "web", {"TEA": 1000, "CUP": 2000}),
          ("a2", datetime(2026, 2, 10, tzinfo=UTC), "web", {"TEA": 1000}),
          ("a3", datetime(2026, 4, 10, tzinfo=UTC), "app", {"TEA": 1000, "CUP": 2000})],
    "b": [("b1", datetime(2026, 1, 20, tzinfo=UTC), "store", {"POT": 5000}),
          ("b2", datetime(2026, 3, 5, tzinfo=UTC), "web", {"TEA": 1000, "CUP": 2000})],
    "c": [("c1", datetime(2026, 2, 3, tzinfo=UTC), "app", {"TEA": 1000})],
    "d": [("d1", datetime(2026, 3, 15, tzinfo=UTC), "web", {EVIL: 1000, "TEA": 1000})],
    "e": [("e1", datetime(2026, 5, 1, tzinfo=UTC), "store", {"CUP": 2000}),
          ("e2", datetime(2026, 6, 10, tzinfo=UTC), "store", {"CUP": 2000})],
    "f": [("f1", datetime(2026, 6, 20, tzinfo=UTC), "web", {"TEA": 1000, "CUP": 2000}),
          ("f2", datetime(2026, 6, 21, tzinfo=UTC), "web", {"POT": 9999})],
    "g": [],
}
#: Hand-worked figures of the plan at AS_OF.
CUSTOMERS, BUYERS, ORDER_COUNT, REVENUE = 7, 6, 10, Decimal(24500)
REVENUE_BY_MONTH_AND_CHANNEL = {
    (1, "web"): 3000, (1, "store"): 5000, (2, "web"): 1000, (2, "app"): 1000,
    (3, "web"): 5000, (4, "app"): 3000, (5, "store"): 2000, (6, "store"): 1500,
    (6, "web"): 3000,
}
#: cohort month: (size, retention by month since the first order)
RETENTION = {1: (2, [1.0, 0.5, 0.5, 0.5, 0.0, 0.0]), 2: (1, [1.0, 0.0, 0.0, 0.0, 0.0]),
             3: (1, [1.0, 0.0, 0.0, 0.0]), 5: (1, [1.0, 1.0]), 6: (1, [1.0])}

POLICY = ecrm.SupportPolicy(targets=[ecrm.SLATarget(first_response=timedelta(hours=2),
                                                    resolution=timedelta(hours=24))])


def build_shop(backend: Any) -> CRM:
    """The planned shop on ``backend`` in a fresh tenant, its clock at :data:`AS_OF`."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    crm = CRM(backend, tenant=f"rep-{uuid.uuid4().hex[:10]}", clock=clock, support=POLICY)
    ids = {name: crm.customers.create(name=f"客 {name}").id for name in ORDERS}
    for name, orders in ORDERS.items():
        for order_id, placed, channel, lines in orders:
            crm.orders.record(order_id=order_id, customer_id=ids[name], placed_at=placed,
                              channel=channel, lines=[ecrm.OrderLine(sku, 1, Decimal(amount))
                                                      for sku, amount in lines.items()])
    crm.orders.cancel("f2")
    crm.orders.refund("e2", refund_id="r-e2", amount=Decimal(500))
    _cases(crm, clock, ids)
    _loyalty(crm, clock, ids)
    clock.set(AS_OF)
    crm.cases.check_sla()  # records the open case's missed resolution target
    return crm


def _cases(crm: CRM, clock: ManualClock, ids: dict[str, str]) -> None:
    """Case 1 (normal) answered and resolved in time, CSAT 5; case 2 (high) answered after
    4 hours and resolved after 48, CSAT 2; case 3 (normal) answered in time, left open."""
    timeline = [
        ("a", "normal", datetime(2026, 5, 10, 9, tzinfo=UTC), timedelta(minutes=30),
         timedelta(hours=3), 5),
        ("b", "high", datetime(2026, 6, 2, 9, tzinfo=UTC), timedelta(hours=4),
         timedelta(hours=48), 2),
        ("c", "normal", datetime(2026, 6, 20, 9, tzinfo=UTC), timedelta(hours=1), None, None),
    ]
    for name, priority, opened, reply_after, resolve_after, csat in timeline:
        clock.set(opened)
        case = crm.cases.open(ids[name], subject="届いていません", channel="email",
                              body="まだ届きません", priority=priority)
        clock.set(opened + reply_after)
        crm.cases.add_message(case.id, kind="reply", body="確認します")
        if resolve_after is None:
            continue
        clock.set(opened + resolve_after)
        crm.cases.change_status(case.id, "resolved")
        [survey] = crm.cases.surveys(case.id)
        crm.cases.answer_survey(survey.id, csat)


def _loyalty(crm: CRM, clock: ManualClock, ids: dict[str, str]) -> None:
    """600 points issued, 200 redeemed, 100 expired: 300 outstanding."""
    clock.set(datetime(2026, 6, 25, tzinfo=UTC))
    crm.loyalty.earn(ids["a"], 500, key="welcome-a")
    crm.loyalty.earn(ids["b"], 100, key="promo-b", expires_at=clock.now() + timedelta(days=1))
    crm.loyalty.redeem(ids["a"], 200, key="checkout-a")
    clock.advance(days=2)
    crm.loyalty.expire_due()
