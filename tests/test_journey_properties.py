"""Any history of sign-ups, orders, cancellations, cart events, time passing and
repeated ``run_due`` calls: each occasion is enrolled at most once, each step's message
is queued once, and the enrollments are exactly what a plain-Python restatement of every
trigger's rule, checked at each run, finds."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, JourneyTrigger, ManualClock, OrderLine, Step
from ecrm.backends import MemoryBackend

WHEN = datetime(2026, 4, 1, 3, tzinfo=timezone.utc)
AFTER = timedelta(hours=5)
TRIGGERS = {"signup": JourneyTrigger.signup(),
            "order_placed": JourneyTrigger.order_placed(after=AFTER),
            "cart_abandoned": JourneyTrigger.cart_abandoned(after=AFTER),
            "second_purchase": JourneyTrigger.second_purchase(after=AFTER),
            "win_back": JourneyTrigger.win_back(after=AFTER)}

history = st.lists(st.one_of(
    st.tuples(st.just("signup"), st.integers(0, 0)),
    st.tuples(st.just("order"), st.integers(0, 2)),
    st.tuples(st.just("cancelled order"), st.integers(0, 2)),
    st.tuples(st.just("cart"), st.integers(0, 2)),
    st.tuples(st.just("advance"), st.integers(1, 8)),
    st.tuples(st.just("run"), st.integers(0, 0))), max_size=30)


@attrs.define
class Shop:
    """What happened, as plain data: customers (id, signed up), orders (id, customer,
    placed, cancelled) and cart events (id, customer, at)."""

    customers: list[tuple[str, datetime]] = attrs.field(factory=list)
    orders: list[tuple[str, str, datetime, bool]] = attrs.field(factory=list)
    carts: list[tuple[str, str, datetime]] = attrs.field(factory=list)

    def occasions(self, kind: str, now: datetime, created: datetime) -> set[str]:
        """The occasions of the trigger ``kind`` at ``now``: the rules restated."""
        due = now - AFTER
        kept = [o for o in self.orders if not o[3]]
        if kind == "signup":
            return {cid for cid, at in self.customers if created <= at <= now}
        if kind == "order_placed":
            return {oid for oid, _, at, _ in kept if created <= at <= due}
        if kind == "second_purchase":
            counts = Counter(cid for _, cid, _, _ in kept)
            return {cid for _, cid, at, _ in kept if counts[cid] == 1 and at <= due}
        if kind == "win_back":
            last = {}
            for oid, cid, at, _ in sorted(kept, key=lambda o: (o[2], o[0])):
                last[cid] = (oid, at)
            return {f"{cid}:{oid}" for cid, (oid, at) in last.items() if at <= due}
        latest = {}
        for cart_id, cid, at in sorted(self.carts, key=lambda c: (c[2], c[0])):
            latest[cid] = (cart_id, at)
        return {cart_id for cid, (cart_id, at) in latest.items()
                if created <= at <= due
                and not any(o[1] == cid and o[2] >= at for o in self.orders)}


def replay(crm: CRM, steps: list[tuple[str, int]]) -> None:
    clock = crm.clock
    assert isinstance(clock, ManualClock)
    created = clock.now()
    journeys = {kind: crm.journeys.create(kind, trigger=trigger,
                                          steps=[Step(timedelta(0), "hi")]).id
                for kind, trigger in TRIGGERS.items()}
    shop, expected, queued = Shop(), {kind: set() for kind in TRIGGERS}, 0
    for action, n in steps:
        now = clock.now()
        if action == "signup":
            customer = crm.customers.create(email=f"p{len(shop.customers)}@example.jp")
            crm.consent.grant(customer.id, "email")
            shop.customers.append((customer.id, now))
        elif action in ("order", "cancelled order", "cart") and shop.customers:
            cid = shop.customers[n % len(shop.customers)][0]
            if action == "cart":
                event = crm.interactions.record(cid, channel="web", kind="cart_add")
                shop.carts.append((event.id, cid, now))
            else:
                oid = f"o{len(shop.orders)}"
                crm.orders.record(order_id=oid, customer_id=cid, placed_at=now,
                                  channel="web", lines=[OrderLine("S", 1, Decimal(100))])
                if action == "cancelled order":
                    crm.orders.cancel(oid)
                shop.orders.append((oid, cid, now, action == "cancelled order"))
        elif action == "advance":
            clock.advance(timedelta(hours=n))
        elif action == "run":
            queued += crm.journeys.run_due().queued
            for kind in TRIGGERS:
                expected[kind] |= shop.occasions(kind, now, created)
    messages = Counter(m.key for m in crm.messages.list(limit=10_000))
    assert set(messages.values()) <= {1}
    assert queued == len(messages)
    for kind, journey_id in journeys.items():
        enrolled = [e.occasion for e in crm.journeys.enrollments(journey_id, limit=10_000)]
        assert len(enrolled) == len(set(enrolled))
        assert set(enrolled) == expected[kind], kind
        assert {k for k in messages if k.startswith(f"journey:{journey_id}:")} == {
            f"journey:{journey_id}:{occasion}:0" for occasion in enrolled}


@settings(max_examples=150, deadline=None)
@given(steps=history)
def test_journeys_enroll_each_occasion_once_on_memory(steps: list[tuple[str, int]]) -> None:
    replay(CRM(MemoryBackend(), clock=ManualClock(WHEN)), steps)


@pytest.mark.usefixtures("sqlite_backend")
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=history)
def test_journeys_enroll_each_occasion_once_on_sqlite(sqlite_backend,
                                                      steps: list[tuple[str, int]]) -> None:
    tenant = f"prop-{uuid.uuid4().hex[:8]}"
    replay(CRM(sqlite_backend, tenant=tenant, clock=ManualClock(WHEN)), steps)


def test_a_step_stored_before_unsubscribe_links_reads_back_without_one() -> None:
    step = Step(timedelta(days=1), "hi", unsubscribe_url="https://x.jp/u?t={token}")
    stored = step.to_json()
    assert Step.from_json(stored) == step
    del stored["unsubscribe_url"]  # a journey created before steps had the field
    assert Step.from_json(stored) == Step(timedelta(days=1), "hi")
