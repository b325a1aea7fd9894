"""Campaigns and the contact gate with many workers at once on the real servers: a
campaign launched by several workers queues each member once, and racing dispatchers
never let a customer get more than the frequency cap allows."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from ecrm import CRM, ContactPolicy, FrequencyCap, ManualClock, OutboxMessage, hookimpl
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, 3, tzinfo=timezone.utc)  # noon in Tokyo: no quiet hours
WORKERS = 6


class Inbox:
    """Every dispatcher's e-mail channel, writing into one shared list."""

    name = "email"

    def __init__(self, lock: threading.Lock, delivered: list[str]) -> None:
        self.lock, self.delivered = lock, delivered

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[Inbox]:
        return [self]

    def send(self, message: OutboxMessage) -> None:
        with self.lock:
            self.delivered.append(message.customer_id or "")


def audience(crm: CRM, size: int) -> tuple[str, list[str]]:
    """A static segment of ``size`` opted-in customers."""
    ids = []
    for n in range(size):
        customer = crm.customers.create(email=f"m{n}@example.jp")
        crm.consent.grant(customer.id, "email")
        ids.append(customer.id)
    return crm.segments.create("members", customer_ids=ids).id, ids


def test_workers_launching_one_campaign_queue_each_member_once(
        wide_backend: SQLBackend, monkeypatch) -> None:
    from ecrm import campaign_queue

    monkeypatch.setattr(campaign_queue, "CHUNK", 7)
    tenant, clock = f"camp-{uuid.uuid4().hex[:8]}", ManualClock(WHEN)
    crm = CRM(wide_backend, tenant=tenant, clock=clock)
    segment, ids = audience(crm, 60)
    campaign = crm.campaigns.create("race", segment=segment, holdout=0.1,
                                    body="hello {{ customer.email }}",
                                    scheduled_at=WHEN - timedelta(minutes=1))
    workers = [CRM(wide_backend, tenant=tenant, clock=clock) for _ in range(WORKERS)]
    results = run_together(lambda n: workers[n].campaigns.run_due(), workers=WORKERS)
    assert [r for r in results if isinstance(r, BaseException)] == []
    progress = crm.campaigns.progress(campaign.id)
    assert progress.queued + progress.held_out == 60
    members = crm.campaigns.members(campaign.id)
    assert sorted(m.customer_id for m in members) == sorted(ids)
    messages = crm.messages.list(campaign_id=campaign.id, limit=1000)
    assert len(messages) == progress.queued
    assert len({m.customer_id for m in messages}) == progress.queued


def test_racing_dispatchers_keep_the_frequency_cap(wide_backend: SQLBackend) -> None:
    tenant, clock = f"cap-{uuid.uuid4().hex[:8]}", ManualClock(WHEN)
    policy = ContactPolicy(caps=[FrequencyCap(2, timedelta(days=1))], quiet_hours=None)
    crm = CRM(wide_backend, tenant=tenant, clock=clock, contact=policy)
    _, ids = audience(crm, 5)
    for customer_id in ids:
        for n in range(6):
            crm.messages.send(key=f"{customer_id}-{n}", channel="email",
                              purpose="marketing", customer_id=customer_id, body="sale")
    lock, delivered = threading.Lock(), []
    dispatchers = [CRM(wide_backend, tenant=tenant, clock=clock, contact=policy,
                       plugins=[Inbox(lock, delivered)]) for _ in range(WORKERS)]

    def drain(worker: int) -> int:
        done = 0
        while (report := dispatchers[worker].messages.dispatch(limit=3)).claimed:
            done += report.claimed
        return done

    results = run_together(drain, workers=WORKERS)
    assert [r for r in results if not isinstance(r, int)] == []
    assert Counter(delivered) == dict.fromkeys(ids, 2)
    counts = crm.messages.counts()
    assert (counts["sent"], counts["cancelled"], counts["pending"]) == (10, 20, 0)
