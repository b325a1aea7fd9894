"""Workers refreshing one segment and editing another at once, on the real servers: each
entry and exit is recorded once, the stored members match the rule, and the notifications
add up to the history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ecrm import CRM, ManualClock, MembershipChangeKind, OrderLine
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.base import Recorder
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
WORKERS = 8
CUSTOMERS = 40


def test_racing_refreshes_record_each_change_once(wide_backend: SQLBackend) -> None:
    recorder = Recorder()
    crm = CRM(wide_backend, tenant=f"seg-{uuid.uuid4().hex[:8]}",
              clock=ManualClock(WHEN + timedelta(days=1)), plugins=[recorder])
    people = [crm.customers.create(name=f"c{n}").id for n in range(CUSTOMERS)]
    buyers = crm.segments.create("buyers", rule="orders.count >= 1")
    vip = crm.segments.create("vip")

    def work(worker: int) -> None:
        for n in range(worker, CUSTOMERS, WORKERS):
            crm.orders.record(order_id=f"o{n}", customer_id=people[n], placed_at=WHEN,
                              lines=[OrderLine("TEA", 1, Decimal(100))], channel="web")
            crm.segments.refresh(buyers.id)
            crm.segments.add(vip.id, [people[n], people[(n + 1) % CUSTOMERS]])

    failures = [r for r in run_together(work, WORKERS) if isinstance(r, Exception)]
    assert failures == []
    crm.segments.refresh(buyers.id)

    for segment in (buyers, vip):
        history = crm.segments.history(segment.id)
        assert all(h.change is MembershipChangeKind.ENTERED for h in history)
        assert sorted(h.customer_id for h in history) == sorted(people)
        stored = crm.segments.get(segment.id)
        assert stored.member_count == CUSTOMERS
        assert {m.customer_id for m in crm.segments.members(segment.id, limit=1000)} \
            == set(people)
        notified = [c for name, e in recorder.events
                    if name == "segment_membership_changed" and e["segment"].id == segment.id
                    for c in e["entered"]]
        assert sorted(notified) == sorted(people)
