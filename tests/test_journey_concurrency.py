"""Journeys with many workers at once on the real servers: racing ``run_due`` calls
enroll each occasion once and queue each step's message once."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from ecrm import CRM, JourneyTrigger, ManualClock, Step
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, 3, tzinfo=timezone.utc)
WORKERS = 6
CUSTOMERS = 50


def test_workers_running_journeys_send_each_step_once(wide_backend: SQLBackend,
                                                      monkeypatch) -> None:
    from ecrm import journey_steps, journeys

    monkeypatch.setattr(journeys, "CHUNK", 7)
    monkeypatch.setattr(journey_steps, "CHUNK", 7)
    tenant, clock = f"journey-{uuid.uuid4().hex[:8]}", ManualClock(WHEN)
    crm = CRM(wide_backend, tenant=tenant, clock=clock)
    journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(), steps=[
        Step(timedelta(0), "welcome {{ customer.email }}"),
        Step(timedelta(days=1), "day two {{ customer.email }}")])
    ids = []
    for n in range(CUSTOMERS):
        customer = crm.customers.create(email=f"j{n}@example.jp")
        crm.consent.grant(customer.id, "email")
        ids.append(customer.id)
    workers = [CRM(wide_backend, tenant=tenant, clock=clock) for _ in range(WORKERS)]
    reports = []
    for _ in range(2):
        results = run_together(lambda n: workers[n].journeys.run_due(), workers=WORKERS)
        assert [r for r in results if isinstance(r, BaseException)] == []
        reports += results
        clock.advance(timedelta(days=1))
    assert sum(r.enrolled for r in reports) == CUSTOMERS
    assert sum(r.queued for r in reports) == 2 * CUSTOMERS
    keys = Counter(m.key for m in crm.messages.list(limit=1000))
    assert keys == {f"journey:{journey.id}:{cid}:{step}": 1 for cid in ids for step in (0, 1)}
    done = crm.journeys.enrollments(journey.id, status="completed")
    assert sorted(e.customer_id for e in done) == sorted(ids)
