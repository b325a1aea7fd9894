"""Dispatchers racing over one outbox on the real servers: every message is delivered
exactly once (none twice, none missing), and failed tries are retried."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

from ecrm import CRM, DeliveryError, ManualClock, OutboxMessage, hookimpl
from ecrm.backends.sql import SQLBackend
from ecrm.domain.ids import new_id
from ecrm.domain.outbox import new_message
from ecrm.messages import send_everything
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
MESSAGES = 300
WORKERS = 6
#: Every FLAKY-th message fails its first try.
FLAKY = 7


class SharedLog:
    """What every dispatcher's channel delivered, and the tries that failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: list[str] = []
        self.failed: list[str] = []


class FlakyChannel:
    """A dispatcher's e-mail channel: fails the first try of every ``FLAKY``-th message
    (by its key's number), delivers everything else into the shared log."""

    name = "email"

    def __init__(self, log: SharedLog) -> None:
        self.log = log

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[FlakyChannel]:
        return [self]

    def send(self, message: OutboxMessage) -> str:
        with self.log.lock:
            if int(message.key.split("-")[1]) % FLAKY == 0 and message.attempts == 0:
                self.log.failed.append(message.id)
                raise DeliveryError("421 try again later")
            self.log.delivered.append(message.id)
        return message.id


def enqueue_all(crm: CRM) -> list[str]:
    """``MESSAGES`` messages in one unit of work, by the bulk path."""
    messages = [new_message(
        message_id=new_id(), key=f"m-{n}", channel="email", purpose="marketing",
        customer_id=None, recipient=f"c{n}@example.com", subject="Sale", body="本日限り",
        data=None, priority=n % 10, due_at=None, campaign_id="race", variant=None,
        step=None, now=WHEN) for n in range(MESSAGES)]
    crm.transact(lambda uow: crm.messages.enqueue(uow, messages))
    return [m.id for m in messages]


def test_racing_dispatchers_deliver_each_message_once(wide_backend: SQLBackend) -> None:
    tenant, clock, log = f"outbox-{uuid.uuid4().hex[:8]}", ManualClock(WHEN), SharedLog()
    ids = enqueue_all(CRM(wide_backend, tenant=tenant, clock=clock))
    dispatchers = [CRM(wide_backend, tenant=tenant, clock=clock, plugins=[FlakyChannel(log)])
                   for _ in range(WORKERS)]
    for dispatcher in dispatchers:  # the outbox's own claiming, not the contact policy
        dispatcher.messages.gate = send_everything

    def drain(worker: int) -> int:
        done = 0
        while (report := dispatchers[worker].messages.dispatch(
                limit=10, worker=f"w{worker}")).claimed:
            done += report.claimed
        return done

    for _ in range(3):
        results = run_together(drain, workers=WORKERS)
        assert [r for r in results if not isinstance(r, int)] == []
        clock.advance(hours=1)
    assert sorted(log.delivered) == sorted(ids)  # each once, none missing
    assert len(log.failed) == len(range(0, MESSAGES, FLAKY))
    counts = dispatchers[0].messages.counts("race")
    assert (counts["sent"], counts["pending"], counts["sending"]) == (MESSAGES, 0, 0)
    retried = {dispatchers[0].messages.get(i).attempts for i in log.failed}
    assert retried == {2}
